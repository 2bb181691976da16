"""Accuracy versus number of labelled frames (LEAP's figure): 10, 25, 50 and 80 frames.

    python benchmarks/accuracy_vs_labels.py [--dataset fly32 clip] [--seeds 0]
        [--counts 80 50 25 10] [--epochs 100] [--stop-after 0] [--patience N] [--threads 1]
    python benchmarks/accuracy_vs_labels.py --prepare      # only build the clip cache
    python benchmarks/accuracy_vs_labels.py --plot-only    # redraw the PNG from the JSON

For each count and seed, the default model (``train``'s defaults: U-Net, batch 8 on a CPU,
25 steps per epoch) is trained from scratch with the same optimisation budget, at most
``--epochs`` epochs (or the first ``--stop-after`` epochs of that schedule), whatever the
count, so more labels never means more steps. The defaults are what the committed figures
used (100 epochs, no early stopping). Early
stopping (``--patience`` epochs, off by default) and the checkpoint kept are decided on ``train``'s own
validation block, carved out of the N labelled frames (10 %, contiguous in time, at least
one frame); the test frames are never seen. Every run's validation curve is saved and
plotted, so whether a count converged within the budget can be read off the figure.
Each model is scored with :func:`napari_leap.pose.evaluate.evaluate_arrays`:

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

Writes ``accuracy_vs_labels.json`` (every figure per dataset, count and seed, plus the mean
and range over seeds) and ``accuracy_vs_labels.png`` next to this script. Several processes
(e.g. one per dataset or seed) may run at once: each adds its runs to the JSON under a lock.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
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
COUNTS = (80, 50, 25, 10)  # largest first: a cut-short run still has them
FORMAT = 2


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
    from napari_leap.model.skeleton import Skeleton
    from napari_leap.pose.dataset import TrainingData

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


def code_revision() -> str:
    """The commit the run used, and whether the training code had uncommitted edits."""
    import subprocess

    def git(*a):
        return subprocess.run(["git", *a], cwd=HERE.parent, capture_output=True, text=True).stdout

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    dirty = git("status", "--porcelain", "--", "src/napari_leap/pose").strip()
    return head + (" + uncommitted edits in src/napari_leap/pose" if dirty else "")


def run_one(train_set, test_set, args, seed: int, label: str) -> dict:
    """Train the default model on ``train_set`` within the fixed budget; score ``test_set``.

    ``--stop-after E`` ends after epoch E of the ``--epochs`` schedule (the learning rate
    still follows the longer schedule), keeping the best checkpoint of those E epochs.
    """
    import threading

    from napari_leap.pose.train import EpochEnd, TrainConfig, train

    folder = Path(tempfile.mkdtemp(prefix=f"acc-{label}-"))
    shutil.rmtree(folder)
    stop = threading.Event()

    def on_event(event) -> None:
        if args.stop_after and isinstance(event, EpochEnd) and event.epoch >= args.stop_after:
            stop.set()

    t0 = time.monotonic()
    model = train(
        train_set,
        folder,
        TrainConfig(
            epochs=args.epochs, patience=args.patience or args.epochs, device=args.device, seed=seed
        ),
        progress=on_event,
        stop=stop,
    )
    seconds = time.monotonic() - t0
    history = json.loads((folder / "history.json").read_text())
    if args.keep:
        shutil.move(folder, Path(args.keep) / label)
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return score(model, test_set, history, seed, seconds, label)


def score(model, test_set, history: list[dict], seed: int, seconds: float, label: str) -> dict:
    """Held-out figures of ``model`` (its kept checkpoint) plus how it was trained."""
    from napari_leap.pose.evaluate import evaluate_arrays

    pts, conf = [], []
    for i in range(0, len(test_set), 64):
        p, c = model.predict_images(test_set.images[i : i + 64])
        pts.append(p)
        conf.append(c)
    pts, conf = np.concatenate(pts), np.concatenate(conf)
    result = evaluate_arrays(
        test_set.points[:, None],
        pts[:, None],
        test_set.skeleton.nodes,
        pred_scores=conf[:, None],
    )
    tr = model.config["training"]
    best_epoch = max((e["epoch"] for e in history if e["best"]), default=0)
    d = result.to_dict()
    out = {k: d[k] for k in ("n_points", "n_missing", "mean_px", "median_px", "p90_px", "p95_px")}
    out.update(
        pck=d["pck"],
        map_oks=d["map_oks"],
        per_node_median_px={n: s["median_px"] for n, s in d["per_node"].items()},
        seed=seed,
        arch=model.config["arch"],
        input_scale=model.config["input_scale"],
        sigma=model.config["sigma"],
        code=code_revision(),
        n_train_samples=tr["n_train"],
        n_val_samples=tr["n_val"],
        schedule_epochs=tr["epochs"],
        epochs=len(history),
        steps_per_epoch=tr["steps_per_epoch"],
        steps=len(history) * tr["steps_per_epoch"],
        best_epoch=best_epoch,
        train_seconds=round(seconds, 1),
        device=str(model.device),
        val_curve=[
            {
                "epoch": e["epoch"],
                "median_px": e["val_error_median_px"],
                "mean_px": e["val_error_px"],
                "seconds": round(e["elapsed"], 1),
            }
            for e in history
        ],
    )
    print(
        f"{label}: {tr['n_train']}+{tr['n_val']} samples, {len(history)} epochs "
        f"(best {best_epoch}) in {seconds:.0f} s -> "
        f"median {d['median_px']:.2f} px, p90 {d['p90_px']:.2f} px, "
        f"PCK@0.1bl {d['pck']['0.1bl']:.3f}, OKS mAP {d['map_oks']:.3f}",
        flush=True,
    )
    return out


@contextlib.contextmanager
def locked(path: Path):
    """Exclusive lock so processes running other datasets or seeds don't lose each other's runs."""
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with open(CACHE.parent / (path.name + ".lock"), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def summarise(runs: dict) -> dict:
    """Mean, min and max over seeds of the headline figures, per count."""
    out = {}
    for count, by_seed in runs.items():
        rs = list(by_seed.values())
        s = {"seeds": sorted(r["seed"] for r in rs)}
        for key, get in (
            ("median_px", lambda r: r["median_px"]),
            ("p90_px", lambda r: r["p90_px"]),
            ("mean_px", lambda r: r["mean_px"]),
            ("pck_0.1bl", lambda r: r["pck"]["0.1bl"]),
            ("map_oks", lambda r: r["map_oks"]),
            ("train_seconds", lambda r: r["train_seconds"]),
        ):
            v = np.array([get(r) for r in rs], float)
            s[key] = {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}
        out[count] = s
    return out


def record(out: Path, name: str, meta: dict, count: int, run: dict) -> None:
    """Add one run to the JSON (re-read under the lock: other processes may have written)."""
    with locked(out):
        results = json.loads(out.read_text()) if out.exists() else {}
        if results.get("format") != FORMAT:
            results = {"format": FORMAT}
        ds = results.setdefault(name, {"runs": {}})
        ds.update(meta)
        ds["runs"].setdefault(str(count), {})[str(run["seed"])] = run
        ds["runs"] = dict(sorted(ds["runs"].items(), key=lambda kv: int(kv[0])))
        ds["summary"] = summarise(ds["runs"])
        atomic_write_text(out, json.dumps(results, indent=1) + "\n")


def bench_fly32(args, out: Path, meta: dict) -> None:
    pool, test = fly32_sets()
    meta = {
        **meta,
        "train": "first N of the 100 crops",
        "test": "crops 80-99 (20 flies, 640 points)",
        "units": "px of the 192x192 crop",
    }
    for seed in args.seeds:
        for n in args.counts:
            run = run_one(pool.subset(np.arange(n)), test, args, seed, f"fly32-{n}-s{seed}")
            record(out, "fly32", meta, n, run)


def bench_clip(args, out: Path, meta: dict) -> None:
    data, n_frames = clip_data()
    frames = data.groups % 10**9
    cut = 2 * n_frames // 3
    test = data.subset(np.flatnonzero(frames >= cut))
    meta = {
        **meta,
        "train": f"N frames evenly spread over frames 0-{cut - 1}, both flies",
        "test": f"frames {cut}-{n_frames - 1}, both flies ({len(test)} boxes)",
        "units": "video px (aligned boxes: rotation + shift)",
        "box_size": data.images.shape[1],
    }
    for seed in args.seeds:
        for n in args.counts:
            chosen = chosen_frames(n, cut)
            if not np.isin(chosen, frames).all():
                raise SystemExit(
                    f"{CACHE} lacks frames for {n} labels; rebuild it with --prepare --counts"
                )
            train_set = data.subset(np.flatnonzero(np.isin(frames, chosen)))
            run = run_one(train_set, test, args, seed, f"clip-{n}-s{seed}")
            run["frames"] = chosen.tolist()
            record(out, "clip", meta, n, run)


def plot(results: dict, path: Path) -> None:
    """Top: held-out error vs labelled frames (mean over seeds, range as bars, seeds as dots).

    Bottom: the validation curves, to judge whether each count converged in the budget.
    """
    from matplotlib.figure import Figure

    names = [n for n in ("fly32", "clip") if n in results]
    fig = Figure(figsize=(6.0 * len(names), 8.4), dpi=100)
    axes = np.array(fig.subplots(2, len(names), squeeze=False))
    for col, name in enumerate(names):
        res = results[name]
        runs, summary = res["runs"], res["summary"]
        counts = sorted(int(c) for c in runs)
        seeds = sorted({s for c in runs.values() for s in c})
        ax = axes[0, col]
        for key, marker, colour, label in (
            ("median_px", "o", "tab:blue", "median"),
            ("p90_px", "s", "tab:orange", "90th percentile"),
        ):
            mean = np.array([summary[str(c)][key]["mean"] for c in counts])
            lo = mean - np.array([summary[str(c)][key]["min"] for c in counts])
            hi = np.array([summary[str(c)][key]["max"] for c in counts]) - mean
            ax.errorbar(
                counts,
                mean,
                yerr=[lo, hi],
                fmt=marker + "-",
                color=colour,
                capsize=4,
                label=f"{label} (mean of {len(seeds)} seeds, bar = range)"
                if len(seeds) > 1
                else f"{label} (seed {seeds[0]})",
            )
            for c in counts:
                v = [r[key] for r in runs[str(c)].values()]
                ax.plot([c] * len(v), v, marker, color=colour, alpha=0.35, ms=4)
            for c, m in zip(counts, mean, strict=True):
                ax.annotate(
                    f"{m:.2f}",
                    (c, m),
                    xytext=(5, 3),
                    textcoords="offset points",
                    fontsize=8,
                    color=colour,
                )
        ax.set_xscale("log")
        ax.set_xticks(counts, [str(c) for c in counts])
        ax.minorticks_off()
        ax.set_xlabel("labelled frames used for training (N)")
        ax.set_ylabel(f"error on held-out frames\n({res['units']})")
        ax.set_ylim(0, 1.25 * max(summary[str(c)]["p90_px"]["max"] for c in counts))
        ax.set_title(
            f"{name}: test {res['test'].split(' (')[0]}\n"
            + (
                f"same budget per N: first {res['max_epochs']} of {res['schedule_epochs']} epochs"
                if res.get("schedule_epochs", res["max_epochs"]) != res["max_epochs"]
                else f"same budget per N: <= {res['max_epochs']} epochs"
            )
            + f" x {res['steps_per_epoch']} steps, batch {res['batch_size']}",
            fontsize=10,
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")

        ax = axes[1, col]
        colours = dict(
            zip(counts, ["tab:red", "tab:purple", "tab:green", "tab:blue"], strict=False)
        )
        for c in counts:
            for s, r in runs[str(c)].items():
                curve = r["val_curve"]
                ax.plot(
                    [e["epoch"] for e in curve],
                    [e["median_px"] for e in curve],
                    "-" if s == str(seeds[0]) else "--",
                    color=colours.get(c),
                    lw=1.2,
                    label=f"N={c}" if s == str(seeds[0]) else None,
                )
                ax.plot(
                    r["best_epoch"],
                    curve[r["best_epoch"] - 1]["median_px"],
                    "*",
                    color=colours.get(c),
                    ms=9,
                )
        ax.set_yscale("log")
        ax.set_yticks([1, 2, 3, 5, 10, 20, 50, 100], ["1", "2", "3", "5", "10", "20", "50", "100"])
        ax.minorticks_off()
        ax.set_xlabel(f"epoch ({res['steps_per_epoch']} steps of {res['batch_size']} images)")
        ax.set_ylabel("median error on the validation block\n(px, from the N training frames)")
        style = f"solid: seed {seeds[0]}" + (", dashed: other seeds" if len(seeds) > 1 else "")
        ax.set_title(f"{name}: validation curves ({style}; * = kept checkpoint)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, ncol=2, loc="upper right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def table(results: dict) -> str:
    """The headline figures as a Markdown table (what benchmarks/README.md quotes)."""
    lines = [
        "| data | labelled frames | seeds | median px | 90th pct px | PCK@0.1 body length "
        "| OKS mAP | epochs run (kept) | train s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("fly32", "clip"):
        if name not in results:
            continue
        res = results[name]
        for c, by_seed in res["runs"].items():
            s = res["summary"][c]

            def fig(key, fmt="{:.2f}", s=s):
                v = s[key]
                if len(s["seeds"]) == 1:
                    return fmt.format(v["mean"])
                return f"{fmt.format(v['mean'])} ({fmt.format(v['min'])}-{fmt.format(v['max'])})"

            rs = list(by_seed.values())
            epochs = ", ".join(f"{r['epochs']} ({r['best_epoch']})" for r in rs)
            lines.append(
                f"| {name} | {c} | {len(rs)} | {fig('median_px')} | {fig('p90_px')} | "
                f"{fig('pck_0.1bl', '{:.3f}')} | {fig('map_oks', '{:.3f}')} | {epochs} | "
                f"{fig('train_seconds', '{:.0f}')} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset", nargs="*", default=["fly32", "clip"], choices=["fly32", "clip"]
    )
    parser.add_argument("--counts", nargs="*", type=int, default=list(COUNTS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=100, help="epochs of the LR schedule")
    parser.add_argument(
        "--patience", type=int, default=None, help="early stopping, epochs (default: none)"
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        default=0,
        help="end after this many epochs of the --epochs schedule (0: run it all)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (1 was fastest on the shared 2-core machine)",
    )
    parser.add_argument("--device", default=None)
    parser.add_argument("--prepare", action="store_true", help="only build the clip cache")
    parser.add_argument(
        "--plot-only", action="store_true", help="only redraw the PNG from the JSON"
    )
    parser.add_argument("--table", action="store_true", help="print the JSON as a Markdown table")
    parser.add_argument("--out", default=str(HERE / "accuracy_vs_labels.json"))
    parser.add_argument("--keep", help="keep each trained model in KEEP/<dataset>-<N>-s<seed>")
    args = parser.parse_args()
    out = Path(args.out)
    if args.table:
        print(table(json.loads(out.read_text())))
        return
    if args.prepare:
        prepare_clip(args.counts)
        return
    if args.plot_only:
        plot(json.loads(out.read_text()), out.with_suffix(".png"))
        return
    import torch

    from napari_leap.pose.trained import choose_device

    torch.set_num_threads(args.threads)
    dev = choose_device(args.device)
    gpu = torch.cuda.get_device_name(0) if dev.type == "cuda" else None
    machine = (
        f"{gpu or 'CPU'}; {platform.processor() or platform.machine()}; "
        f"{torch.get_num_threads()} torch thread(s); torch {torch.__version__}"
    )
    # train()'s defaults: batch 32 on CUDA, 8 otherwise; max(ceil(n / batch), 25) steps per epoch
    meta = {
        "max_epochs": args.stop_after or args.epochs,
        "schedule_epochs": args.epochs,
        "patience": args.patience,
        "steps_per_epoch": 25,
        "batch_size": 32 if dev.type == "cuda" else 8,
        "machine": machine,
    }
    for name in args.dataset:
        (bench_fly32 if name == "fly32" else bench_clip)(args, out, meta)
    with locked(out):
        plot(json.loads(out.read_text()), out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
