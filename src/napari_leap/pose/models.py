"""Pose networks by name: LEAP's CNN as published, its fast-train variant, and a small U-Net.

Every network maps (B, C, H, W) images (H, W divisible by ``size_multiple``)
to (B, K, H / output_stride, W / output_stride) confidence maps.
"""

from __future__ import annotations

from typing import Any

ARCHITECTURES = {
    "leap_cnn": "LEAP's CNN (Pereira et al. 2019): f=64, transposed-conv upsampling, full resolution",
    "leap_cnn_fast": "LEAP's fast-train variant: f=32, bilinear upsampling",
    "unet": "small U-Net with skip connections, output stride 2 (fast on CPU and GPU)",
}

#: defaults per architecture; the training input scale is chosen with them
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "leap_cnn": {"filters": 64, "upsampling": "transposed"},
    "leap_cnn_fast": {"filters": 32, "upsampling": "bilinear"},
    "unet": {"filters": 16, "depth": 4, "output_stride": 2, "max_filters": 128, "decoder_convs": 2},
}


def _torch():
    import torch

    return torch


def build_model(arch: str, in_channels: int, n_nodes: int, **params):
    """The network ``arch`` with ``params`` over the architecture's defaults."""
    from napari_leap.errors import LeapError

    if arch not in ARCHITECTURES:
        raise LeapError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}.")
    p = {**DEFAULT_PARAMS[arch], **params}
    if arch.startswith("leap_cnn"):
        return _leap_cnn_class()(
            in_channels, n_nodes, filters=int(p["filters"]), upsampling=p["upsampling"]
        )
    return _unet_class()(
        in_channels,
        n_nodes,
        filters=int(p["filters"]),
        depth=int(p["depth"]),
        output_stride=int(p["output_stride"]),
        max_filters=int(p["max_filters"]),
        decoder_convs=int(p.get("decoder_convs", 2)),
    )


def _leap_cnn_class():
    torch = _torch()
    nn = torch.nn

    def convs(cin, cout, n):
        layers = []
        for i in range(n):
            layers += [
                nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1),
                nn.ReLU(inplace=True),
            ]
        return layers

    class LeapCNN(nn.Module):
        """LEAP's network, layer for layer (``leap.models.leap_cnn``)."""

        output_stride = 1
        size_multiple = 4

        def __init__(
            self, in_channels: int, n_nodes: int, filters: int = 64, upsampling: str = "transposed"
        ):
            super().__init__()
            f = filters
            if upsampling == "transposed":
                up1 = [
                    nn.ConvTranspose2d(4 * f, 2 * f, 3, stride=2, padding=1, output_padding=1),
                    nn.ReLU(inplace=True),
                ]
                up2 = [nn.ConvTranspose2d(2 * f, n_nodes, 3, stride=2, padding=1, output_padding=1)]
                mid = convs(2 * f, 2 * f, 2)
            elif upsampling == "bilinear":
                up1 = [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)]
                up2 = [
                    nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                    nn.Conv2d(2 * f, n_nodes, 3, padding=1),
                ]
                mid = convs(4 * f, 2 * f, 2)
            else:
                raise ValueError(
                    f"upsampling must be 'transposed' or 'bilinear', not {upsampling!r}"
                )
            self.layers = nn.Sequential(
                *convs(in_channels, f, 3),
                nn.MaxPool2d(2, 2),
                *convs(f, 2 * f, 3),
                nn.MaxPool2d(2, 2),
                *convs(2 * f, 4 * f, 3),
                *up1,
                *mid,
                *up2,
            )
            for m in self.modules():  # Keras' glorot initialisation, as LEAP trained with
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.zeros_(m.bias)

        def forward(self, x):
            return self.layers(x)

    return LeapCNN


def _unet_class():
    torch = _torch()
    nn = torch.nn

    def block(cin, cout, n=2):
        layers = []
        for i in range(n):
            layers += [
                nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
        return nn.Sequential(*layers)

    class UNet(nn.Module):
        """Encoder of ``depth`` 2x poolings, decoder back to ``1 / output_stride`` resolution.

        The decoder stops early (no full-resolution layers), which is where most
        of a U-Net's compute goes; subpixel peak refinement recovers the precision.
        """

        def __init__(
            self,
            in_channels: int,
            n_nodes: int,
            filters: int = 16,
            depth: int = 4,
            output_stride: int = 2,
            max_filters: int = 128,
            decoder_convs: int = 2,
        ):
            super().__init__()
            if output_stride & (output_stride - 1) or not 1 <= output_stride <= 2**depth:
                raise ValueError("output_stride must be a power of two no larger than 2**depth")
            self.output_stride = output_stride
            self.size_multiple = 2**depth
            widths = [min(filters * 2**i, max_filters) for i in range(depth + 1)]
            self.down = nn.ModuleList()
            cin = in_channels
            for w in widths:
                self.down.append(block(cin, w))
                cin = w
            self.pool = nn.MaxPool2d(2, 2)
            n_up = depth - (output_stride.bit_length() - 1)
            self.up = nn.ModuleList()
            for i in range(n_up):
                skip = widths[depth - 1 - i]
                self.up.append(block(cin + skip, skip, decoder_convs))
                cin = skip
            self.head = nn.Conv2d(cin, n_nodes, 1)

        def forward(self, x):
            skips = []
            for i, blk in enumerate(self.down):
                if i:
                    x = self.pool(x)
                x = blk(x)
                skips.append(x)
            skips.pop()
            for blk in self.up:
                x = torch.nn.functional.interpolate(
                    x, scale_factor=2, mode="bilinear", align_corners=False
                )
                x = blk(torch.cat([x, skips.pop()], 1))
            return self.head(x)

    return UNet


def fold_batchnorm(net):
    """``net`` (in eval mode) with each BatchNorm folded into the convolution before it.

    For inference only (the folded net cannot train): the same output (to about 1e-6),
    one layer fewer per convolution; on a 2-core CPU 7-8 % faster on the pose U-Net and
    the first stage (benchmarks/README.md).
    """
    torch = _torch()
    nn = torch.nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if not isinstance(child, nn.Sequential):
                continue
            layers, out = list(child), []
            for layer in layers:
                if isinstance(layer, nn.BatchNorm2d) and out and type(out[-1]) is nn.Conv2d:
                    out[-1] = fuse_conv_bn_eval(out[-1], layer)
                else:
                    out.append(layer)
            if len(out) < len(layers):
                setattr(module, name, nn.Sequential(*out))
    return net
