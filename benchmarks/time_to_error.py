"""Training time (wall seconds) to reach a given held-out median error on fly32, per architecture.

    python benchmarks/time_to_error.py [--arch unet leap_cnn_fast leap_cnn] [--minutes 6]
                                       [--targets 3 2] [--threads 1] [--device cpu]
    python benchmarks/time_to_error.py --plot-only

Each architecture is trained from scratch (seed 0, the library's defaults for that
architecture) on the first 80 bundled DeepPoseKit crops, with the last 20 crops as the
validation set that :func:`napari_leap.pose.train.train` scores after every epoch
(``val_data``), so the curve is the error on crops the network never trained on, against
wall-clock training time. Epochs are shortened to ``--steps-per-epoch`` (10) optimisation
steps so the curve has enough points for the slow networks; the wall time includes those
validations. Each run is capped at ``--minutes``; a target not reached is reported as
"not reached in X min", never extrapolated.

Writes ``time_to_error.json`` and ``time_to_error.png`` (median error vs wall time) next to
this script and prints one line per architecture and target.
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

import napari_leap
from napari_leap.io.atomic import atomic_path, atomic_write_text

HERE = Path(__file__).resolve().parent
FLY32 = Path(napari_leap.__file__).parent / "sample_data" / "fly32" / "example_annotation_set.h5"


def first_reached(curve: list[dict], target: float) -> float | None:
    """Wall seconds at the first validation whose median error is at or below ``target``."""
    for point in curve:
        if point["median_px"] <= target:
            return point["seconds"]
    return None


def run_arch(arch: str, minutes: float, steps_per_epoch: int, device, seed: int) -> dict:
    from napari_leap.pose.dataset import load_box_h5
    from napari_leap.pose.train import EpochEnd, train

    data = load_box_h5(FLY32)
    train_set, test_set = data.subset(np.arange(80)), data.subset(np.arange(80, 100))
    folder = Path(tempfile.mkdtemp(prefix=f"tte-{arch}-"))
    shutil.rmtree(folder)
    curve: list[dict] = []
    t0 = time.monotonic()

    def on_event(event) -> None:
        if isinstance(event, EpochEnd):
            # wall seconds since train() was called: setup, steps and validations included
            curve.append(
                {
                    "epoch": event.epoch,
                    "seconds": round(time.monotonic() - t0, 2),
                    "median_px": event.val_error_median_px,
                    "mean_px": event.val_error_px,
                    "lr": event.lr,
                }
            )
            print(
                f"  {arch} epoch {event.epoch}: {curve[-1]['seconds']:.0f} s, "
                f"median {event.val_error_median_px:.2f} px",
                flush=True,
            )

    model = train(
        train_set,
        folder,
        progress=on_event,
        arch=arch,
        epochs=100_000,
        patience=100_000,
        steps_per_epoch=steps_per_epoch,
        time_limit=minutes * 60,
        val_data=test_set,
        device=device,
        seed=seed,
    )
    seconds = time.monotonic() - t0
    cfg = model.config
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "arch": arch,
        "arch_params": cfg["arch_params"],
        "input_scale": cfg["input_scale"],
        "sigma": cfg["sigma"],
        "batch_size": cfg["training"]["batch_size"],
        "steps_per_epoch": steps_per_epoch,
        "seed": seed,
        "parameters": sum(p.numel() for p in model.net.parameters()),
        "cap_minutes": minutes,
        "train_seconds": round(seconds, 1),
        "steps": steps_per_epoch * len(curve),
        "curve": curve,
        "best_median_px": min((c["median_px"] for c in curve), default=None),
        "device": str(model.device),
    }


def plot(results: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.6), dpi=110)
    ax = fig.subplots()
    for arch, r in results["runs"].items():
        c = r["curve"]
        (line,) = ax.plot(
            [p["seconds"] / 60 for p in c],
            [p["median_px"] for p in c],
            ".-",
            ms=3,
            label=f"{arch} ({r['parameters'] / 1e6:.2f} M params, "
            f"{r['steps']} steps, best {r['best_median_px']:.2f} px)",
        )
        for t in results["targets_px"]:
            s = first_reached(c, t)
            if s is not None:
                ax.plot(s / 60, t, "o", mfc="none", ms=9, color=line.get_color())
    for t in results["targets_px"]:
        ax.axhline(t, color="grey", ls=":", lw=1)
        ax.annotate(
            f"{t:g} px", (0, t), xytext=(2, 2), textcoords="offset points", color="grey", fontsize=8
        )
    ax.set_yscale("log")
    ax.set_ylim(0.8, 200)
    ax.set_yticks([1, 2, 3, 5, 10, 20, 50, 100], ["1", "2", "3", "5", "10", "20", "50", "100"])
    ax.minorticks_off()
    ax.set_xlabel("training wall time on CPU (min, 1 torch thread, shared 2-core machine)")
    ax.set_ylabel("median error on the 20 held-out crops (px, 192x192 crop)")
    ax.set_title("fly32: held-out error vs training time (train on crops 0-79)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="circle: target first reached", title_fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def table(results: dict) -> str:
    """Time to each target as a Markdown table (what benchmarks/README.md quotes)."""
    targets = results["targets_px"]
    head = " | ".join(f"time to median <= {t:g} px" for t in targets)
    lines = [
        f"| architecture | parameters | input scale | {head} | best median px (at s) | steps run |",
        "|---|---:|---:|" + "---:|" * len(targets) + "---:|---:|",
    ]
    for arch, r in results["runs"].items():
        cells = []
        for t in targets:
            s = r["reached_s"][f"{t:g}px"]
            cells.append(
                f"{s:.0f} s" if s is not None else f"not reached in {r['cap_minutes']:g} min"
            )
        best = min(r["curve"], key=lambda c: c["median_px"])
        lines.append(
            f"| {arch} | {r['parameters'] / 1e6:.2f} M | {r['input_scale']:.2f} | "
            + " | ".join(cells)
            + f" | {best['median_px']:.2f} ({best['seconds']:.0f} s) | {r['steps']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="*", default=["unet", "leap_cnn_fast", "leap_cnn"])
    parser.add_argument("--minutes", type=float, default=6.0, help="cap per architecture")
    parser.add_argument("--targets", nargs="*", type=float, default=[3.0, 2.0])
    parser.add_argument("--steps-per-epoch", type=int, default=10)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (1 was fastest on the shared 2-core machine)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot-only", action="store_true", help="only redraw the PNG")
    parser.add_argument("--table", action="store_true", help="print the JSON as a Markdown table")
    parser.add_argument("--out", default=str(HERE / "time_to_error.json"))
    args = parser.parse_args()
    out = Path(args.out)
    if args.table:
        print(table(json.loads(out.read_text())))
        return
    if args.plot_only:
        plot(json.loads(out.read_text()), out.with_suffix(".png"))
        return

    import torch

    torch.set_num_threads(args.threads)
    results = json.loads(out.read_text()) if out.exists() else {"runs": {}}
    results.update(
        targets_px=args.targets,
        machine=f"{platform.machine()}, {torch.get_num_threads()} torch thread(s), "
        f"torch {torch.__version__}, device {args.device}",
        train="fly32 crops 0-79",
        validation="fly32 crops 80-99 (scored after every epoch)",
    )
    for arch in args.arch:
        r = run_arch(arch, args.minutes, args.steps_per_epoch, args.device, args.seed)
        r["reached_s"] = {f"{t:g}px": first_reached(r["curve"], t) for t in args.targets}
        results["runs"][arch] = r
        atomic_write_text(out, json.dumps(results, indent=1) + "\n")
        for t in args.targets:
            s = r["reached_s"][f"{t:g}px"]
            print(
                f"{arch}: median <= {t:g} px "
                + (
                    f"after {s:.0f} s"
                    if s is not None
                    else f"not reached in {args.minutes:g} min (best {r['best_median_px']:.2f} px)"
                ),
                flush=True,
            )
    plot(results, out.with_suffix(".png"))
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
