"""How far reaching's joystick labels on the test frames lie from where the training labels put them.

    python benchmarks/label_drift.py [--csv .../reaching/CollectedData_Mackenzie.csv] [--preds P.slp ...]

#12 scores reaching by the median over all labelled points of its last 20 % of images
(11 frames, 44 points), and 22 of those points are the joystick's: ``Joystick1`` on the tip
of a rigid joystick, ``Joystick2`` somewhere on its shaft. A model can only put them where
the 38 training frames taught it to, so no model scores better than the test labels'
disagreement with the training labels' convention allows. This measures that without a
model:

- ``Joystick1``: the mean training patch around the label (the tip looks the same in every
  frame) is matched (normalised cross-correlation) within 25 px of each label; the offset
  between the label and the match is how far the labeller clicked from where the training
  labels put the tip. Training frames are matched against a template without themselves.
- ``Joystick2``: the shaft is uniform, so only the label's distance from ``Joystick1`` tells
  the point apart; a model that keeps the training frames' median distance misses by the
  difference.

A median of 5 px needs half the test points within 5 px. With the joystick points where
the training labels' convention puts them, it counts how many of the animal's points (hand,
finger, tongue) must then be within 5 px. ``--preds`` adds, for each prediction file of
the test images (``any_lab_data.py`` writes them), the per-part medians and how many
points of each part are within 5 px.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CSV = Path("/work/shared/data/reaching/CollectedData_Mackenzie.csv")
HALF = 20  # template half-size, px: the joystick tip's bright top
SEARCH = 25  # px around the label searched for the tip
CLEAR = 0.85  # match score of a tip in clear view (the hand away from it)
GOAL = 5.0  # px: #12's median for single-animal labelled frames
ANIMAL = ("Finger1", "Hand", "Tongue")


def _grey(image: np.ndarray) -> np.ndarray:
    return image[..., 0] if image.ndim == 3 else image


def _patch(image: np.ndarray, xy, half: int) -> np.ndarray:
    import cv2

    return cv2.getRectSubPix(image.astype(np.float32), (2 * half + 1, 2 * half + 1), tuple(xy))


def _match(image: np.ndarray, template: np.ndarray, xy) -> tuple[np.ndarray, float]:
    """Where ``template`` matches best within SEARCH px of ``xy`` (subpixel), and its score."""
    import cv2

    half = template.shape[0] // 2
    region = _patch(image, xy, half + SEARCH)
    score = cv2.matchTemplate(region, template, cv2.TM_CCOEFF_NORMED)
    y, x = np.unravel_index(int(np.argmax(score)), score.shape)
    off = np.array([x, y], float)
    for axis, (lo, hi) in enumerate(((x - 1, x + 1), (y - 1, y + 1))):
        if 0 < (x, y)[axis] < score.shape[1 - axis] - 1:
            c = score[y, x]
            a = score[y, lo] if axis == 0 else score[lo, x]
            b = score[y, hi] if axis == 0 else score[hi, x]
            denom = a - 2 * c + b
            if denom < 0:
                off[axis] += 0.5 * (a - b) / denom
    return np.asarray(xy, float) + off - SEARCH, float(score.max())


def _figure(images, labels: np.ndarray, offsets: dict, test, clear) -> None:
    """label_drift.png: the tip around Joystick1's label (red) and the training convention (green).

    Three training frames, then the three test frames with the tip in clear view (``clear``)
    whose labels lie farthest from it.
    """
    import cv2

    far = sorted([i for i in test if clear[i]], key=lambda i: -np.linalg.norm(offsets[i]))[:3]
    tiles = []
    for i in [0, 10, 20, *sorted(far)]:
        patch = _patch(images[i], labels[i], 40).clip(0, 255).astype(np.uint8)
        big = cv2.resize(patch, (243, 243), interpolation=cv2.INTER_NEAREST)
        tile = cv2.cvtColor(big, cv2.COLOR_GRAY2BGR)
        tip = np.array([121.0, 121.0]) - 3 * np.asarray(offsets[i])  # pixel 40 of 81, x3
        cv2.circle(tile, (int(round(tip[0])), int(round(tip[1]))), 5, (0, 200, 0), -1)
        cv2.circle(tile, (121, 121), 5, (0, 0, 255), -1)
        kind = "test" if i in set(test) else "train"
        cv2.putText(tile, f"{kind} {i}", (4, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 0), 1)
        tiles.append(tile)
    cv2.imwrite(str(HERE / "label_drift.png"), np.hstack(tiles))


def drift(csv: Path, train_fraction: float = 0.7, test_fraction: float = 0.2) -> dict:
    """The joystick labels' disagreement with the training frames' convention, per frame."""
    import sleap_io as sio

    labels = sio.load_file(str(csv), format="dlc")
    names = [n.name for n in labels.skeletons[0].nodes]
    frames = labels.labeled_frames
    images = [_grey(lf.image) for lf in frames]
    pts = np.stack([lf.instances[0].numpy() for lf in frames])
    n = len(frames)
    n_train = int(round(train_fraction * n))
    test = np.arange(n - int(round(test_fraction * n)), n)
    j1, j2 = names.index("Joystick1"), names.index("Joystick2")
    patches = np.stack([_patch(images[i], pts[i, j1], HALF) for i in range(n_train)])

    def offsets(idx, leave_out: bool):
        out, scores = [], []
        for i in idx:
            keep = [k for k in range(n_train) if not (leave_out and k == i)]
            found, s = _match(images[i], patches[keep].mean(0), pts[i, j1])
            out.append(pts[i, j1] - found)
            scores.append(s)
        return np.array(out), np.array(scores)

    train_off, train_score = offsets(range(n_train), True)
    test_off, test_score = offsets(test, False)
    offsets_of = {
        **dict(zip(range(n_train), train_off, strict=True)),
        **dict(zip(test, test_off, strict=True)),
    }
    clear = dict(zip(test, test_score >= CLEAR, strict=True))
    _figure(images, pts[:, j1], offsets_of, test, clear)
    length = np.linalg.norm(pts[:, j2] - pts[:, j1], axis=-1)
    train_len = float(np.median(length[:n_train]))
    j1_err = np.linalg.norm(test_off, axis=-1)
    j2_err = np.abs(length[test] - train_len)
    labelled = np.isfinite(pts[test]).all(-1)
    animal = [names.index(k) for k in ANIMAL]
    n_points, n_animal = int(labelled.sum()), int(labelled[:, animal].sum())
    joystick_within = int((j1_err <= GOAL).sum() + (j2_err <= GOAL).sum())
    return {
        "csv": str(csv),
        "n_frames": n,
        "n_train": n_train,
        "test_frames": test.tolist(),
        "n_test_points": int(labelled.sum()),
        "joystick1_train_offset_px": np.linalg.norm(train_off, axis=-1).round(2).tolist(),
        "joystick1_train_score": train_score.round(3).tolist(),
        "joystick1_test_offset_xy_px": test_off.round(2).tolist(),
        "joystick1_test_offset_px": j1_err.round(2).tolist(),
        "joystick1_test_score": test_score.round(3).tolist(),
        "joystick1_test_offset_px_tip_clear": j1_err[test_score >= CLEAR].round(2).tolist(),
        "joystick2_train_length_px": length[:n_train].round(1).tolist(),
        "joystick2_test_length_px": length[test].round(1).tolist(),
        "joystick2_test_miss_px": j2_err.round(2).tolist(),
        "joystick_points_within_goal": joystick_within,
        "animal_points": n_animal,
        "animal_points_needed_within_goal": max(0, int(np.ceil(n_points / 2)) - joystick_within),
    }


def prediction_figures(test_labels: Path, pred: Path) -> dict:
    """Per-part medians of ``pred`` on ``test_labels`` and each part's points within 5 px."""
    import sleap_io as sio

    t, p = sio.load_file(str(test_labels)), sio.load_file(str(pred))
    names = [n.name for n in t.skeletons[0].nodes]
    truth = {lf.frame_idx: lf.instances[0].numpy() for lf in t.labeled_frames}
    found = {lf.frame_idx: lf.instances[0].numpy() for lf in p.labeled_frames if lf.instances}
    nan = np.full((len(names), 2), np.nan)
    err = np.array([np.linalg.norm(found.get(f, nan) - truth[f], axis=-1) for f in sorted(truth)])
    labelled = np.isfinite(np.stack([truth[f] for f in sorted(truth)])).all(-1)
    missed = np.where(labelled, ~np.isfinite(err), False)  # not found counts as far off
    err = np.where(missed, np.inf, err)
    return {
        "pred": str(pred),
        "median_px": float(np.median(err[labelled])),
        "per_part_median_px": {
            k: float(np.median(err[labelled[:, i], i])) if labelled[:, i].any() else None
            for i, k in enumerate(names)
        },
        "per_part_within_goal": {
            k: f"{int((err[labelled[:, i], i] <= GOAL).sum())} of {int(labelled[:, i].sum())}"
            for i, k in enumerate(names)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=CSV)
    parser.add_argument("--preds", nargs="*", type=Path, default=[], help="prediction files")
    parser.add_argument("--test", type=Path, help="test labels the predictions are of")
    parser.add_argument("--out", type=Path, default=HERE / "label_drift.json")
    args = parser.parse_args()
    if not args.csv.exists():
        raise SystemExit(f"{args.csv} not found: this benchmark needs ../shared/data/reaching")
    result = drift(args.csv)
    result["predictions"] = [prediction_figures(args.test, p) for p in args.preds]
    print(
        f"Joystick1, test frames: label {np.median(result['joystick1_test_offset_px']):.1f} px "
        f"(median; {np.median(result['joystick1_test_offset_px_tip_clear']):.1f} px on the "
        f"{len(result['joystick1_test_offset_px_tip_clear'])} with the tip in clear view) from "
        f"the tip the training labels mark; training frames "
        f"{np.median(result['joystick1_train_offset_px']):.1f} px"
    )
    print(
        f"Joystick2: shaft length median {np.median(result['joystick2_train_length_px']):.0f} px "
        f"on training frames, {np.median(result['joystick2_test_length_px']):.0f} px on test "
        f"frames; a model keeping the training length misses by "
        f"{np.median(result['joystick2_test_miss_px']):.1f} px (median)"
    )
    print(
        f"a {GOAL:g} px median needs {int(np.ceil(result['n_test_points'] / 2))} of the "
        f"{result['n_test_points']} test points within {GOAL:g} px; the joystick's labels "
        f"put {result['joystick_points_within_goal']} there, so {result['animal_points_needed_within_goal']} "
        f"of the animal's {result['animal_points']} points (hand, finger, tongue) must be"
    )
    for r in result["predictions"]:
        parts = ", ".join(
            f"{k} {v if v is not None else float('nan'):.1f} "
            f"({r['per_part_within_goal'][k]} within {GOAL:g})"
            for k, v in r["per_part_median_px"].items()
        )
        print(f"{r['pred']}: {r['median_px']:.2f} px median; {parts}")
    from napari_leap.io.atomic import atomic_write_text

    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
