"""napari-leap's table of predictions (``predict --out P.csv``) read back as labels.

One row per frame, animal and body part (``frame[,image],animal,node,x,y,confidence``),
for spreadsheets and scripts; ``evaluate`` and the readers take it as predictions. The
table names no video: its frames pair with a person's labels by their numbers (for a
folder of images, each image's place in its folder, as the labels of that folder count).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: the table's columns after ``frame`` (and ``image`` for a folder of images)
COLUMNS = ["animal", "node", "x", "y", "confidence"]


def is_prediction_table(path: Path) -> bool:
    """True for the header ``frame[,image],animal,node,x,y,confidence``."""
    with open(path, encoding="utf-8", errors="replace") as f:
        head = f.readline().strip().split(",")
    return head[:1] == ["frame"] and head[-5:] == COLUMNS


def read_csv(path: str | Path) -> tuple[np.ndarray, list[str], list[str], np.ndarray, np.ndarray]:
    """The table as arrays: ``frames, animals, nodes, points (N,A,K,2), scores (N,A,K)``."""
    import csv

    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    frames = sorted({int(r["frame"]) for r in rows})
    animals = list(dict.fromkeys(r["animal"] for r in rows))
    nodes = list(dict.fromkeys(r["node"] for r in rows))
    fi = {f: i for i, f in enumerate(frames)}
    pts = np.full((len(frames), len(animals), len(nodes), 2), np.nan)
    sc = np.full((len(frames), len(animals), len(nodes)), np.nan)
    for r in rows:
        i, a, k = fi[int(r["frame"])], animals.index(r["animal"]), nodes.index(r["node"])
        if r["x"]:
            pts[i, a, k] = float(r["x"]), float(r["y"])
        if r["confidence"]:
            sc[i, a, k] = float(r["confidence"])
    return np.array(frames), animals, nodes, pts, sc


def read_prediction_table(path: str | Path):
    """The table as ``sleap_io.Labels`` of predicted instances (a skeleton of its parts)."""
    from napari_leap.io.labels.sleap import LabelsError, labels_from_poses
    from napari_leap.model.poses import Poses
    from napari_leap.model.skeleton import Skeleton

    frames, animals, nodes, points, scores = read_csv(path)
    if not len(frames):
        raise LabelsError(f"{Path(path).name} holds no predicted frame.")
    poses = Poses(frames, points, scores, animals, Skeleton(nodes))
    return labels_from_poses(poses, ["unknown.mp4"], predicted=True)
