"""Two training settings side by side: one torch thread each, at the same time, same budget.

    python benchmarks/side_by_side.py --datasets reaching fly32 clip \
        --a '{}' --b '{"arch_params": {"decoder_convs": 1}}' --name decoder --minutes 7
    python benchmarks/side_by_side.py --table

For each data set of ``any_lab_data.py`` (same splits: reaching 38 / 6 / 11 images with
``--val``, fly32 crops 0-79 / 80-99, the clip's 50 frames / frames 1000-1499), trains
``napari_leap.train`` twice at once, each in its own process on one thread, with the
CLI's defaults plus the ``TrainConfig`` fields of ``--a`` and ``--b`` (JSON), then
``napari-leap predict`` and ``napari-leap evaluate --json`` on the test split. Running the
two at once gives both the same machine load, so their step counts and errors compare;
one thread each makes every run slower than a 2-thread CLI run. Appends to
``side_by_side.json`` (one entry per ``--name``) and prints a table.

A setting's ``"src"`` is not a ``TrainConfig`` field but the ``src`` folder of the code
that trains and predicts it (a worktree of another commit), to compare two codes:

    python benchmarks/side_by_side.py --datasets fly32 --a '{"src": "/tmp/base/src"}' ...
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import any_lab_data as anylab  # noqa: E402  (the splits and the CLI runner)

OUT = HERE / "side_by_side.json"


def train_one(split: dict, overrides: dict, model: Path, minutes: float) -> None:
    """The child process: ``train`` with the CLI's defaults and ``overrides``."""
    import torch

    from napari_leap.pose.train import TrainConfig, train

    torch.set_num_threads(1)
    config = TrainConfig(time_limit=60 * minutes, **overrides)
    train(split["train"], model, config, val_data=split.get("val"))


def score(split: dict, model: Path, seconds: float, src: Path) -> dict:
    """Predict and evaluate a trained model as a user would (the CLI)."""
    cfg = json.loads((model / "config.json").read_text())
    entry = {
        "train_wall_s": round(seconds, 1),
        "steps": cfg["training"]["steps_done"],
        "input_scale": cfg["input_scale"],
        "batch_size": cfg["training"]["batch_size"],
        "val_median_px": cfg["training"]["best_val_error_median_px"],
    }
    pred = model.with_suffix(".slp")
    py = sys.executable
    p = anylab.cli(
        py, src, "predict", str(model), str(split["test"]), "--out", str(pred), timeout=3600
    )
    if p["rc"] != 0:
        return {**entry, "error": anylab.error_text(p)}
    ev = anylab.cli(py, src, "evaluate", str(split["test"]), str(pred), "--json", timeout=600)
    figures = json.loads(ev["stdout"].strip().splitlines()[-1])
    per_part = {k: round(v["median_px"], 2) for k, v in figures["per_node"].items()}
    keep = ("median_px", "p95_px", "mean_px", "n_points", "n_missing")
    return {**entry, **{k: figures[k] for k in keep}, "per_part_median_px": per_part}


def code_of(overrides: dict) -> Path:
    """The ``src`` folder a setting runs (its ``"src"``, else this checkout's)."""
    return Path(overrides.get("src", HERE.parent / "src")).resolve()


def run_pair(ds: str, split: dict, settings: dict, minutes: float, work: Path) -> dict:
    """Both settings trained at once (child processes), then each scored."""
    procs = {}
    for key, overrides in settings.items():
        args = [
            sys.executable,
            __file__,
            "--child",
            json.dumps({k: str(v) for k, v in split.items() if k != "counts"}),
        ]
        fields = {k: v for k, v in overrides.items() if k != "src"}
        args += [json.dumps(fields), str(work / f"{ds}_{key}"), str(minutes)]
        env = {**os.environ, "PYTHONPATH": str(code_of(overrides))}
        procs[key] = (subprocess.Popen(args, env=env), time.monotonic())
    seconds = {}
    for key, (proc, t0) in procs.items():
        proc.wait()
        seconds[key] = time.monotonic() - t0
    results = {}
    for key in settings:
        model = work / f"{ds}_{key}"
        if not (model / "best.pt").exists():
            results[key] = {"error": f"training failed (exit {procs[key][0].returncode})"}
            continue
        results[key] = score(split, model, seconds[key], code_of(settings[key]))
    return results


def table(results: dict) -> str:
    """One row per experiment, data set and setting."""
    lines = [
        "| experiment | data | setting | median px | p95 px | mean px | missing | steps | scale |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, entry in results.items():
        for ds, pair in entry["datasets"].items():
            for key, r in pair.items():
                setting = json.dumps(entry["settings"][key])
                if "error" in r:
                    lines.append(f"| {name} | {ds} | {setting} | {r['error']} | | | | | |")
                    continue
                lines.append(
                    f"| {name} | {ds} | {setting} | {r['median_px']:.2f} | {r['p95_px']:.1f} | "
                    f"{r['mean_px']:.2f} | {r['n_missing']} of {r['n_points']} | {r['steps']} | "
                    f"{r['input_scale']:.3g} |"
                )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        split, overrides, model, minutes = sys.argv[2:6]
        train_one(json.loads(split), json.loads(overrides), Path(model), float(minutes))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", nargs="*", default=list(anylab.DATASETS), choices=anylab.DATASETS
    )
    parser.add_argument("--a", default="{}", help="TrainConfig fields of setting a (JSON)")
    parser.add_argument("--b", default="{}", help="TrainConfig fields of setting b (JSON)")
    parser.add_argument("--minutes", type=float, default=7.0)
    parser.add_argument("--name", default="experiment")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--table", action="store_true", help="print the JSON's table and exit")
    args = parser.parse_args()
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    if args.table:
        print(table(results))
        return
    settings = {"a": json.loads(args.a), "b": json.loads(args.b)}
    entry = results[args.name] = {"settings": settings, "minutes": args.minutes, "datasets": {}}
    splitters = anylab.splitters(HERE.parent / "src")
    with tempfile.TemporaryDirectory(prefix="side-by-side-") as tmp:
        for ds in args.datasets:
            work = Path(tmp) / ds
            work.mkdir()
            entry["datasets"][ds] = run_pair(ds, splitters[ds](work), settings, args.minutes, work)
            out.write_text(json.dumps(results, indent=2))
    print(table({args.name: entry}))


if __name__ == "__main__":
    main()
