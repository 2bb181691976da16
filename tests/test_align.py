"""Alignment on synthetic videos: transforms, polarity, several animals, empty frames, files."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import write_video
from napari_leap.align.alignment import (
    Alignment,
    align,
    correct_headings,
    iter_align,
    write_boxes,
)
from napari_leap.align.identity import wrap
from napari_leap.errors import LeapError

# -- synthetic animals ---------------------------------------------------------------------------


def draw_animal(img, center, heading, length=40, width=16, body=150, head=235, light=True):
    """An ellipse body with a brighter (or darker) head disc at the front end."""
    import cv2

    cx, cy = center
    ux, uy = np.cos(heading), np.sin(heading)
    scale = 16  # sub-pixel drawing
    sh = 4

    def p(x, y):
        return int(round(x * scale)), int(round(y * scale))

    b = body if light else 255 - body
    h = head if light else 255 - head
    cv2.ellipse(
        img,
        p(cx, cy),
        (int(length / 2 * scale), int(width / 2 * scale)),
        np.degrees(heading),
        0,
        360,
        int(b),
        -1,
        cv2.LINE_AA,
        sh,
    )
    cv2.circle(
        img,
        p(cx + 0.32 * length * ux, cy + 0.32 * length * uy),
        int(0.42 * width * scale),
        int(h),
        -1,
        cv2.LINE_AA,
        sh,
    )


def make_video(tracks, n_frames, size=(160, 200), light=True, seed=0, sizes=None, blank=()):
    """Frames ``(n, H, W, 1)`` and true ``(n, animals, 2)`` centres / ``(n, animals)`` headings.

    ``tracks``: per animal a function ``t -> (x, y, heading)``.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[:h, :w]
    base = (30 + 10 * np.sin(xx / 9.0) * np.cos(yy / 13.0)).astype(np.float64)
    if not light:
        base = 255 - base
    frames = np.empty((n_frames, h, w, 1), np.uint8)
    centers = np.zeros((n_frames, len(tracks), 2))
    heads = np.zeros((n_frames, len(tracks)))
    for t in range(n_frames):
        img = np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)
        for a, track in enumerate(tracks):
            x, y, hd = track(t)
            centers[t, a] = x, y
            heads[t, a] = hd
            if t in blank:
                continue
            length = 40 if sizes is None else sizes[a]
            draw_animal(img, (x, y), hd, length=length, width=length * 0.4, light=light)
        frames[t, ..., 0] = img
    return frames, centers, wrap(heads)


def circle_track(cx, cy, r, speed, phase=0.0, clockwise=False):
    sgn = -1 if clockwise else 1

    def f(t):
        th = phase + sgn * speed * t
        x, y = cx + r * np.cos(th), cy + r * np.sin(th)
        heading = th + sgn * np.pi / 2  # walking forward along the circle
        return x, y, heading

    return f


def errors(al, centers, heads):
    """Per true animal: (matched aligned index per frame, centre error, heading error in deg)."""
    n, k = heads.shape
    idx = np.zeros((n, k), int)
    cerr = np.zeros((n, k))
    herr = np.zeros((n, k))
    for t in range(n):
        for a in range(k):
            d = np.linalg.norm(al.centers[t] - centers[t, a], axis=1)
            j = int(np.nanargmin(d))
            idx[t, a] = j
            cerr[t, a] = d[j]
            herr[t, a] = np.degrees(abs(wrap(al.angles[t, j] - heads[t, a])))
    return idx, cerr, herr


# -- transforms --------------------------------------------------------------------------------


