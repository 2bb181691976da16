"""The streaming pass: every animal found in every frame, its identity kept, head-up.

``iter_align`` streams the video once (memory does not grow with its length:
only a few numbers per frame and animal are kept), then resolves the head/tail
choice along each track. Lost animals (no blob) keep the last known centre and
heading (carried forward; the first frames before an animal is ever seen take
its first known position); they are flagged ``"lost"``. Frames that cannot be
decoded are treated the same way and flagged ``"unreadable"``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import numpy as np

from napari_leap.align.alignment.options import (
    AlignProgress,
    check_box_size,
    check_n_animals,
    default_box_size,
    resolve_options,
)
from napari_leap.align.alignment.readers import prefetch, sample_frames
from napari_leap.align.alignment.store import Alignment, Measures
from napari_leap.align.detect import Blob, Detector, DetectorConfig, make_detector, to_gray
from napari_leap.align.identity import assign, motion_evidence, resolve_encounters, wrap
from napari_leap.errors import LeapError
from napari_leap.io.video import frame_reader
from napari_leap.progress import run_to_end


def setup_detector(
    video,
    n_animals: int = 1,
    saved_background: np.ndarray | None = None,
    saved_length: float = float("nan"),
    sampled: np.ndarray | None = None,
    **options,
) -> Detector:
    """The detector :func:`iter_align` would use on ``video``: the one way to build one.

    Background, polarity, threshold and animal size, for a live preview with
    :func:`detect_frame`, or for ``iter_align(part_of_video, detector=...)``
    (samples from the whole video). ``options``: the alignment options
    (:data:`DEFAULT_OPTIONS`).

    ``saved_background``, ``saved_length``: :attr:`Alignment.background` and
    ``animal_length`` of an earlier alignment of the same scene, used instead of the
    video's own background when they agree (see :func:`~napari_leap.align.detect.background_agrees`).
    ``sampled``: frames already taken with :func:`sample_frames` from ``video`` (a live
    preview keeps them while the settings change); None: sampled now (not to be
    confused with the ``samples`` option, how many to take).
    """
    opts = resolve_options(options)
    if sampled is None:
        _, sampled = sample_frames(frame_reader(video)[0], int(opts["samples"]))
    config = DetectorConfig.from_options(opts)
    return make_detector(sampled, n_animals, config, saved_background, saved_length)


def detect_frame(detector: Detector, frame: np.ndarray, cue_sign: float = 1.0):
    """``(centers (k, 2), headings (k,), blobs)`` found in one frame.

    The heading comes from the image cue alone (no temporal smoothing), for a preview.
    """
    blobs = detector.detect(to_gray(frame))
    centers = np.array([b.center for b in blobs], float).reshape(-1, 2)
    heads = np.array([b.axis + (np.pi if cue_sign * b.cue < 0 else 0.0) for b in blobs], float)
    return centers, wrap(heads), blobs


@dataclass
class _Tracks:
    """Per frame and animal what the pass measured, and what it carries to the next frame."""

    n_frames: int
    n_animals: int
    length: float  # typical animal length, px
    centers: np.ndarray = field(init=False)
    axes: np.ndarray = field(init=False)
    cues: np.ndarray = field(init=False)
    found: np.ndarray = field(init=False)
    merged: np.ndarray = field(init=False)
    areas: np.ndarray = field(init=False)
    unreadable: np.ndarray = field(init=False)  # cleared for every frame that decodes
    errors: list[str] = field(default_factory=list)

    def __post_init__(self):
        shape = (self.n_frames, self.n_animals)
        self.centers = np.full((*shape, 2), np.nan)
        self.axes, self.cues = np.zeros(shape), np.zeros(shape)
        self.found, self.merged = np.zeros(shape, bool), np.zeros(shape, bool)
        self.areas = np.full(shape, np.nan)
        self.unreadable = np.ones(self.n_frames, bool)
        self.prev_c = np.full((self.n_animals, 2), np.nan)
        self.prev_ax = np.zeros(self.n_animals)
        self.prev_area = np.full(self.n_animals, np.nan)
        self.velocity = np.zeros((self.n_animals, 2))  # smoothed px/frame, through encounters
        self.seen_last = np.zeros(self.n_animals, bool)

    def predicted(self) -> np.ndarray:
        """Where each animal should be now: last centre plus velocity (NaN where unknown)."""
        return self.prev_c + np.where(self.seen_last[:, None], self.velocity, 0.0)

    def add(self, i: int, blobs: list[Blob], predicted: np.ndarray) -> None:
        """Give this frame's blobs to the animals they continue (``predicted``: see above)."""
        self.unreadable[i] = False
        seen_now = np.zeros(self.n_animals, bool)
        if blobs:
            bc = np.array([b.center for b in blobs])
            bax = np.array([b.axis for b in blobs])
            barea = np.array([np.nan if b.merged else b.area for b in blobs])
            match = assign(predicted, self.prev_ax, self.prev_area, bc, bax, barea, self.length)
            for a, j in enumerate(match):
                if j >= 0:
                    seen_now[a] = True
                    self._take(i, a, blobs[j])
        self.seen_last = seen_now

    def _take(self, i: int, a: int, b: Blob) -> None:
        """Blob ``b`` is animal ``a`` on frame ``i``."""
        if self.seen_last[a]:
            self.velocity[a] = 0.6 * self.velocity[a] + 0.4 * (b.center - self.prev_c[a])
        else:
            self.velocity[a] = 0.0
        self.centers[i, a] = b.center
        self.axes[i, a] = b.axis
        self.cues[i, a] = b.cue
        self.found[i, a] = True
        self.merged[i, a] = b.merged
        self.areas[i, a] = b.area
        self.prev_c[a] = b.center
        self.prev_ax[a] = b.axis
        if not b.merged:
            prev = self.prev_area[a]
            self.prev_area[a] = b.area if not np.isfinite(prev) else (0.9 * prev + 0.1 * b.area)

    def unread(self, error: Exception) -> None:
        """A frame that could not be decoded: nobody is seen on it."""
        self.errors.append(str(error))
        self.seen_last[:] = False


