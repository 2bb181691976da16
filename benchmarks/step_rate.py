"""Seconds per training step of each network at a few input sizes and batches on this CPU.

    python benchmarks/step_rate.py [--threads 2] [--arch unet ...] [--table]
    python benchmarks/step_rate.py --accuracy [--steps-each 600] [--threads 1]

Times the trainer's own step (augmentation, targets, forward, backward, Adam) on random
images of side 64-384 px, fits ``seconds = a + b * batch * pixels`` per architecture
by least squares (the model ``napari_leap.pose.budget`` plans budgets with), and
writes ``step_rate.json`` next to this script. The load average before and after each
architecture is recorded: on a shared machine the figures are upper bounds.

``--accuracy`` measures the other side of the plan: fly32's U-Net trained for the same
number of steps with the fly (135 px long in its 192 px crops) shown at 34-67 input
pixels, and at batch 4 for twice the steps, scored on crops 80-99 (``accuracy`` in the
JSON): how far the budget may shrink an animal, and what halving the batch costs.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

#: (architecture, input side, batch) grid; LEAP's full-resolution CNNs only at small sizes
GRID = {
    "unet": [(s, b) for s in (64, 96, 128, 192, 256, 384) for b in (2, 4, 8, 16)],
    "leap_cnn_fast": [(s, b) for s in (64, 96, 128) for b in (2, 4, 8)],
    "leap_cnn": [(s, b) for s in (64, 96) for b in (2, 4, 8)],
}


def measure(arch: str, side: int, batch: int, steps: int) -> dict:
    from napari_leap.pose.budget import NetSpec, time_training_steps
    from napari_leap.pose.models import DEFAULT_PARAMS

    cpu0 = time.process_time()
    net = NetSpec(arch, DEFAULT_PARAMS[arch], 1, 32)
    wall = time_training_steps(net, (side, side), batch, "cpu", steps=steps)
    cpu = (time.process_time() - cpu0) / (steps + 1)  # warm-up step included in CPU time
    return {"side": side, "batch": batch, "wall_s": wall, "cpu_s": cpu}


def fit(rows: list[dict], key: str = "wall_s") -> tuple[float, float, float]:
    """(a, b, worst relative residual) of ``key = a + b * batch * side**2``."""
    x = np.array([r["batch"] * r["side"] ** 2 for r in rows], dtype=float)
    y = np.array([r[key] for r in rows])
    design = np.stack([np.ones_like(x), x], 1)
    # relative errors matter (a 10 ms step and a 3 s step alike): weight by 1/y
    (a, b), *_ = np.linalg.lstsq(design / y[:, None], np.ones_like(y), rcond=None)
    worst = float(np.max(np.abs(a + b * x - y) / y))
    return float(a), float(b), worst


#: (input scale, batch, steps multiplier) of the accuracy runs: the fly at 67, 45 and 34 px
#: for the same steps, batch 4 for twice the steps, and the smaller inputs for the steps
#: the same CPU time buys (their CPU seconds per step measured 1.84x and 2.79x fewer)
ACCURACY_RUNS = [
    (0.5, 8, 1),
    (1 / 3, 8, 1),
    (0.25, 8, 1),
    (0.5, 4, 2),
    (1 / 3, 8, 1.84),
    (0.25, 8, 2.79),
]


def accuracy(steps: int, results: dict, out: Path, only: list[int] | None = None) -> None:
    """fly32 test error after ``steps`` steps at each of :data:`ACCURACY_RUNS`."""
    import shutil
    import tempfile

    import napari_leap
    from napari_leap.io.atomic import atomic_write_text
    from napari_leap.pose.dataset import load_box_h5
    from napari_leap.pose.train import TrainConfig, train

    fly32 = (
        Path(napari_leap.__file__).parent / "sample_data" / "fly32" / "example_annotation_set.h5"
    )
    data = load_box_h5(fly32)
    train_set, test = data.subset(np.arange(80)), data.subset(np.arange(80, 100))
    runs = results.setdefault("accuracy", {})
    for i, (scale, batch, mult) in enumerate(ACCURACY_RUNS):
        if only is not None and i not in only:
            continue
        n_steps = int(round(steps * mult / 25)) * 25
        folder = Path(tempfile.mkdtemp(prefix="step-rate-acc-")) / "m"
        t0 = time.monotonic()
        cpu0 = time.process_time()
        model = train(
            train_set,
            folder,
            TrainConfig(
                epochs=n_steps // 25,
                steps_per_epoch=25,
                input_scale=scale,
                batch_size=batch,
                device="cpu",
                seed=0,
            ),
        )
        pts, _ = model.predict_images(test.images)
        err = np.linalg.norm(pts - test.points, axis=-1)
        key = f"scale {scale:.3f} batch {batch} steps {n_steps}"
        runs[key] = {
            "input_scale": scale,
            "batch": batch,
            "steps": n_steps,
            "animal_px": round(134.8 * scale, 1),
            "median_px": float(np.median(err)),
            "p90_px": float(np.percentile(err, 90)),
            "wall_s": round(time.monotonic() - t0, 1),
            "cpu_s": round(time.process_time() - cpu0, 1),
            "load": os.getloadavg()[0],
        }
        print(key, runs[key], flush=True)
        atomic_write_text(out, json.dumps(results, indent=2))
        shutil.rmtree(folder.parent, ignore_errors=True)


def table(results: dict) -> str:
    lines = [
        "| network | input px | batch 2 | batch 4 | batch 8 | batch 16 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    archs = dict(results["archs"])
    if "unet_two_threads" in results:
        archs["unet (2 threads)"] = results["unet_two_threads"]
    for arch, entry in archs.items():
        for side in sorted({r["side"] for r in entry["rows"]}):
            cells = []
            for b in (2, 4, 8, 16):
                r = [x for x in entry["rows"] if x["side"] == side and x["batch"] == b]
                cells.append(f"{r[0]['wall_s'] * 1000:.0f} ms" if r else "")
            lines.append(f"| {arch} | {side}x{side} | " + " | ".join(cells) + " |")
    lines.append("")
    if results.get("accuracy"):
        lines += [
            "",
            "| fly32 input scale | fly in input px | batch | steps | CPU s | median px "
            "| 90th pct px |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results["accuracy"].values():
            lines.append(
                f"| {r['input_scale']:.3f} | {r['animal_px']:.0f} | {r['batch']} | {r['steps']} "
                f"| {r['cpu_s']:.0f} | {r['median_px']:.2f} | {r['p90_px']:.2f} |"
            )
    lines.append("")
    lines.append("| network | a (s) | b (s per batch pixel) | worst fit error |")
    lines.append("|---|---:|---:|---:|")
    for arch, entry in results["archs"].items():
        a, b, worst = entry["fit"]
        lines.append(f"| {arch} | {a:.4f} | {b:.3g} | {worst * 100:.0f} % |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--arch", nargs="*", default=list(GRID), choices=list(GRID))
    parser.add_argument("--steps", type=int, default=3, help="timed steps per configuration")
    parser.add_argument("--out", default=str(Path(__file__).with_suffix(".json")))
    parser.add_argument("--table", action="store_true", help="print the JSON's table and exit")
    parser.add_argument("--accuracy", action="store_true", help="fly32 error per input scale")
    parser.add_argument("--steps-each", type=int, default=600, help="steps per accuracy run")
    parser.add_argument(
        "--runs", type=int, nargs="*", default=None, help="indices into ACCURACY_RUNS (default all)"
    )
    args = parser.parse_args()
    out = Path(args.out)
    if args.table:
        print(table(json.loads(out.read_text())))
        return

    import torch

    torch.set_num_threads(args.threads)
    results = json.loads(out.read_text()) if out.exists() else {"archs": {}}
    if args.accuracy:
        accuracy(args.steps_each, results, out, args.runs)
        print(table(results))
        return
    results.update(threads=args.threads, torch=torch.__version__, cpus=os.cpu_count())
    for arch in args.arch:
        load_before = os.getloadavg()[0]
        rows = []
        for side, batch in GRID[arch]:
            rows.append(measure(arch, side, batch, args.steps))
            r = rows[-1]
            print(
                f"{arch:14s} {side:4d}px batch {batch:2d}: {r['wall_s'] * 1000:8.1f} ms/step "
                f"({1 / r['wall_s']:.2f} steps/s), CPU {r['cpu_s'] * 1000:.0f} ms",
                flush=True,
            )
        results["archs"][arch] = {
            "rows": rows,
            "fit": fit(rows),
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
        }
        a, b, worst = results["archs"][arch]["fit"]
        print(f"{arch}: seconds = {a:.4f} + {b:.3g} * batch * pixels (worst {worst:.0%})")
        from napari_leap.io.atomic import atomic_write_text

        atomic_write_text(out, json.dumps(results, indent=2))
    print(table(results))


if __name__ == "__main__":
    main()
