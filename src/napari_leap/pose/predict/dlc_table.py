"""Predictions as DeepLabCut's table, the file its ``analyze_videos`` writes beside a video.

A lab whose scripts and tools read DeepLabCut's output (its plots, ``movement``,
DLC2Kinematics) reads this one unchanged: header rows ``scorer``, ``bodyparts``, ``coords``
(``x``, ``y``, ``likelihood``), with ``individuals`` before ``bodyparts`` when frames hold
several animals; one row per frame, named by its frame number, or by its image's file
name when the frames were read from images (DeepLabCut's labelled frames).
"""

from __future__ import annotations

from pathlib import Path

#: the ``scorer`` header: DeepLabCut names the network there
SCORER = "napari-leap"


def write_dlc_csv(
    poses, path: str | Path, images: list[str] | None = None, scorer: str = SCORER
) -> Path:
    """``poses`` (one video's) as DeepLabCut's table; missing points are empty cells."""
    import pandas as pd

    from napari_leap.io.atomic import atomic_path
    from napari_leap.io.labels.dlc import dlc_dataframe

    path = Path(path)
    index = pd.Index(images if images else [int(f) for f in poses.frames])
    table = dlc_dataframe(poses, index, scorer, multi=poses.n_animals > 1, likelihood=True)
    with atomic_path(path) as tmp:
        table.to_csv(tmp)
    return path
