"""How far a model's confidence falls on inputs it was not trained for (predict's fit check).

    python benchmarks/fit_check.py [--steps 1000] [--threads 1]

Trains fly32's default U-Net (crops 0-79, input scale 0.25, batch 8) for ``--steps`` steps,
then compares the per-image median body-part confidence on its validation crops with the
held-out fly32 crops (same kind), 192x192 crops of the bundled two-fly clip around a fly
(another fly data set), 192x192 crops of DeepLabCut's reaching mouse (another animal, when
/work/shared/data is there), noise and grey frames; and says which of them
``napari_leap.pose.fit.confidence_warnings`` flags. Writes ``fit_check.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

import napari_leap

SAMPLE = Path(napari_leap.__file__).parent / "sample_data"
REACHING = Path("/work/shared/data/reaching")


def clip_crops(n: int = 40) -> np.ndarray:
    """192x192 crops of the clip centred on a fly's thorax (unrotated), frames 0-1499."""
    from napari_leap.io.labels import load_labels, poses_from_labels
    from napari_leap.io.video import video_source

    poses = poses_from_labels(load_labels(SAMPLE / "flies13" / "clip.slp"))
    src = video_source(SAMPLE / "flies13" / "clip.mp4")
    thorax = poses.skeleton.index("thorax")
    out = []
    for i in np.linspace(0, len(poses.frames) - 1, n).round().astype(int):
        x, y = poses.points[i, 0, thorax]
        if not np.isfinite([x, y]).all():
            continue
        frame = src.read(int(poses.frames[i]))
        x0 = int(np.clip(round(x) - 96, 0, frame.shape[1] - 192))
        y0 = int(np.clip(round(y) - 96, 0, frame.shape[0] - 192))
        out.append(frame[y0 : y0 + 192, x0 : x0 + 192, :1])
    return np.stack(out)


def reaching_crops() -> np.ndarray | None:
    """192x192 grey crops of the mouse's labelled hand (None without /work/shared)."""
    if not REACHING.exists():
        return None
    import sleap_io as sio

    labels = sio.load_file(str(REACHING / "CollectedData_Mackenzie.csv"), format="dlc")
    out = []
    for lf in labels.labeled_frames:
        hand = lf.instances[0].numpy()[:2]  # finger and hand
        hand = hand[np.isfinite(hand).all(-1)]
        frame = np.asarray(lf.image)[..., :1]
        if not len(hand) or min(frame.shape[:2]) < 192:
            continue
        x, y = hand.mean(0)
        x0 = int(np.clip(round(x) - 96, 0, frame.shape[1] - 192))
        y0 = int(np.clip(round(y) - 96, 0, frame.shape[0] - 192))
        out.append(frame[y0 : y0 + 192, x0 : x0 + 192])
    return np.stack(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(Path(__file__).with_suffix(".json")))
    args = parser.parse_args()

    import torch

    from napari_leap.io.atomic import atomic_write_text
    from napari_leap.pose.dataset import load_box_h5
    from napari_leap.pose.fit import FAR_BELOW, confidence_warnings
    from napari_leap.pose.train import TrainConfig, train

    torch.set_num_threads(args.threads)
    data = load_box_h5(SAMPLE / "fly32" / "example_annotation_set.h5")
    folder = Path(tempfile.mkdtemp(prefix="fit-check-")) / "m"
    model = train(
        data.subset(np.arange(80)),
        folder,
        TrainConfig(
            epochs=args.steps // 25,
            steps_per_epoch=25,
            input_scale=0.25,
            batch_size=8,
            device="cpu",
        ),
    )
    rng = np.random.default_rng(0)
    inputs = {
        "fly32 held-out crops": data.images[80:100],
        "clip crops (other flies)": clip_crops(),
        "reaching crops (a mouse)": reaching_crops(),
        "noise": rng.integers(0, 256, (20, 192, 192, 1), dtype=np.uint8),
        "grey": np.full((20, 192, 192, 1), 128, np.uint8),
    }
    val = model.config["fit"]["val_confidence"]
    results = {
        "steps": args.steps,
        "val_confidence": val,
        "val_error_median_px": model.config["training"]["best_val_error_median_px"],
        "threshold": FAR_BELOW * val["quantiles"]["5"],
        "inputs": {},
    }
    q = val["quantiles"]
    print(
        f"validation: median {q['50']:.3f}, 5th pct {q['5']:.3f}; flag below {results['threshold']:.3f}"
    )
    for name, images in inputs.items():
        if images is None:
            continue
        _, scores = model.predict_images(images)
        per = np.median(scores, -1)
        warned = confidence_warnings(model.config, [scores[:, None]])
        results["inputs"][name] = {
            "n": len(per),
            "median": float(np.median(per)),
            "p5": float(np.percentile(per, 5)),
            "p95": float(np.percentile(per, 95)),
            "fraction_below": float(np.mean(per < results["threshold"])),
            "warned": bool(warned),
        }
        r = results["inputs"][name]
        print(
            f"{name:28s} n {r['n']:3d}  median {r['median']:.3f}  5-95 % {r['p5']:.3f}-{r['p95']:.3f}"
            f"  below {r['fraction_below']:.0%}  {'WARNED' if warned else 'no warning'}"
        )
    atomic_write_text(Path(args.out), json.dumps(results, indent=2))
    shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
