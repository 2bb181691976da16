"""A whole DeepLabCut project as one labels set: every ``labeled-data`` folder's labels.

A DLC user's labels are spread over ``labeled-data/<video>/CollectedData_<scorer>.csv``,
one folder per video, under the project's ``config.yaml``. Pointing ``train`` at the
project (its folder or its ``config.yaml``) reads them all, with the node order and edges
of ``config.yaml`` and the images in colour, as each CSV alone is read
(:func:`~napari_leap.io.labels.dlc.read_dlc`).
"""

from __future__ import annotations

from pathlib import Path

from napari_leap.io.labels.dlc import dlc_poses, labels_of_poses
from napari_leap.io.labels.sleap import LabelsError

CONFIG = "config.yaml"


def dlc_project_config(path: Path) -> Path | None:
    """The ``config.yaml`` of a DLC project given as its folder or that file (else None)."""
    import yaml

    config = path / CONFIG if path.is_dir() else path
    if config.name.lower() not in (CONFIG, "config.yml") or not config.is_file():
        return None
    try:
        cfg = yaml.safe_load(config.read_text(errors="replace"))
    except yaml.YAMLError:
        return None
    if isinstance(cfg, dict) and ("bodyparts" in cfg or "multianimalbodyparts" in cfg):
        return config
    return None


def collected_data_in(folder: Path) -> Path | None:
    """A ``labeled-data/<video>`` folder's person-made labels: its CollectedData CSV, else H5.

    Machine labels (``machinelabels-iter*``) are a model's, not a person's, and are left.
    """
    for pattern in ("CollectedData_*.csv", "CollectedData_*.h5"):
        found = sorted(folder.glob(pattern))
        if len(found) > 1:
            raise LabelsError(
                f"{folder} holds the labels of {len(found)} scorers "
                f"({', '.join(p.name for p in found)}); give the one to use."
            )
        if found:
            return found[0]
    return None


def dlc_labels_path(path: Path) -> Path | None:
    """The file to read where a DLC user points: a project's config.yaml or a folder's labels.

    ``path`` is a project's folder or ``config.yaml``, or one ``labeled-data/<video>``
    folder (its CollectedData file); None for anything else.
    """
    config = dlc_project_config(path)
    if config is not None:
        return config
    return collected_data_in(path) if path.is_dir() else None


def read_dlc_project(path: Path):
    """Every labelled folder of a project (its folder or config.yaml) as one ``sleap_io.Labels``.

    A video per labelled folder.
    """
    config = path / CONFIG if path.is_dir() else path
    folders = sorted(p for p in (config.parent / "labeled-data").glob("*") if p.is_dir())
    files = [f for f in map(collected_data_in, folders) if f is not None]
    if not files:
        raise LabelsError(
            f"the DeepLabCut project {config.parent} has no labelled frames: no "
            "labeled-data/<video>/CollectedData_<scorer>.csv; label frames in DeepLabCut "
            "or napari-leap first."
        )
    read = [dlc_poses(f) for f in files]
    nodes = {tuple(p.skeleton.nodes) for p, _, _ in read}
    if len(nodes) > 1:
        raise LabelsError(
            f"the labeled-data folders of {config.parent} label different body parts; "
            "make their CollectedData files agree with config.yaml."
        )
    kept = [(p, v) for p, v, _ in read if len(p.frames)]
    return labels_of_poses([p for p, _ in kept], [v for _, v in kept], any(t for _, _, t in read))
