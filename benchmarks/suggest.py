"""Frame suggestions on the bundled two-fly clip (1500 frames, 1024x1024): time and spread.

Run: python benchmarks/suggest.py [--n 20] [--method kmeans]
Prints the wall time and the frames picked, and writes suggest.json next to itself.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import napari_leap
from napari_leap.pose.suggest import suggest_frames

CLIP = Path(napari_leap.__file__).parent / "sample_data" / "flies13" / "clip.mp4"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--method", default="kmeans")
    args = parser.parse_args()
    t0 = time.perf_counter()
    frames = suggest_frames(CLIP, args.n, args.method)
    seconds = time.perf_counter() - t0
    quintiles = np.unique(frames * 5 // 1500)
    gaps = np.diff(frames)
    # the flies stand still until about frame 1000 and walk after: where do the picks go,
    # and how much of the range of places the male visits do they cover?
    from napari_leap.io.labels import load_labels, poses_from_labels

    truth = poses_from_labels(load_labels(CLIP.with_suffix(".slp")))
    x = truth.points[:, 1, 1, 0]
    coverage = float((x[frames].max() - x[frames].min()) / (np.nanmax(x) - np.nanmin(x)))
    result = {
        "method": args.method,
        "n": args.n,
        "video_frames": 1500,
        "seconds": round(seconds, 2),
        "frames": frames.tolist(),
        "quintiles_covered": len(quintiles),
        "min_gap": int(gaps.min()) if len(gaps) else None,
        "picks_before_1000": int((frames < 1000).sum()),
        "male_x_range_covered": round(coverage, 3),
    }
    print(f"suggest {args.method} n={args.n} on 1500 frames of 1024x1024: {seconds:.1f} s")
    print(f"frames: {frames.tolist()}")
    print(
        f"fifths of the video covered: {len(quintiles)} of 5; smallest gap {result['min_gap']} frames"
    )
    print(
        f"picks while the flies stand still (frames < 1000): {result['picks_before_1000']}, "
        f"while they walk: {len(frames) - result['picks_before_1000']}; "
        f"range of the male's x positions covered: {coverage:.0%}"
    )
    out = Path(__file__).with_name("suggest.json")
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
