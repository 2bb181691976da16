"""One reader and one writer for labels in every format, chosen by extension or by name.

Formats: ``slp`` (SLEAP), ``dlc`` (a DeepLabCut ``CollectedData`` CSV/H5 to read,
a DeepLabCut project folder to write), ``dlc_project`` (a whole DeepLabCut project to
read, given as its folder or ``config.yaml``), ``csv`` (DeepLabCut's CSV layout through
sleap-io), ``leap`` (LEAP's ``labels.mat``, read only), ``nwb`` (ndx-pose), ``coco``
and ``analysis_h5``; any other name is passed to sleap-io.
"""

from __future__ import annotations

from pathlib import Path

from napari_leap.io.labels.coco import write_coco
from napari_leap.io.labels.dlc import is_dlc_file, read_dlc, write_dlc
from napari_leap.io.labels.dlc_images import name_rows_by_images
from napari_leap.io.labels.dlc_project import (
    dlc_labels_path,
    dlc_project_config,
    read_dlc_project,
)
from napari_leap.io.labels.nwb import read_nwb, write_nwb
from napari_leap.io.labels.sleap import LabelsError, read_sleap, write_sleap
from napari_leap.io.labels.table import is_prediction_table, read_prediction_table

#: extension -> format :func:`save_labels` writes
SAVE_FORMATS = {
    ".slp": "slp",
    ".nwb": "nwb",
    ".h5": "analysis_h5",
    ".csv": "csv",
    ".json": "coco",
}


def labels_format(path: Path) -> str | None:
    """The format of an existing labels file (None: sleap-io tells by the extension)."""
    if dlc_project_config(path) is not None:
        return "dlc_project"
    if is_dlc_file(path):
        return "dlc"
    if not path.suffix and path.is_file() and _is_hdf5(path):
        return "slp"  # predict --out P without an extension writes SLEAP labels
    return {".mat": "leap", ".csv": "csv", ".nwb": "nwb"}.get(path.suffix.lower())


def _is_hdf5(path: Path) -> bool:
    import h5py

    return bool(h5py.is_hdf5(path))


def load_labels(path: str | Path, format: str | None = None):
    """Labels (``sleap_io.Labels``, video coordinates) from any file napari-leap reads."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; check the path.")
    if path.is_dir():
        found = dlc_labels_path(path)
        if found is None:
            raise LabelsError(
                f"{path} is a folder; give a labels file (.slp, .csv, .mat, .nwb, .h5), a "
                "DeepLabCut project (its folder or config.yaml) or a labeled-data folder."
            )
        path = found
    if path.is_file() and path.stat().st_size == 0:
        raise LabelsError(f"{path.name} is empty (0 bytes).")
    fmt = format or labels_format(path)
    if fmt == "csv" and is_prediction_table(path):
        labels = read_prediction_table(path)
    elif fmt == "dlc_project":
        labels = read_dlc_project(path)
    elif fmt == "dlc":
        labels = read_dlc(path)
    elif fmt == "nwb":
        labels = read_nwb(path)
    else:
        labels = read_sleap(path, fmt)
    if not labels.skeletons:
        raise LabelsError(f"{path.name} has no skeleton.")
    return labels


def save_labels(labels, path: str | Path, format: str | None = None, **options) -> Path:
    """Write labels atomically in the format of the extension, or ``format``.

    ``format="dlc"`` writes a DeepLabCut project folder at ``path`` (options:
    ``scorer``, ``images``, ``frames``, ``progress``, see
    :func:`~napari_leap.io.labels.dlc.write_dlc`); ``.json`` COCO keypoints with the
    labelled frames as images beside it (:func:`~napari_leap.io.labels.coco.write_coco`);
    other options go to sleap-io.
    """
    path = Path(path)
    fmt = format or SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise LabelsError(
            f"cannot save labels as {path.suffix or 'a file without extension'}; "
            f"use one of {', '.join(SAVE_FORMATS)}, or format='dlc' for a DeepLabCut folder."
        )
    if fmt == "dlc":
        write_dlc(labels, path, **options)
        return path
    if fmt == "nwb":
        return write_nwb(labels, path)
    if fmt == "coco":
        return write_coco(labels, path, **options)
    write_sleap(labels, path, fmt, **options)
    if fmt == "csv":
        name_rows_by_images(labels, path)
    return path
