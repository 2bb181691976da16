"""Augmentation defaults chosen from the labels."""


def test_rotation_range_follows_how_the_labelled_parts_turn():
    """A rig that holds the view is turned little; animals facing every way, fully."""
    import numpy as np

    from napari_leap.pose.augment import MIN_ROTATION, rotation_range

    rng = np.random.default_rng(0)
    base = np.array([[0.0, 0.0], [0.0, 40.0], [25.0, 10.0]])  # a joystick's two ends, a hand
    rig = base[None] + rng.normal(0, 1.0, (30, 3, 2)) + rng.uniform(0, 300, (30, 1, 2))
    assert rotation_range(rig) == MIN_ROTATION
    angles = rng.uniform(-np.pi, np.pi, 30)
    rot = np.stack([np.cos(angles), -np.sin(angles), np.sin(angles), np.cos(angles)], -1)
    free = np.einsum("nij,kj->nki", rot.reshape(30, 2, 2), base)
    assert rotation_range(free) == 180.0
    half = free.copy()
    half[:, 1] = np.nan  # one part never labelled with the others leaves the other pairs
    assert rotation_range(half) == 180.0
    assert rotation_range(np.full((4, 3, 2), np.nan)) == 180.0


def _texture(seed: int, size: int = 192):
    """A grey image with detail at every scale down to a pixel, as an animal's body has."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    img = sum(
        cv2.resize(rng.random((size // k, size // k)), (size, size), interpolation=cv2.INTER_CUBIC)
        for k in (1, 4, 16)
    )
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 255).astype(np.uint8)[None, :, :, None]


def test_oversampled_warp_is_what_prediction_sees_and_stays_sharp():
    """Training warps frames kept at twice the input size: unmoved, they come out exactly as
    prediction's input; turned, they are far closer to the turned frame shrunk for prediction
    than a warp of the small input is (which blurs every image training sees)."""
    import math

    import torch

    from napari_leap.pose.augment import (
        AugmentConfig,
        augment_batch,
        oversampling,
        warp_images,
        warp_oversampled,
    )
    from napari_leap.pose.trained import Preprocessor

    assert oversampling(0.5) == 2 and oversampling(0.154) == 2 and oversampling(0.667) == 1
    frame = _texture(0)
    prep = Preprocessor((192, 192), 0.5, 1, 16, "cpu")
    still = AugmentConfig(rotation=0, scale=0, flip=False, brightness=0, contrast=0)
    pts = torch.tensor([[[40.0, 50.0]]])
    out, moved = augment_batch(
        prep(frame, oversample=2), pts, still, [0], torch.Generator().manual_seed(0), 2
    )
    assert out.shape == prep(frame).shape
    assert torch.allclose(out, prep(frame), atol=1e-5) and torch.equal(moved, pts)

    # turn by 37 degrees about the input's centre (47.5, 47.5): in the frame, about (95.5, 95.5)
    a = math.radians(37)

    def turn(c):
        m = torch.tensor(
            [[[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]]]
        )
        m[0, 0, 2] = c - (m[0, 0, 0] * c + m[0, 0, 1] * c)
        m[0, 1, 2] = c - (m[0, 1, 0] * c + m[0, 1, 1] * c)
        return m

    big = torch.as_tensor(frame).permute(0, 3, 1, 2).float()
    truth = prep(warp_images(big, turn(95.5)).permute(0, 2, 3, 1).round().to(torch.uint8))
    sharp = warp_oversampled(prep(frame, oversample=2), turn(47.5), 2)
    blurred = warp_images((prep(frame) * 255).round() / 255, turn(47.5))
    inner = (slice(None), slice(None), slice(20, 76), slice(20, 76))  # inside every warp's frame
    err_sharp = (sharp - truth)[inner].abs().mean()
    err_blurred = (blurred - truth)[inner].abs().mean()
    assert err_sharp < 0.1 * err_blurred, (err_sharp, err_blurred)