def _one_view(reader) -> None:
    """Refuse a folder of images of several sizes: a background model needs one camera's view.

    Training and prediction pad such images (a DeepLabCut folder of a rig's crops).
    """
    sizes = getattr(reader, "sizes", None)
    if sizes:
        desc = ", ".join(f"{w}x{h}" for h, w in sizes)
        raise LeapError(
            f"the images have different sizes ({desc}), so they are not one camera's view and "
            "background alignment cannot model its background; align each size's images "
            "apart, or train with learned alignment (--align learned)."
        )


def iter_align(
    video,
    n_animals: int = 1,
    box_size: int | None = None,
    detector: Detector | None = None,
    **options,
) -> Generator[AlignProgress, None, Alignment]:
    """Generator form of :func:`align`: yields :class:`AlignProgress`, returns the Alignment.

    ``detector``: one set up already (:func:`setup_detector`), e.g. on the whole
    video when ``video`` is a part of it, so the background is not sampled from
    the part alone. Closing the generator (``gen.close()``, or a napari worker's
    ``quit()``) stops decoding at once.
    """
    opts = resolve_options(options)
    n_animals = check_n_animals(n_animals)
    reader, path = frame_reader(video)
    _one_view(reader)
    n_frames, height, width, _ = (int(v) for v in reader.shape)
    if box_size is not None:
        box_size = check_box_size(box_size, height, width)
    det = detector
    if det is None:
        yield AlignProgress(0, 1, "background", "sampling frames for the background")
        _, samples = sample_frames(reader, int(opts["samples"]))
        yield AlignProgress(1, 1, "background", "sampling frames for the background")
        det = setup_detector(reader, n_animals, sampled=samples, **options)
        del samples
    _check_detector(det, n_animals, height, width)
    opts.update(_used_options(det, opts))
    if box_size is None:
        box_size = check_box_size(default_box_size(det.animal_length), height, width)
    length = det.animal_length if np.isfinite(det.animal_length) else 50.0
    tracks = _Tracks(n_frames, n_animals, length)
    yield from _track(reader, det, tracks)
    if not tracks.found.any():
        raise LeapError(
            f"no animal was found on any of the {n_frames} frames; check the polarity (light "
            "animals on a dark background, or dark on light) or give a lower threshold."
        )
    result = _result(tracks, box_size, opts, reader, path)
    result.background = det.background
    result.resolve_headings()
    yield AlignProgress(n_frames, n_frames, "done", "aligned")
    return result


