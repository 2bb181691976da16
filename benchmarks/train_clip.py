"""Train on aligned boxes from 50 labelled frames of the real two-fly clip; score the last third.

    python benchmarks/train_clip.py [--minutes 8] [--arch unet] [--threads 1]

The 50 training frames are spread evenly over the first two thirds of
``flies13/clip.mp4`` (frames 0-999); the error is measured on every frame of
the last third (1000-1499, both flies), which the model never saw. Labels
there are proofread model output, a reference rather than human ground truth.
Predicted box points go back to video pixels through the alignment; each
predicted animal is matched to a labelled one by nearest centre (identity is
the alignment's job, not the pose model's). Prints the figures and writes
``train_clip.json`` next to this script.
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

SAMPLE = Path(napari_leap.__file__).parent / "sample_data" / "flies13"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget")
    parser.add_argument("--arch", default="unet")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--sigma", type=float, default=None, help="confidence-map sigma (px)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--test-step", type=int, default=1, help="score every n-th test frame")
    parser.add_argument("--out", default=str(Path(__file__).with_suffix(".json")))
    args = parser.parse_args()

    import sleap_io as sio
    import torch
    from scipy.optimize import linear_sum_assignment

    from napari_leap.align.alignment import align
    from napari_leap.io.labels import load_labels, poses_from_labels
    from napari_leap.pose.dataset import box_size_for
    from napari_leap.pose.train import TrainConfig, train

    if args.threads:
        torch.set_num_threads(args.threads)
    labels = load_labels(SAMPLE / "clip.slp")
    poses = poses_from_labels(labels, 0)
    n = int(labels.videos[0].shape[0])
    train_frames = np.unique(np.linspace(0, 2 * n // 3 - 1, 50).round().astype(int))
    test_frames = np.arange(2 * n // 3, n, args.test_step)

    # the labels a user would have: 50 frames
    keep = set(train_frames.tolist())
    subset = sio.Labels(
        labeled_frames=[lf for lf in labels.labeled_frames if lf.frame_idx in keep],
        videos=labels.videos,
        skeletons=labels.skeletons,
        tracks=labels.tracks,
    )
    pts = poses.points[np.isin(poses.frames, train_frames)].reshape(-1, poses.points.shape[2], 2)
    radius = float(np.nanmax(np.linalg.norm(pts - np.nanmean(pts, 1, keepdims=True), axis=-1)))
    box = box_size_for(radius)

    t0 = time.monotonic()
    alignment = align(str(SAMPLE / "clip.mp4"), n_animals=2, box_size=box)
    t_align = time.monotonic() - t0
    print(f"aligned 1500 frames into {box}x{box} boxes in {t_align:.0f} s", flush=True)

    folder = Path(tempfile.mkdtemp(prefix="clip-model-")) / "model"
    t0 = time.monotonic()
    messages = []
    model = train(
        subset,
        folder,
        TrainConfig(
            arch=args.arch,
            epochs=10_000,
            patience=10_000,
            time_limit=args.minutes * 60,
            device=args.device,
            sigma=args.sigma,
        ),
        alignments={0: alignment},
        progress=lambda e: messages.append(getattr(e, "text", None)),
    )
    t_train = time.monotonic() - t0
    for m in filter(None, messages):
        print("train:", m)
    tr = model.config["training"]
    print(
        f"trained {model.config['arch']} for {tr['epochs_done']} epochs in {t_train:.0f} s "
        f"(input scale {model.config['input_scale']:.3f}, {tr['n_train']} train / {tr['n_val']} val boxes)",
        flush=True,
    )

    # score the last third
    truth = poses.points[np.searchsorted(poses.frames, test_frames)]  # (T, 2, K, 2)
    errors = []
    t0 = time.monotonic()
    for i, f in enumerate(test_frames):
        boxes = np.asarray(alignment.boxes[int(f)])  # (2, B, B, C)
        p_box, _ = model.predict_images(boxes)
        p_vid = alignment.box_to_video(p_box, int(f), np.arange(2)[:, None])  # (2, K, 2)
        gt = truth[i]
        cost = np.linalg.norm(np.nanmean(p_vid, 1)[:, None] - np.nanmean(gt, 1)[None], axis=-1)
        rows, cols = linear_sum_assignment(np.nan_to_num(cost, nan=1e9))
        for r, c in zip(rows, cols, strict=True):
            errors.append(np.linalg.norm(p_vid[r] - gt[c], axis=-1))
    t_eval = time.monotonic() - t0
    err = np.array(errors)  # (T * 2, K)
    finite = err[np.isfinite(err)]
    per_node = dict(zip(model.skeleton.nodes, np.nanmedian(err, 0).round(2).tolist(), strict=True))
    result = {
        "train_frames": train_frames.tolist(),
        "test_frames": [int(test_frames[0]), int(test_frames[-1])],
        "n_test_points": int(finite.size),
        "box_size": box,
        "align_seconds": round(t_align, 1),
        "train_seconds": round(t_train, 1),
        "eval_seconds": round(t_eval, 1),
        "arch": model.config["arch"],
        "input_scale": model.config["input_scale"],
        "sigma": model.config["sigma"],
        "epochs": tr["epochs_done"],
        "best_epoch": tr["best_epoch"],
        "device": str(model.device),
        "threads": torch.get_num_threads(),
        "median_px": float(np.median(finite)),
        "mean_px": float(np.mean(finite)),
        "p90_px": float(np.percentile(finite, 90)),
        "within_5px": float(np.mean(finite < 5)),
        "per_node_median_px": per_node,
    }
    print(
        f"last third ({len(test_frames)} frames x 2 flies): median {result['median_px']:.2f} px, "
        f"mean {result['mean_px']:.2f} px, p90 {result['p90_px']:.2f} px, "
        f"{100 * result['within_5px']:.0f}% within 5 px"
    )
    print("per body part (median px):", per_node)
    atomic_write_text(Path(args.out), json.dumps(result, indent=2))
    shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
