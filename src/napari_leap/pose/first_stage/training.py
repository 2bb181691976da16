"""Training the first stage: its crops and config, its errors, and its events as the user sees them."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from napari_leap.pose.first_stage.geometry import (
    FIRST_STAGE_ARCH,
    frame_ratio,
    part_poses,
    to_frame,
)
from napari_leap.pose.first_stage.parts import spec_parts

#: the first stage's Gaussian targets, downscaled pixels
SIGMA = 3.0
#: the first stage trains on crops of at least this side (downscaled pixels)
CROP = 64


def first_stage_errors(
    aligner, images: np.ndarray, anchors: np.ndarray, angles: np.ndarray
) -> dict:
    """How far the first stage is off on ``images`` (prepared frames) against labelled animals.

    ``anchors`` (N, A, 2) and ``angles`` (N, A) from the labels (NaN: no such
    animal). Each labelled animal is matched to the found animal nearest its
    anchor; returns per labelled animal the box-centre error (px) and heading
    error (degrees, NaN when missed) and the number of animals missed.
    """
    from scipy.optimize import linear_sum_assignment

    from napari_leap.align.identity import wrap

    centre_err, heading_err, missed = [], [], 0
    for s in range(0, len(images), 32):
        found = aligner.detect(images[s : s + 32])
        for i, (c, ang, _) in enumerate(found, start=s):
            ok = np.flatnonzero(np.isfinite(anchors[i]).all(-1) & np.isfinite(angles[i]))
            if not len(ok):
                continue
            if not len(c):
                missed += len(ok)
                continue
            d = np.linalg.norm(anchors[i, ok][:, None] - c[None], axis=-1)
            rows, cols = linear_sum_assignment(d)
            missed += len(ok) - len(rows)
            for r, j in zip(rows, cols, strict=True):
                if d[r, j] > aligner.distance:  # another animal's peak: this one was missed
                    missed += 1
                    continue
                true_angle = angles[i, ok[r]]
                truth = aligner.box_centres(anchors[i, ok[r]][None], np.array([true_angle]))[0]
                # no heading part found: the centre error is the anchor's, the heading is NaN
                turn = ang[j] if np.isfinite(ang[j]) else true_angle
                guess = aligner.box_centres(c[j][None], np.array([turn]))[0]
                centre_err.append(float(np.linalg.norm(guess - truth)))
                heading_err.append(float(np.degrees(abs(wrap(ang[j] - true_angle)))))
    return {
        "centre_px": np.array(centre_err),
        "heading_deg": np.array(heading_err),
        "missed": int(missed),
    }


def labelled_poses(first, spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """Anchors (N, A, 2) in frame pixels and headings (N, A) of the first stage's labels."""
    pts = to_frame(first.points, spec["frame_hw"], spec["scaled_hw"])  # (N, A, 2, 2)
    return part_poses(pts, spec_parts(spec))


def summarise_errors(errors: dict) -> dict:
    """Median and 95th percentile of the first stage's errors, flips and misses."""
    c, h = errors["centre_px"], errors["heading_deg"]
    turned = h[np.isfinite(h) & (h <= 90)]
    return {
        "animals": int(len(c) + errors["missed"]),
        "missed": int(errors["missed"]),
        "flips": int(np.sum(h[np.isfinite(h)] > 90)),
        "no_heading": int(np.sum(~np.isfinite(h))),
        "centre_median_px": float(np.median(c)) if len(c) else math.nan,
        "centre_p95_px": float(np.percentile(c, 95)) if len(c) else math.nan,
        "heading_median_deg": float(np.median(turned)) if len(turned) else math.nan,
        "heading_p95_deg": float(np.percentile(turned, 95)) if len(turned) else math.nan,
    }


def jitter_for(summary: dict) -> dict:
    """Second-stage augmentation matching the first stage's errors.

    At least LEAP's +-15 degrees, turns up to 60 degrees (a flip is not something to
    learn), shifts in pixels.
    """
    rot = summary.get("heading_p95_deg", math.nan)
    shift = summary.get("centre_p95_px", math.nan)
    return {
        "rotation": float(min(60.0, max(15.0, rot if math.isfinite(rot) else 15.0))),
        "translate": float(shift) if math.isfinite(shift) else 0.0,
    }


def stage_inputs(data, config, stage_dir: Path, time_limit: float | None):
    """``(crops, TrainConfig)`` the first stage of ``data`` trains on, for the run's ``config``."""
    from napari_leap.pose.train.config import TrainConfig

    spec = data.alignment
    crop = max(CROP, int(math.ceil(2 * spec["box_size"] * _scale(spec) / 16) * 16))
    crops = first_stage_crops(data.first_stage, crop, spec_parts(spec).anchor, config.seed)
    stage_config = TrainConfig(
        arch="unet",
        arch_params=FIRST_STAGE_ARCH,
        input_scale=1.0,
        sigma=SIGMA,
        augment={"rotation": 180.0, "flip": True, "scale": 0.1},
        time_limit=time_limit,
        resume=config.resume and (stage_dir / "last.pt").exists(),
        seed=config.seed,
        device=config.device,
        epochs=config.epochs,
        patience=config.epochs,  # its few validation frames are too noisy to stop on
    )
    return crops, stage_config


