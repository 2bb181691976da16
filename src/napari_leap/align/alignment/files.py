"""An alignment folder on disk: ``alignment.json`` and the arrays file it names.

Each file is written atomically, and the arrays go to a new file
(``arrays-<token>.npz``) that ``alignment.json`` points to, so the json is the
commit: an interrupted save leaves the previous alignment whole.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from napari_leap.errors import LeapError

FORMAT = "napari-leap alignment"
FORMAT_VERSION = 1


def write_folder(path: Path, arrays: dict, meta: dict) -> Path:
    """Write ``arrays`` and ``meta`` (plus the format, version and arrays file) to folder ``path``."""
    import uuid

    from napari_leap.io.atomic import atomic_path, atomic_write_text

    if path.exists() and not path.is_dir():
        raise LeapError(f"{path} is a file; an alignment is saved as a folder.")
    path.mkdir(parents=True, exist_ok=True)
    arrays_name = f"arrays-{uuid.uuid4().hex[:12]}.npz"
    with atomic_path(path / arrays_name) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    meta = {"format": FORMAT, "version": FORMAT_VERSION, **meta, "arrays": arrays_name}
    atomic_write_text(path / "alignment.json", json.dumps(meta, indent=1))
    for old in path.glob("arrays*.npz"):  # earlier saves, no longer referenced
        if old.name != arrays_name:
            old.unlink(missing_ok=True)
    return path


def read_folder(path: Path) -> tuple[dict, dict]:
    """``(meta, arrays)`` of a folder written by :func:`write_folder`; a clear error otherwise."""
    meta_file = path / "alignment.json"
    if not meta_file.exists():
        raise LeapError(f"{path} is not an alignment folder (no alignment.json in it).")
    meta = json.loads(meta_file.read_text())
    if meta.get("format") != FORMAT:
        raise LeapError(f"{meta_file} is not a napari-leap alignment file.")
    arrays_file = path / meta.get("arrays", "arrays.npz")
    if not arrays_file.exists():
        raise LeapError(f"{path} is incomplete: {arrays_file.name} is missing; align again.")
    with np.load(arrays_file, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return meta, arrays


def stored_video(meta: dict, path: Path) -> Path | None:
    """The aligned video: the stored absolute path, else the one relative to the folder.

    When neither exists the absolute path is kept, so the error names the video.
    """
    for cand in (
        meta.get("video"),
        meta.get("video_relative") and str(path / meta["video_relative"]),
    ):
        if cand and Path(cand).exists():
            return Path(cand)
    return Path(meta["video"]) if meta.get("video") else None
