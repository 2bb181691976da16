"""Confidence maps: Gaussian targets on the grid convention, and peaks recovered to < 0.1 px."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_leap.model.skeleton import Skeleton
from napari_leap.pose.augment import AugmentConfig, augment_batch, transform_points, warp_images
from napari_leap.pose.confmaps import find_peaks, make_confmaps


@pytest.mark.parametrize("stride", [1, 2, 4])
@pytest.mark.parametrize("sigma", [2.0, 5.0])
def test_peaks_recover_subpixel_positions(stride, sigma):
    rng = np.random.default_rng(stride)
    pts = torch.as_tensor(rng.uniform(8, 88, (16, 5, 2)), dtype=torch.float32)
    maps = make_confmaps(pts, 96 // stride, 96 // stride, stride, sigma)
    found, scores = find_peaks(maps, stride)
    err = (found - pts).norm(dim=-1)
    assert err.max() < 0.1, err.max()
    assert torch.all(scores > 0.8)


def test_missing_points_give_empty_maps_and_grid_convention():
    pts = torch.tensor([[[10.0, 20.0], [np.nan, np.nan]]])
    maps = make_confmaps(pts, 16, 16, stride=2, sigma=1.0)
    assert maps[0, 1].abs().max() == 0
    # output pixel j sits at input j * 2 + 0.5: x = 10 is between cells 4 (8.5) and 5 (10.5)
    row = maps[0, 0, 10]  # y = 20.5 is cell 10
    assert row.argmax() == 5 and row[4] < row[5]


def test_peaks_on_noisy_maps_stay_close():
    torch.manual_seed(0)
    pts = torch.rand(8, 3, 2) * 60 + 10
    maps = make_confmaps(pts, 40, 40, 2, 5.0) + torch.randn(8, 3, 40, 40) * 0.02
    found, _ = find_peaks(maps, 2)
    assert (found - pts).norm(dim=-1).median() < 0.5


def test_flip_swaps_symmetric_channels():
    sk = Skeleton(["head", "eyeL", "eyeR", "tail"], symmetries=[("eyeL", "eyeR")])
    pts = torch.tensor([[[16.0, 5.0], [12.0, 8.0], [20.0, 8.0], [16.0, 28.0]]])
    cfg = AugmentConfig(rotation=0, scale=0, flip=True, brightness=0, contrast=0)
    img = torch.zeros(1, 1, 32, 32)
    g = torch.Generator().manual_seed(0)
    flipped = None
    for _ in range(20):  # p(flip) = 0.5 per draw
        out_img, out_pts = augment_batch(img, pts, cfg, sk.flip_permutation(), generator=g)
        if not torch.allclose(out_pts, pts):
            flipped = out_pts
            break
    assert flipped is not None
    # mirrored about x = 15.5: eyeL (x=12) lands at 19 and becomes... the right eye's slot swaps
    assert torch.allclose(flipped[0, 1], torch.tensor([31 - 20.0, 8.0]))  # eyeL <- mirrored eyeR
    assert torch.allclose(flipped[0, 2], torch.tensor([31 - 12.0, 8.0]))
    assert torch.allclose(flipped[0, 0], torch.tensor([15.0, 5.0]))


def test_warp_moves_image_content_with_points():
    img = torch.zeros(1, 1, 41, 41)
    img[0, 0, 10, 30] = 1.0  # y=10, x=30
    angle = np.deg2rad(90)
    c = 20.0
    m = torch.tensor(
        [[[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]],
        dtype=torch.float32,
    )
    m[0, 0, 2] = c - (m[0, 0, 0] * c + m[0, 0, 1] * c)
    m[0, 1, 2] = c - (m[0, 1, 0] * c + m[0, 1, 1] * c)
    out = warp_images(img, m)
    p = transform_points(torch.tensor([[[30.0, 10.0]]]), m, torch.tensor([False]), [0])
    y, x = divmod(int(out[0, 0].argmax()), 41)
    assert (x, y) == tuple(int(round(v)) for v in p[0, 0].tolist())