def _random_alignment(rng, n_frames=5, n_animals=3, box=64):
    centers = rng.uniform(-50, 500, (n_frames, n_animals, 2))
    angles = rng.uniform(-np.pi, np.pi, (n_frames, n_animals))
    return Alignment(centers, angles, box)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**31 - 1),
    box=st.integers(4, 400),
    lead=st.lists(st.integers(1, 4), min_size=0, max_size=3),
    scalar=st.booleans(),
)
def test_box_video_round_trip_is_exact(seed, box, lead, scalar):
    rng = np.random.default_rng(seed)
    al = _random_alignment(rng, box=box)
    pts = rng.uniform(-1000, 1000, (*lead, 2))
    if scalar or not lead:
        frame, animal = int(rng.integers(5)), int(rng.integers(3))
    else:  # arrays aligned with the leading dimensions of the points
        frame = rng.integers(0, 5, lead[:1])
        animal = rng.integers(0, 3, lead[:1])
    back = al.box_to_video(al.video_to_box(pts, frame, animal), frame, animal)
    np.testing.assert_allclose(back, pts, atol=1e-6, rtol=0)
    again = al.video_to_box(al.box_to_video(pts, frame, animal), frame, animal)
    np.testing.assert_allclose(again, pts, atol=1e-6, rtol=0)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**31 - 1), box=st.integers(4, 300), r=st.floats(0.5, 100))
def test_centre_maps_to_box_centre_and_head_points_up(seed, box, r):
    rng = np.random.default_rng(seed)
    al = _random_alignment(rng, box=box)
    f, a = 2, 1
    c = al.centers[f, a]
    h = al.angles[f, a]
    cb = (box - 1) / 2
    np.testing.assert_allclose(al.video_to_box(c, f, a), [cb, cb], atol=1e-9)
    head = c + r * np.array([np.cos(h), np.sin(h)])
    np.testing.assert_allclose(al.video_to_box(head, f, a), [cb, cb - r], atol=1e-7)
    # the matrix is the same map, and a proper rotation (no mirror)
    m = al.affine(f, a)
    pts = rng.uniform(-100, 100, (7, 2))
    np.testing.assert_allclose(pts @ m[:, :2].T + m[:, 2], al.video_to_box(pts, f, a), atol=1e-9)
    assert np.linalg.det(m[:, :2]) == pytest.approx(1.0)


def test_batched_transform_matches_per_row():
    rng = np.random.default_rng(3)
    al = _random_alignment(rng)
    pts = rng.uniform(0, 400, (6, 13, 2))
    frames = rng.integers(0, 5, 6)
    animals = rng.integers(0, 3, 6)
    batch = al.video_to_box(pts, frames, animals)
    for k in range(6):
        np.testing.assert_allclose(batch[k], al.video_to_box(pts[k], frames[k], animals[k]))


def test_warp_puts_the_animal_centred_head_up():
    frames, centers, heads = make_video([lambda t: (90.0, 70.0, 2.3)], 1)
    al = Alignment(centers, heads, 64, video=frames)
    box = np.asarray(al.boxes[0, 0, ..., 0], float)
    assert box.shape == (64, 64)
    top, bottom = box[:32].sum(), box[32:].sum()
    cy, cx = np.unravel_index(np.argmax(box), box.shape)
    assert cy < 32 and abs(cx - 31.5) < 4  # brightest (head) above the centre
    mass = box - np.median(box)
    mass[mass < 50] = 0
    ys, xs = np.nonzero(mass)
    assert abs(xs.mean() - 31.5) < 1.5  # centred left-right
    assert top > bottom


# -- detection ---------------------------------------------------------------------------------


@pytest.mark.parametrize("light", [True, False], ids=["light_on_dark", "dark_on_light"])
def test_polarity_is_found_and_animal_aligned(light):
    frames, centers, heads = make_video([circle_track(100, 80, 40, 0.05)], 60, light=light)
    al = align(frames, 1)
    assert al.options["polarity"] == ("light" if light else "dark")
    _, cerr, herr = errors(al, centers, heads)
    assert np.median(cerr) < 1.0
    assert np.median(herr) < 5 and herr.max() < 20
    assert (al.flags == "").mean() > 0.95


def test_explicit_polarity_and_threshold_are_recorded():
    frames, centers, heads = make_video([circle_track(100, 80, 40, 0.05)], 30, light=False)
    al = align(frames, 1, polarity="dark on light", threshold=40)
    assert al.options["polarity"] == "dark" and al.options["threshold"] == 40
    with pytest.raises(LeapError, match="polarity"):
        align(frames, 1, polarity="sideways")


