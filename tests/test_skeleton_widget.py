"""The Skeleton widget on a real pose layer: edits keep the labels (renames follow,
deletions ask first), pairs are proposed from names, files load and save."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import CLIP_LABELS, FLY32_SKELETON
from napari_leap.io.skeleton_files import load_skeleton
from napari_leap.napari import labels_io, layers
from napari_leap.napari.widgets.skeleton import SkeletonWidget

pytestmark = pytest.mark.gui


@pytest.fixture
def viewer_with_labels(make_napari_viewer):
    viewer = make_napari_viewer()
    for data, kwargs, kind in labels_io.read_labels(CLIP_LABELS):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    return viewer


def test_edits_keep_labels(viewer_with_labels, tmp_path):
    viewer = viewer_with_labels
    layer = [lay for lay in viewer.layers if layers.is_pose_layer(lay)][0]
    asked = []
    answer = {"value": False}
    widget = SkeletonWidget(viewer, confirm=lambda m: asked.append(m) or answer["value"])
    assert widget.layer is layer
    # the file has no pairs; they are proposed from the names at once
    assert widget.skeleton.symmetry_names[0] == ("wingL", "wingR")
    assert len(widget.skeleton.symmetries) == 5
    assert layer.metadata["skeleton"]["symmetries"][0] == ["wingL", "wingR"]
    n = len(layer.data)
    heads = layer.data[np.asarray(layer.features["node"] == "head")].copy()

    widget.rename_node("head", "Head")
    assert len(layer.data) == n
    np.testing.assert_array_equal(layer.data[np.asarray(layer.features["node"] == "Head")], heads)
    assert "head" not in set(layer.features["node"].astype(str))
    assert widget.node_list.item(0).text() == "Head"

    widget.rename_node("wingL", "wing_left")  # pair follows the index, not the name
    assert ("wing_left", "wingR") in widget.skeleton.symmetry_names

    colour_before = layers.node_colors(widget.skeleton.nodes)["abdomen"]
    widget.move_node("abdomen", 0)
    assert widget.skeleton.nodes[0] == "abdomen"
    assert layer.metadata["skeleton"]["nodes"][0] == "abdomen"
    assert len(layer.data) == n
    i = int(np.flatnonzero(np.asarray(layer.features["node"] == "abdomen"))[0])
    assert np.allclose(layer.face_color[i], layers.node_colors(widget.skeleton.nodes)["abdomen"])
    assert colour_before != layers.node_colors(widget.skeleton.nodes)["abdomen"]

    # deleting a body part with labels asks; "no" keeps everything
    assert not widget.remove_node("eyeL")
    assert asked and "eyeL" in asked[-1] and len(layer.data) == n
    answer["value"] = True
    n_eye = int((layer.features["node"] == "eyeL").sum())
    assert widget.remove_node("eyeL")
    assert len(layer.data) == n - n_eye
    assert "eyeL" not in layer.metadata["skeleton"]["nodes"]
    assert ("eyeL", "eyeR") not in widget.skeleton.symmetry_names

    widget.add_node("eyeLeft")
    widget.add_edge("Head", "eyeLeft")
    assert ("Head", "eyeLeft") in widget.skeleton.edge_names
    widget.remove_edge("Head", "eyeLeft")
    assert ("Head", "eyeLeft") not in widget.skeleton.edge_names
    widget.remove_symmetry("wing_left", "wingR")
    widget.add_symmetry("wingR", "wing_left")
    assert ("wing_left", "wingR") in widget.skeleton.symmetry_names

    for suffix in (".yaml", ".json"):
        path = tmp_path / f"sk{suffix}"
        widget.save(path)
        assert load_skeleton(path) == widget.skeleton


def test_new_layer_and_load(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = SkeletonWidget(viewer, confirm=lambda m: True)
    for name in ("head", "thorax", "left_ear", "right_ear", "forelegL4", "forelegR4"):
        widget.add_node(name)
    assert widget.skeleton.symmetry_names == [("left_ear", "right_ear"), ("forelegL4", "forelegR4")]
    widget.n_animals.setValue(2)
    widget.new_layer()
    layer = widget.layer
    assert layers.is_pose_layer(layer) and layer.metadata["tracks"] == ["animal0", "animal1"]
    widget.load(FLY32_SKELETON)  # LEAP's 32-part fly: this layer has no points, nothing to ask
    assert len(widget.skeleton) == 32 and layer.metadata["skeleton"]["nodes"][0] == "head"
    assert len(widget.skeleton.symmetries) == 14  # 13 mutual swaps + midlegR3/L3 paired by name


def test_skeleton_edits_reach_the_label_widget_and_project(make_napari_viewer, tmp_path):
    from napari_leap.io.labels import poses_from_labels
    from napari_leap.io.project import Project
    from napari_leap.napari.widgets.labeling import LabelingWidget

    viewer = make_napari_viewer()
    for data, kwargs, kind in labels_io.read_labels(CLIP_LABELS):
        keep = slice(None)
        if kind == "points":  # ten frames are plenty here
            keep = np.asarray(data[:, 0] < 10)
            kwargs = {
                **kwargs,
                "features": kwargs["features"][keep].reset_index(drop=True),
                "symbol": np.asarray(kwargs["symbol"])[keep].tolist(),
            }
        getattr(viewer, f"add_{kind}")(data[keep], **kwargs)
    label = LabelingWidget(viewer)
    label.new_project(tmp_path / "proj")
    label.go_to(3)
    label.set_current_node(12)  # eyeR
    skel = SkeletonWidget(viewer, confirm=lambda m: True)
    assert skel.layer is label.layer
    skel.remove_node("eyeR")
    assert label.current_node == 11 and label.node_list.count() == 12
    skel.rename_node("thorax", "mesothorax")
    assert "mesothorax" in label.node_list.item(1).text()
    label.save()
    project = Project.open(tmp_path / "proj")
    assert "eyeR" not in project.skeleton.nodes and project.skeleton.nodes[1] == "mesothorax"
    assert ("wingL", "wingR") in project.skeleton.symmetry_names  # proposed pairs kept
    saved = poses_from_labels(project.labels)
    assert saved.skeleton.nodes == project.skeleton.nodes
    assert saved.frames.tolist() == list(range(10))
