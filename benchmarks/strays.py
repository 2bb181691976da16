"""What the slip check flags: real labels (none should be), model predictions, and slips made on purpose.

    python benchmarks/strays.py [--slips 200]

Prints, for each labels set, how many points :func:`napari_leap.pose.dataset.stray_points`
flags, and for two kinds of slip made at random (a part of one of the clip's 50 training
flies clicked on a part of the other fly; a fly32 part placed anywhere in its crop) how
many of them it finds and whether it flags anything else. Reads ``/work/shared/data`` for
reaching and centered_pair when it is there.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import h5py
import numpy as np
import sleap_io as sio

import napari_leap
from napari_leap.pose.dataset import stray_points

SAMPLE = Path(napari_leap.__file__).parent / "sample_data"
SHARED = Path("/work/shared/data")


def _points(labels) -> np.ndarray:
    return np.array([i.numpy() for lf in labels for i in lf.instances])


def real_sets() -> dict:
    """Name -> (animals, K, 2) of every labelled animal."""
    clip = sio.load_slp(str(SAMPLE / "flies13" / "clip.slp"))
    sets = {
        "the clip, all 1500 frames (proofread)": _points(clip),
        "fly32": h5py.File(SAMPLE / "fly32" / "example_annotation_set.h5")["annotations"][:],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sets["LEAP's cat (labels.mat)"] = _points(
            sio.load_leap(str(SAMPLE / "leap_mat" / "labels.mat"))
        )
    reaching = SHARED / "reaching" / "CollectedData_Mackenzie.csv"
    if reaching.exists():
        sets["reaching"] = _points(sio.load_file(str(reaching), format="dlc"))
    pair = SHARED / "centered_pair" / "centered_pair_predictions.slp"
    if pair.exists():
        sets["centered_pair's model predictions"] = _points(sio.load_slp(str(pair)))
    return {k: np.asarray(v, dtype=np.float64) for k, v in sets.items()}


def clip_slips(n: int, rng) -> tuple[int, int, list[float]]:
    """(found, other points flagged, distances of the missed slips) over ``n`` wrong-fly clicks."""
    clip = sio.load_slp(str(SAMPLE / "flies13" / "clip.slp"))
    chosen = set(np.linspace(0, 999, 50).round().astype(int).tolist())
    train = np.array(
        [
            [i.numpy() for i in sorted(lf.instances, key=lambda i: i.track.name)]
            for lf in clip
            if lf.frame_idx in chosen
        ]
    )
    found = false = 0
    missed = []
    for _ in range(n):
        slipped = train.copy()
        f, a = rng.integers(len(train)), rng.integers(2)
        k, j = rng.integers(train.shape[2]), rng.integers(train.shape[2])
        while not np.isfinite(train[f, 1 - a, j]).all():  # a click lands on a placed part
            j = rng.integers(train.shape[2])
        slipped[f, a, k] = train[f, 1 - a, j]
        mask = stray_points(slipped).mask
        found += int(mask[f, a, k])
        false += int(mask.sum() - mask[f, a, k])
        if not mask[f, a, k]:
            missed.append(float(np.linalg.norm(train[f, a, k] - train[f, 1 - a, j])))
    return found, false, missed


def fly32_slips(n: int, rng) -> tuple[int, int, list[float]]:
    """The same for a fly32 training part (crops 0-79) placed anywhere in its 192 px crop."""
    train = h5py.File(SAMPLE / "fly32" / "example_annotation_set.h5")["annotations"][:80]
    train = train.astype(np.float64)
    found = false = 0
    missed = []
    for _ in range(n):
        slipped = train.copy()
        i, k = rng.integers(len(train)), rng.integers(train.shape[1])
        slipped[i, k] = rng.uniform(0, 192, 2)
        mask = stray_points(slipped).mask
        found += int(mask[i, k])
        false += int(mask.sum() - mask[i, k])
        if not mask[i, k]:
            missed.append(float(np.linalg.norm(slipped[i, k] - train[i, k])))
    return found, false, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slips", type=int, default=200, help="random slips of each kind")
    args = parser.parse_args()
    print("| labels | animals | flagged |\n|---|---:|---:|")
    for name, points in real_sets().items():
        print(f"| {name} | {len(points)} | {int(stray_points(points).mask.sum())} |")
    rng = np.random.default_rng(0)
    for name, run in (
        ("clip, a part on the other fly", clip_slips),
        ("fly32, a part anywhere", fly32_slips),
    ):
        found, false, missed = run(args.slips, rng)
        print(
            f"{name}: found {found} of {args.slips} slips, {false} other points flagged; "
            f"missed slips moved {np.percentile(missed, 50):.0f} px median, "
            f"{max(missed):.0f} px at most"
            if missed
            else f"{name}: found all {args.slips}, {false} other points flagged"
        )


if __name__ == "__main__":
    main()
