"""Labelling straight from a dropped labels file: the Label widget takes over the reader's
layers, and makes a project from them."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Vectors

from conftest import CLIP, CLIP_LABELS
from napari_leap.io.labels import load_labels, poses_from_labels, save_labels
from napari_leap.io.project import Project
from napari_leap.napari import labels_io
from napari_leap.napari.widgets.labeling import LabelingWidget

pytestmark = pytest.mark.gui


def test_dropped_file_to_project(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    for data, kwargs, kind in labels_io.read_labels(CLIP_LABELS):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    assert [lay.name for lay in viewer.layers] == ["clip", "clip labels edges", "clip labels"]
    widget = LabelingWidget(viewer)
    assert widget.layer is viewer.layers["clip labels"]
    # the reader's static edges are replaced by the live ones
    assert [lay.name for lay in viewer.layers if isinstance(lay, Vectors)] == ["clip labels edges"]
    assert widget.edges is viewer.layers["clip labels edges"]
    assert len(widget.labelled_frames()) == 1500

    widget.new_project(tmp_path / "proj")
    saved = poses_from_labels(Project.open(tmp_path / "proj").labels)
    reference = poses_from_labels(load_labels(CLIP_LABELS))
    np.testing.assert_allclose(saved.points, reference.points, atol=1e-6)


def test_drop_dlc_csv_and_save_as_slp(make_napari_viewer, tmp_path):
    """Through napari's own open/save with the plugin: DLC CSV in, SLEAP file out, same points."""
    from napari_leap.io.labels import labels_from_poses

    reference = poses_from_labels(load_labels(CLIP_LABELS))
    sub = reference.select(np.isin(reference.frames, [10, 600, 1200]))
    labels = labels_from_poses(sub, [str(CLIP)], predicted=False)
    out = save_labels(labels, tmp_path / "dlc", scorer="anna", format="dlc")
    csv = next(out.glob("labeled-data/*/CollectedData_anna.csv"))
    viewer = make_napari_viewer()
    viewer.open(str(csv), plugin="napari-leap")
    names = [lay.name for lay in viewer.layers]
    assert names == ["clip", "CollectedData_anna labels edges", "CollectedData_anna labels"]
    layer = viewer.layers["CollectedData_anna labels"]
    assert sorted(set(layer.data[:, 0].astype(int))) == [10, 600, 1200]  # video frame numbers
    out = tmp_path / "back.slp"
    layer.save(str(out), plugin="napari-leap")
    back = poses_from_labels(load_labels(out))
    np.testing.assert_allclose(back.points, sub.points, atol=1e-6)
    assert back.skeleton == sub.skeleton and back.tracks == ["female", "male"]


def test_drop_a_deeplabcut_project(make_napari_viewer, tmp_path):
    """A DLC user drops the project (or its config.yaml, or one labeled-data folder): each
    labelled folder opens as its images with their labels, body parts in config.yaml's order."""
    import yaml

    from napari_leap.io.labels import labels_from_poses

    reference = poses_from_labels(load_labels(CLIP_LABELS))
    sub = reference.select(np.isin(reference.frames, [10, 600, 1200]))
    labels = labels_from_poses(sub, [str(CLIP)], predicted=False)
    root = save_labels(labels, tmp_path / "flies-anna", scorer="anna", format="dlc")
    config = yaml.safe_load((root / "config.yaml").read_text())
    config.pop("video_sets")  # the labelled frames without their video, as DLC users share them
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    for side in root.glob("labeled-data/*/*.skeleton.yaml"):
        side.unlink()
    dropped = [(root, "flies-anna"), (root / "config.yaml", "flies-anna")]
    for given, name in [*dropped, (root / "labeled-data" / "clip", "clip")]:
        viewer = make_napari_viewer()
        viewer.open(str(given), plugin="napari-leap")
        names = [lay.name for lay in viewer.layers]
        assert names == ["clip", f"{name} labels edges", f"{name} labels"]
        layer = viewer.layers[f"{name} labels"]
        assert viewer.layers["clip"].data.shape[0] == 3  # the folder's three images
        assert sorted(set(layer.data[:, 0].astype(int))) == [0, 1, 2]
        assert layer.metadata["skeleton"]["nodes"] == config["multianimalbodyparts"]


def test_a_project_of_two_labelled_folders_shows_one_and_lists_the_other(
    make_napari_viewer, tmp_path
):
    """Both folders' images and labels opened stacked, each covering the other; the first
    is shown, on top and active (a click labels it), the second listed hidden below."""
    import shutil

    from napari_leap.io.labels import labels_from_poses

    reference = poses_from_labels(load_labels(CLIP_LABELS))
    other = shutil.copy(CLIP, tmp_path / "second.mp4")
    first, second = (reference.select(np.isin(reference.frames, f)) for f in ([10, 600], [900]))
    labels = labels_from_poses([first, second], [str(CLIP), str(other)], predicted=False)
    root = save_labels(labels, tmp_path / "two", scorer="anna", format="dlc")
    viewer = make_napari_viewer()
    viewer.open(str(root), plugin="napari-leap")
    shown = [(lay.name, lay.visible) for lay in viewer.layers]  # bottom to top
    assert shown == [
        ("second", False),
        ("two labels [1] edges", False),
        ("two labels [1]", False),
        ("clip", True),
        ("two labels [0] edges", True),
        ("two labels [0]", True),
    ]
    assert set(viewer.layers["two labels [1]"].data[:, 0].astype(int)) == {900}
    assert viewer.layers.selection.active is viewer.layers["two labels [0]"]


def test_a_package_suggests_only_the_frames_it_holds(make_napari_viewer, tmp_path, qtbot):
    """A package shows black between its frames; suggesting frames there picked black ones,
    and with napari's own open its frames layer was taken for a video file (FFmpeg error)."""
    import sleap_io as sio

    from conftest import some_frames

    package = tmp_path / "flies.pkg.slp"
    labels = some_frames(CLIP_LABELS, (0, 300))  # labelled; 600-1200 embedded to label
    labels.suggestions = [sio.SuggestionFrame(labels.videos[0], f) for f in (600, 900, 1200)]
    labels.save(str(package), embed="user+suggestions", verbose=False)
    viewer = make_napari_viewer()
    viewer.open(str(package), plugin="napari-leap")
    widget = LabelingWidget(viewer)
    widget.method.setCurrentText("uniform")
    widget.n_suggest.setValue(10)
    widget.suggest_button.click()
    qtbot.waitUntil(
        lambda: widget.suggest_button.isEnabled() and bool(widget.suggestions), timeout=60_000
    )
    assert widget.suggestions == [600, 900, 1200]