def test_several_animals_keep_their_identity():
    tracks = [
        circle_track(60, 55, 30, 0.06),
        circle_track(150, 55, 30, 0.05, phase=1.0, clockwise=True),
        circle_track(105, 120, 25, 0.07, phase=2.0),
    ]
    frames, centers, heads = make_video(tracks, 80, size=(170, 220))
    al = align(frames, 3)
    idx, cerr, herr = errors(al, centers, heads)
    for a in range(3):  # each true animal is the same aligned index in every frame
        assert len(set(idx[:, a])) == 1
    assert len(set(idx[0])) == 3
    assert np.median(cerr) < 1.0 and np.percentile(herr, 99) < 10


def test_touching_animals_are_split_not_swapped():
    # two animals of different size walk towards each other, touch side by side, part again
    def a(t):
        return 60 + 1.6 * min(t, 25) - 1.6 * max(t - 35, 0), 80.0, 0.0

    def b(t):
        return 140 - 1.6 * min(t, 25) + 1.6 * max(t - 35, 0), 97.0, np.pi

    frames, centers, heads = make_video([a, b], 60, sizes=[48, 36])
    al = align(frames, 2)
    idx, cerr, herr = errors(al, centers, heads)
    assert len(set(idx[:, 0])) == 1 and len(set(idx[:, 1])) == 1 and idx[0, 0] != idx[0, 1]
    assert any("merged" in f for f in al.flags[:, 0])  # touching is flagged, not hidden
    assert np.median(cerr) < 2.0
    assert np.median(herr) < 10


def test_animals_crossing_keep_their_identity_after_the_encounter():
    # same size, paths cross in an X: while they overlap the split is ambiguous (flagged
    # "merged"); afterwards each identity continues its own straight path
    def a(t):
        return 40 + 2.5 * t, 40 + 1.5 * t, np.arctan2(1.5, 2.5)

    def b(t):
        return 40 + 2.5 * t, 130 - 1.5 * t, np.arctan2(-1.5, 2.5)

    frames, centers, heads = make_video([a, b], 60, size=(170, 220))
    al = align(frames, 2)
    idx, cerr, herr = errors(al, centers, heads)
    touching = np.flatnonzero(np.char.find(al.flags[:, 0], "merged") >= 0)
    assert len(touching) > 5
    apart = np.setdiff1d(np.arange(60), np.arange(touching[0], touching[-1] + 1))
    assert len(set(idx[apart, 0])) == 1 and len(set(idx[apart, 1])) == 1
    assert idx[apart[0], 0] != idx[apart[0], 1]
    assert np.median(herr[apart]) < 5


def test_empty_frames_are_flagged_lost_and_carried_forward():
    frames, centers, heads = make_video([circle_track(100, 80, 40, 0.05)], 50, blank=range(20, 26))
    al = align(frames, 1)
    assert all("lost" in al.flags[t, 0] for t in range(20, 26))
    assert "lost" not in al.flags[19, 0] and "lost" not in al.flags[26, 0]
    # documented: a lost animal keeps its last known centre and heading
    np.testing.assert_array_equal(al.centers[20:26, 0], np.repeat(al.centers[19:20, 0], 6, 0))
    assert np.all(al.angles[20:26, 0] == al.angles[19, 0])
    assert al.boxes[22].compute().shape == (1, al.box_size, al.box_size, 1)


def test_video_with_no_animal_is_a_clear_error():
    """Frames of background and noise only: an all-NaN alignment would be an empty result."""
    frames, _, _ = make_video([circle_track(100, 80, 40, 0.05)], 12, blank=range(12))
    with pytest.raises(LeapError, match="no animal was found on any of the 12 frames"):
        align(frames, 2, box_size=32)


