"""Accuracy versus number of labelled frames (LEAP's figure): 10, 25, 50 and 80 frames.

    python benchmarks/accuracy_vs_labels.py [--dataset fly32 clip] [--budget SECONDS]
    python benchmarks/accuracy_vs_labels.py --prepare      # only build the clip cache

For each count, the default model is trained from scratch with the same time budget
(``train(..., time_limit=budget)``, seed 0) and scored on frames it never saw, with
:func:`napari_leap.pose.evaluate.evaluate_arrays`:

* ``fly32``: the bundled 100 DeepPoseKit crops; trained on the first N, scored on the
  last 20 (192x192 crops, errors in crop pixels).
* ``clip``: the bundled two-fly clip; trained on N frames spread over the first two thirds
  (both flies, 2N aligned boxes), scored on every frame of the last third (500 frames, 1000
  flies). Errors are measured in the aligned boxes, which are a rotation plus a shift of the
  video (distances are video pixels) and whose identities come from the alignment, so the
  figure is the model's accuracy, not the alignment's (``napari-leap demo`` scores the whole
  pipeline). The aligned boxes are built once on a CPU and cached in
  ``benchmarks/.cache/clip_boxes.npz`` (not committed), so a GPU machine needs only torch,
  numpy, scipy, h5py and matplotlib.

Writes ``accuracy_vs_labels.json`` (every figure, per dataset and count) and
``accuracy_vs_labels.png`` next to this script; a run for one dataset keeps the other's
numbers in the JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_leap.io.atomic import atomic_path, atomic_write_text

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent / "src" / "napari_leap" / "sample_data"
FLY32 = SAMPLES / "fly32" / "example_annotation_set.h5"
CLIP = SAMPLES / "flies13" / "clip.slp"
CACHE = HERE / ".cache" / "clip_boxes.npz"
COUNTS = (10, 25, 50, 80)


def fly32_sets():
    """(train pool in order, test set, skeleton): first 80 crops, last 20."""
    from napari_leap.pose.dataset import load_box_h5

    data = load_box_h5(FLY32)
    return data.subset(np.arange(80)), data.subset(np.arange(80, 100))


def chosen_frames(n: int, cut: int) -> np.ndarray:
    """The N training frames: evenly spread over the first two thirds (as ``napari-leap demo``)."""
    return np.linspace(0, cut - 1, n).round().astype(int)


def prepare_clip(counts=COUNTS) -> Path:
    """Align the clip once; cache the boxes (with points) of the training and test frames."""
    import sleap_io as sio

    from napari_leap.pose.dataset import from_labels

    labels = sio.load_file(str(CLIP))
    n_frames = len(labels.labeled_frames)
    data = from_labels(labels, say=print)
    frames = data.groups % 10**9
    cut = 2 * n_frames // 3
    wanted = np.union1d(
        np.arange(cut, n_frames), np.concatenate([chosen_frames(n, cut) for n in counts])
    )
    data = data.subset(np.flatnonzero(np.isin(frames, wanted)))  # ~half the boxes: a smaller carry
    with atomic_path(CACHE) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(
            f,
            images=data.images,
            points=data.points,
            groups=data.groups,
            skeleton=json.dumps(data.skeleton.to_dict()),
            alignment=json.dumps(data.alignment),
            description=data.description,
            n_frames=n_frames,
        )
    print(f"cached {len(data)} boxes {data.images.shape[1:3]} -> {CACHE}")
    return CACHE


def clip_data():
    from napari_leap.pose.dataset import TrainingData
    from napari_leap.pose.skeleton import Skeleton

    if not CACHE.exists():
        prepare_clip()
    z = np.load(CACHE, allow_pickle=False)
    data = TrainingData(
        z["images"],
        z["points"],
        Skeleton.from_dict(json.loads(str(z["skeleton"]))),
        z["groups"],
        json.loads(str(z["alignment"])),
        str(z["description"]),
    )
    return data, int(z["n_frames"])


def run_one(train_set, test_set, budget: float, device, label: str) -> dict:
    from napari_leap.pose.evaluate import evaluate_arrays
    from napari_leap.pose.train import train

    folder = Path(tempfile.mkdtemp(prefix=f"acc-{label}-"))
    shutil.rmtree(folder)
    t0 = time.monotonic()
    model = train(
        train_set,
        folder,
        epochs=100_000,
        patience=100_000,
        time_limit=budget,
        device=device,
        seed=0,
    )
    seconds = time.monotonic() - t0
    pts, conf = [], []
    for i in range(0, len(test_set), 64):
        p, c = model.predict_images(test_set.images[i : i + 64])
        pts.append(p)
        conf.append(c)
    pts, conf = np.concatenate(pts), np.concatenate(conf)
    result = evaluate_arrays(
        test_set.points[:, None],
        pts[:, None],
        train_set.skeleton.nodes,
        pred_scores=conf[:, None],
    )
    history = json.loads((folder / "history.json").read_text())
    shutil.rmtree(folder, ignore_errors=True)
    d = result.to_dict()
    out = {k: d[k] for k in ("n_points", "n_missing", "mean_px", "median_px", "p90_px", "p95_px")}
    out.update(
        pck=d["pck"],
        map_oks=d["map_oks"],
        per_node_median_px={n: s["median_px"] for n, s in d["per_node"].items()},
        n_train_samples=len(train_set),
        epochs=len(history),
        train_seconds=round(seconds, 1),
        device=str(model.device) if hasattr(model, "device") else str(device),
    )
    print(
        f"{label}: {len(train_set)} samples, {len(history)} epochs in {seconds:.0f} s -> "
        f"median {d['median_px']:.2f} px, p90 {d['p90_px']:.2f} px, "
        f"PCK@0.1bl {d['pck']['0.1bl']:.3f}, OKS mAP {d['map_oks']:.3f}",
        flush=True,
    )
    return out


def bench_fly32(budget: float, device, counts) -> dict:
    pool, test = fly32_sets()
    runs = {}
    for n in counts:
        runs[str(n)] = run_one(pool.subset(np.arange(n)), test, budget, device, f"fly32-{n}")
    return {
        "train": "first N of the 100 crops",
        "test": "crops 80-99 (20 flies, 640 points)",
        "units": "px of the 192x192 crop",
        "runs": runs,
    }


def bench_clip(budget: float, device, counts) -> dict:
    data, n_frames = clip_data()
    frames = data.groups % 10**9
    cut = 2 * n_frames // 3
    test = data.subset(np.flatnonzero(frames >= cut))
    runs = {}
    for n in counts:
        chosen = chosen_frames(n, cut)
        if not np.isin(chosen, frames).all():
            raise SystemExit(
                f"{CACHE} lacks frames for {n} labels; rebuild it with --prepare --counts"
            )
        train_set = data.subset(np.flatnonzero(np.isin(frames, chosen)))
        runs[str(n)] = run_one(train_set, test, budget, device, f"clip-{n}")
        runs[str(n)]["frames"] = chosen.tolist()
    return {
        "train": f"N frames evenly spread over frames 0-{cut - 1}, both flies",
        "test": f"frames {cut}-{n_frames - 1}, both flies ({len(test)} boxes)",
        "units": "video px (aligned boxes: rotation + shift)",
        "box_size": data.images.shape[1],
        "runs": runs,
    }


def plot(results: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    names = [n for n in ("fly32", "clip") if n in results]
    fig = Figure(figsize=(5.5 * len(names), 4.2), dpi=110)
    axes = np.atleast_1d(fig.subplots(1, len(names)))
    for ax, name in zip(axes, names, strict=True):
        runs = results[name]["runs"]
        counts = sorted(int(c) for c in runs)
        for key, style, label in (
            ("median_px", "o-", "median"),
            ("p90_px", "s--", "90th percentile"),
        ):
            ax.plot(counts, [runs[str(c)][key] for c in counts], style, label=label)
        ax.set_xscale("log")
        ax.set_xticks(counts, [str(c) for c in counts])
        ax.minorticks_off()
        ax.set_xlabel("labelled frames")
        ax.set_ylabel(f"error ({results[name]['units']})")
        budget = results[name].get("budget_s")
        ax.set_title(f"{name}: held-out error, {budget:.0f} s training each")
        ax.set_ylim(0, 1.3 * max(runs[str(c)]["p90_px"] for c in counts))
        ax.grid(alpha=0.3)
        ax2 = ax.twinx()
        ax2.plot(
            counts,
            [runs[str(c)]["pck"]["0.1bl"] for c in counts],
            "^:",
            color="tab:green",
            label="PCK@0.1 body length",
        )
        ax2.set_ylim(0, 1.3)
        ax2.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        ax2.set_ylabel("PCK@0.1 body length", color="tab:green")
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, loc="upper center", ncol=3, fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", nargs="*", default=["fly32", "clip"], choices=["fly32", "clip"]
    )
    parser.add_argument("--counts", nargs="*", type=int, default=list(COUNTS))
    parser.add_argument("--budget", type=float, default=90.0, help="training seconds per count")
    parser.add_argument("--device", default=None)
    parser.add_argument("--prepare", action="store_true", help="only build the clip cache")
    parser.add_argument(
        "--plot-only", action="store_true", help="only redraw the PNG from the JSON"
    )
    parser.add_argument("--out", default=str(HERE / "accuracy_vs_labels.json"))
    args = parser.parse_args()
    if args.prepare:
        prepare_clip(args.counts)
        return
    if args.plot_only:
        out = Path(args.out)
        plot(json.loads(out.read_text()), out.with_suffix(".png"))
        return
    import torch

    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    machine = (
        f"{gpu or 'CPU'}; {platform.processor() or platform.machine()}; torch {torch.__version__}"
    )
    for name in args.dataset:
        fn = bench_fly32 if name == "fly32" else bench_clip
        res = fn(args.budget, args.device, args.counts)
        res.update(budget_s=args.budget, machine=machine)
        results[name] = res
        atomic_write_text(out, json.dumps(results, indent=1) + "\n")
    plot(results, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