def _check_detector(det: Detector, n_animals: int, height: int, width: int) -> None:
    """Refuse a detector set up for another number of animals or frame size."""
    if det.n_animals != n_animals or det.background.shape != (height, width):
        raise LeapError(
            f"the detector was set up for {det.n_animals} animal(s) in "
            f"{det.background.shape[1]}x{det.background.shape[0]} px frames, not "
            f"{n_animals} in {width}x{height} px; set it up on this video."
        )


def _used_options(det: Detector, opts: dict) -> dict:
    """The detection settings the detector measured, so ``Alignment.options`` repeats them."""
    return {
        "polarity": det.polarity,
        "threshold": float(det.threshold),
        "core_threshold": None if det.core_threshold is None else float(det.core_threshold),
        "scale": det.scale,
        "background": det.options.get("background", opts["background"]),
    }


def _track(reader, det: Detector, tracks: _Tracks) -> Generator[AlignProgress, None, None]:
    """Decode every frame (one step ahead) and follow the animals through it."""
    n_frames = tracks.n_frames
    every = max(1, n_frames // 200)
    yield AlignProgress(0, n_frames, "align", "finding animals")
    for i, frame in prefetch(reader, range(n_frames), tolerate=True):
        if isinstance(frame, Exception):
            tracks.unread(frame)
            continue
        predicted = tracks.predicted()
        known = np.all(np.isfinite(predicted), axis=1).any()
        blobs = det.detect(to_gray(frame), previous=predicted if known else None)
        tracks.add(i, blobs, predicted)
        if i % every == 0 or i == n_frames - 1:
            yield AlignProgress(i + 1, n_frames, "align", "finding animals")


def _result(tracks: _Tracks, box_size: int, opts: dict, reader, path) -> Alignment:
    """The Alignment of the pass: identities checked through encounters, lost frames filled."""
    t = tracks
    arrays = (t.axes, t.cues, t.found, t.merged, t.areas)
    encounters = resolve_encounters(t.centers, t.found, t.merged, t.areas, t.length, arrays=arrays)
    uncertain = np.zeros((t.n_frames, t.n_animals), bool)
    for s, e, certain in encounters:
        if not certain:
            uncertain[e, t.merged[s:e].any(axis=0)] = True
    _fill_lost(t.centers, t.axes, t.found)
    motion = np.stack(
        [motion_evidence(t.centers[:, a], t.axes[:, a], t.length) for a in range(t.n_animals)], 1
    )
    measures = Measures(t.axes, t.cues, motion, t.found, t.merged, t.length)
    result = Alignment(t.centers, t.axes.copy(), box_size, opts, reader, path, None, measures)
    result.identity_uncertain = uncertain
    result.unreadable = t.unreadable
    result.read_errors = t.errors[:5]
    return result


def _fill_lost(centers: np.ndarray, axes: np.ndarray, found: np.ndarray) -> None:
    """Carry the last known centre and axis over frames where an animal is lost."""
    for a in range(found.shape[1]):
        seen = np.flatnonzero(found[:, a])
        if len(seen) == 0:
            continue
        # index of the last found frame at or before each frame (first found before it)
        last = np.maximum.accumulate(np.where(found[:, a], np.arange(len(found)), -1))
        last[last < 0] = seen[0]
        centers[:, a] = centers[last, a]
        axes[:, a] = axes[last, a]


def align(
    video,
    n_animals: int = 1,
    box_size: int | None = None,
    progress: Callable[[AlignProgress], None] | None = None,
    **options,
) -> Alignment:
    """Find ``n_animals`` animals in every frame of ``video`` and align them head-up.

    ``video``: a path (anything :func:`napari_leap.io.video.open_video` reads)
    or an array of frames (e.g. from ``open_video``). ``box_size``: pixels;
    default 1.4 times the measured animal length. ``progress``: called with
    each :class:`AlignProgress`. ``options``: see :data:`DEFAULT_OPTIONS`;
    ``Alignment.options`` records the values used, so
    ``align(other_video, n, b, **alignment.options)`` repeats it.
    """
    return run_to_end(iter_align(video, n_animals, box_size, **options), progress)
