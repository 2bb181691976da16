"""napari's private API that ``napari/_compat.py`` relies on, checked against napari itself.

Each test fails when a napari release changes what the matching function assumes;
fix ``_compat.py`` (or drop a function once napari offers a public route).
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_leap.napari import _compat

pytestmark = pytest.mark.gui


def test_unwrapped_sees_through_the_proxy_napari_gives_plugin_docks(make_napari_viewer):
    from napari.utils._proxies import PublicOnlyProxy

    viewer = make_napari_viewer()
    proxy = PublicOnlyProxy(viewer)
    # why the docks unwrap: every attribute comes back as a new proxy, so identity fails
    assert proxy.layers is not proxy.layers
    assert _compat.unwrapped(proxy) is viewer
    assert _compat.unwrapped(proxy).layers is viewer.layers
    assert _compat.unwrapped(viewer) is viewer  # a plain viewer (tests, scripts) passes through


def test_viewer_canvas_is_the_vispy_canvas_with_its_qt_widget(make_napari_viewer):
    from qtpy.QtWidgets import QWidget

    viewer = make_napari_viewer()
    canvas = _compat.viewer_canvas(viewer)
    assert isinstance(canvas.native, QWidget)
    assert len(canvas.size) == 2 and min(canvas.size) > 0  # what tests size the view by
    assert _compat.viewer_canvas(object()) is None  # no window: no canvas, no error


def test_set_drag_handler_replaces_one_layers_add_click_only(make_napari_viewer):
    from napari.layers import Points

    viewer = make_napari_viewer()
    ours = viewer.add_points(np.zeros((0, 3)), ndim=3)
    other = viewer.add_points(np.zeros((0, 3)), ndim=3)
    class_add = next(fn for mode, fn in Points._drag_modes.items() if str(mode) == "add")

    def handler(layer, event):
        yield

    _compat.set_drag_handler(ours, "add", handler)
    ours.mode = other.mode = "add"
    assert handler in ours.mouse_drag_callbacks
    assert class_add not in ours.mouse_drag_callbacks  # no point added beside our handler
    assert class_add in other.mouse_drag_callbacks and handler not in other.mouse_drag_callbacks
    ours.mode = "pan_zoom"
    assert handler not in ours.mouse_drag_callbacks  # napari swaps it out with the mode
    with pytest.raises(ValueError, match="no mode"):
        _compat.set_drag_handler(ours, "paint", handler)


def test_displayed_image_is_the_frame_napari_shows(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    frames = np.random.default_rng(0).integers(0, 255, (6, 12, 16), dtype=np.uint8)
    layer = viewer.add_image(frames)
    viewer.dims.set_current_step(0, 4)
    qtbot.waitUntil(lambda: _compat.displayed_image(layer, 4) is not None, timeout=5000)
    np.testing.assert_array_equal(_compat.displayed_image(layer, 4), frames[4][..., None])
    assert _compat.displayed_image(layer, 3) is None  # another frame: read it instead