def test_box_larger_than_the_frame_is_a_clear_error():
    frames, _, _ = make_video([circle_track(100, 80, 40, 0.05)], 5)
    with pytest.raises(LeapError, match=r"box size 300 px is larger than the frame \(200x160 px\)"):
        align(frames, 1, box_size=300)
    with pytest.raises(LeapError, match="at least 1"):
        align(frames, 0)
    with pytest.raises(LeapError, match="unknown alignment option"):
        align(frames, 1, colour="red")


def test_default_box_size_comes_from_the_animal_length():
    frames, _, _ = make_video([circle_track(100, 80, 40, 0.05)], 20)
    al = align(frames, 1)
    assert 40 <= al.box_size <= 80 and al.box_size % 8 == 0


# -- corrections -------------------------------------------------------------------------------


def test_flip_turns_the_run_and_back():
    frames, centers, heads = make_video([circle_track(100, 80, 40, 0.05)], 40)
    al = align(frames, 1)
    before = al.angles.copy()
    changed = al.flip(10, 0)
    assert changed[0] == 0 and changed[-1] == 39  # one run: the whole smooth track
    np.testing.assert_allclose(np.abs(wrap(al.angles - before)), np.pi, atol=1e-9)
    al.flip(5, 0)
    np.testing.assert_allclose(wrap(al.angles - before), 0, atol=1e-9)


def test_flip_stops_at_a_heading_jump():
    angles = np.zeros((30, 1))
    angles[15:] = np.pi  # a 180-degree jump at frame 15
    al = Alignment(np.full((30, 1, 2), 50.0), angles, 32)
    assert "heading_jump" in al.flags[15, 0]
    changed = al.flip(20, 0)
    assert changed[0] == 15 and changed[-1] == 29
    assert np.allclose(np.abs(wrap(al.angles[:, 0])), 0)
    assert (al.flags == "").all()


def test_labels_correct_a_cue_that_points_backwards():
    frames, centers, heads = make_video([circle_track(100, 80, 40, 0.05)], 60)
    al = align(frames, 1, cue_sign=-1.0, motion_weight=0.0)  # pretend the cue is backwards
    _, _, herr = errors(al, centers, heads)
    assert np.median(herr) > 170
    f = np.array([5, 30, 50])
    u = np.stack([np.cos(heads[f, 0]), np.sin(heads[f, 0])], 1)
    report = correct_headings(al, f, centers[f, 0] + 10 * u, centers[f, 0] - 5 * u)
    assert report["checked"] == 3 and report["disagreed"] == 3 and report["cue_sign"] == 1.0
    _, _, herr = errors(al, centers, heads)
    assert np.median(herr) < 5 and herr.max() < 20


# -- streaming, files, CLI ---------------------------------------------------------------------


def test_generator_reports_progress_and_stops_when_closed():
    frames, _, _ = make_video([circle_track(100, 80, 40, 0.05)], 400)
    gen = iter_align(frames, 1)
    events = []
    for ev in gen:
        events.append(ev)
        if ev.stage == "align" and ev.done > 20:
            break
    gen.close()
    assert events[-1].total == 400 and events[-1].done < 400
    assert not any(t.name == "napari-leap-prefetch" and t.is_alive() for t in threading.enumerate())
    seen = []
    al = align(frames[:30], 1, progress=seen.append)
    assert seen[-1].stage == "done" and seen[-1].done == seen[-1].total == 30
    assert al.n_frames == 30


def test_memory_does_not_grow_with_video_length():
    import tracemalloc

    from napari_leap.io.video import ArrayReader

    frames, _, _ = make_video([circle_track(100, 80, 40, 0.05)], 20)

    class Endless(ArrayReader):
        def __init__(self, n):
            super().__init__(frames)
            self.shape = (n, *frames.shape[1:])

        def read(self, i):
            return frames[int(i) % len(frames)].copy()

    peaks = []
    for n in (100, 600):
        tracemalloc.start()
        align(Endless(n), 1, box_size=32, samples=10)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    frame_bytes = frames[0].nbytes
    # 500 more frames would cost 16 MB if frames were kept; a few numbers per frame is < 1 MB
    assert peaks[1] - peaks[0] < 0.1 * 500 * frame_bytes


