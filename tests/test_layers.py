"""Core data <-> napari layer data: pose points, edges, tracks, boxes; reader and writer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import CLIP, CLIP_LABELS, LEAP_MAT
from napari_leap.errors import LeapError
from napari_leap.io.labels import load_labels, poses_from_labels
from napari_leap.model.poses import Poses
from napari_leap.model.skeleton import Skeleton
from napari_leap.napari import labels_io, layers, writer


@pytest.fixture(scope="module")
def reference():
    return poses_from_labels(load_labels(CLIP_LABELS))


def test_points_round_trip_and_features(reference):
    data, features = layers.poses_to_points(reference, "user")
    n_visible = int(np.isfinite(reference.points).all(-1).sum())
    assert data.shape == (n_visible, 3)
    assert list(features.columns) == ["node", "animal", "status", "confidence"]
    assert list(features["node"].cat.categories) == reference.skeleton.nodes
    first = reference.points[0, 0, 0]  # female head on frame 0
    assert data[0].tolist() == [0.0, first[1], first[0]]  # (frame, y, x)
    back = layers.points_to_poses(data, features, reference.skeleton, reference.tracks)
    np.testing.assert_array_equal(back.points, reference.points)
    assert back.frames.tolist() == reference.frames.tolist()


def test_person_hides_prediction_of_same_animal_frame(reference):
    user = reference.select(reference.frames < 2)  # a mask copies
    user.points[:, 1] = np.nan  # only the female was labelled
    pred = reference.select(reference.frames < 3)
    pred.scores = np.full(pred.points.shape[:3], 0.5)
    data, kwargs, kind = layers.points_layer_data(user, pred)
    f = kwargs["features"]
    assert kind == "points"
    status = f["status"].astype(str)
    animal = f["animal"].astype(str)
    frames = data[:, 0].astype(int)
    assert not ((status == "predicted") & (animal == "female") & (frames < 2)).any()
    visible = np.isfinite(pred.points).all(-1)
    assert ((status == "predicted") & (animal == "male") & (frames < 2)).sum() == visible[
        :2, 1
    ].sum()
    assert ((status == "predicted") & (frames == 2)).sum() == visible[2].sum()
    assert kwargs["symbol"][0] == "disc" and "diamond" in kwargs["symbol"]
    assert kwargs["metadata"]["skeleton"] == reference.skeleton.to_dict()


def test_layer_to_labels_statuses():
    sk = Skeleton(["a", "b"], [(0, 1)])
    data = np.array([[3, 10, 20], [3, 11, 21], [4, 5, 6]], dtype=float)
    feats = pd.DataFrame(
        {
            "node": ["a", "b", "a"],
            "animal": ["m", "m", "m"],
            "status": ["corrected", "predicted", "predicted"],
            "confidence": [0.9, 0.8, 0.7],
        }
    )
    labels = layers.layer_to_labels(data, feats, {"skeleton": sk.to_dict(), "tracks": ["m"]})
    by_frame = {lf.frame_idx: lf.instances[0] for lf in labels.labeled_frames}
    assert not hasattr(by_frame[3], "score")  # a corrected frame is a person's instance
    np.testing.assert_array_equal(by_frame[3].numpy(), [[20, 10], [21, 11]])
    assert by_frame[4].score == pytest.approx(0.7)
    assert np.isnan(by_frame[4].numpy()[1]).all()


def test_edge_vectors_join_the_right_points(reference):
    data, features = layers.poses_to_points(reference.select(slice(0, 1)), "user")
    vectors, colors = layers.edge_vectors(data, features, reference.skeleton, reference.tracks)
    sk = reference.skeleton
    p = reference.points[0]
    expected = [
        (p[a, i], p[a, j])
        for a in range(2)
        for i, j in sk.edges
        if np.isfinite(p[a, i]).all() and np.isfinite(p[a, j]).all()
    ]
    assert len(vectors) == len(expected) == len(colors)
    got = {(tuple(v[0, [2, 1]]), tuple((v[0] + v[1])[[2, 1]])) for v in vectors}
    assert got == {(tuple(a), tuple(b)) for a, b in expected}
    assert (vectors[:, 1, 0] == 0).all()  # edges stay on their frame


def test_box_affine_matches_alignment(reference):
    from napari_leap.align.alignment import Alignment

    thorax, head = reference.points[:, :, 1], reference.points[:, :, 0]
    d = head - thorax
    alignment = Alignment(
        thorax, np.arctan2(d[..., 1], d[..., 0]), box_size=128, frame_shape=(1024, 1024, 1)
    )
    for frame, animal in ((0, 0), (1300, 1)):
        m = layers.box_affine(alignment, frame, animal)
        pts = reference.points[frame, animal]
        ok = np.isfinite(pts).all(1)
        yx = np.column_stack([np.full(ok.sum(), frame), pts[ok, 1], pts[ok, 0], np.ones(ok.sum())])
        mapped = (m @ yx.T).T
        expect = alignment.video_to_box(pts[ok], frame, animal)
        np.testing.assert_allclose(mapped[:, [2, 1]], expect, atol=1e-9)
        assert np.allclose(mapped[:, 0], frame)
        # the head is straight above the box centre
        head_box = alignment.video_to_box(head[frame, animal], frame, animal)
        assert head_box[0] == pytest.approx(63.5) and head_box[1] < 63.5


def test_tracks_layer(reference):
    data, kwargs, kind = layers.tracks_layer_data(reference, "thorax")
    assert kind == "tracks" and data.shape == (3000, 4)
    np.testing.assert_array_equal(data[data[:, 0] == 1][5, 2:], reference.points[5, 1, 1, ::-1])


def test_reader_layers_for_slp_and_mat():
    out = labels_io.read_labels(CLIP_LABELS)
    kinds = [k for _, _, k in out]
    assert kinds == ["image", "vectors", "points"]
    image, _, _ = out[0]
    assert image.shape == (1500, 1024, 1024)
    data, kwargs, _ = out[2]
    assert data.shape[1] == 3 and kwargs["metadata"]["tracks"] == ["female", "male"]
    assert kwargs["metadata"]["video"] == str(CLIP.resolve())
    mat = labels_io.read_labels(LEAP_MAT)  # its video is on a lab's Windows drive
    assert [k for _, _, k in mat] == ["vectors", "points"]
    assert mat[1][1]["metadata"]["skeleton"]["nodes"][0] == "head"


def test_writer_slp_and_csv(tmp_path, reference):
    out = labels_io.read_labels(CLIP_LABELS)
    data, kwargs, _ = out[2]
    keep = data[:, 0] < 20
    attrs = {
        "metadata": kwargs["metadata"],
        "features": kwargs["features"][keep].reset_index(drop=True),
    }
    path = writer.write_points(str(tmp_path / "x.slp"), data[keep], attrs)
    back = poses_from_labels(load_labels(path[0]))
    sub = reference.select(reference.frames < 20)
    np.testing.assert_allclose(back.points, sub.points, atol=1e-9)
    assert back.tracks == ["female", "male"]

    csv = tmp_path / "labeled-data" / "clip" / "CollectedData_me.csv"
    writer.write_points(str(csv), data[keep], attrs)
    assert len(list(csv.parent.glob("img*.png"))) == 20
    dlc = poses_from_labels(load_labels(csv, format="dlc"))
    np.testing.assert_allclose(dlc.points, sub.points, atol=1e-9)
    with pytest.raises(LeapError):
        writer.write_points(str(tmp_path / "x.txt"), data[keep], attrs)
    with pytest.raises(LeapError, match="no body-part labels"):
        writer.write_points(
            str(tmp_path / "y.slp"), np.zeros((1, 3)), {"metadata": {}, "features": pd.DataFrame()}
        )


def test_empty_points_layer():
    sk = Skeleton(["a", "b"])
    empty = Poses(np.zeros(0, np.int64), np.zeros((0, 1, 2, 2)), np.zeros((0, 1, 2)), ["x"], sk)
    data, kwargs, _ = layers.points_layer_data(empty)
    assert data.shape == (0, 3) and len(kwargs["features"]) == 0
    vectors, colors = layers.edge_vectors(data, kwargs["features"], sk, ["x"])
    assert vectors.shape == (0, 2, 3)
