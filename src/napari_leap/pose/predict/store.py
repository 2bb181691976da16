"""The chunk store: finished chunks on disk, so a killed prediction resumes where it was."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from napari_leap.pose.predict.jobs import VideoJob
from napari_leap.pose.predict.results import PredictError


class ChunkStore:
    """Finished chunks as ``.npz`` files in a folder, with a manifest that says for what.

    A chunk file is written atomically, so one that exists is whole; a store
    whose manifest differs from the current request (other model, frames or
    chunk size) is cleared instead of reused.
    """

    def __init__(self, root: Path, manifest: dict):
        self.root = Path(root)
        self.manifest = manifest
        self.root.mkdir(parents=True, exist_ok=True)
        mpath = self.root / "manifest.json"
        if mpath.exists():
            try:
                old = json.loads(mpath.read_text())
            except ValueError:
                old = None
            if old != manifest:  # chunks and alignments of another request
                for p in self.root.iterdir():
                    if p.is_dir():
                        shutil.rmtree(p)
                    elif p.name != "manifest.json":
                        p.unlink()
        from napari_leap.io.atomic import atomic_write_text

        atomic_write_text(mpath, json.dumps(manifest, indent=1, sort_keys=True))

    def path(self, video: int, chunk: int) -> Path:
        """The file of one chunk."""
        return self.root / f"v{video:04d}_c{chunk:06d}.npz"

    def has(self, video: int, chunk: int) -> bool:
        """Whether the chunk is done (its file exists)."""
        return self.path(video, chunk).exists()

    def write(self, video: int, chunk: int, frames, points, scores) -> None:
        """Store one chunk (atomically)."""
        import io

        from napari_leap.io.atomic import atomic_write_bytes

        buf = io.BytesIO()
        np.savez(buf, frames=frames, points=points, scores=scores)
        atomic_write_bytes(self.path(video, chunk), buf.getvalue())

    def read(self, video: int, chunk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``frames, points, scores`` of one chunk."""
        with np.load(self.path(video, chunk)) as z:
            return z["frames"], z["points"], z["scores"]

    def chunks(
        self, jobs: list[VideoJob]
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """``(video, frames, points, scores)`` of every chunk of ``jobs``, in order."""
        for vi, job in enumerate(jobs):
            for ci in range(len(job.spans(self.manifest["chunk_size"]))):
                yield (vi, *self.read(vi, ci))

    def remove(self) -> None:
        """Delete the store (the prediction is written)."""
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def store_lock(root: Path, target: Path) -> Iterator[None]:
    """Hold ``<root>.lock`` while this run uses the chunk store ``root`` for ``target``.

    A second run would clear the store under the first or lose it when the first ends.
    """
    from napari_leap.io.atomic import Busy, exclusive

    try:
        with exclusive(root.with_name(root.name + ".lock")):
            yield
    except Busy:
        raise PredictError(
            f"another prediction is writing {target} now; wait for it to finish, "
            "or write to another file."
        ) from None


def partial_dir(out: str | Path) -> Path:
    """Where the chunks of a prediction into ``out`` are kept until it is written."""
    out = Path(out)
    return out.with_name(out.name + ".partial")
