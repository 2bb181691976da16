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
    result = {
        "method": args.method,
        "n": args.n,
        "video_frames": 1500,
        "seconds": round(seconds, 2),
        "frames": frames.tolist(),
        "quintiles_covered": len(quintiles),
        "min_gap": int(gaps.min()) if len(gaps) else None,
    }
    print(f"suggest {args.method} n={args.n} on 1500 frames of 1024x1024: {seconds:.1f} s")
    print(f"frames: {frames.tolist()}")
    print(
        f"fifths of the video covered: {len(quintiles)} of 5; smallest gap {result['min_gap']} frames"
    )
    out = Path(__file__).with_name("suggest.json")
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
