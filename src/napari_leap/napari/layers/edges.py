"""Skeleton edges as napari Vectors layers."""

from __future__ import annotations

import numpy as np

from napari_leap.model.skeleton import Skeleton
from napari_leap.napari.layers.points import category_codes, pose_metadata
from napari_leap.napari.layers.style import LayerData, node_colors


def edge_vectors(data, features, skeleton: Skeleton, tracks: list[str], frame: int | None = None):
    """Skeleton edges as napari vectors ``(E, 2, 3)`` (start, offset) and their body-part colours.

    Only edges whose two ends are placed are drawn. ``frame`` limits them to one
    frame (what the labeling view needs on every drag).
    """
    data = np.asarray(data, dtype=np.float64).reshape(-1, 3)
    if frame is not None and len(data):
        sel = np.rint(data[:, 0]) == frame
        data, features = data[sel], features[sel]
    if not len(data) or not skeleton.edges:
        return np.zeros((0, 2, 3)), np.zeros((0, 4))
    node = category_codes(features["node"], skeleton.nodes)
    animal = category_codes(features["animal"], tracks)
    f = np.rint(data[:, 0]).astype(np.int64)
    # key of each point: (frame, animal, node); later points win (what a drag just set)
    k = len(skeleton)
    key = (f * len(tracks) + animal) * k + node
    order = np.argsort(key, kind="stable")
    uniq_rev, idx_rev = np.unique(key[order][::-1], return_index=True)
    last = order[::-1][idx_rev]
    lookup_keys, lookup_idx = uniq_rev, last
    instance = (f * len(tracks) + animal)[lookup_idx]
    inst_ids = np.unique(instance)
    src = np.array([e[0] for e in skeleton.edges])
    dst = np.array([e[1] for e in skeleton.edges])
    ka = (inst_ids[:, None] * k + src[None]).ravel()
    kb = (inst_ids[:, None] * k + dst[None]).ravel()
    pa = np.searchsorted(lookup_keys, ka)
    pb = np.searchsorted(lookup_keys, kb)
    pa_ok = (pa < len(lookup_keys)) & (lookup_keys[np.minimum(pa, len(lookup_keys) - 1)] == ka)
    pb_ok = (pb < len(lookup_keys)) & (lookup_keys[np.minimum(pb, len(lookup_keys) - 1)] == kb)
    ok = pa_ok & pb_ok
    a_pts = data[lookup_idx[pa[ok]]]
    b_pts = data[lookup_idx[pb[ok]]]
    vectors = np.stack([a_pts, b_pts - a_pts], axis=1)
    vectors[:, 1, 0] = 0.0
    colors_by_node = node_colors(skeleton.nodes)
    edge_dst = np.tile(dst, len(inst_ids))[ok]
    colors = np.array([colors_by_node[skeleton.nodes[d]] for d in edge_dst]).reshape(-1, 4)
    return vectors, colors


def edges_layer_data(data, features, metadata: dict, *, name: str = "edges") -> LayerData:
    """A Vectors layer drawing the skeleton of every placed instance."""
    skeleton, tracks = pose_metadata(metadata)
    vectors, colors = edge_vectors(data, features, skeleton, tracks)
    kwargs = {
        "name": name,
        "edge_width": 1.5,
        "vector_style": "line",
        "length": 1.0,
        "edge_color": colors if len(colors) else "white",
        "opacity": 0.8,
        "metadata": {"edges_of": metadata.get("name")},
    }
    return vectors, kwargs, "vectors"
