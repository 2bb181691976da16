"""Train each architecture on fly32's first 80 crops within a time budget; score the last 20.

    python benchmarks/train_fly32.py [--budget MINUTES] [--only NAME ...] [--device cpu]

Prints per-architecture median / mean / 90th-percentile error (px, at the
192x192 crop's resolution), epochs done and seconds, and writes
``train_fly32.json`` next to this script. The 20 test crops are never seen in
training or checkpoint selection (validation is a block of the first 80).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import napari_leap
from napari_leap.io.atomic import atomic_write_text
from napari_leap.pose.dataset import load_box_h5
from napari_leap.pose.train import TrainConfig, train

FLY32 = Path(napari_leap.__file__).parent / "sample_data" / "fly32" / "example_annotation_set.h5"

#: name -> TrainConfig fields
CANDIDATES = {
    "unet": {"arch": "unet"},  # the default: input scale 112/192, output stride 2
    "unet_s0.5": {"arch": "unet", "input_scale": 0.5, "sigma": 5.0},
    "unet_s0.5_sigma7.5": {"arch": "unet", "input_scale": 0.5, "sigma": 7.5},
    "unet_s0.5_sigma10": {"arch": "unet", "input_scale": 0.5, "sigma": 10.0},
    "unet_s0.5_f32_sigma7.5": {
        "arch": "unet",
        "input_scale": 0.5,
        "sigma": 7.5,
        "arch_params": {"filters": 32},
    },
    "unet_sigma7.5": {"arch": "unet", "sigma": 7.5},
    "unet_lr2e-3": {"arch": "unet", "lr": 2e-3},
    "unet_stride1": {"arch": "unet", "arch_params": {"output_stride": 1}},
    "unet_s0.5_stride1": {
        "arch": "unet",
        "input_scale": 0.5,
        "sigma": 5.0,
        "arch_params": {"output_stride": 1},
    },
    "leap_cnn_fast": {"arch": "leap_cnn_fast"},
    "leap_cnn": {"arch": "leap_cnn"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=10.0, help="minutes per architecture")
    parser.add_argument("--only", nargs="*", default=None, choices=list(CANDIDATES))
    parser.add_argument("--device", default=None)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (1 is fastest on a CPU other jobs share)",
    )
    parser.add_argument("--out", default=str(Path(__file__).with_suffix(".json")))
    parser.add_argument("--keep", help="keep each trained model in KEEP/NAME")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_box_h5(FLY32)
    train_set, test_set = data.subset(np.arange(80)), data.subset(np.arange(80, 100))
    out_path = Path(args.out)
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    for name in args.only or list(CANDIDATES):
        kwargs = CANDIDATES[name]
        folder = Path(tempfile.mkdtemp(prefix=f"fly32-{name}-"))
        shutil.rmtree(folder)
        t0 = time.monotonic()
        model = train(
            train_set,
            folder,
            TrainConfig(
                epochs=10_000,
                patience=10_000,
                time_limit=args.budget * 60,
                device=args.device,
                seed=0,
                **kwargs,
            ),
        )
        seconds = time.monotonic() - t0
        pts, _ = model.predict_images(test_set.images)
        err = np.linalg.norm(pts - test_set.points, axis=-1)
        tr = model.config["training"]
        # inference speed of the raw network on this machine, batch 32
        x = model.preprocess(test_set.images[:20].repeat(2, 0)[:32])
        model.forward_confmaps(x)
        t1 = time.monotonic()
        for _ in range(3):
            model.forward_confmaps(x)
        fps = 3 * len(x) / (time.monotonic() - t1)
        results[name] = {
            "arch": model.config["arch"],
            "arch_params": model.config["arch_params"],
            "input_scale": model.config["input_scale"],
            "output_stride": model.config["output_stride"],
            "history": [
                {k: e[k] for k in ("epoch", "val_error_median_px", "elapsed")}
                for e in json.loads((folder / "history.json").read_text())
            ],
            "median_px": float(np.median(err)),
            "mean_px": float(np.mean(err)),
            "p90_px": float(np.percentile(err, 90)),
            "epochs": tr["epochs_done"],
            "best_epoch": tr["best_epoch"],
            "train_seconds": round(seconds, 1),
            "budget_minutes": args.budget,
            "device": str(model.device),
            "threads": torch.get_num_threads(),
            "forward_frames_per_s": round(fps, 1),
            "parameters": sum(p.numel() for p in model.net.parameters()),
        }
        r = results[name]
        print(
            f"{name:20s} median {r['median_px']:.2f} px  mean {r['mean_px']:.2f} px  "
            f"p90 {r['p90_px']:.2f} px  epochs {r['epochs']} (best {r['best_epoch']})  "
            f"{r['train_seconds']:.0f} s  forward {fps:.0f} frames/s",
            flush=True,
        )
        atomic_write_text(out_path, json.dumps(results, indent=2))
        if args.keep:
            shutil.move(folder, Path(args.keep) / name)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
