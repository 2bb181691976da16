"""Model-guided suggestions: a model unsure on known frames gets those frames suggested,
picks are spread out, labelled frames are skipped, every pick says why."""

from __future__ import annotations

import numpy as np
import pytest

from napari_leap.errors import LeapError
from napari_leap.model.skeleton import Skeleton
from napari_leap.pose import model_suggest, uncertainty

NODES = ["head", "wingL", "wingR"]
UNSURE = [12, 40, 77]


class UnsureModel:
    """Finds the brightest pixel (a flip-consistent answer) with confidence 0.9, except on
    images holding the marker value 7 at the top-left: there it answers a fixed spot (which
    a mirrored input contradicts) with confidence 0.1."""

    def __init__(self):
        skeleton = Skeleton(NODES, symmetries=[(1, 2)])
        self.config = {"skeleton": skeleton.to_dict(), "training": {"flip_pairs": [[1, 2]]}}
        self.skeleton = skeleton

    def predict_images(self, images):
        images = np.asarray(images)[..., 0]
        b, h, w = images.shape
        pts = np.zeros((b, len(NODES), 2))
        sc = np.full((b, len(NODES)), 0.9)
        for i, im in enumerate(images):
            y, x = np.unravel_index(np.argmax(im), im.shape)
            pts[i] = [x, y]
            if 7 in (im[0, 0], im[0, -1]):  # the marker (mirrored, it is at the top-right)
                pts[i] = [3.0, 5.0]
                sc[i, 1] = 0.1
        return pts, sc


def _images(n=100, size=32, unsure=UNSURE):
    """A bright dot moving smoothly; the marker on the unsure frames."""
    out = np.zeros((n, size, size, 1), np.uint8)
    for f in range(n):
        x = 8 + int(round(10 * np.sin(f / 15))) + 5
        out[f, 16, x, 0] = 255
    for f in unsure:
        out[f, 0, 0, 0] = 7
    return out


def test_unsure_frames_are_suggested_with_reasons():
    frames, pts, sc, found = model_suggest.images_measures(UnsureModel(), _images())
    assert (
        found["low_peak"][UNSURE].max() < 0.2 and np.delete(found["low_peak"], UNSURE).min() > 0.8
    )
    assert found["flip"][UNSURE].min() > 5 and np.delete(found["flip"], UNSURE).max() < 1e-9
    picks = uncertainty.rank_frames(frames, found, 3, NODES)
    assert [s.frame for s in picks] == UNSURE
    assert all("lowest part wingL 0.10" in s.reason or "flip" in s.reason for s in picks)
    assert all(0 < s.score <= 1 for s in picks)


def test_flip_twin_swaps_symmetric_parts_and_maps_back():
    class Asymmetric(UnsureModel):
        def predict_images(self, images):
            b, _, w = np.asarray(images).shape[:3]
            pts = np.tile(np.array([[5.0, 1.0], [2.0, 3.0], [9.0, 3.0]]), (b, 1, 1))
            return pts, np.tile([0.5, 0.6, 0.7], (b, 1))

    twin = model_suggest.FlipTwin(Asymmetric())
    pts, sc = twin.predict_images(np.zeros((2, 4, 12, 1), np.uint8))
    p, s, f = twin.split(pts, sc)
    assert len(twin.skeleton.nodes) == 6
    # mirrored: x -> 11 - x, and wingL takes wingR's answer
    np.testing.assert_allclose(f[0], [[6.0, 1.0], [2.0, 3.0], [9.0, 3.0]])
    np.testing.assert_allclose(sc[0, 3:], [0.5, 0.7, 0.6])


def test_jumps_between_neighbours():
    frames = np.arange(10)
    pts = np.zeros((10, 1, 2, 2))
    pts[:, 0, :, 0] = np.arange(10)[:, None]  # moving 1 px a frame: no jump
    pts[6, 0, :, 0] += 14
    jump = uncertainty.temporal_jump(frames, pts)
    assert np.isnan(jump[0]) and np.isnan(jump[9])
    assert jump[6] == pytest.approx(14) and np.nanargmax(jump) == 6
    assert jump[2] == pytest.approx(0)
    found = uncertainty.measures(frames, pts[:, 0], np.full((10, 2), 0.9))
    picks = uncertainty.rank_frames(frames, found, 1, ["a", "b"], min_gap=1)
    assert picks[0].frame == 6 and "jumps 14.0 px from neighbours" in picks[0].reason


def test_spread_rule_and_labelled_frames():
    frames = np.arange(200)
    scores = np.zeros(200)
    scores[50:60] = np.linspace(1, 0.9, 10)  # a run of unsure frames: only one is taken
    scores[120] = 0.8
    scores[3] = 0.95
    picks = uncertainty.pick_spread(frames, scores, 3, min_gap=5, exclude=[5])
    chosen = sorted(frames[picks].tolist())
    assert chosen[0] not in (3, 5)  # frame 3 is within the gap of the labelled frame 5
    assert 50 in chosen and 120 in chosen and len(chosen) == 3
    assert np.diff(chosen).min() >= 5
    # many picks from a short run: the gap gives way rather than suggesting too few
    assert len(uncertainty.pick_spread(np.arange(20), np.ones(20), 10, min_gap=5)) == 10
    assert uncertainty.default_gap(1500, 10) == 37 and uncertainty.default_gap(100, 20) == 5


def test_rank_frames_is_spread_by_default():
    frames = np.arange(1500)
    found = {"low_peak": np.linspace(0, 1, 1500), "low_part": np.zeros(1500)}
    picks = uncertainty.rank_frames(frames, found, 10, ["a"])
    got = [s.frame for s in picks]
    assert got[0] == 0 and np.diff(got).min() >= 37


def test_candidates_and_refusals():
    assert model_suggest.candidate_frames(10, None, 3).tolist() == [0, 3, 6, 9]
    assert model_suggest.candidate_frames(10, range(2, 6)).tolist() == [2, 3, 4, 5]
    with pytest.raises(LeapError, match="within 0..9"):
        model_suggest.candidate_frames(10, [12])
    with pytest.raises(LeapError, match="stride"):
        model_suggest.candidate_frames(10, None, 0)