def frame_factor(spec: dict) -> float:
    """Frame pixels per downscaled pixel: the first stage's errors as the user sees them."""
    return 1.0 / _scale(spec)


def iter_summary(data, out_dir, config):
    """The first stage's errors on its validation frames, said (a Message) and returned."""
    from napari_leap.pose.dataset.data import split_blocks
    from napari_leap.pose.first_stage.aligner import LearnedAligner, calibrated_threshold
    from napari_leap.pose.train.events import Message

    first, spec = data.first_stage, data.alignment
    aligner = LearnedAligner(spec, out_dir, device=config.device)
    _, val = split_blocks(first.groups, 0.1, seed=config.seed)
    idx = val if len(val) else np.arange(len(first))
    anchors, angles = labelled_poses(first, spec)
    # its own peak height, from the held-out frames, before they are scored
    heights = aligner.anchor_heights(first.images[idx], anchors[idx])
    spec["peak_threshold"] = aligner.threshold = calibrated_threshold(heights)
    summary = summarise_errors(
        first_stage_errors(aligner, first.images[idx], anchors[idx], angles[idx])
    )
    if summary["missed"] == summary["animals"]:
        yield Message(
            f"alignment stage found none of the {summary['animals']} held-out animal(s); "
            "give it more time or labels"
        )
        return summary
    yield Message(
        f"alignment stage on {summary['animals']} held-out animal(s): box centre "
        f"{summary['centre_median_px']:.1f} px off (median; 95th percentile "
        f"{summary['centre_p95_px']:.1f}), heading {summary['heading_median_deg']:.1f} deg "
        f"(95th percentile {summary['heading_p95_deg']:.1f}), {summary['flips']} head/tail "
        f"flip(s), {summary['missed']} missed"
    )
    return summary


def _scale(spec: dict) -> float:
    return float(frame_ratio(spec["frame_hw"], spec["scaled_hw"]).mean())


def first_stage_crops(data, size: int, anchor: int, seed: int = 0):
    """Training crops of the first stage's downscaled frames.

    One around each labelled animal (shifted at random by up to a quarter of the crop)
    and one anywhere (kept when an animal is in it). Parts outside a crop are not its
    targets.

    A step on crops costs a fraction of one on whole frames and sees animals far
    more often than background, so the first stage learns in the minutes a CPU
    gives it; the network is fully convolutional and runs on whole frames. Frames
    not much larger than a crop are kept whole.
    """
    from napari_leap.pose.dataset.data import TrainingData

    h, w = data.input_size
    if size >= 0.75 * min(h, w):
        return data
    rng = np.random.default_rng(seed)
    images, points, groups = [], [], []
    for image, pts, group in zip(data.images, data.points, data.groups, strict=True):
        anchors = pts[:, anchor][np.isfinite(pts[:, anchor]).all(-1)]
        centres = [
            *(anchors + rng.uniform(-size / 4, size / 4, anchors.shape)),
            (rng.uniform(0, w), rng.uniform(0, h)),
        ]
        for cx, cy in centres:
            x0, y0 = int(round(cx - size / 2)), int(round(cy - size / 2))
            images.append(_crop(image, x0, y0, size))
            moved = pts - np.array([x0, y0], float)
            outside = ((moved < -0.5) | (moved > size - 0.5)).any(-1)
            points.append(np.where(outside[..., None], np.nan, moved))  # not in this crop
            groups.append(group)
    return TrainingData(
        np.stack(images),
        np.stack(points),
        data.skeleton,
        np.array(groups),
        None,
        f"{data.description}, {size}x{size} crops",
    )


def _crop(image: np.ndarray, x0: int, y0: int, size: int) -> np.ndarray:
    """``image[y0:y0+size, x0:x0+size]``, black where it runs off the image."""
    out = np.zeros((size, size, image.shape[2]), image.dtype)
    h, w = image.shape[:2]
    ys, xs = slice(max(0, y0), min(h, y0 + size)), slice(max(0, x0), min(w, x0 + size))
    if ys.start < ys.stop and xs.start < xs.stop:
        out[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0] = image[ys, xs]
    return out


def as_first_stage(event, factor: float):
    """A trainer event of the first stage as the consumers of ``train`` see it.

    Marked as the alignment stage, errors in frame pixels, and its end a message
    (training goes on).
    """
    from napari_leap.pose.train.events import EpochEnd, Message, TrainFinished, TrainStarted

    if isinstance(event, TrainStarted):
        return replace(event, stage="alignment")
    if isinstance(event, EpochEnd):
        return replace(
            event,
            val_error_px=event.val_error_px * factor,
            val_error_median_px=event.val_error_median_px * factor,
            per_node_val_error=[v * factor for v in event.per_node_val_error],
        )
    if isinstance(event, TrainFinished):
        return Message(
            f"alignment stage done ({event.reason.replace('_', ' ')}): best epoch "
            f"{event.best_epoch}, validation error {event.best_val_error_px * factor:.1f} px mean"
        )
    return event


def finished(stage_dir: Path) -> dict | None:
    """The training summary of a first stage that finished, or None."""
    import json

    cfg = stage_dir / "config.json"
    if not cfg.exists() or not (stage_dir / "best.pt").exists():
        return None
    training = json.loads(cfg.read_text()).get("training", {})
    return training if "stopped_reason" in training else None
