"""Which layers are pose layers, and skeleton edits applied to a live pose layer."""

from __future__ import annotations

import numpy as np

from napari_leap.model.skeleton import Skeleton
from napari_leap.napari.layers.style import node_colors


def is_pose_layer(layer) -> bool:
    """True for a Points layer made by :func:`points_layer_data` (or the labeling widget)."""
    from napari.layers import Points

    md = getattr(layer, "metadata", None) or {}
    return isinstance(layer, Points) and "skeleton" in md


def is_editable_pose_layer(layer) -> bool:
    """A pose layer the Label and Skeleton docks may edit (not a read-only reference)."""
    return is_pose_layer(layer) and not layer.metadata.get("reference")


def pose_layer_skeleton(layer) -> Skeleton:
    """The skeleton a pose layer carries in its metadata."""
    return Skeleton.from_dict(layer.metadata["skeleton"])


def points_of_nodes(layer, nodes: list[str]) -> np.ndarray:
    """Indices of the layer's points that belong to any of ``nodes``."""
    if not len(layer.data):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.asarray(layer.features["node"].astype(str).isin(nodes)))


def apply_skeleton(layer, skeleton: Skeleton, renames: dict[str, str] | None = None) -> int:
    """Give a pose layer a new skeleton, keeping its points.

    Renamed body parts follow ``renames`` (old -> new), parts the new skeleton
    lacks lose their points. Returns how many points were removed. Colours stay tied to body-part order.
    """
    import pandas as pd

    renames = dict(renames or {})
    names = (
        layer.features["node"].astype(str).map(lambda n: renames.get(n, n))
        if len(layer.data)
        else pd.Series([], dtype=str)
    )
    kept = np.asarray(names.isin(skeleton.nodes), dtype=bool)
    gone = np.flatnonzero(~kept)
    removed = len(gone)
    features = layer.features.copy()
    # the parts that go are dropped below; as missing values until then (pandas refuses others)
    features["node"] = pd.Categorical(
        np.where(kept, np.asarray(names, dtype=object), None), categories=skeleton.nodes
    )
    # listeners see one consistent state: points, features and skeleton all changed at once
    with layer.events.data.blocker(), layer.events.features.blocker():
        layer.metadata = {**layer.metadata, "skeleton": skeleton.to_dict()}
        if removed:
            keep = np.setdiff1d(np.arange(len(layer.data)), gone)
            symbols = np.asarray(layer.symbol)[keep] if np.ndim(layer.symbol) else layer.symbol
            layer.data = np.asarray(layer.data)[keep]
            layer.features = features.iloc[keep].reset_index(drop=True)
            if np.ndim(symbols):
                layer.symbol = symbols
        else:
            layer.features = features
        defaults = layer.feature_defaults.copy()
        if str(defaults["node"].iloc[0]) not in skeleton.nodes:
            defaults["node"] = skeleton.nodes[0]
        defaults["node"] = pd.Categorical(
            [str(defaults["node"].iloc[0])], categories=skeleton.nodes
        )
        layer.feature_defaults = defaults
        layer.face_color_cycle = {"colormap": node_colors(skeleton.nodes)}
        layer.refresh_colors(update_color_mapping=True)
    layer.events.features()
    layer.events.data(value=layer.data, action="changed", data_indices=(), vertex_indices=((),))
    return removed
