"""Real Qt mouse and key events on napari's canvas, at positions given in data coordinates."""

from __future__ import annotations

from qtpy.QtCore import QPoint, Qt
from qtpy.QtTest import QTest
from qtpy.QtWidgets import QApplication


def settle(rounds: int = 5) -> None:
    for _ in range(rounds):
        QApplication.processEvents()


def canvas_of(viewer):
    from napari_leap.napari._compat import viewer_canvas

    return viewer_canvas(viewer).native


def canvas_point(viewer, y: float, x: float) -> QPoint:
    """The canvas pixel showing data point ``(y, x)`` of a 2-D view (no layer transform)."""
    native = canvas_of(viewer)
    cy, cx = viewer.camera.center[-2:]
    zoom = viewer.camera.zoom
    return QPoint(
        int(round((x - cx) * zoom + native.width() / 2)),
        int(round((y - cy) * zoom + native.height() / 2)),
    )


def click(viewer, y: float, x: float) -> None:
    """Move the mouse to ``(y, x)`` and click there, as a person does."""
    native = canvas_of(viewer)
    point = canvas_point(viewer, y, x)
    QTest.mouseMove(native, point)
    QTest.mouseClick(native, Qt.LeftButton, Qt.NoModifier, point)
    settle()


def key(viewer, key, modifier=Qt.NoModifier) -> None:
    native = canvas_of(viewer)
    native.setFocus()
    QTest.keyClick(native, key, modifier)
    settle()
