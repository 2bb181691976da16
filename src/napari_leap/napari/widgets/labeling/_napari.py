"""The private napari API the Label dock needs, in one place (for ``napari/_compat.py`` to own).

Each use says why no public route does the same in napari 0.9.
"""

from __future__ import annotations


def unwrapped(obj):
    """The object behind napari's public-only proxy.

    napari hands plugin docks a proxy that hides private API and makes identity
    checks fail (a new proxy per access); the dock works with the objects themselves.
    """
    return getattr(obj, "__wrapped__", obj)


def canvas_widget(viewer):
    """The canvas's Qt widget, or None: Qt spends Tab on moving focus unless the dock takes it first."""
    qt_viewer = getattr(getattr(viewer, "window", None), "_qt_viewer", None)
    canvas = getattr(qt_viewer, "canvas", None)
    return None if canvas is None else canvas.native


def set_add_mode_handler(layer, handler) -> None:
    """Make ``handler`` the layer's mouse handler in "add" mode (napari has no public hook).

    ``handler(layer, event)`` is a napari mouse-drag generator; the class's other
    modes stay as they are.
    """
    from napari.layers.points._points_constants import Mode

    raw = unwrapped(layer)
    drag_modes = dict(type(raw)._drag_modes)
    drag_modes[Mode.ADD] = handler
    raw._drag_modes = drag_modes  # the instance's own click handler for "add" mode
