"""The network registry: LEAP's CNN layer for layer, and every model's output geometry."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from napari_leap.errors import LeapError
from napari_leap.pose.models import ARCHITECTURES, build_model


def _stack(model):
    out = []
    for m in model.layers:
        if isinstance(m, nn.Conv2d):
            out.append(("conv", m.in_channels, m.out_channels, m.kernel_size, m.stride))
        elif isinstance(m, nn.ConvTranspose2d):
            out.append(("tconv", m.in_channels, m.out_channels, m.kernel_size, m.stride))
        elif isinstance(m, nn.MaxPool2d):
            out.append(("pool",))
        elif isinstance(m, nn.ReLU):
            out.append(("relu",))
        elif isinstance(m, nn.Upsample):
            out.append(("up",))
    return out


def test_leap_cnn_matches_the_paper():
    f, k = 8, 5
    model = build_model("leap_cnn", 1, k, filters=f)
    conv = lambda i, o: [("conv", i, o, (3, 3), (1, 1)), ("relu",)]  # noqa: E731
    expected = (
        conv(1, f)
        + conv(f, f)
        + conv(f, f)
        + [("pool",)]
        + conv(f, 2 * f)
        + conv(2 * f, 2 * f)
        + conv(2 * f, 2 * f)
        + [("pool",)]
        + conv(2 * f, 4 * f)
        + conv(4 * f, 4 * f)
        + conv(4 * f, 4 * f)
        + [("tconv", 4 * f, 2 * f, (3, 3), (2, 2)), ("relu",)]
        + conv(2 * f, 2 * f)
        + conv(2 * f, 2 * f)
        + [("tconv", 2 * f, k, (3, 3), (2, 2))]  # linear output: no ReLU after it
    )
    assert _stack(model) == expected
    assert build_model("leap_cnn", 1, k).layers[0].out_channels == 64  # f = 64 by default
    y = model(torch.zeros(2, 1, 64, 48))
    assert y.shape == (2, k, 64, 48)


def test_leap_cnn_fast_uses_bilinear_upsampling_and_32_filters():
    model = build_model("leap_cnn_fast", 3, 4)
    stack = _stack(model)
    assert stack.count(("up",)) == 2 and not any(s[0] == "tconv" for s in stack)
    assert model.layers[0].out_channels == 32 and model.layers[0].in_channels == 3
    assert stack[-1] == ("conv", 64, 4, (3, 3), (1, 1))
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 4, 32, 32)


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_unet_output_stride(stride):
    model = build_model("unet", 1, 6, filters=4, depth=3, output_stride=stride)
    assert model.output_stride == stride and model.size_multiple == 8
    assert model(torch.zeros(2, 1, 48, 64)).shape == (2, 6, 48 // stride, 64 // stride)


def test_registry_names_and_unknown():
    assert set(ARCHITECTURES) >= {"leap_cnn", "leap_cnn_fast", "unet"}
    with pytest.raises(LeapError, match="unknown architecture"):
        build_model("resnet9000", 1, 3)
