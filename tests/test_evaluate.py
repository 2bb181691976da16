"""Evaluation figures against an independent plain-numpy computation, by-hand OKS/AP cases,
label files built with sleap-io, the command line, and the real clip with known noise."""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from napari_leap.errors import LeapError
from napari_leap.pose.evaluate import evaluate, evaluate_arrays

CLIP = Path(__file__).parents[1] / "src/napari_leap/sample_data/flies13/clip.slp"
NAN = np.nan


# -- an independent reference, written with loops and brute force ------------------------
def ref_percentile(values, q):
    """Linear-interpolation percentile written out (numpy's default method)."""
    v = sorted(values)
    if not v:
        return math.nan
    pos = q / 100 * (len(v) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def ref_points(gt, pred, body_pair=None):
    """Per visible GT point: (node, distance or NaN, body length), animals by brute force."""
    n_frames, _, k, _ = gt.shape
    out = []
    # body lengths: pair distance, median of known pair distances where hidden, else box diagonal
    known = []
    if body_pair is not None:
        for f in range(n_frames):
            for a in range(gt.shape[1]):
                p, q = gt[f, a, body_pair[0]], gt[f, a, body_pair[1]]
                if not (np.isnan(p).any() or np.isnan(q).any()):
                    known.append(math.dist(p, q))

    def body_length(points):
        if body_pair is not None and known:
            p, q = points[body_pair[0]], points[body_pair[1]]
            if np.isnan(p).any() or np.isnan(q).any():
                return float(np.median(known))
            return math.dist(p, q)
        vis = [pt for pt in points if not np.isnan(pt).any()]
        xs, ys = [p[0] for p in vis], [p[1] for p in vis]
        return math.hypot(max(xs) - min(xs), max(ys) - min(ys))

    for f in range(n_frames):
        gs = [a for a in range(gt.shape[1]) if not np.isnan(gt[f, a]).all()]
        ps = [a for a in range(pred.shape[1]) if not np.isnan(pred[f, a]).all()]

        def mean_dist(g, p, f=f):
            ds = [
                math.dist(gt[f, g, j], pred[f, p, j])
                for j in range(k)
                if not (np.isnan(gt[f, g, j]).any() or np.isnan(pred[f, p, j]).any())
            ]
            return sum(ds) / len(ds) if ds else None

        best_key, best = None, {}
        for perm in itertools.permutations(ps + [None] * len(gs), len(gs)):
            pairs = {
                g: p
                for g, p in zip(gs, perm, strict=True)
                if p is not None and mean_dist(g, p) is not None
            }
            key = (-len(pairs), sum(mean_dist(g, p) for g, p in pairs.items()))
            if best_key is None or key < best_key:
                best_key, best = key, pairs
        for g in gs:
            bl = body_length(gt[f, g])
            for j in range(k):
                if np.isnan(gt[f, g, j]).any():
                    continue
                if g in best and not np.isnan(pred[f, best[g], j]).any():
                    d = math.dist(gt[f, g, j], pred[f, best[g], j])
                else:
                    d = math.nan
                out.append((j, d, bl))
    return out


def ref_summary(points, thresholds=(1, 2, 5, 10), fractions=(0.05, 0.1, 0.2)):
    n = len(points)
    errs = [d for _, d, _ in points if not math.isnan(d)]
    pck = {}
    for t in thresholds:
        pck[f"{t:g}px"] = sum(1 for e in errs if e <= t) / n if n else None
    for fr in fractions:
        pck[f"{fr:g}bl"] = (
            sum(1 for _, d, b in points if not math.isnan(d) and d <= fr * b) / n if n else None
        )
    return {
        "n_points": n,
        "n_missing": n - len(errs),
        "mean_px": sum(errs) / len(errs) if errs else None,
        "median_px": ref_percentile(errs, 50) if errs else None,
        "p90_px": ref_percentile(errs, 90) if errs else None,
        "p95_px": ref_percentile(errs, 95) if errs else None,
        "pck": pck,
    }


def assert_summary_close(got, want, tol=1e-9):
    assert got["n_points"] == want["n_points"]
    assert got["n_missing"] == want["n_missing"]
    for key in ("mean_px", "median_px", "p90_px", "p95_px"):
        if want[key] is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(want[key], abs=tol, rel=0), key
    assert set(got["pck"]) == set(want["pck"])
    for key, v in want["pck"].items():
        if v is None:
            assert got["pck"][key] is None
        else:
            assert got["pck"][key] == pytest.approx(v, abs=tol, rel=0), key


def assert_matches_reference(result, gt, pred, body_pair):
    pts = ref_points(gt, pred, body_pair)
    d = result.to_dict()
    assert_summary_close(d, ref_summary(pts))
    for j, name in enumerate(result.node_names):
        assert_summary_close(d["per_node"][name], ref_summary([p for p in pts if p[0] == j]))


def ref_oks(g, p, sigma=0.025):
    vis = [j for j in range(len(g)) if not np.isnan(g[j]).any()]
    xs = [g[j][0] for j in vis]
    ys = [g[j][1] for j in vis]
    area = (max(xs) - min(xs)) * (max(ys) - min(ys)) + np.spacing(1)
    total = 0.0
    for j in vis:
        if np.isnan(p[j]).any():
            continue
        d2 = (g[j][0] - p[j][0]) ** 2 + (g[j][1] - p[j][1]) ** 2
        total += math.exp(-d2 / (2 * area * (2 * sigma) ** 2))
    return total / len(vis)


# -- hand-made cases ---------------------------------------------------------------------
def hand_case():
    """3 frames, up to 2 GT and 3 predicted animals, 4 nodes; swaps, NaNs, misses, extras."""
    gt = np.full((3, 2, 4, 2), NAN)
    pred = np.full((3, 3, 4, 2), NAN)
    a = np.array([[10.0, 10], [20, 10], [30, 12], [40, 15]])
    b = np.array([[100.0, 50], [110, 52], [121, 55], [130, 60]])
    gt[:, 0], gt[:, 1] = a, b
    gt[1, 0, 2] = NAN  # a hidden GT node: not a point at all
    # frame 0: predictions swapped in order, small errors, one predicted node missing
    pred[0, 0] = b + [[0.5, 0], [0, -1.5], [3, 4], [0, 0]]
    pred[0, 1] = a + [[1, 1], [-2, 0], [0, 0.25], [6, 8]]
    pred[0, 0, 3] = NAN
    # frame 1: only one prediction (for b); a is wholly missing; extra NaN column in pred
    pred[1, 2] = b + [[0.1, 0.2], [1, 1], [2, 2], [9, 12]]
    pred[1, 2, 0, 1] = NAN  # half-missing point counts as missing
    # frame 2: three predictions, one far away (a false positive)
    pred[2, 0] = a + 0.75
    pred[2, 1] = [[500.0, 500], [510, 500], [520, 500], [530, 500]]
    pred[2, 2] = b - [[1.0, 2], [2, 1], [0, 0], [1.5, 2]]
    return gt, pred


NAMES4 = ("head", "thorax", "abdomen", "tip")


def test_hand_case_matches_independent_computation():
    gt, pred = hand_case()
    res = evaluate_arrays(gt, pred, NAMES4, body_length_nodes=("head", "abdomen"))
    assert_matches_reference(res, gt, pred, (0, 2))
    d = res.to_dict()
    # counted by hand: 4+4 + 3+4 + 4+4 visible GT points; missing: 1 (f0 b's tip), 3 (f1: a
    # has no prediction and one of its nodes is hidden) and 1 (f1 b's half-NaN head)
    assert d["n_points"] == 23
    assert d["n_missing"] == 5
    assert res.body_length_nodes == ("head", "abdomen")


def test_default_body_pair_and_box_diagonal():
    gt, pred = hand_case()
    # head/abdomen are found by name
    res = evaluate_arrays(gt, pred, NAMES4)
    assert res.body_length_nodes == ("head", "abdomen")
    assert_matches_reference(res, gt, pred, (0, 2))
    # no head/abdomen-like names: body length is each GT animal's box diagonal
    res = evaluate_arrays(gt, pred, ["p", "q", "r", "s"])
    assert res.body_length_nodes is None
    assert_matches_reference(res, gt, pred, None)


def test_swapped_animals_are_matched_to_minimise_error():
    gt, pred = hand_case()
    res = evaluate_arrays(gt, pred, NAMES4)
    straight = evaluate_arrays(gt, pred[:, [1, 0, 2]], NAMES4)
    assert res.to_dict() == straight.to_dict()
    # frame 0 errors are the small ones, not the ~90 px of a wrong assignment
    assert np.nanmax(res.distances) < 20


def test_node_order_and_missing_node_in_prediction(tmp_path):
    gt, pred = hand_case()
    base = evaluate_arrays(gt, pred, NAMES4).to_dict()
    gl = make_labels(gt, NAMES4, video="/data/a.mp4")
    order = [3, 1, 0, 2]
    pl = make_labels(pred[:, :, order], [NAMES4[i] for i in order], video="/data/a.mp4")
    assert evaluate(gl, pl).to_dict() == base
    # drop the 'tip' node from the prediction skeleton: every GT tip point is missing
    keep = [0, 1, 2]
    pl2 = make_labels(pred[:, :, keep], [NAMES4[i] for i in keep], video="/data/a.mp4")
    res = evaluate(gl, pl2)
    pred2 = pred.copy()
    pred2[:, :, 3] = NAN
    assert_matches_reference(res, gt, pred2, (0, 2))
    tip = res.to_dict()["per_node"]["tip"]
    assert tip["n_missing"] == tip["n_points"] == 6
    assert tip["mean_px"] is None
    assert any("tip" in note for note in res.notes)


def test_percentiles_pck_and_missing_by_hand():
    gt = np.array([[[[0.0, 0], [10, 0], [10, 20], [0, 20], [5, 5]]]])
    pred = gt + np.array([[[[0.0, 0], [1, 0], [3, 4], [0, 0], [0, 0]]]])
    pred[0, 0, 3] = NAN  # one missing
    pred[0, 0, 4] = [5.6, 5.8]  # error 1.0
    # body length a-b = 10 px: 0.05bl = 0.5 px, 0.1bl = 1 px, 0.2bl = 2 px
    res = evaluate_arrays(gt, pred, ["a", "b", "c", "d", "e"], body_length_nodes=("a", "b"))
    d = res.to_dict()
    # errors 0, 1, 5, 1 (and one missing): sorted 0, 1, 1, 5
    assert d["n_points"] == 5 and d["n_missing"] == 1
    assert d["mean_px"] == pytest.approx(7 / 4, abs=1e-12)
    assert d["median_px"] == pytest.approx(1.0, abs=1e-12)
    assert d["p90_px"] == pytest.approx(1 + 0.7 * 4, abs=1e-12)  # pos 2.7 between 1 and 5
    assert d["p95_px"] == pytest.approx(1 + 0.85 * 4, abs=1e-12)
    # PCK over all 5 points (the missing one fails); <= is inclusive
    assert d["pck"] == pytest.approx(
        {"1px": 3 / 5, "2px": 3 / 5, "5px": 4 / 5, "10px": 4 / 5,
         "0.05bl": 1 / 5, "0.1bl": 3 / 5, "0.2bl": 3 / 5}, abs=1e-12
    )  # fmt: skip


def test_oks_map_single_pair_by_hand():
    # GT box 10 x 20 -> area 200; uniform sigma 0.025 -> 2 * area * (2 sigma)^2 = 1.0
    gt = np.array([[[[0.0, 0], [10, 0], [10, 20], [0, 20]]]])
    pred = gt.copy()
    pred[0, 0, 1] += [0.3, 0.0]  # ks = exp(-0.09)
    pred[0, 0, 2] += [0.0, 0.6]  # ks = exp(-0.36)
    pred[0, 0, 3] = NAN  # ks = 0
    oks = (1 + math.exp(-0.09) + math.exp(-0.36) + 0) / 4
    assert ref_oks(gt[0, 0], pred[0, 0]) == pytest.approx(oks, abs=1e-12)
    res = evaluate_arrays(gt, pred, ["a", "b", "c", "d"])
    # one GT, one prediction: AP is 1 at each threshold the OKS reaches, else 0
    thresholds = [0.5 + 0.05 * i for i in range(10)]
    assert oks == pytest.approx(0.6529, abs=1e-4)  # reaches 0.50..0.65: mAP 0.4
    want = [1.0 if oks >= t else 0.0 for t in thresholds]
    assert res.ap_per_threshold == pytest.approx(want, abs=1e-9)
    assert res.to_dict()["map_oks"] == pytest.approx(sum(want) / 10, abs=1e-9)  # 0.3


def test_oks_map_ranking_with_false_positive_by_hand():
    # frame 0: GT A predicted perfectly (score 0.9) and a far-away false positive (0.95)
    # frame 1: GT B predicted with OKS 0.62 (score 0.8)
    gt = np.full((2, 1, 2, 2), NAN)
    gt[0, 0] = [[0, 0], [10, 10]]
    gt[1, 0] = [[50, 50], [60, 60]]
    pred = np.full((2, 2, 2, 2), NAN)
    pred[0, 0] = gt[0, 0]
    pred[0, 1] = [[300, 300], [310, 310]]
    # area 100 -> ks = exp(-d^2 / (2 * 100 * 0.05^2)) = exp(-2 d^2); want ks2 = 0.24
    dx = math.sqrt(-math.log(0.24) / 2)
    pred[1, 0] = gt[1, 0] + [[0, 0], [dx, 0]]
    scores = np.array([[0.9, 0.95], [0.8, NAN]])
    assert ref_oks(gt[1, 0], pred[1, 0]) == pytest.approx(0.62, abs=1e-12)
    res = evaluate_arrays(gt, pred, ["head", "tail"], pred_scores=scores)
    eps = np.spacing(1)
    # ranked FP, TP, TP: precision envelope 2/3 at every recall point
    ap_low = 2 / (3 + eps)
    # ranked FP, TP, FP: precision 1/2 up to recall 0.5 (51 of 101 recall points), then 0
    ap_high = (1 / (2 + eps)) * 51 / 101
    want = [ap_low if t <= 0.62 else ap_high for t in np.linspace(0.5, 0.95, 10)]
    assert res.ap_per_threshold == pytest.approx(want, abs=1e-9)
    assert res.map_oks == pytest.approx((3 * ap_low + 7 * ap_high) / 10, abs=1e-9)
    # node confidences (averaged over visible nodes) rank the same way
    conf = np.stack([scores, scores], axis=-1)
    res2 = evaluate_arrays(gt, pred, ["head", "tail"], pred_scores=conf)
    assert res2.map_oks == pytest.approx(res.map_oks, abs=1e-12)
    # without scores all rank 1 (ties keep frame order): TP, FP, TP at t <= 0.62
    res3 = evaluate_arrays(gt, pred, ["head", "tail"])
    assert res3.ap_per_threshold[0] == pytest.approx((51 + 50 * 2 / 3) / 101, abs=1e-9)


def test_sigmas_from_data_follow_coco():
    gt, pred = hand_case()
    res = evaluate_arrays(gt, pred, NAMES4, node_sigmas="data")
    assert res.sigma_mode == "data"
    # sigma_i^2 = mean over matched points of d^2 / area of the GT animal's box
    for j in range(4):
        vals = []
        for f in range(3):
            for g, p in ((0, {0: 1, 1: None, 2: 0}[f]), (1, {0: 0, 1: 2, 2: 2}[f])):
                if p is None or np.isnan(gt[f, g, j]).any() or np.isnan(pred[f, p, j]).any():
                    continue
                vis = gt[f, g][~np.isnan(gt[f, g]).any(axis=1)]
                area = np.prod(vis.max(0) - vis.min(0)) + np.spacing(1)
                vals.append(np.sum((gt[f, g, j] - pred[f, p, j]) ** 2) / area)
        assert res.sigmas[j] == pytest.approx(math.sqrt(np.mean(vals)), abs=1e-12)
    given = evaluate_arrays(gt, pred, NAMES4, node_sigmas=res.sigmas)
    assert given.map_oks == pytest.approx(res.map_oks, abs=1e-12)
    with pytest.raises(LeapError):
        evaluate_arrays(gt, pred, NAMES4, node_sigmas="coco")
    with pytest.raises(LeapError):
        evaluate_arrays(gt, pred, NAMES4, node_sigmas=[0.1, 0.2])


def test_to_dict_keys_and_json():
    gt, pred = hand_case()
    d = evaluate_arrays(gt, pred, NAMES4).to_dict()
    keys = {"n_points", "n_missing", "mean_px", "median_px", "p90_px", "p95_px", "pck"}
    assert set(d) == keys | {"map_oks", "per_node", "notes"}
    assert list(d["pck"]) == ["1px", "2px", "5px", "10px", "0.05bl", "0.1bl", "0.2bl"]
    assert list(d["per_node"]) == list(NAMES4)
    for s in d["per_node"].values():
        assert set(s) == keys
    json.dumps(d, allow_nan=False)


def test_bad_arrays_and_body_nodes():
    gt, pred = hand_case()
    with pytest.raises(LeapError, match="shape"):
        evaluate_arrays(gt, pred[:2], NAMES4)
    with pytest.raises(LeapError, match="not in the skeleton"):
        evaluate_arrays(gt, pred, NAMES4, body_length_nodes=("head", "tail"))


def test_plot_and_table(tmp_path):
    gt, pred = hand_case()
    res = evaluate_arrays(gt, pred, NAMES4)
    out = res.plot(tmp_path / "sub" / "eval.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = res.format_table()
    for name in [*NAMES4, "all", "OKS mAP"]:
        assert name in table


# -- labels files --------------------------------------------------------------------------
def make_labels(points, names, video="/nonexistent/clip.mp4", frame_idx=None, scores=None,
                predicted=False):  # fmt: skip
    """Labels from (N, A, K, 2): one frame per N, NaN animals left out."""
    import sleap_io as sio

    skel = sio.Skeleton(list(names))
    vid = sio.Video.from_filename(video)
    frames = []
    for f in range(points.shape[0]):
        insts = []
        for a in range(points.shape[1]):
            if np.isnan(points[f, a]).all():
                continue
            if predicted:
                sc = np.ones(len(names)) if scores is None else scores[f, a]
                insts.append(
                    sio.PredictedInstance.from_numpy(
                        points[f, a], skeleton=skel, point_scores=sc, score=float(np.mean(sc))
                    )
                )
            else:
                insts.append(sio.Instance.from_numpy(points[f, a], skeleton=skel))
        idx = f if frame_idx is None else frame_idx[f]
        frames.append(sio.LabeledFrame(video=vid, frame_idx=int(idx), instances=insts))
    return sio.Labels(frames)


def test_labels_files_match_frames_and_videos(tmp_path):
    import sleap_io as sio

    gt, pred = hand_case()
    base = evaluate_arrays(gt, pred, NAMES4).to_dict()
    sio.save_file(make_labels(gt, NAMES4, video="/lab/videos/fly.mp4"), str(tmp_path / "gt.slp"))
    # same file name elsewhere, frames stored in another order, predicted instances
    order = [2, 0, 1]
    pl = make_labels(pred[order], NAMES4, video="/other/place/fly.mp4", frame_idx=order,
                     predicted=True)  # fmt: skip
    sio.save_file(pl, str(tmp_path / "pr.slp"))
    res = evaluate(tmp_path / "gt.slp", str(tmp_path / "pr.slp"))
    assert res.to_dict() == base
    assert res.n_frames == 3
    # different names entirely: matched by order
    sio.save_file(make_labels(pred, NAMES4, video="/x/renamed.avi"), str(tmp_path / "pr2.slp"))
    res = evaluate(tmp_path / "gt.slp", tmp_path / "pr2.slp")
    assert {**res.to_dict(), "notes": []} == base  # the same figures, and a note
    assert any("matched by their order" in note for note in res.notes)
    # predictions cover only frames 0 and 2: frame 1 is skipped (counted), not missing
    sub = make_labels(pred[[0, 2]], NAMES4, video="/lab/videos/fly.mp4", frame_idx=[0, 2])
    res = evaluate(tmp_path / "gt.slp", sub)
    assert res.n_gt_frames_skipped == 1 and res.n_frames == 2
    assert_matches_reference(res, gt[[0, 2]], pred[[0, 2]], (0, 2))


def test_user_instances_are_ground_truth_and_predicted_are_predictions():
    import sleap_io as sio

    gt, pred = hand_case()
    skel = sio.Skeleton(list(NAMES4))  # sleap-io turns the list it gets into Nodes
    vid = sio.Video.from_filename("/v.mp4")
    frames = []
    for f in range(3):
        insts = [sio.Instance.from_numpy(gt[f, a], skeleton=skel) for a in range(2)]
        insts += [
            sio.PredictedInstance.from_numpy(pred[f, a], skeleton=skel, score=0.5)
            for a in range(3)
            if not np.isnan(pred[f, a]).all()
        ]
        frames.append(sio.LabeledFrame(video=vid, frame_idx=f, instances=insts))
    both = sio.Labels(frames)
    # the same file as ground truth (user instances) and predictions (predicted instances)
    assert evaluate(both, both).to_dict() == evaluate_arrays(gt, pred, NAMES4).to_dict()


def test_bad_inputs_raise_one_sentence(tmp_path):
    import sleap_io as sio

    gt, pred = hand_case()
    gl = make_labels(gt, NAMES4)
    with pytest.raises(LeapError, match="does not exist"):
        evaluate(tmp_path / "nope.slp", gl)
    with pytest.raises(LeapError, match="no labelled frame in common"):
        evaluate(gl, make_labels(pred, NAMES4, frame_idx=[10, 11, 12]))
    with pytest.raises(LeapError, match="share no body-part names"):
        evaluate(gl, make_labels(pred, ["w", "x", "y", "z"]))
    bad = tmp_path / "bad.slp"
    bad.write_text("not a labels file")
    with pytest.raises(LeapError, match="cannot be read"):
        evaluate(bad, gl)
    sio.save_file(gl, str(tmp_path / "ok.slp"))


# -- command line --------------------------------------------------------------------------
def _dispatcher_ready() -> bool:
    from napari_leap.cli import COMMANDS

    return all(importlib.util.find_spec(f"napari_leap.commands.{c}") for c in COMMANDS)


ENTRY_POINTS = [
    pytest.param(["-m", "napari_leap.commands.evaluate"], id="module"),
    pytest.param(
        ["-m", "napari_leap.cli", "evaluate"],
        id="dispatcher",
        marks=pytest.mark.skipif(
            not _dispatcher_ready(), reason="other napari-leap commands are not written yet"
        ),
    ),
]


def _run_cli(prefix, *args):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run(
        [sys.executable, *prefix, *map(str, args)], capture_output=True, text=True, env=env,
        timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("prefix", ENTRY_POINTS)
def test_cli_json_table_plot_and_errors(tmp_path, prefix):
    import sleap_io as sio

    gt, pred = hand_case()
    sio.save_file(make_labels(gt, NAMES4), str(tmp_path / "gt.slp"))
    sio.save_file(make_labels(pred, NAMES4, predicted=True), str(tmp_path / "pr.slp"))
    want = evaluate_arrays(gt, pred, NAMES4).to_dict()

    r = _run_cli(prefix, tmp_path / "gt.slp", tmp_path / "pr.slp", "--json",
                 "--plot", tmp_path / "p.png")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json.loads(json.dumps(want))
    assert len(r.stdout.strip().splitlines()) == 1
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"

    r = _run_cli(prefix, tmp_path / "gt.slp", tmp_path / "pr.slp", "--sigmas", "data")
    assert r.returncode == 0, r.stderr
    assert "head" in r.stdout and "OKS mAP" in r.stdout and "data sigmas" in r.stdout

    r = _run_cli(prefix, tmp_path / "missing.slp", tmp_path / "pr.slp", "--json")
    assert r.returncode == 2
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "does not exist" in r.stderr


# -- the real clip with known noise --------------------------------------------------------
def test_real_clip_with_gaussian_noise(tmp_path):
    """Labels vs a copy with N(0, 1 px) noise per coordinate: errors are Rayleigh(1)."""
    import sleap_io as sio

    labels = sio.load_file(str(CLIP))
    names = list(labels.skeletons[0].node_names)
    rng = np.random.default_rng(7)
    order = rng.permutation(len(names))  # the prediction skeleton lists nodes in another order
    pskel = sio.Skeleton([names[i] for i in order])
    noise_norms, oks_all, n_points, n_missing = [], [], 0, 0
    frames = []
    for lf in labels.labeled_frames:
        insts = []
        for inst in lf.user_instances:
            xy = inst.numpy()
            vis = ~np.isnan(xy).any(axis=1)
            noise = rng.normal(0.0, 1.0, xy.shape)
            drop = vis & (rng.random(len(xy)) < 0.03)  # 3% of predicted points missing
            noisy = xy + noise
            noisy[drop] = np.nan
            n_points += int(vis.sum())
            n_missing += int(drop.sum())
            noise_norms.extend(np.linalg.norm(noise[vis & ~drop], axis=1))
            # node confidences equal to the instance's OKS: a perfect ranking for mAP
            oks = ref_oks(xy, noisy)
            oks_all.append(oks)
            insts.append(
                sio.PredictedInstance.from_numpy(
                    noisy[order], skeleton=pskel, point_scores=np.full(len(names), oks), score=oks
                )
            )
        insts.reverse()  # animals stored in the other order
        frames.append(sio.LabeledFrame(video=lf.video, frame_idx=lf.frame_idx, instances=insts))
    sio.save_file(sio.Labels(frames), str(tmp_path / "noisy.slp"))

    res = evaluate(CLIP, tmp_path / "noisy.slp")
    d = res.to_dict()
    e = np.asarray(noise_norms)
    assert d["n_points"] == n_points == 38363
    assert d["n_missing"] == n_missing
    # every animal matched to itself: the errors are exactly the noise we added
    assert d["mean_px"] == pytest.approx(float(np.mean(e)), abs=1e-9)
    assert d["median_px"] == pytest.approx(float(np.median(e)), abs=1e-9)
    assert d["p95_px"] == pytest.approx(float(np.percentile(e, 95)), abs=1e-9)
    assert d["pck"]["2px"] == pytest.approx(float(np.sum(e <= 2) / n_points), abs=1e-9)
    # and they follow the Rayleigh(1) law: median sqrt(2 ln 2) = 1.177, mean sqrt(pi/2)
    assert d["median_px"] == pytest.approx(math.sqrt(2 * math.log(2)), abs=0.03)
    assert d["mean_px"] == pytest.approx(math.sqrt(math.pi / 2), abs=0.03)
    assert d["p90_px"] == pytest.approx(math.sqrt(-2 * math.log(0.1)), abs=0.05)
    keep = 1 - n_missing / n_points
    assert d["pck"]["1px"] == pytest.approx(keep * (1 - math.exp(-0.5)), abs=0.01)
    assert d["pck"]["10px"] == pytest.approx(keep, abs=1e-9)
    # perfectly ranked, one prediction per animal: AP at threshold t is the share of the 101
    # recall points up to the recall reached, r_t = fraction of animals with OKS >= t
    oks_all = np.asarray(oks_all)
    aps = []
    for t in np.linspace(0.5, 0.95, 10):
        r_t = np.sum(oks_all >= t) / len(oks_all)
        aps.append(np.sum(np.linspace(0, 1, 101) <= r_t) / 101 / (1 + np.spacing(1)))
    assert d["map_oks"] == pytest.approx(float(np.mean(aps)), abs=1e-9)
    assert 0.8 < d["map_oks"] < 0.9  # missing points (OKS 0) and the 0.90/0.95 thresholds


def test_single_animal_arrays_and_perfect_predictions():
    gt, _ = hand_case()
    one = gt[:, 0]  # (N, K, 2): one animal per frame
    res = evaluate_arrays(one, one, NAMES4, node_sigmas="data")
    d = res.to_dict()
    assert d["n_points"] == 11 and d["n_missing"] == 0
    assert d["mean_px"] == 0.0 and d["p95_px"] == 0.0
    assert all(v == 1.0 for v in d["pck"].values())
    # sigmas estimated as 0 from perfect predictions: exact points still score OKS 1
    assert np.all(res.sigmas == 0) and d["map_oks"] == pytest.approx(1.0, abs=1e-12)


def test_ground_truth_slips_are_named_and_scored_as_labelled():
    """One head clicked on the other fly in the ground truth: its error is the label's,
    not the model's, and the report says which point it is (it used to say nothing)."""
    from napari_leap.io.labels import labels_from_poses, load_labels, poses_from_labels

    video = str(CLIP.with_suffix(".mp4"))
    model = poses_from_labels(load_labels(CLIP)).select(slice(0, 300, 10))
    truth = model.select(slice(None))
    truth.points = truth.points.copy()
    head, thorax = model.skeleton.index("head"), model.skeleton.index("thorax")
    truth.points[5, 0, head] = truth.points[5, 1, thorax]  # frame 50: on the other fly
    result = evaluate(
        labels_from_poses(truth, [video], predicted=False),
        labels_from_poses(model, [video], predicted=True),
    )
    notes = [n for n in result.notes if "slips of the mouse" in n]
    assert len(notes) == 1 and notes[0].startswith("1 ground-truth point(s)")
    assert "head of female on frame 50" in notes[0]
    assert result.to_dict()["notes"] == result.notes
    assert np.nanmax(result.distances) > 50  # scored as labelled
    clean = evaluate(
        labels_from_poses(model, [video], predicted=False),
        labels_from_poses(model, [video], predicted=True),
    )
    assert not [n for n in clean.notes if "slips" in n]
