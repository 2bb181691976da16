"""One layout helper the docks share: their contents scroll instead of growing the window.

napari stacks dock widgets in one column and never shrinks one below its contents'
minimum height, so two tall docks made napari's window taller than the screen.
"""

from __future__ import annotations

from qtpy.QtCore import QEvent, QSize, Qt
from qtpy.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

#: least height a dock keeps when another one opens beside it (its contents scroll)
MIN_HEIGHT = 240


class _VerticalScroll(QScrollArea):
    """Scrolls up and down only: as wide as its contents need, as tall as there is room."""

    def _bar(self) -> int:
        return self.verticalScrollBar().sizeHint().width()

    def minimumSizeHint(self) -> QSize:
        inner = self.widget().minimumSizeHint()
        return QSize(inner.width() + self._bar(), min(inner.height(), MIN_HEIGHT))

    def sizeHint(self) -> QSize:
        inner = self.widget().sizeHint()
        return QSize(inner.width() + self._bar(), inner.height())

    def eventFilter(self, obj, event) -> bool:
        if obj is self.widget() and event.type() == QEvent.LayoutRequest:
            self.updateGeometry()  # contents grew (a project opened): the dock widens with them
        return super().eventFilter(obj, event)


def scroll_layout(widget: QWidget) -> QVBoxLayout:
    """The layout to fill ``widget`` with, inside a scroll area that takes all its room."""
    outer = QVBoxLayout(widget)
    outer.setContentsMargins(0, 0, 0, 0)
    area = _VerticalScroll(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    inner = QWidget(area)
    area.setWidget(inner)
    outer.addWidget(area)
    return QVBoxLayout(inner)
