"""One layout helper the docks share: their contents scroll instead of growing the window.

napari stacks dock widgets in one column and never shrinks one below its contents'
minimum height, so two tall docks made napari's window taller than the screen.
"""

from __future__ import annotations

from qtpy.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget


def scroll_layout(widget: QWidget) -> QVBoxLayout:
    """The layout to fill ``widget`` with, inside a scroll area that takes all its room."""
    outer = QVBoxLayout(widget)
    outer.setContentsMargins(0, 0, 0, 0)
    area = QScrollArea(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    inner = QWidget(area)
    area.setWidget(inner)
    outer.addWidget(area)
    return QVBoxLayout(inner)
