"""The only place napari-leap uses napari's private API (checked against napari 0.9.2).

Each function says why no public route does the job. ``tests/test_compat.py``
fails when a napari release changes what a function relies on, so an upgrade
shows here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def unwrapped(obj):
    """The viewer (or layer) itself behind napari's ``PublicOnlyProxy``.

    napari hands plugin docks a proxy that warns on private attributes and
    wraps every attribute it returns in a new proxy, so ``layer is layer``
    checks between the docks fail. There is no public way to ask napari for
    the object itself; the proxy is a ``wrapt.ObjectProxy`` and ``__wrapped__``
    is wrapt's documented attribute.
    """
    return getattr(obj, "__wrapped__", obj)


def viewer_canvas(viewer):
    """The viewer's vispy canvas (``.native`` is its Qt widget), or None without a window.

    Needed to take key presses (Tab) before Qt spends them on focus, and for
    tests and screenshots to size and click the canvas. napari's only public
    route, ``Window.qt_viewer``, is deprecated and warns.
    """
    window = getattr(viewer, "window", None)
    qt_viewer = getattr(window, "_qt_viewer", None)
    return getattr(qt_viewer, "canvas", None)


def set_drag_handler(layer, mode: str, handler: Callable) -> None:
    """Make ``handler`` what a mouse press does in ``mode`` (e.g. ``"add"``), on this layer only.

    napari has no public hook to replace a mode's own click behaviour (a
    ``mouse_drag_callbacks`` entry runs beside it, so "add" would still add a
    point). Layers look the handler up in the class attribute ``_drag_modes``
    keyed by the layer's Mode enum (``napari.layers.points._points_constants.Mode``
    for points) when their mode is set; an instance copy of that dict changes
    only this layer. Takes effect at the next mode change.
    """
    raw = unwrapped(layer)
    drag_modes = dict(type(raw)._drag_modes)
    key = next((m for m in drag_modes if str(m) == mode), None)
    if key is None:
        raise ValueError(f"{type(raw).__name__} layers have no mode {mode!r}")
    drag_modes[key] = handler
    raw._drag_modes = drag_modes


def displayed_image(layer, frame: int) -> np.ndarray | None:
    """The image napari holds for display if it shows ``frame``, as ``(H, W, C)`` uint8; else None.

    Seeking in a compressed video can cost hundreds of decoded frames, so the
    Align preview reuses the frame napari already decoded. Only the layer's
    private slice response (``Image._slice``) holds it; None if napari changes it.
    """
    try:
        sl = unwrapped(layer)._slice
        if sl.empty or int(round(sl.slice_input.world_slice.point[0])) != int(frame):
            return None
        img = np.asarray(sl.image.raw)
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.dtype != np.uint8 or img.shape[:2] != tuple(layer.data.shape[1:3]):
        return None
    return img
