"""The plugin as napari sees it: manifest, reader, sample data and dock widgets."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import CLIP, sequential_decode

WIDGETS = ["Align", "Skeleton", "Label", "Train", "Predict"]


def test_manifest_is_valid():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("napari-leap")
    assert manifest.name == "napari-leap"
    assert {w.display_name for w in manifest.contributions.widgets} == set(WIDGETS)
    for command in manifest.contributions.commands:  # every python_name imports
        assert callable(command.exec) or command.python_name
        module, _, attr = command.python_name.partition(":")
        import importlib

        assert hasattr(importlib.import_module(module), attr), command.python_name


@pytest.mark.gui
def test_dropping_the_clip_opens_a_lazy_frame_exact_layer(make_napari_viewer):
    import dask.array as da

    viewer = make_napari_viewer()
    layers = viewer.open(str(CLIP), plugin="napari-leap")
    layer = layers[0]
    assert isinstance(layer.data, da.Array)
    assert layer.data.shape == (1500, 1024, 1024)
    assert tuple(layer.contrast_limits) == (0, 255)
    viewer.dims.set_current_step(0, 777)
    reference = sequential_decode(CLIP)[777]
    np.testing.assert_array_equal(np.asarray(layer._slice.image.view), reference)


@pytest.mark.gui
@pytest.mark.parametrize("key", ["two_flies", "fly32"])
def test_sample_data_opens_in_a_viewer(make_napari_viewer, key):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-leap", key)
    kinds = {type(layer).__name__ for layer in viewer.layers}
    assert {"Image", "Points"} <= kinds
    points = next(layer for layer in viewer.layers if type(layer).__name__ == "Points")
    assert len(points.data) > 0 and points.data.shape[1] == 3
    assert "node" in points.features


@pytest.mark.gui
@pytest.mark.parametrize("name", WIDGETS)
def test_every_dock_widget_opens(make_napari_viewer, name):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-leap", "two_flies")  # video and a pose layer, as a user has them
    points = next(layer for layer in viewer.layers if type(layer).__name__ == "Points")
    viewer.layers.selection.active = points
    # docks opened through the plugin system get napari's proxied viewer and layers
    dock, widget = viewer.window.add_plugin_dock_widget("napari-leap", name)
    assert widget is not None
    viewer.layers.selection.active = viewer.layers[0]
    viewer.layers.selection.active = points
