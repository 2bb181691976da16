"""The video reader: every format, frame exactness, laziness and clear errors."""

from __future__ import annotations

import pickle

import dask.array as da
import h5py
import numpy as np
import pytest

from conftest import CLIP, sequential_decode, synthetic_frames, write_video
from napari_leap import open_video
from napari_leap.io.video import VideoError, source_of, video_source


def test_clip_is_frame_exact_in_random_and_sequential_order():
    """Every frame of the real clip equals a sequential decode, read in shuffled order."""
    reference = sequential_decode(CLIP)
    video = open_video(CLIP)
    assert video.shape == (1500, 1024, 1024, 1)
    assert video.dtype == np.uint8
    assert video.chunks[0] == (1,) * 1500
    order = np.random.default_rng(1).permutation(1500)[:60]
    for i in order:
        np.testing.assert_array_equal(
            video[i, ..., 0].compute(), reference[i], err_msg=f"frame {i}"
        )
    source = source_of(video)
    for i in range(200, 400):  # sequential path: no re-seek between frames
        np.testing.assert_array_equal(source.read(i)[..., 0], reference[i])
    np.testing.assert_array_equal(source.read(1499)[..., 0], reference[1499])


@pytest.mark.parametrize(
    ("suffix", "codec", "options"),
    [
        (".mp4", "libx264", {"bf": "3", "g": "12"}),
        (".mkv", "libx264", {"bf": "2", "g": "7", "keyint_min": "3"}),
        (".mov", "mpeg4", None),
        (".avi", "mjpeg", None),
        (".mkv", "ffv1", None),
    ],
)
def test_containers_and_codecs_are_frame_exact(tmp_path, suffix, codec, options):
    frames = synthetic_frames(45)
    path = write_video(tmp_path / f"v{suffix}", frames, codec=codec, options=options)
    reference = sequential_decode(path)
    video = open_video(path)
    assert video.shape == (len(reference), 48, 64, 1)
    for i in [44, 0, 13, 12, 11, 30, 31, 5, 44, 2]:
        np.testing.assert_array_equal(video[i, ..., 0].compute(), reference[i])
    # lossless codec: the decode is the encoded frame itself
    if codec == "ffv1":
        np.testing.assert_array_equal(video.compute(), frames)


def test_colour_video_keeps_three_channels(tmp_path):
    path = write_video(tmp_path / "c.mp4", synthetic_frames(12, color=True))
    video = open_video(path)
    assert video.shape == (12, 48, 64, 3)
    reference = sequential_decode(path, fmt="rgb24")
    np.testing.assert_array_equal(video[7].compute(), reference[7])


def test_nothing_is_decoded_until_asked(small_video, monkeypatch):
    from napari_leap.io.video import PyAVSource

    calls = []
    original = PyAVSource.read
    monkeypatch.setattr(PyAVSource, "read", lambda self, i: calls.append(i) or original(self, i))
    video = open_video(small_video)
    _ = video[3:5].mean()
    assert calls == []
    video[20].compute()
    assert calls == [20]


def test_image_folder_natural_order(tmp_path):
    import cv2

    frames = synthetic_frames(12)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"img{i}.png"), f[..., 0])
    video = open_video(folder)
    assert video.shape == (12, 48, 64, 1)
    np.testing.assert_array_equal(video.compute(), frames)  # img10 after img9, not after img1


def test_image_folder_with_mixed_sizes_is_padded_to_the_largest(tmp_path):
    """A DLC folder mixes a rig's crops: each image keeps its pixels, black below and right."""
    import cv2

    folder = tmp_path / "mixed"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((10, 14), 7, np.uint8))
    cv2.imwrite(str(folder / "b.png"), np.full((12, 10), 9, np.uint8))
    video = open_video(folder)
    assert video.shape == (2, 12, 14, 1)
    a, b = video[0].compute()[..., 0], video[1].compute()[..., 0]
    assert (a[:10] == 7).all() and not a[10:].any()
    assert (b[:, :10] == 9).all() and not b[:, 10:].any()


@pytest.mark.parametrize("layout", ["thw", "thwc", "tchw"])
def test_hdf5_layouts(tmp_path, layout):
    frames = synthetic_frames(10)
    stored = {"thw": frames[..., 0], "thwc": frames, "tchw": np.moveaxis(frames, -1, 1)}[layout]
    path = tmp_path / "boxes.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("meta/other", data=np.zeros(3))
        f.create_dataset("box", data=stored, chunks=(1, *stored.shape[1:]))
    video = open_video(path)
    assert video.shape == (10, 48, 64, 1)
    np.testing.assert_array_equal(video.compute(), frames)
    np.testing.assert_array_equal(open_video(f"{path}:box")[4].compute(), frames[4])


def test_zarr_array(tmp_path):
    import zarr

    frames = synthetic_frames(9, color=True)
    z = zarr.open_array(
        str(tmp_path / "v.zarr"),
        mode="w",
        shape=frames.shape,
        dtype="u1",
        chunks=(1, *frames.shape[1:]),
    )
    z[:] = frames
    video = open_video(tmp_path / "v.zarr")
    np.testing.assert_array_equal(video.compute(), frames)


def test_source_pickles_for_distributed_workers(small_video):
    source = video_source(small_video)
    first = source.read(5)
    clone = pickle.loads(pickle.dumps(source))
    np.testing.assert_array_equal(clone.read(5), first)
    video = open_video(small_video)
    assert isinstance(video, da.Array)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(video))[5].compute(), first)


def test_out_of_range_frame_has_a_clear_error(small_video):
    with pytest.raises(IndexError, match="out of range"):
        video_source(small_video).read(40)


def _missing(tmp):
    return tmp / "missing.mp4"


def _empty(tmp):
    (tmp / "empty.mp4").write_bytes(b"")
    return tmp / "empty.mp4"


def _text(tmp):
    (tmp / "text.mp4").write_text("not a video\n" * 50)
    return tmp / "text.mp4"


def _empty_dir(tmp):
    (tmp / "empty_dir").mkdir()
    return tmp / "empty_dir"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_missing, "does not exist"),
        (_empty, "empty"),
        (_text, "not a video"),
        (_empty_dir, "no images"),
    ],
)
def test_bad_inputs_get_one_clear_sentence(tmp_path, make, message):
    with pytest.raises((VideoError, FileNotFoundError), match=message) as info:
        open_video(make(tmp_path))
    assert "\n" not in str(info.value)


def test_truncated_video_serves_the_frames_that_decode(tmp_path):
    """A recording cut mid-stream (Matroska keeps no index at the end) still opens."""
    path = write_video(tmp_path / "full.mkv", synthetic_frames(60))
    data = path.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    video = open_video(cut)
    reference = sequential_decode(cut)
    assert 0 < video.shape[0] < 60
    assert video.shape[0] == len(reference)
    for i in range(video.shape[0]):
        np.testing.assert_array_equal(video[i, ..., 0].compute(), reference[i])


def test_truncated_mp4_without_index_is_reported(tmp_path):
    """An MP4 cut before its index cannot be decoded by anyone: say so in one sentence."""
    path = write_video(tmp_path / "full.mp4", synthetic_frames(30))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(VideoError, match="truncated|not a video"):
        open_video(cut)
