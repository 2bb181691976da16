"""Atomic writes: a reader sees the old file or the new one, never half of one.

Covers the properties of ``napari_leap.io.atomic`` (any content round trips, a
failing writer leaves the old file and no temporary behind), real full and
read-only file systems (a tiny tmpfs where this machine lets us mount one,
patched writers otherwise) and saves racing from threads and processes.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import multiprocessing
import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_leap.errors import is_user_error
from napari_leap.io.atomic import atomic_path, atomic_write_bytes, atomic_write_text


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@contextlib.contextmanager
def tiny_tmpfs(folder: Path, size: str = "64k"):
    """Mount a tmpfs of ``size`` at ``folder``; skip when mounting is not allowed here."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


# -- properties ------------------------------------------------------------------------------


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    old=st.binary(max_size=2048),
    new=st.binary(max_size=2048),
    name=st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_. -]{0,20}", fullmatch=True),
)
def test_any_content_round_trips_and_nothing_is_left_behind(tmp_path, old, new, name):
    folder = tmp_path / hashlib.sha1(name.encode() + old + new).hexdigest()[:12]
    path = folder / name
    atomic_write_bytes(path, old)
    assert path.read_bytes() == old
    atomic_write_bytes(path, new)
    assert path.read_bytes() == new
    assert _leftovers(folder) == []


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=st.text(max_size=500))
def test_text_is_written_as_utf8(tmp_path, text):
    path = tmp_path / "t.txt"
    atomic_write_text(path, text)
    assert path.read_bytes() == text.encode("utf-8")


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    old=st.binary(min_size=1, max_size=512),
    partial=st.binary(max_size=512),
    error=st.sampled_from(
        [OSError(errno.ENOSPC, "No space left on device"), RuntimeError("bug"), KeyboardInterrupt()]
    ),
)
def test_a_failing_writer_leaves_the_old_file(tmp_path, old, partial, error):
    path = tmp_path / "data.bin"
    atomic_write_bytes(path, old)
    with pytest.raises(type(error)), atomic_path(path) as tmp:
        tmp.write_bytes(partial)
        raise error
    assert path.read_bytes() == old
    assert _leftovers(tmp_path) == []


def test_a_failed_save_leaves_no_new_folders_and_names_the_target(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    target = tmp_path / "models" / "m" / "best.pt"
    with pytest.raises(OSError) as info:
        atomic_write_bytes(target, b"weights")
    assert info.value.filename == str(target)
    assert list(tmp_path.iterdir()) == []


def test_missing_parent_folders_are_created(tmp_path):
    atomic_write_text(tmp_path / "a" / "b" / "c.txt", "hi")
    assert (tmp_path / "a" / "b" / "c.txt").read_text() == "hi"


def test_a_folder_in_the_way_is_an_error_and_stays(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "inside").write_text("keep")
    with pytest.raises(OSError) as info:
        atomic_write_text(tmp_path / "x", "new")
    assert is_user_error(info.value)
    assert (tmp_path / "x" / "inside").read_text() == "keep"
    assert _leftovers(tmp_path) == []


# -- full and read-only file systems ---------------------------------------------------------


def test_disk_full_on_a_real_tiny_filesystem(tmp_path):
    with tiny_tmpfs(tmp_path / "fs") as fs:
        atomic_write_bytes(fs / "labels.slp", b"old" * 100)
        with pytest.raises(OSError) as info:
            atomic_write_bytes(fs / "labels.slp", os.urandom(200_000))
        assert info.value.errno == errno.ENOSPC
        assert is_user_error(info.value)
        assert (fs / "labels.slp").read_bytes() == b"old" * 100
        assert _leftovers(fs) == []


def test_read_only_filesystem_is_a_user_error_and_keeps_the_file(tmp_path):
    with tiny_tmpfs(tmp_path / "fs") as fs:
        atomic_write_text(fs / "napari-leap.yaml", "name: x\n")
        subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
        with pytest.raises(OSError) as info:
            atomic_write_text(fs / "napari-leap.yaml", "name: y\n")
        assert info.value.errno == errno.EROFS
        assert is_user_error(info.value)
        assert (fs / "napari-leap.yaml").read_text() == "name: x\n"


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EDQUOT])
def test_patched_fsync_failure_keeps_the_old_file(tmp_path, monkeypatch, code):
    """Where no tmpfs can be mounted: the same failure injected at fsync (data hits the disk)."""
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"old")

    def fail(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError) as info:
        atomic_write_bytes(path, b"new content")
    assert info.value.errno == code and is_user_error(info.value)
    assert path.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