def test_save_load_write_boxes_and_cli(tmp_path):
    import zarr

    frames, centers, heads = make_video(
        [circle_track(70, 80, 30, 0.06), circle_track(140, 80, 30, 0.05, clockwise=True)], 30
    )
    video = write_video(tmp_path / "two.mp4", frames[..., 0][..., None])
    al = align(video, 2, box_size=48)
    al.flip(3, 1)
    out = al.save(tmp_path / "al")
    al.save(out)  # saving again replaces the arrays; one set stays
    assert len(list(out.glob("arrays*.npz"))) == 1
    back = Alignment.load(out)
    np.testing.assert_array_equal(back.centers, al.centers)
    np.testing.assert_array_equal(back.angles, al.angles)
    np.testing.assert_array_equal(back.flags, al.flags)
    assert back.options == al.options and back.box_size == 48 and back.pins == al.pins
    np.testing.assert_array_equal(back.boxes[7].compute(), al.boxes[7].compute())
    write_boxes(al, tmp_path / "boxes.zarr")
    z = zarr.open_array(str(tmp_path / "boxes.zarr"), mode="r")
    assert z.shape == (30, 2, 48, 48, 1) and z.chunks == (1, 2, 48, 48, 1)
    np.testing.assert_array_equal(z[12], al.boxes[12].compute())
    # a save interrupted before its json is written leaves the previous one readable
    import napari_leap.io.atomic as atomic

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    al.flip(10, 0)
    orig = atomic.atomic_write_text
    atomic.atomic_write_text = crash
    try:
        with pytest.raises(OSError):
            al.save(out)
    finally:
        atomic.atomic_write_text = orig
    np.testing.assert_array_equal(Alignment.load(out).angles, back.angles)
    # repeat the same alignment on the video from the recorded options
    again = align(video, 2, 48, **al.options)
    np.testing.assert_allclose(again.centers, align(video, 2, 48).centers)

    import argparse

    from napari_leap.commands import align as cmd

    parser = argparse.ArgumentParser()
    cmd.add_parser(parser)
    args = parser.parse_args(
        [
            str(video),
            "--animals",
            "2",
            "--box-size",
            "40",
            "--out",
            str(tmp_path / "cli"),
            "--quiet",
        ]
    )
    assert cmd.run(args) == 0
    assert Alignment.load(tmp_path / "cli").box_size == 40
    assert zarr.open_array(str(tmp_path / "cli" / "boxes.zarr"), mode="r").shape == (
        30,
        2,
        40,
        40,
        1,
    )
    args = parser.parse_args([str(video), "--box-size", "999", "--out", str(tmp_path / "x")])
    with pytest.raises(LeapError, match="larger than the frame"):
        cmd.run(args)
    args = parser.parse_args([str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "x")])
    with pytest.raises(LeapError, match="does not exist"):
        cmd.run(args)


def test_open_video_array_and_top_level_call(tmp_path):
    import napari_leap
    import napari_leap.align.alignment  # noqa: F401 - the package attribute is now the module
    from napari_leap.io.video import open_video

    frames, centers, heads = make_video([circle_track(100, 80, 40, 0.05)], 24)
    video = write_video(tmp_path / "one.mp4", frames)
    arr = open_video(video)
    by_path = align(video, 1, 48)
    by_array = napari_leap.align(arr, 1, 48)  # the package is callable: the documented entry
    np.testing.assert_array_equal(by_array.centers, by_path.centers)
    assert by_array.video_path == by_path.video_path  # the frame source was found in the graph
    grey_layer = napari_leap.align(arr[..., 0], 1, 48)  # what a napari layer of a grey video holds
    np.testing.assert_array_equal(grey_layer.centers, by_path.centers)


