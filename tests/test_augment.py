"""Augmentation: defaults chosen from the labels, and warps as sharp as prediction's input."""


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
    """A grey image with detail at every scale down to two pixels, as a filmed animal has."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    img = sum(
        cv2.resize(rng.random((size // k, size // k)), (size, size), interpolation=cv2.INTER_CUBIC)
        for k in (2, 8, 32)
    )
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 255).astype(np.uint8)[None, :, :, None]


def test_oversampled_warp_is_what_prediction_sees_and_stays_sharp():
    """Frames twice the input across are warped themselves: unmoved, they come out as
    prediction's input; turned, they are far closer to the turned frame shrunk for
    prediction than a warp of the small input is (which blurred every image training saw)."""
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

    assert oversampling((192, 180), (96, 90)) == 2
    assert oversampling((191, 180), (96, 90)) == 1  # not exactly twice
    assert oversampling((747, 832), (115, 128)) == 1 and oversampling((144, 144), (96, 96)) == 1
    frame = _texture(0)
    prep = Preprocessor((192, 192), 0.5, 1, 16, "cpu")
    still = AugmentConfig(rotation=0, scale=0, flip=False, brightness=0, contrast=0)
    pts = torch.tensor([[[40.0, 50.0]]])
    gen = torch.Generator().manual_seed(0)
    out, moved = augment_batch(prep(frame, oversample=2), pts, still, [0], gen, 2)
    assert out.shape == prep(frame).shape and torch.equal(moved, pts)
    assert torch.allclose(out, prep(frame), atol=1e-5)

    a = math.radians(37)  # about the input's centre, and where that sits in the frame

    def turn(c):
        m = torch.tensor(
            [[[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]]]
        )
        m[0, 0, 2] = c - (m[0, 0, 0] * c + m[0, 0, 1] * c)
        m[0, 1, 2] = c - (m[0, 1, 0] * c + m[0, 1, 1] * c)
        return m

    c = (prep.padded[0] - 1) / 2
    big = torch.as_tensor(frame).permute(0, 3, 1, 2).float()
    turned = warp_images(big, turn((c + 0.5) / prep.ratio[0] - 0.5))
    truth = prep(turned.permute(0, 2, 3, 1).round().to(torch.uint8))
    sharp = warp_oversampled(prep(frame, oversample=2), turn(c), 2)
    blurred = warp_images((prep(frame) * 255).round() / 255, turn(c))
    inner = (slice(None), slice(None), slice(20, 76), slice(20, 76))  # inside every warp
    err_sharp = (sharp - truth)[inner].abs().mean()
    err_blurred = (blurred - truth)[inner].abs().mean()
    assert err_sharp < 0.1 * err_blurred, (err_sharp, err_blurred)