# -- racing saves ----------------------------------------------------------------------------

VERSIONS = [bytes([65 + k]) * (50_000 + 7919 * k) for k in range(4)]


def _hammer(path: str, k: int, rounds: int) -> None:
    for _ in range(rounds):
        atomic_write_bytes(path, VERSIONS[k])


def test_threads_racing_never_leave_a_torn_file(tmp_path):
    path = tmp_path / "race.bin"
    atomic_write_bytes(path, VERSIONS[0])
    seen: list[bytes] = []
    stop = threading.Event()

    def read():
        while not stop.is_set():
            seen.append(path.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=_hammer, args=(str(path), k, 25)) for k in range(4)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()
    assert seen and all(s in VERSIONS for s in seen)
    assert path.read_bytes() in VERSIONS
    assert _leftovers(tmp_path) == []


def test_processes_racing_never_leave_a_torn_file(tmp_path):
    path = tmp_path / "race.bin"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(str(path), k, 20)) for k in range(3)]
    for p in procs:
        p.start()
    reads = 0
    while any(p.is_alive() for p in procs):
        if path.exists():
            assert path.read_bytes() in VERSIONS
            reads += 1
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert path.read_bytes() in VERSIONS
    assert _leftovers(tmp_path) == []


def test_projects_saved_from_racing_threads_reopen_as_one_version(tmp_path):
    from conftest import CLIP, CLIP_LABELS
    from napari_leap.io.labels import (
        labels_from_poses,
        load_labels,
        poses_from_labels,
        skeleton_from_sleap,
    )
    from napari_leap.io.project import Project

    source = load_labels(CLIP_LABELS)
    poses = poses_from_labels(source)
    skeleton = skeleton_from_sleap(source.skeletons[0])
    Project.create(tmp_path / "p", skeleton, videos=[CLIP])
    versions = {k: poses.select(slice(10 * k, 10 * k + 5 + k)) for k in range(3)}
    errors: list[BaseException] = []

    def save(k):
        try:
            for _ in range(3):
                project = Project.open(tmp_path / "p")
                project.settings = {"version": k}
                project.labels = labels_from_poses(
                    versions[k], project.sleap_video(0), predicted=False
                )
                project.save()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=save, args=(k,)) for k in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    again = Project.open(tmp_path / "p")
    assert again.settings["version"] in versions
    got = poses_from_labels(again.labels)
    matches = [
        k
        for k, v in versions.items()
        if np.array_equal(got.frames, v.frames)
        and np.allclose(got.points, v.points, equal_nan=True, atol=1e-6)
    ]
    assert len(matches) == 1
    assert _leftovers(tmp_path / "p") == []


def test_ensure_writable_fails_fast_on_a_full_or_read_only_disk(tmp_path):
    from napari_leap.io.atomic import ensure_writable

    ensure_writable(tmp_path / "not" / "made" / "yet")
    assert list(tmp_path.iterdir()) == []
    with tiny_tmpfs(tmp_path / "fs") as fs:
        with open(fs / "filler", "wb") as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 65536)
        with pytest.raises(OSError) as info:
            ensure_writable(fs / "models" / "m")
        assert info.value.errno == errno.ENOSPC and info.value.filename == str(fs / "models" / "m")
        (fs / "filler").unlink()
        subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
        with pytest.raises(OSError) as info:
            ensure_writable(fs / "models" / "m")
        assert info.value.errno == errno.EROFS and is_user_error(info.value)
