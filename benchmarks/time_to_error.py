"""Training time to reach a given held-out median error on fly32, per architecture.

    python benchmarks/time_to_error.py [--arch unet leap_cnn_fast leap_cnn] [--cpu-minutes 6]
                                       [--targets 3 2] [--threads 1] [--device cpu]
    python benchmarks/time_to_error.py --plot-only | --table

Each architecture is trained from scratch (seed 0, the library's defaults for that
architecture) on the first 80 bundled DeepPoseKit crops, with the last 20 crops as the
validation set that :func:`napari_leap.pose.train.train` scores after every epoch
(``val_data``), so the curve is the error on crops the network never trained on against
training time. Epochs are shortened to ``--steps-per-epoch`` (10) optimisation steps so
the curve has enough points for the slow networks; the times include those validations.

Time is measured two ways: wall seconds, and the CPU seconds this process used. With one
torch thread the CPU seconds are what the run would take on an idle core; on a machine
shared with other jobs the wall seconds are several times larger, so the cap
(``--cpu-minutes``, default 6) and the plot use CPU time. No ``time_limit`` is passed to
``train`` (it would also shrink the learning-rate schedule to the cap), so the learning rate
is the constant default with reduce-on-plateau. A target not reached within the cap is
reported as "not reached", never extrapolated. Several processes (one per architecture)
may run at once: each adds its run to the JSON under a lock.

Writes ``time_to_error.json`` and ``time_to_error.png`` (median error vs CPU time) next to
this script and prints one line per architecture and target.
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

import napari_leap
from napari_leap.io.atomic import atomic_path, atomic_write_text

HERE = Path(__file__).resolve().parent
FLY32 = Path(napari_leap.__file__).parent / "sample_data" / "fly32" / "example_annotation_set.h5"


def first_reached(curve: list[dict], target: float, key: str = "cpu_seconds") -> float | None:
    """Seconds (``key``) at the first validation whose median error is at or below ``target``."""
    for point in curve:
        if point["median_px"] <= target:
            return point[key]
    return None


def code_revision() -> str:
    """The commit the run used, and whether the training code had uncommitted edits."""
    import subprocess

    root = HERE.parent

    def git(*a):
        return subprocess.run(["git", *a], cwd=root, capture_output=True, text=True).stdout

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    dirty = git("status", "--porcelain", "--", "src/napari_leap/pose").strip()
    return head + (" + uncommitted edits in src/napari_leap/pose" if dirty else "")


def run_arch(arch: str, cpu_minutes: float, steps_per_epoch: int, device, seed: int) -> dict:
    """Train ``arch`` until this process has used ``cpu_minutes`` of CPU; the held-out curve."""
    import threading

    from napari_leap.pose.dataset import load_box_h5
    from napari_leap.pose.train import BatchEnd, EpochEnd, TrainConfig, train

    data = load_box_h5(FLY32)
    train_set, test_set = data.subset(np.arange(80)), data.subset(np.arange(80, 100))
    folder = Path(tempfile.mkdtemp(prefix=f"tte-{arch}-"))
    shutil.rmtree(folder)
    curve: list[dict] = []
    stop = threading.Event()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t0, c0 = time.monotonic(), time.process_time()

    def on_event(event) -> None:
        cpu = time.process_time() - c0
        if isinstance(event, (BatchEnd, EpochEnd)) and cpu >= cpu_minutes * 60:
            stop.set()  # ends after this batch; train() validates once more
        if isinstance(event, EpochEnd):
            # since train() was called: setup, steps and validations included
            curve.append(
                {
                    "epoch": event.epoch,
                    "seconds": round(time.monotonic() - t0, 2),
                    "cpu_seconds": round(cpu, 2),
                    "median_px": event.val_error_median_px,
                    "mean_px": event.val_error_px,
                    "lr": event.lr,
                }
            )
            print(
                f"  {arch} epoch {event.epoch}: {cpu:.0f} CPU s ({curve[-1]['seconds']:.0f} s wall),"
                f" median {event.val_error_median_px:.2f} px",
                flush=True,
            )

    # no time_limit: it would also shorten the learning-rate schedule to the cap
    model = train(
        train_set,
        folder,
        TrainConfig(
            arch=arch,
            epochs=100_000,
            patience=100_000,
            steps_per_epoch=steps_per_epoch,
            device=device,
            seed=seed,
        ),
        progress=on_event,
        stop=stop,
        val_data=test_set,
    )
    seconds = time.monotonic() - t0
    cfg = model.config
    history = json.loads((folder / "history.json").read_text())
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
        "cap_cpu_minutes": cpu_minutes,
        "train_seconds": round(seconds, 1),
        "cpu_seconds": round(time.process_time() - c0, 1),
        "steps": steps_per_epoch * sum(not e["partial"] for e in history)
        + sum(bool(e["partial"]) for e in history),
        "curve": curve,
        "best_median_px": min((c["median_px"] for c in curve), default=None),
        "device": str(model.device),
        "code": code_revision(),
        "started_utc": started,
    }


def plot(results: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 4.6), dpi=110)
    ax = fig.subplots()
    for arch, r in results["runs"].items():
        c = r["curve"]
        (line,) = ax.plot(
            [p["cpu_seconds"] / 60 for p in c],
            [p["median_px"] for p in c],
            ".-",
            ms=3,
            label=f"{arch} ({r['parameters'] / 1e6:.2f} M params, {r['steps']} steps, "
            f"best {r['best_median_px']:.2f} px)",
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
    ax.set_xlabel("training time (CPU minutes of the process, 1 torch thread)")
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
    head = " | ".join(f"to median <= {t:g} px: CPU s (wall s)" for t in targets)
    lines = [
        f"| architecture | parameters | input scale | {head} | best median px (CPU s) "
        "| steps in cap |",
        "|---|---:|---:|" + "---:|" * len(targets) + "---:|---:|",
    ]
    for arch, r in results["runs"].items():
        cells = []
        for t in targets:
            cpu = first_reached(r["curve"], t)
            wall = first_reached(r["curve"], t, "seconds")
            cells.append(
                f"{cpu:.0f} ({wall:.0f})"
                if cpu is not None
                else f"not reached in {r['cap_cpu_minutes']:g} CPU min"
            )
        best = min(r["curve"], key=lambda c: c["median_px"])
        lines.append(
            f"| {arch} | {r['parameters'] / 1e6:.2f} M | {r['input_scale']:.2f} | "
            + " | ".join(cells)
            + f" | {best['median_px']:.2f} ({best['cpu_seconds']:.0f}) | {r['steps']} |"
        )
    return "\n".join(lines)


@contextlib.contextmanager
def locked(path: Path):
    """Exclusive lock so processes running other architectures don't lose each other's runs."""
    import tempfile as tf

    with open(Path(tf.gettempdir()) / f"napari-leap-{path.name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="*", default=["unet", "leap_cnn_fast", "leap_cnn"])
    parser.add_argument("--cpu-minutes", type=float, default=6.0, help="cap per architecture")
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
    for arch in args.arch:
        r = run_arch(arch, args.cpu_minutes, args.steps_per_epoch, args.device, args.seed)
        r["reached_cpu_s"] = {f"{t:g}px": first_reached(r["curve"], t) for t in args.targets}
        r["reached_wall_s"] = {
            f"{t:g}px": first_reached(r["curve"], t, "seconds") for t in args.targets
        }
        with locked(out):
            results = json.loads(out.read_text()) if out.exists() else {}
            if "cap_cpu_minutes" not in next(
                iter(results.get("runs", {}).values()), {"cap_cpu_minutes": 0}
            ):
                results = {}  # an older format
            results.setdefault("runs", {})[arch] = r
            results.update(
                targets_px=args.targets,
                machine=f"{platform.machine()}, {torch.get_num_threads()} torch thread(s), "
                f"torch {torch.__version__}, device {args.device}",
                train="fly32 crops 0-79",
                validation="fly32 crops 80-99 (scored after every epoch)",
            )
            atomic_write_text(out, json.dumps(results, indent=1) + "\n")
            plot(results, out.with_suffix(".png"))
        for t in args.targets:
            cpu = r["reached_cpu_s"][f"{t:g}px"]
            print(
                f"{arch}: median <= {t:g} px "
                + (
                    f"after {cpu:.0f} CPU s ({r['reached_wall_s'][f'{t:g}px']:.0f} s wall)"
                    if cpu is not None
                    else f"not reached in {args.cpu_minutes:g} CPU min "
                    f"(best {r['best_median_px']:.2f} px)"
                ),
                flush=True,
            )
    print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
