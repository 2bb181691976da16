"""napari reader: videos, image folders, HDF5/zarr frames and pose label files."""

from __future__ import annotations

from pathlib import Path

from napari_leap.io.video import (
    HDF5_SUFFIXES,
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    ZARR_SUFFIXES,
)

LABEL_SUFFIXES = {".slp", ".mat", ".csv", ".nwb"}


def _is_labels(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in LABEL_SUFFIXES:
        return True
    if path.is_dir() or suffix in (".yaml", ".yml"):
        return _is_dlc_project(path)
    if suffix in HDF5_SUFFIXES:  # DeepLabCut's CollectedData_*.h5 and SLEAP analysis files
        return path.name.startswith("CollectedData") or path.name.endswith(".analysis.h5")
    if suffix == ".json":
        from napari_leap.io.labels.coco import is_coco_keypoints

        return is_coco_keypoints(path)
    return False


def _is_dlc_project(path: Path) -> bool:
    """A DeepLabCut project (its folder or config.yaml) or one labeled-data folder."""
    from napari_leap.errors import LeapError
    from napari_leap.io.labels.dlc_project import dlc_labels_path

    try:
        return dlc_labels_path(path) is not None
    except LeapError:  # several scorers' files: reading it says which to choose
        return True


def _is_video(path: Path) -> bool:
    suffix = path.suffix.lower()
    if path.is_dir():
        return (
            suffix in ZARR_SUFFIXES
            or any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir())
            or (path / ".zarray").exists()
            or (path / "zarr.json").exists()
        )
    return suffix in VIDEO_SUFFIXES | HDF5_SUFFIXES


def get_reader(path):
    """Return a reader when napari-leap knows ``path``; None lets other plugins try."""
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(path)
    if not p.exists():
        return None
    if _is_labels(p):
        return read_labels
    if _is_video(p):
        return read_video
    return None


def read_video(path):
    """A lazy video Image layer (frames decode as napari shows them)."""
    from napari_leap.io.video import open_video
    from napari_leap.napari.layers import video_layer_data

    return settle_when_added([video_layer_data(open_video(path), path=path)])


def read_labels(path):
    """The layers of a labels file: its video when found, skeleton edges, pose points."""
    from napari_leap.napari.labels_io import read_labels as read

    return settle_when_added(read(path))


def settle_when_added(layer_data: list) -> list:
    """Once napari has added ``layer_data``, show frame 0 and keep reference layers read-only.

    napari opens a first layer on its middle frame; reference layers carry
    ``metadata['reference']``. A reader only returns data, so this waits for napari's own handler of each new layer
    (it runs first: this one is connected last).
    """
    import napari

    viewer = napari.current_viewer()
    if viewer is None or not layer_data:
        return layer_data
    first = not len(viewer.layers)
    left = [len(layer_data)]

    def added(event) -> None:
        if (getattr(event.value, "metadata", None) or {}).get("reference"):
            event.value.editable = False
        left[0] -= 1
        if left[0] == 0:
            viewer.layers.events.inserted.disconnect(added)
            if first and viewer.dims.ndim >= 3:
                viewer.dims.set_current_step(0, 0)

    viewer.layers.events.inserted.connect(added, position="last")
    return layer_data
