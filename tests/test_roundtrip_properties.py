"""Property-based round trips of the label formats and the skeleton.

Any poses a person or a model can produce (several animals, missing points,
points outside the image, sparse frame numbers) must come back from every
format napari-leap writes (SLEAP ``.slp``, SLEAP analysis ``.h5``, DeepLabCut
``.csv``) equal to 1e-6, and a skeleton must survive every way it is stored.
"""

from __future__ import annotations

import json
import string
import uuid
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_leap.io.labels import (
    LabelsError,
    labels_from_poses,
    load_labels,
    poses_from_labels,
    save_labels,
    skeleton_from_sleap,
    skeleton_to_sleap,
)
from napari_leap.io.skeleton_files import load_skeleton, save_skeleton
from napari_leap.model.poses import Poses
from napari_leap.model.skeleton import Skeleton

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

NAME = st.text(string.ascii_letters + string.digits + "_", min_size=1, max_size=8)


@st.composite
def skeletons(draw, max_nodes: int = 6, names=NAME) -> Skeleton:
    """Unique body parts, any edges between distinct parts, disjoint left/right pairs."""
    nodes = draw(st.lists(names, min_size=1, max_size=max_nodes, unique=True))
    n = len(nodes)
    pair = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
    edges = (
        draw(st.lists(pair, max_size=2 * n, unique_by=lambda p: tuple(sorted(p)))) if n > 1 else []
    )
    order = draw(st.permutations(range(n)))
    n_pairs = draw(st.integers(0, n // 2))
    symmetries = [(order[2 * i], order[2 * i + 1]) for i in range(n_pairs)]
    return Skeleton(nodes, edges, symmetries, name=draw(NAME))


COORD = st.floats(-200, 5000, allow_nan=False, allow_infinity=False)


@st.composite
def poses(draw, predicted: bool = False) -> Poses:
    """Poses with missing points (NaN), points outside any image and sparse frame numbers."""
    skeleton = draw(skeletons())
    k = len(skeleton)
    n_animals = draw(st.integers(1, 3))
    frames = np.array(sorted(draw(st.sets(st.integers(0, 100_000), min_size=1, max_size=6))))
    n = len(frames)
    points = np.array(
        draw(st.lists(COORD, min_size=n * n_animals * k * 2, max_size=n * n_animals * k * 2))
    )
    points = points.reshape(n, n_animals, k, 2)
    missing = np.array(
        draw(st.lists(st.booleans(), min_size=n * n_animals * k, max_size=n * n_animals * k))
    )
    points[missing.reshape(n, n_animals, k)] = np.nan
    if predicted:
        scores = np.array(
            draw(st.lists(st.floats(0, 1), min_size=n * n_animals * k, max_size=n * n_animals * k))
        )
        scores = scores.reshape(n, n_animals, k)
        scores[np.isnan(points[..., 0])] = np.nan
    else:
        scores = np.full((n, n_animals, k), np.nan)
    tracks = draw(st.lists(NAME, min_size=n_animals, max_size=n_animals, unique=True))
    return Poses(frames, points, scores, tracks, skeleton)


def _fresh(tmp_path: Path) -> Path:
    """A new folder per example (hypothesis reuses the test's ``tmp_path``)."""
    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    return folder


def _expected(p: Poses, unused_tracks: bool = True) -> Poses:
    """What a file can hold: frames with no visible point at all are not stored.

    Without ``unused_tracks`` (the analysis HDF5), animals never seen are dropped too.
    """
    p = p.select(~np.isnan(p.points).all(axis=(1, 2, 3)))
    if not unused_tracks:
        used = ~np.isnan(p.points).all(axis=(0, 2, 3))
        p = Poses(
            p.frames,
            p.points[:, used],
            p.scores[:, used],
            [t for t, u in zip(p.tracks, used, strict=True) if u],
            p.skeleton,
        )
    return p


def _assert_same(
    got: Poses, want: Poses, scores: bool, tracks: bool = True, unused_tracks: bool = True
) -> None:
    want = _expected(want, unused_tracks)
    np.testing.assert_array_equal(got.frames, want.frames)
    if not len(want.frames):  # nothing to compare (and no animal to count)
        return
    if tracks:
        assert got.tracks == want.tracks
    assert got.skeleton.nodes == want.skeleton.nodes
    np.testing.assert_allclose(got.points, want.points, rtol=1e-6, atol=1e-6)
    if scores:  # a missing point has no score to keep (files store 0 there)
        visible = ~np.isnan(want.points[..., 0])
        np.testing.assert_allclose(got.scores[visible], want.scores[visible], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("suffix", [".slp", ".h5"])
@pytest.mark.parametrize("predicted", [False, True], ids=["user", "predicted"])
@SETTINGS
@given(data=st.data())
def test_sleap_files_round_trip_any_poses(tmp_path, suffix, predicted, data):
    p = data.draw(poses(predicted=predicted))
    path = _fresh(tmp_path) / f"labels{suffix}"
    labels = labels_from_poses(p, [str(tmp_path / "video.mp4")], predicted=predicted)
    analysis = suffix == ".h5"
    if analysis and np.isnan(p.points).all():
        with pytest.raises(LabelsError, match="save as .slp"):
            save_labels(labels, path)
        assert not path.exists()
        return
    save_labels(labels, path)
    # the analysis HDF5 has no user/predicted distinction: everything reads back as predicted
    user, pred = (True, True) if analysis else (not predicted, predicted)
    got = poses_from_labels(load_labels(path), user=user, predicted=pred)
    _assert_same(got, p, scores=predicted, unused_tracks=not analysis)
    assert got.skeleton == p.skeleton  # edges and left/right pairs travel with the file


@SETTINGS
@given(p=poses())
def test_deeplabcut_csv_round_trips_through_formats(tmp_path, p):
    """napari-leap's DLC writer keeps the skeleton in a sidecar, so nothing is lost."""
    from napari_leap.io.labels import load_labels
    from napari_leap.io.labels.dlc import write_dlc_csv

    path = _fresh(tmp_path) / "CollectedData_me.csv"
    write_dlc_csv(p, path, video_name="video", scorer="me", tracked=True)
    got = poses_from_labels(load_labels(path))
    _assert_same(got, p, scores=False)
    assert got.skeleton == p.skeleton


@SETTINGS
@given(p=poses())
def test_deeplabcut_csv_round_trips_through_save_labels(tmp_path, p):
    """``save_labels(..., 'x.csv')`` (sleap-io's DLC writer): points and body parts come back."""
    from napari_leap.io.labels import load_labels

    path = _fresh(tmp_path) / "labels.csv"
    save_labels(labels_from_poses(p, [str(tmp_path / "video.mp4")], predicted=False), path)
    got = poses_from_labels(load_labels(path))
    # DLC's single-animal layout has no individuals row, so a lone animal's name is not kept
    _assert_same(got, p, scores=False, tracks=p.n_animals > 1)


# -- skeleton --------------------------------------------------------------------------------

ANY_NAME = st.text(min_size=1, max_size=12).filter(lambda s: s == s.strip() and "\x00" not in s)


@SETTINGS
@given(sk=skeletons(names=ANY_NAME))
def test_skeleton_dict_json_round_trip(sk):
    again = Skeleton.from_dict(json.loads(json.dumps(sk.to_dict())))
    assert again == sk and again.name == sk.name
    assert again.edge_names == sk.edge_names and again.symmetry_names == sk.symmetry_names


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
@SETTINGS
@given(sk=skeletons(names=ANY_NAME))
def test_skeleton_files_round_trip(tmp_path, suffix, sk):
    path = _fresh(tmp_path) / f"skeleton{suffix}"
    save_skeleton(sk, path)
    again = load_skeleton(path)
    assert again == sk and again.name == sk.name


@SETTINGS
@given(sk=skeletons())
def test_skeleton_sleap_round_trip_and_flip_is_an_involution(sk):
    assert skeleton_from_sleap(skeleton_to_sleap(sk)) == sk
    perm = sk.flip_permutation()
    assert sorted(perm) == list(range(len(sk)))
    assert [perm[i] for i in perm] == list(range(len(sk)))
    for a, b in sk.symmetries:
        assert perm[a] == b and perm[b] == a


@SETTINGS
@given(sk=skeletons(max_nodes=8), data=st.data())
def test_editing_keeps_edges_and_pairs_on_the_same_names(sk, data):
    before_edges = set(sk.edge_names)
    before_pairs = {frozenset(p) for p in sk.symmetry_names}
    name = data.draw(st.sampled_from(sk.nodes))
    sk.move_node(name, data.draw(st.integers(0, len(sk) - 1)))
    assert set(sk.edge_names) == before_edges
    assert {frozenset(p) for p in sk.symmetry_names} == before_pairs
    gone = data.draw(st.sampled_from(sk.nodes))
    sk.remove_node(gone)
    assert set(sk.edge_names) == {e for e in before_edges if gone not in e}
    assert {frozenset(p) for p in sk.symmetry_names} == {p for p in before_pairs if gone not in p}