def test_undecodable_frames_are_flagged_and_the_rest_is_aligned(tmp_path):
    import zarr

    from napari_leap.align.alignment import MAX_BAD_RUN
    from napari_leap.io.video import ArrayReader, VideoError

    frames, centers, heads = make_video([circle_track(100, 80, 40, 0.05)], 80)

    class Damaged(ArrayReader):
        """Frames 30-33 are damaged; from 60 on the file is cut (nothing decodes)."""

        def read(self, i):
            if 30 <= i < 34 or i >= 60:
                raise VideoError(f"frame {i} cannot be decoded; the file may be truncated.")
            return super().read(i)

    al = align(Damaged(frames), 1)
    assert al.unreadable[30:34].all() and al.unreadable[60:].all()
    assert not al.unreadable[:30].any() and not al.unreadable[34:60].any()
    assert all(f == "unreadable" for f in al.flags[60:, 0])
    assert "frame 30" in al.read_errors[0]
    _, cerr, herr = errors(al, centers, heads)
    good = ~al.unreadable
    assert np.median(cerr[good]) < 1 and np.median(herr[good]) < 5
    al._video = Damaged(frames)
    assert int(al.boxes[31].compute().max()) == 0  # lazily too: black, no error
    write_boxes(al, tmp_path / "b.zarr")
    z = zarr.open_array(str(tmp_path / "b.zarr"), mode="r")
    assert int(np.asarray(z[31]).max()) == 0 and int(np.asarray(z[70]).max()) == 0
    assert int(np.asarray(z[40]).max()) > 100
    assert MAX_BAD_RUN < 20  # the cut tail is not retried frame by frame


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path):
    import subprocess
    import sys

    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    frames, _, _ = make_video([circle_track(100, 80, 40, 0.05)], 10)
    video = write_video(tmp_path / "ok.mp4", frames)
    cases = {
        "does not exist": [str(tmp_path / "missing.mp4")],
        "not a video": [str(text)],
        "larger than the frame": [str(video), "--box-size", "4000"],
        "at least 1": [str(video), "--animals", "0"],
    }
    for expected, argv in cases.items():
        out = tmp_path / "out"
        r = subprocess.run(
            [sys.executable, "-m", "napari_leap.cli", "align", *argv, "--out", str(out), "-q"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 2, (argv, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], r.stderr
        assert not out.exists()  # nothing half-written


def test_with_box_size_keeps_centres_and_headings():
    a = Alignment(
        np.array([[[50.0, 40.0]]]), np.array([[0.7]]), box_size=32, frame_shape=(100, 120, 1)
    )
    b = a.with_box_size(48)
    assert (b.box_size, a.box_size) == (48, 32)
    p = np.array([[55.0, 42.0]])
    np.testing.assert_allclose(b.video_to_box(p, 0, 0) - 47 / 2, a.video_to_box(p, 0, 0) - 31 / 2)
    np.testing.assert_allclose(b.box_to_video(b.video_to_box(p, 0, 0), 0, 0), p, atol=1e-9)


def test_setup_detector_keeps_given_samples_and_is_the_pass_detector():
    """The Align dock samples a video once and sets detectors up for each setting from it."""
    from napari_leap.align.alignment import sample_frames, setup_detector
    from napari_leap.align.detect import DetectorConfig
    from napari_leap.io.video import frame_reader

    frames, _, _ = make_video([circle_track(100, 80, 40, 0.05)], 40)
    _, samples = sample_frames(frame_reader(frames)[0])
    own = setup_detector(frames, 1, polarity="light")
    kept = setup_detector(frames, 1, sampled=samples, polarity="light", threshold=None)
    np.testing.assert_array_equal(kept.background, own.background)
    assert (kept.threshold, kept.animal_length) == (own.threshold, own.animal_length)
    al = align(frames, 1, polarity="light")
    assert al.options["threshold"] == own.threshold and al.options["polarity"] == "light"
    assert al.animal_length == own.animal_length
    config = DetectorConfig.from_options({"polarity": "dark", "turn_weight": 3.0})
    assert config == DetectorConfig(polarity="dark")  # the heading options are not the detector's
