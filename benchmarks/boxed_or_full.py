"""Learned boxes or full frames for one animal well inside its frames: the CLI both ways, side by side.

    python benchmarks/boxed_or_full.py                      # 400x360 / 330x300 frames, 7 min
    python benchmarks/boxed_or_full.py --frames 300x280 290x272
    python benchmarks/boxed_or_full.py --minutes 0.5        # a smoke run

Each of fly32's bundled crops (a fly 135 px long with its 32 labelled parts, Apache-2.0)
is pasted at a random place into a frame of its border's grey, odd crops into the first
size and even ones into the second, and saved as DeepLabCut keeps labelled frames (PNGs
and a ``CollectedData`` CSV, no video). ``napari-leap train`` runs on crops 0-79 with
its own choice (``auto``) and with ``--align none`` at the same time, one torch thread
each, then ``predict`` and ``evaluate --json`` on crops 80-99. Prints and writes
(``boxed_or_full.json``) median, p95, mean, missing points, which alignment ``train``
took and its steps.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

FLY32 = Path(__file__).parents[1] / "src" / "napari_leap" / "sample_data" / "fly32"


def write_frames(out: Path, sizes: list[tuple[int, int]]) -> dict[str, Path]:
    """The train (0-79) and test (80-99) DLC folders; ``sizes`` as (width, height)."""
    import cv2
    import h5py

    names = [r.split(",")[0] for r in (FLY32 / "skeleton.csv").read_text().splitlines()[1:]]
    with h5py.File(FLY32 / "example_annotation_set.h5") as f:
        images, points = f["images"][:], f["annotations"][:]
    rng = np.random.default_rng(0)
    csvs = {}
    for split, idx in (("train", range(80)), ("test", range(80, 100))):
        folder = out / split / "labeled-data" / "v"
        folder.mkdir(parents=True, exist_ok=True)
        rows = [
            ["scorer", "", ""] + ["bench"] * (2 * len(names)),
            ["bodyparts", "", ""] + [n for n in names for _ in (0, 1)],
            ["coords", "", ""] + ["x", "y"] * len(names),
        ]
        for i in idx:
            w, h = sizes[i % 2]
            crop = images[i, ..., 0]
            grey = int(np.median(np.r_[crop[0], crop[-1], crop[:, 0], crop[:, -1]]))
            frame = np.full((h, w), grey, np.uint8)
            y0, x0 = int(rng.integers(0, h - 192)), int(rng.integers(0, w - 192))
            frame[y0 : y0 + 192, x0 : x0 + 192] = crop
            cv2.imwrite(str(folder / f"img{i:03d}.png"), frame)
            xy = points[i] + [x0, y0]
            rows.append(["labeled-data", "v", f"img{i:03d}.png", *(f"{v:.3f}" for v in xy.ravel())])
        with open(folder / "CollectedData_bench.csv", "w", newline="") as f:
            csv.writer(f).writerows(rows)
        csvs[split] = folder / "CollectedData_bench.csv"
    return csvs


def cli(*args: str, threads: int = 1) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    return subprocess.Popen(
        [sys.executable, "-m", "napari_leap.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def score(model: Path, test: Path, work: Path) -> dict:
    pred = work / f"{model.name}.slp"
    p = cli("predict", str(model), str(test), "--out", str(pred), threads=2)
    _, err = p.communicate()
    if p.returncode != 0:
        return {"error": err.strip().splitlines()[-1]}
    e = cli("evaluate", str(test), str(pred), "--json", threads=2)
    out, _ = e.communicate()
    figures = json.loads(out.strip().splitlines()[-1])
    cfg = json.loads((model / "config.json").read_text())
    return {
        **{k: figures[k] for k in ("median_px", "p95_px", "mean_px", "n_points", "n_missing")},
        "alignment": (cfg.get("alignment") or {}).get("method", "none"),
        "steps": cfg["training"].get("steps_done"),
        "peak_threshold": (cfg.get("alignment") or {}).get("peak_threshold"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", nargs=2, default=["400x360", "330x300"], help="WxH WxH")
    parser.add_argument("--minutes", type=float, default=7.0)
    parser.add_argument("--out", default=str(Path(__file__).with_suffix(".json")))
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.frames]
    work = Path(tempfile.mkdtemp(prefix="boxed-"))
    csvs = write_frames(work, sizes)
    runs = {"auto": [], "none": ["--align", "none"]}
    jobs = {
        name: cli(
            "train",
            str(csvs["train"]),
            "--out",
            str(work / name),
            "--time-limit",
            f"{args.minutes:g}",
            *extra,
        )
        for name, extra in runs.items()
    }
    said = {name: job.communicate()[1] for name, job in jobs.items()}
    key = f"{args.frames[0]} / {args.frames[1]}, {args.minutes:g} min"
    results = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    results[key] = {}
    for name in runs:
        if not (work / name / "best.pt").exists():
            results[key][name] = {"error": said[name].strip().splitlines()[-1]}
        else:
            results[key][name] = score(work / name, csvs["test"], work)
        print(key, name, results[key][name], flush=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
