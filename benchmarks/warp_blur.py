"""Does a model score better on test images blurred as its training images were, or on sharp ones?

    python benchmarks/any_lab_data.py --datasets fly32 --minutes 10 --work W --name NAME
    python benchmarks/warp_blur.py W/fly32/fly32_model W/fly32/fly32_test.pkg.slp

Training turns every image (augmentation) and prediction never turns its input. Each test
image is scored three ways, the turns undone on the points:

- ``sharp``: as prediction sees it;
- ``turned, sharp``: turned in the frame's own pixels, then shrunk to the input as
  prediction shrinks frames (a turn that adds no blur of the input's size);
- ``turned as training did``: shrunk and rounded to uint8 first, then turned in the input's
  pixels, as training turned its images before it kept them at twice the input size.

A model that scores best on the last has learnt blurred images and is used on sharp
ones. Six random turns each; the median error over all points, in frame pixels.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np


def _turns(n: int, h: int, w: int, angles):
    """3x3 pixel matrices turning (h, w) images by ``angles`` (radians) about their centre."""
    import torch

    cx, cy = (w - 1) / 2, (h - 1) / 2
    c, s = torch.cos(angles), torch.sin(angles)
    m = torch.zeros(n, 3, 3)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
    m[:, 0, 2] = cx - (c * cx - s * cy)
    m[:, 1, 2] = cy - (s * cx + c * cy)
    m[:, 2, 2] = 1
    return m


def _undo(points, matrices):
    """Points found in turned images, back where they are in the unturned ones."""
    import torch

    p = torch.as_tensor(points, dtype=torch.float64)
    inv = torch.linalg.inv(matrices).double()
    return (torch.cat([p, torch.ones_like(p[..., :1])], -1) @ inv.transpose(1, 2))[..., :2]


def scores(
    model_dir: Path, labels_path: Path, degrees: float = 180, repeats: int = 6, seed: int = 0
) -> dict:
    """Median errors (px) of the three ways, each turned way ``repeats`` times by up to
    ``degrees`` either way (training's own range: 180 for fly32, 15 for a rig's view)."""
    import sleap_io as sio
    import torch

    from napari_leap.pose.augment import warp_images
    from napari_leap.pose.trained import TrainedModel

    model = TrainedModel.load(model_dir, "cpu")
    prep = model.preprocessor
    frames = sio.load_slp(str(labels_path)).labeled_frames
    h, w = model.input_size
    images = np.zeros((len(frames), h, w, model.config["channels"]), np.uint8)
    for i, lf in enumerate(frames):  # frames of other sizes at the top left, as training has them
        image = np.asarray(lf.image)
        image = image if image.ndim == 3 else image[..., None]
        images[i, : image.shape[0], : image.shape[1]] = image
    truth = np.stack([lf.instances[0].numpy() for lf in frames])

    def found(x):
        with torch.inference_mode():
            pts, _ = model.peaks(model.forward_confmaps(x))
        return pts.double()

    def median(points) -> float:
        return float(np.nanmedian(np.linalg.norm(np.asarray(points) - truth, axis=-1)))

    gen = torch.Generator().manual_seed(seed)
    small = (prep(images) * 255).round() / 255
    out = {"sharp": median(found(prep(images))), "turned, sharp": [], "turned as training did": []}
    for _ in range(repeats):
        angles = (torch.rand(len(images), generator=gen) * 2 - 1) * math.radians(degrees)
        big = _turns(len(images), *images.shape[1:3], angles)
        turned = warp_images(torch.as_tensor(images).permute(0, 3, 1, 2).float(), big)
        turned = turned.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        out["turned, sharp"].append(median(_undo(found(prep(turned)), big)))
        m = _turns(len(images), *small.shape[-2:], angles)
        scaled = prep.to_scaled(found(warp_images(small, m)))
        out["turned as training did"].append(median(prep.to_input(_undo(scaled, m))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a model folder of full frames")
    parser.add_argument("labels", type=Path, help="its test labels, with their images")
    parser.add_argument("--degrees", type=float, default=180, help="turns up to this, either way")
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()
    result = scores(args.model, args.labels, args.degrees, args.repeats)
    for key, value in result.items():
        values = np.atleast_1d(value)
        print(
            f"{key:>24}: median {np.median(values):.3f} px  ({', '.join(f'{v:.3f}' for v in values)})"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
