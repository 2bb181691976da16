"""Styling shared by every pose layer: body-part colours, status symbols and borders."""

from __future__ import annotations

import numpy as np

from napari_leap.model.skeleton import Skeleton

LayerData = tuple  # (data, kwargs, layer_type), napari's LayerDataTuple

STATUSES = ("user", "predicted", "corrected")
STATUS_BORDER = {
    "user": [1.0, 1.0, 1.0, 1.0],
    "predicted": [1.0, 0.85, 0.0, 1.0],
    "corrected": [0.0, 1.0, 1.0, 1.0],
}
STATUS_SYMBOL = {"user": "disc", "predicted": "diamond", "corrected": "square"}

#: distinct, colour-blind-aware hues (Okabe-Ito first, then Tableau); cycled past 20 parts
PALETTE = [
    "#e69f00",
    "#56b4e9",
    "#009e73",
    "#f0e442",
    "#0072b2",
    "#d55e00",
    "#cc79a7",
    "#ff595e",
    "#8ac926",
    "#6a4c93",
    "#1982c4",
    "#ffca3a",
    "#ff924c",
    "#52a675",
    "#b5179e",
    "#4cc9f0",
    "#f72585",
    "#90be6d",
    "#f9844a",
    "#277da1",
]


def _rgba(hex_color: str) -> list[float]:
    h = hex_color.lstrip("#")
    return [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)] + [1.0]


def node_colors(nodes: list[str]) -> dict[str, list[float]]:
    """RGBA per body part, fixed by its position in the skeleton (same colour in every view)."""
    return {n: _rgba(PALETTE[i % len(PALETTE)]) for i, n in enumerate(nodes)}


def points_style(
    skeleton: Skeleton, tracks: list[str], *, show_names: bool = False, size: float = 8.0
) -> dict:
    """Keyword arguments that colour points by body part and mark their status."""
    style = {
        "face_color": {
            "colors": "node",
            "categorical_colormap": {"colormap": node_colors(skeleton.nodes)},
        },
        "border_color": {"colors": "status", "categorical_colormap": {"colormap": STATUS_BORDER}},
        "border_width": 0.15,
        "border_width_is_relative": True,
        "size": size,
        "text": {
            "string": "{node}",
            "size": 9,
            "color": "white",
            "anchor": "upper_left",
            "visible": show_names,
        },
    }
    return style


def empty_features(skeleton: Skeleton, tracks: list[str], n: int = 0):
    """Features of ``n`` new points, with every category the layer may later hold."""
    import pandas as pd

    return pd.DataFrame(
        {
            "node": pd.Categorical([skeleton.nodes[0]] * n, categories=skeleton.nodes),
            "animal": pd.Categorical([tracks[0]] * n, categories=tracks),
            "status": pd.Categorical(["user"] * n, categories=STATUSES),
            "confidence": np.full(n, np.nan),
        }
    )


def node_colormap(nodes: list[str]):
    """A napari colormap giving body part ``k`` of ``K`` its palette colour at ``k / (K - 1)``."""
    from napari.utils.colormaps import Colormap

    colors = np.array([node_colors(nodes)[n] for n in nodes])
    if len(nodes) == 1:
        colors = np.repeat(colors, 2, axis=0)
    return Colormap(colors=colors, controls=np.linspace(0, 1, len(colors)), name="leap-nodes")
