"""Predictions as DeepLabCut's table, the file its ``analyze_videos`` writes beside a video.

A lab whose scripts and tools read DeepLabCut's output (its plots, ``movement``,
DLC2Kinematics) reads this one unchanged: header rows ``scorer``, ``bodyparts``, ``coords``
(``x``, ``y``, ``likelihood``), with ``individuals`` before ``bodyparts`` when frames hold
several animals; one row per frame, named by its frame number, or by its image's file
name when the frames were read from images (DeepLabCut's labelled frames).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: the ``scorer`` header: DeepLabCut names the network there
SCORER = "napari-leap"


def write_dlc_csv(
    poses, path: str | Path, images: list[str] | None = None, scorer: str = SCORER
) -> Path:
    """``poses`` (one video's) as DeepLabCut's table; missing points are empty cells."""
    import pandas as pd

    from napari_leap.io.atomic import atomic_path

    path = Path(path)
    nodes = list(poses.skeleton.nodes)
    n_frames, n_animals = poses.points.shape[:2]
    table = np.concatenate([poses.points, poses.scores[..., None]], -1)  # (N, A, K, 3)
    coords = ("x", "y", "likelihood")
    columns: list[tuple[str, ...]]
    if n_animals == 1:
        names = ["scorer", "bodyparts", "coords"]
        columns = [(scorer, n, c) for n in nodes for c in coords]
    else:
        names = ["scorer", "individuals", "bodyparts", "coords"]
        columns = [(scorer, str(a), n, c) for a in poses.tracks for n in nodes for c in coords]
    index = images if images else [int(f) for f in poses.frames]
    frame = pd.DataFrame(
        table.reshape(n_frames, -1),
        index=pd.Index(index),
        columns=pd.MultiIndex.from_tuples(columns, names=names),
    )
    with atomic_path(path) as tmp:
        frame.to_csv(tmp)
    return path
