"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

_DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EIO)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it over ``path``.

    On any error the temporary file is removed and ``path`` is left untouched,
    so a failed or interrupted save never damages what was there.
    """
    path = Path(path)
    created = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    tmp_path = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; saved files follow the umask
        os.close(fd)
        tmp_path = Path(tmp)
        yield tmp_path
        if tmp_path.is_file():
            with open(tmp_path, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp_path, path)
        _fsync_dir(path.parent)
    except BaseException as e:
        if tmp_path is not None:
            with contextlib.suppress(FileNotFoundError):
                tmp_path.unlink()
        for folder in created:  # deepest first: leave no empty folders behind a failed save
            with contextlib.suppress(OSError):
                folder.rmdir()
        if (
            isinstance(e, OSError)
            and e.errno in _DISK_ERRORS
            and (e.filename is None or Path(e.filename).name.startswith(f".{path.name}."))
        ):
            e.filename = str(path)  # name the file the user asked for, not our temporary one
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def ensure_writable(folder: str | Path) -> None:
    """Fail now, not after hours of work, when ``folder`` (or where it would be made) is unwritable.

    Creates and removes a temporary file in the nearest existing folder; a
    read-only disk, missing permission or a full disk raises that ``OSError``
    naming ``folder``. Nothing is left behind.
    """
    folder = Path(folder)
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():  # one sentence, no errno: the CLI prints str(e)
        where = "" if existing == folder else f"{folder} cannot be made: "
        raise NotADirectoryError(f"{where}{existing} is a file, not a folder; choose a folder.")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".napari-leap-probe.") as f:
            f.write(b"\0")
            f.flush()
    except OSError as e:
        if e.errno in _DISK_ERRORS:
            e.filename = str(folder)
        raise


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` whole, or leave it as it was."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) whole, or leave it as it was."""
    atomic_write_bytes(path, text.encode("utf-8"))


class Busy(OSError):
    """Another process holds the lock (see :func:`exclusive`)."""


@contextlib.contextmanager
def exclusive(path: str | Path) -> Iterator[None]:
    """Hold the lock file ``path`` for the duration; :class:`Busy` if another process holds it.

    An OS lock on an open file (``flock``; ``msvcrt.locking`` on Windows), so a
    killed holder leaves no stale lock. The file is removed on release; a waiter
    that locked a file removed meanwhile sees that it is gone and tries again.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        f = open(path, "a+b")  # noqa: SIM115 - held open for the whole block
        if not _try_lock(f):
            f.close()
            raise Busy(errno.EBUSY, f"{path} is held by another process", str(path))
        try:
            same = os.fstat(f.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        f.close()  # locked a file its holder removed at release: lock the new one
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # still locked here, so no one holds the file being removed
        f.close()


def _try_lock(f) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
