"""Align a video: every animal found, its identity kept, cropped and rotated head-up.

``align(video, n_animals, box_size)`` streams the video once (memory does not
grow with its length: only a few numbers per frame and animal are kept),
then resolves the head/tail choice along each track and returns an
:class:`Alignment`. ``iter_align`` is the same as a generator of
:class:`AlignProgress` events (``return`` value: the Alignment) for a napari
``thread_worker`` or a tqdm bar; closing it stops the work.

Conventions (see CONTRIBUTING): points are ``x, y`` with pixel centres at
integers. ``angles`` is the heading, the direction from the centre towards
the head in image coordinates (x right, y down), ``atan2(dy, dx)``. A box is
``box_size`` pixels square, the animal's centre at ``((B-1)/2, (B-1)/2)`` and
its head up (towards row 0)::

    p_box = R (p_video - centre) + c_box,   p_video = R^T (p_box - c_box) + centre
    R = [[-sin a, cos a], [-cos a, -sin a]]   (rotation taking the heading to (0, -1))

Lost animals (no blob) keep the last known centre and heading (carried
forward; the first frames before an animal is ever seen take its first
known position); they are flagged ``"lost"``. An animal never seen at all
has NaN centres and black boxes. Frames that cannot be decoded (a damaged or
cut file) are treated the same way and flagged ``"unreadable"``; the rest of
the video is still aligned.

Flags (comma-separated in ``Alignment.flags``, "" when fine): ``unreadable``,
``lost``, ``merged`` (touching animals, split), ``identity_uncertain`` (after
an encounter, two identity assignments fit about equally), ``heading_jump``
(> 90 degrees from the previous frame), ``cue_disagrees`` (the chosen heading
goes against a confident image cue), ``labels_disagree`` (a labelled frame
pointed the other way, see :func:`correct_headings`).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import threading
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_leap.align.detect import Detector, make_detector, sample_indices, to_gray
from napari_leap.align.identity import (
    assign,
    evidence,
    motion_evidence,
    resolve_encounters,
    smooth_headings,
    wrap,
)
from napari_leap.errors import LeapError
from napari_leap.io.video import frame_reader, keyframe_indices
from napari_leap.progress import run_to_end

FORMAT_VERSION = 1
#: alignment options with their defaults; ``Alignment.options`` holds the values used
DEFAULT_OPTIONS = {
    "polarity": "auto",  # "auto", "light" (light animal on dark) or "dark"
    "threshold": None,  # grey-level contrast; None: Otsu on sampled frames
    "background": "auto",  # "auto", "percentile" or "none" (plain threshold)
    "scale": None,  # detection downscale factor; None: from the frame size
    "samples": 40,  # frames sampled for the background and the animal size
    "min_area": None,  # px; None: a tenth of an animal
    "core_threshold": None,  # contrast of the body core used for the axis; None: measured
    "cue_weight": 1.0,
    "motion_weight": 0.5,
    "turn_weight": 8.0,
    "cue_sign": 1.0,  # -1 when labels showed the image cue points to the tail
}
FLAG_REASONS = (
    "unreadable",
    "lost",
    "merged",
    "identity_uncertain",
    "heading_jump",
    "cue_disagrees",
    "labels_disagree",
)


@dataclass
class AlignProgress:
    """One progress event: ``done`` of ``total`` steps of ``stage``."""

    done: int
    total: int
    stage: str = "align"
    message: str = ""


# -- reading frames ------------------------------------------------------------------------------


#: consecutive undecodable frames after which the rest of a video is taken as unreadable
MAX_BAD_RUN = 8


def _prefetch(reader, indices: Iterable[int], depth: int = 6, tolerate: bool = False) -> Generator:
    """``(i, frame)`` for each index, decoded one step ahead in a thread; closing stops it.

    ``tolerate``: a frame that cannot be decoded (a :class:`LeapError` such as a
    truncated file) comes as ``(i, error)`` instead of ending the stream; after
    :data:`MAX_BAD_RUN` such frames in a row the stream ends early.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work():
        bad = 0
        try:
            for i in indices:
                if stop.is_set():
                    break
                try:
                    frame = reader.read(int(i))
                    bad = 0
                except LeapError as e:
                    if not tolerate:
                        raise
                    frame, bad = e, bad + 1
                item = (i, frame)
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if bad >= MAX_BAD_RUN:
                    break
        except BaseException as e:  # noqa: BLE001 - re-raised in the consumer
            q.put(e)
        finally:
            close = getattr(reader, "close", None)
            if close is not None:
                close()  # this thread's decoder
            q.put(done)

    thread = threading.Thread(target=work, name="napari-leap-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.05)
        thread.join()


def sample_frames(reader, n: int = 40, run: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, frames)``: about ``n`` frames spread over the video, cheap to decode.

    Seeking in a compressed video decodes from the previous keyframe, so when
    keyframes are sparse the samples are taken at keyframes plus a few frames
    decoded forward (``run`` at most), instead of evenly.
    """
    n_frames = int(reader.shape[0])
    idx = sample_indices(n_frames, n)
    keys = keyframe_indices(reader)
    if keys is not None and len(keys) and n_frames / len(keys) > 2 * run and len(keys) < n:
        per = int(np.ceil(n / len(keys)))
        step = max(1, run // per)
        idx = np.unique(np.clip(keys[:, None] + step * np.arange(per)[None], 0, n_frames - 1))
    good, frames, error = [], [], None
    for i in idx:
        try:
            frames.append(reader.read(int(i)))
            good.append(int(i))
        except LeapError as e:  # a damaged frame is no reason to give up: sample the others
            error = error or e
    if not frames:
        raise error if error is not None else LeapError("the video has no frames.")
    return np.asarray(good), np.stack(frames)


# -- options ------------------------------------------------------------------------------------


def _options(options: dict) -> dict:
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise LeapError(
            f"unknown alignment option(s) {', '.join(unknown)}; known: {', '.join(DEFAULT_OPTIONS)}."
        )
    out = dict(DEFAULT_OPTIONS)
    out.update({k: v for k, v in options.items() if v is not None or k == "threshold"})
    return out


def default_box_size(animal_length: float, factor: float = 1.4) -> int:
    """A box that holds the animal at any rotation: ``factor`` times its length, multiple of 8."""
    if not np.isfinite(animal_length) or animal_length <= 0:
        return 64
    return int(max(16, int(np.ceil(factor * animal_length / 8.0)) * 8))


def _check_box_size(box_size, height: int, width: int) -> int:
    try:
        b = int(box_size)
    except (TypeError, ValueError):
        raise LeapError(f"box size must be a whole number of pixels (got {box_size!r}).") from None
    if b != box_size and not (isinstance(box_size, float) and box_size.is_integer()):
        raise LeapError(f"box size must be a whole number of pixels (got {box_size!r}).")
    if b < 4:
        raise LeapError(f"box size {b} px is too small; use at least 4 px.")
    if b > min(height, width):
        raise LeapError(
            f"box size {b} px is larger than the frame ({width}x{height} px); "
            f"choose at most {min(height, width)} px."
        )
    return b


# -- detection on one frame (live preview) --------------------------------------------------------


def _detector(samples, n_animals: int, opts: dict, saved=None) -> Detector:
    """A detector from sampled frames and the resolved alignment options; ``saved``:
    ``(background, animal length)`` of an earlier alignment of the scene, or None."""
    image, length = saved if saved is not None else (None, float("nan"))
    return make_detector(
        samples,
        n_animals,
        opts["polarity"],
        opts["threshold"],
        opts["background"],
        opts["scale"],
        opts["min_area"],
        opts["core_threshold"],
        saved_background=image,
        saved_length=length,
    )


def setup_detector(
    video,
    n_animals: int = 1,
    saved_background: np.ndarray | None = None,
    saved_length: float = float("nan"),
    **options,
) -> Detector:
    """The detector :func:`iter_align` would use on ``video`` (background, polarity,
    threshold, animal size), for a live preview with :func:`detect_frame`, or for
    ``iter_align(part_of_video, detector=...)`` (samples from the whole video).

    ``saved_background``, ``saved_length``: :attr:`Alignment.background` and
    ``animal_length`` of an earlier alignment of the same scene, used instead of the
    video's own background when they agree (see :func:`~napari_leap.align.detect.background_agrees`).
    """
    opts = _options(options)
    reader, _ = frame_reader(video)
    _, samples = sample_frames(reader, int(opts["samples"]))
    saved = None if saved_background is None else (saved_background, saved_length)
    return _detector(samples, n_animals, opts, saved)


def detect_frame(detector: Detector, frame: np.ndarray, cue_sign: float = 1.0):
    """``(centers (k, 2), headings (k,), blobs)`` found in one frame, heading from the image
    cue alone (no temporal smoothing)."""
    blobs = detector.detect(to_gray(frame))
    centers = np.array([b.center for b in blobs], float).reshape(-1, 2)
    heads = np.array([b.axis + (np.pi if cue_sign * b.cue < 0 else 0.0) for b in blobs], float)
    return centers, wrap(heads), blobs


# -- the streaming pass -------------------------------------------------------------------------


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
    opts = _options(options)
    try:
        n_animals = int(n_animals)
    except (TypeError, ValueError):
        raise LeapError(
            f"the number of animals must be a whole number (got {n_animals!r})."
        ) from None
    if n_animals < 1:
        raise LeapError(f"the number of animals must be at least 1 (got {n_animals}).")
    reader, path = frame_reader(video)
    n_frames, height, width, channels = (int(v) for v in reader.shape)
    if box_size is not None:
        box_size = _check_box_size(box_size, height, width)
    det = detector
    if det is None:
        yield AlignProgress(0, 1, "background", "sampling frames for the background")
        _, samples = sample_frames(reader, int(opts["samples"]))
        yield AlignProgress(1, 1, "background", "sampling frames for the background")
        det = _detector(samples, n_animals, opts)
        del samples
    if det.n_animals != n_animals or det.background.shape != (height, width):
        raise LeapError(
            f"the detector was set up for {det.n_animals} animal(s) in "
            f"{det.background.shape[1]}x{det.background.shape[0]} px frames, not "
            f"{n_animals} in {width}x{height} px; set it up on this video."
        )
    opts.update(
        polarity=det.polarity,
        threshold=float(det.threshold),
        core_threshold=None if det.core_threshold is None else float(det.core_threshold),
        scale=det.scale,
        background=det.options.get("background", opts["background"]),
    )
    if box_size is None:
        box_size = _check_box_size(default_box_size(det.animal_length), height, width)

    a_n = n_animals
    centers = np.full((n_frames, a_n, 2), np.nan)
    axes = np.zeros((n_frames, a_n))
    cues = np.zeros((n_frames, a_n))
    found = np.zeros((n_frames, a_n), bool)
    merged = np.zeros((n_frames, a_n), bool)
    areas = np.full((n_frames, a_n), np.nan)
    prev_c = np.full((a_n, 2), np.nan)
    prev_ax = np.zeros(a_n)
    prev_area = np.full(a_n, np.nan)
    velocity = np.zeros((a_n, 2))  # smoothed px/frame, for predicting through encounters
    seen_last = np.zeros(a_n, bool)
    length = det.animal_length if np.isfinite(det.animal_length) else 50.0
    every = max(1, n_frames // 200)
    yield AlignProgress(0, n_frames, "align", "finding animals")
    unreadable = np.ones(n_frames, bool)  # cleared for every frame that decodes
    errors: list[str] = []
    for i, frame in _prefetch(reader, range(n_frames), tolerate=True):
        if isinstance(frame, Exception):
            errors.append(str(frame))
            seen_last[:] = False
            continue
        unreadable[i] = False
        predicted = prev_c + np.where(seen_last[:, None], velocity, 0.0)
        known = np.all(np.isfinite(predicted), axis=1)
        blobs = det.detect(to_gray(frame), previous=predicted if known.any() else None)
        seen_now = np.zeros(a_n, bool)
        if blobs:
            bc = np.array([b.center for b in blobs])
            bax = np.array([b.axis for b in blobs])
            barea = np.array([np.nan if b.merged else b.area for b in blobs])
            match = assign(predicted, prev_ax, prev_area, bc, bax, barea, length)
            for a, j in enumerate(match):
                if j < 0:
                    continue
                b = blobs[j]
                seen_now[a] = True
                if seen_last[a]:
                    velocity[a] = 0.6 * velocity[a] + 0.4 * (b.center - prev_c[a])
                else:
                    velocity[a] = 0.0
                centers[i, a] = b.center
                axes[i, a] = b.axis
                cues[i, a] = b.cue
                found[i, a] = True
                merged[i, a] = b.merged
                areas[i, a] = b.area
                prev_c[a] = b.center
                prev_ax[a] = b.axis
                if not b.merged:
                    prev_area[a] = (
                        b.area
                        if not np.isfinite(prev_area[a])
                        else (0.9 * prev_area[a] + 0.1 * b.area)
                    )
        seen_last = seen_now
        if i % every == 0 or i == n_frames - 1:
            yield AlignProgress(i + 1, n_frames, "align", "finding animals")

    if not found.any():
        raise LeapError(
            f"no animal was found on any of the {n_frames} frames; check the polarity (light "
            "animals on a dark background, or dark on light) or give a lower threshold."
        )

    encounters = resolve_encounters(
        centers, found, merged, areas, length, arrays=(axes, cues, found, merged, areas)
    )
    uncertain = np.zeros((n_frames, a_n), bool)
    for s, e, certain in encounters:
        if not certain:
            uncertain[e, merged[s:e].any(axis=0)] = True
    _fill_lost(centers, axes, found)
    motion = np.stack([motion_evidence(centers[:, a], axes[:, a], length) for a in range(a_n)], 1)
    result = Alignment(
        centers=centers,
        angles=axes.copy(),
        box_size=box_size,
        options=opts,
        video=reader,
        video_path=path,
        frame_shape=(height, width, channels),
        axes=axes,
        cues=cues,
        motion=motion,
        found=found,
        merged=merged,
        animal_length=length,
    )
    result.identity_uncertain = uncertain
    result.unreadable = unreadable
    result.background = det.background
    result.read_errors = errors[:5]
    result.resolve_headings()
    yield AlignProgress(n_frames, n_frames, "done", "aligned")
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


# -- the result ---------------------------------------------------------------------------------


def _rotation(angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cos-like, sin-like) entries: R = [[-s, c], [-c, -s]] with c, s = cos a, sin a."""
    return np.cos(angles), np.sin(angles)


class _BoxArray:
    """Array-like ``(frames, animals, box, box, channels)``: each read warps one frame."""

    ndim = 5
    dtype = np.dtype(np.uint8)

    def __init__(self, alignment: Alignment):
        self.alignment = alignment
        a = alignment
        self.shape = (a.n_frames, a.n_animals, a.box_size, a.box_size, a.frame_shape[2])

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        first, rest = key[0], key[1:]
        if isinstance(first, (int, np.integer)):
            out = self.alignment.frame_boxes(int(first))
            return out[rest] if rest else out
        frames = np.arange(self.shape[0])[first]
        out = np.empty((len(frames), *self.shape[1:]), np.uint8)
        for k, f in enumerate(frames):
            out[k] = self.alignment.frame_boxes(int(f))
        return out[(slice(None), *rest)] if rest else out


class Alignment:
    """Centres, headings and box transforms of every animal in every frame.

    Attributes: ``centers`` ``(frames, animals, 2)`` x, y; ``angles``
    ``(frames, animals)`` heading in radians; ``box_size``; ``flags``
    ``(frames, animals)`` strings, comma-separated reasons from
    :data:`FLAG_REASONS` ("" when fine); ``options`` (the alignment options
    used); ``video_path``. ``boxes`` is a lazy dask array recomputed from the video.
    """

    def __init__(
        self,
        centers,
        angles,
        box_size: int,
        flags=None,
        options=None,
        video=None,
        video_path=None,
        frame_shape=None,
        axes=None,
        cues=None,
        motion=None,
        found=None,
        merged=None,
        animal_length=float("nan"),
    ):
        self.centers = np.asarray(centers, dtype=np.float64)
        self.angles = wrap(np.asarray(angles, dtype=np.float64))
        if self.centers.ndim != 3 or self.centers.shape[2] != 2:
            raise LeapError(f"centers must be (frames, animals, 2); got {self.centers.shape}.")
        shape = self.centers.shape[:2]
        self.box_size = int(box_size)
        self.options = dict(DEFAULT_OPTIONS if options is None else options)
        if video is not None and not hasattr(video, "read"):
            video, found_path = frame_reader(video)
            video_path = video_path if video_path is not None else found_path
        self._video = video
        self.video_path = None if video_path is None else Path(video_path)
        if frame_shape is None and video is not None:
            frame_shape = tuple(int(v) for v in video.shape[1:4])
        self.frame_shape = None if frame_shape is None else tuple(int(v) for v in frame_shape)
        self.axes = np.asarray(self.angles if axes is None else axes, float).copy()
        self.cues = np.zeros(shape) if cues is None else np.asarray(cues, float)
        self.motion = np.zeros(shape) if motion is None else np.asarray(motion, float)
        self.found = np.ones(shape, bool) if found is None else np.asarray(found, bool)
        self.merged = np.zeros(shape, bool) if merged is None else np.asarray(merged, bool)
        self.animal_length = float(animal_length)
        self.pins: dict[int, dict[int, int]] = {}  # animal -> frame -> state fixed by hand/labels
        self.labels_disagree = np.zeros(shape, bool)
        self.identity_uncertain = np.zeros(shape, bool)
        self.unreadable = np.zeros(shape[0], bool)  # frames that could not be decoded
        self.read_errors: list[str] = []  # the first decoding errors, for the report
        #: grey background the animals were found against (None when not known)
        self.background: np.ndarray | None = None
        if flags is None:
            self.flags = np.full(shape, "", dtype="U64")
            self._update_flags()
        else:
            self.flags = np.asarray(flags, dtype="U64")
        self._boxes = None

    # -- shape -----------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        return self.centers.shape[0]

    @property
    def n_animals(self) -> int:
        return self.centers.shape[1]

    @property
    def animals_never_found(self) -> int:
        """Tracks whose animal was found on no frame (more animals asked for than there are)."""
        return int((~self.found.any(axis=0)).sum())

    def __repr__(self) -> str:
        n_flag = int((self.flags != "").sum())
        return (
            f"Alignment({self.n_frames} frames, {self.n_animals} animals, box {self.box_size} px, "
            f"{n_flag} flagged, video={self.video_path})"
        )

    def with_box_size(self, box_size: int) -> Alignment:
        """The same centres and headings cut into boxes of another size (e.g. a model's)."""
        import copy

        if self.frame_shape is not None:
            box_size = _check_box_size(box_size, *self.frame_shape[:2])
        other = copy.copy(self)
        other.box_size = int(box_size)
        other._boxes = None
        return other

    # -- headings ----------------------------------------------------------------------------
    def evidence(self) -> np.ndarray:
        """Per frame and animal: evidence that the head is at the +axis end."""
        o = self.options
        cues = self.cues * float(o.get("cue_sign", 1.0))
        found_cues = np.abs(cues[self.found & (cues != 0)])
        scale = float(np.median(found_cues)) if found_cues.size else 1.0
        ev = evidence(
            cues,
            self.motion,
            scale,
            float(o.get("cue_weight", 1.0)),
            float(o.get("motion_weight", 0.5)),
        )
        ev[~self.found] = 0.0
        return ev

    def _states(self) -> np.ndarray:
        """0 where the heading is the axis direction, 1 where it is opposite."""
        return (np.abs(wrap(self.angles - self.axes)) > np.pi / 2).astype(int)

    def resolve_headings(self) -> None:
        """(Re)choose every heading from the image cue, motion and continuity, keeping pins."""
        ev = self.evidence()
        turn = float(self.options.get("turn_weight", 8.0))
        for a in range(self.n_animals):
            states = smooth_headings(self.axes[:, a], ev[:, a], turn, self.pins.get(a))
            self.angles[:, a] = wrap(self.axes[:, a] + np.pi * states)
        self._update_flags()

    def _update_flags(self, animals: Iterable[int] | None = None) -> None:
        ev = self.evidence()
        states = self._states()
        signed = np.where(states == 0, ev, -ev)
        jump = np.zeros(self.angles.shape, bool)
        jump[1:] = np.abs(wrap(np.diff(self.angles, axis=0))) > np.pi / 2
        jump &= self.found & np.vstack([self.found[:1], self.found[:-1]])
        unreadable = np.repeat(self.unreadable[:, None], self.n_animals, axis=1)
        reasons = {
            "unreadable": unreadable,
            "lost": ~self.found & ~unreadable,
            "merged": self.merged,
            "heading_jump": jump,
            "cue_disagrees": self.found & (signed < -1.0),
            "labels_disagree": self.labels_disagree,
            "identity_uncertain": self.identity_uncertain,
        }
        animals = range(self.n_animals) if animals is None else list(animals)
        for a in animals:
            col = np.full(self.n_frames, "", dtype=object)
            for name in FLAG_REASONS:
                m = reasons[name][:, a]
                col[m] = np.where(col[m] == "", name, col[m] + "," + name)
            self.flags[:, a] = col.astype("U64")

    def flagged(self) -> list[tuple[int, int, str]]:
        """``(frame, animal, reason)`` for every flagged frame and animal, in frame order."""
        f, a = np.nonzero(self.flags != "")
        return [(int(i), int(j), str(self.flags[i, j])) for i, j in zip(f, a, strict=True)]

    def run_of(self, frame: int, animal: int) -> tuple[int, int]:
        """``[start, stop)`` of the run of frames around ``frame`` whose heading changes by
        less than 90 degrees from frame to frame (a lost frame also ends a run)."""
        frame, animal = int(frame), int(animal)
        if not 0 <= frame < self.n_frames or not 0 <= animal < self.n_animals:
            raise LeapError(
                f"frame {frame}, animal {animal} is outside the alignment "
                f"({self.n_frames} frames, {self.n_animals} animals)."
            )
        ang = self.angles[:, animal]
        lost = ~self.found[:, animal]
        brk = np.zeros(self.n_frames + 1, bool)  # brk[t]: a run starts at t
        brk[0] = brk[-1] = True
        brk[1:-1] = (np.abs(wrap(np.diff(ang))) > np.pi / 2) | (lost[1:] != lost[:-1])
        starts = np.flatnonzero(brk)
        k = np.searchsorted(starts, frame, side="right")
        return int(starts[k - 1]), int(starts[k])

    def flip(self, frame: int, animal: int) -> np.ndarray:
        """Turn the heading by 180 degrees over the run of frames ``frame`` belongs to
        (see :meth:`run_of`); returns the frames changed."""
        start, stop = self.run_of(frame, animal)
        self.angles[start:stop, animal] = wrap(self.angles[start:stop, animal] + np.pi)
        pins = self.pins.setdefault(int(animal), {})
        pins[int(frame)] = int(self._states()[int(frame), int(animal)])
        self._update_flags([int(animal)])
        self._boxes = None
        return np.arange(start, stop)

    # -- transforms --------------------------------------------------------------------------
    def _pose(self, frame, animal, lead_ndim: int):
        f = np.asarray(frame)
        a = np.asarray(animal)
        if not (np.issubdtype(f.dtype, np.integer) and np.issubdtype(a.dtype, np.integer)):
            raise LeapError("frame and animal must be integers (or integer arrays).")
        if f.ndim > lead_ndim or a.ndim > lead_ndim:
            raise LeapError(
                "frame and animal arrays must not have more dimensions than the points."
            )
        f = f.reshape(f.shape + (1,) * (lead_ndim - f.ndim))  # align with leading dims
        a = a.reshape(a.shape + (1,) * (lead_ndim - a.ndim))
        c = self.centers[f, a]
        ang = self.angles[f, a]
        return c, ang

    def video_to_box(self, points, frame, animal) -> np.ndarray:
        """``(..., 2)`` x, y video points to box points of ``frame``, ``animal`` (ints, or
        integer arrays aligned with the leading dimensions of ``points``)."""
        p = np.asarray(points, dtype=np.float64)
        c, ang = self._pose(frame, animal, p.ndim - 1)
        cos, sin = _rotation(ang)
        dx, dy = p[..., 0] - c[..., 0], p[..., 1] - c[..., 1]
        cb = (self.box_size - 1) / 2.0
        return np.stack([-sin * dx + cos * dy + cb, -cos * dx - sin * dy + cb], axis=-1)

    def box_to_video(self, points, frame, animal) -> np.ndarray:
        """Inverse of :meth:`video_to_box`: ``p_video = R^T (p_box - c_box) + centre``."""
        p = np.asarray(points, dtype=np.float64)
        c, ang = self._pose(frame, animal, p.ndim - 1)
        cos, sin = _rotation(ang)
        cb = (self.box_size - 1) / 2.0
        bx, by = p[..., 0] - cb, p[..., 1] - cb
        return np.stack(
            [-sin * bx - cos * by + c[..., 0], cos * bx - sin * by + c[..., 1]], axis=-1
        )

    def affine(self, frame: int, animal: int) -> np.ndarray:
        """2x3 video -> box matrix (as ``cv2.warpAffine`` takes it)."""
        c = self.centers[int(frame), int(animal)]
        cos, sin = _rotation(self.angles[int(frame), int(animal)])
        r = np.array([[-sin, cos], [-cos, -sin]])
        cb = (self.box_size - 1) / 2.0
        return np.hstack([r, (np.array([cb, cb]) - r @ c)[:, None]])

    # -- boxes -------------------------------------------------------------------------------
    @property
    def video(self):
        """The reader of the aligned video (opened from ``video_path`` when loaded)."""
        if self._video is None:
            if self.video_path is None or not Path(self.video_path).exists():
                raise LeapError(
                    f"the aligned video {self.video_path} cannot be found; load the alignment "
                    "with Alignment.load(path, video=...) to point at it."
                )
            self._video, _ = frame_reader(self.video_path)
        return self._video

    def warp(self, frame_image: np.ndarray, frame: int, animal: int | None = None) -> np.ndarray:
        """Box(es) cut from an already decoded frame: ``(box, box, channels)`` for one
        animal, ``(animals, box, box, channels)`` when ``animal`` is None."""
        import cv2

        img = np.asarray(frame_image)
        if img.ndim == 2:
            img = img[..., None]
        b = self.box_size
        animals = range(self.n_animals) if animal is None else [int(animal)]
        out = np.zeros((len(animals), b, b, img.shape[2]), np.uint8)
        for k, a in enumerate(animals):
            if not np.all(np.isfinite(self.centers[frame, a])):
                continue
            box = cv2.warpAffine(
                img,
                self.affine(frame, a),
                (b, b),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
            out[k] = box.reshape(b, b, -1)
        return out if animal is None else out[0]

    def frame_boxes(self, frame: int) -> np.ndarray:
        """``(animals, box, box, channels)`` boxes of one frame, decoded now."""
        try:
            image = self.video.read(int(frame))
        except LeapError:
            if not self.unreadable[int(frame)]:
                raise
            b, ch = self.box_size, (self.frame_shape or (0, 0, 1))[2]
            return np.zeros((self.n_animals, b, b, ch), np.uint8)  # known damaged: black
        return self.warp(image, int(frame))

    @property
    def boxes(self):
        """Lazy dask array ``(frames, animals, box, box, channels)`` uint8, one frame per chunk."""
        if self._boxes is None:
            import dask.array as da

            arr = _BoxArray(self)
            self._boxes = da.from_array(
                arr,
                chunks=(1, *arr.shape[1:]),
                lock=False,
                fancy=False,
                asarray=False,
                meta=np.empty((0,) * 5, np.uint8),
                name=f"boxes-{id(self)}-{abs(hash(self.angles.tobytes()))}",
            )
        return self._boxes

    # -- files -------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write a folder ``path``: ``alignment.json`` and the arrays it names.

        Each file is written atomically, and the arrays go to a new file
        (``arrays-<token>.npz``) that ``alignment.json`` points to, so the json is
        the commit: an interrupted save leaves the previous alignment whole.
        Boxes are not stored: they are recomputed from the video (its path is kept).
        """
        import uuid

        from napari_leap.io.atomic import atomic_path, atomic_write_text

        path = Path(path)
        if path.exists() and not path.is_dir():
            raise LeapError(f"{path} is a file; an alignment is saved as a folder.")
        path.mkdir(parents=True, exist_ok=True)
        arrays_name = f"arrays-{uuid.uuid4().hex[:12]}.npz"
        with atomic_path(path / arrays_name) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                centers=self.centers,
                angles=self.angles,
                flags=self.flags,
                axes=self.axes,
                cues=self.cues,
                motion=self.motion,
                found=self.found,
                merged=self.merged,
                labels_disagree=self.labels_disagree,
                identity_uncertain=self.identity_uncertain,
                unreadable=self.unreadable,
                **({} if self.background is None else {"background": self.background}),
            )
        video = None if self.video_path is None else Path(self.video_path)
        meta = {
            "format": "napari-leap alignment",
            "version": FORMAT_VERSION,
            "n_frames": self.n_frames,
            "n_animals": self.n_animals,
            "box_size": self.box_size,
            "frame_shape": list(self.frame_shape) if self.frame_shape else None,
            "animal_length": self.animal_length,
            "options": self.options,
            "pins": {str(a): {str(f): s for f, s in p.items()} for a, p in self.pins.items()},
            "arrays": arrays_name,
            "video": None if video is None else str(video.resolve()),
            "video_relative": None
            if video is None
            else os.path.relpath(video.resolve(), path.resolve()),
        }
        atomic_write_text(path / "alignment.json", json.dumps(meta, indent=1))
        for old in path.glob("arrays*.npz"):  # earlier saves, no longer referenced
            if old.name != arrays_name:
                old.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | Path, video=None) -> Alignment:
        """Read a folder written by :meth:`save`; ``video`` overrides the stored video path."""
        path = Path(path)
        meta_file = path / "alignment.json"
        if not meta_file.exists():
            raise LeapError(f"{path} is not an alignment folder (no alignment.json in it).")
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != "napari-leap alignment":
            raise LeapError(f"{meta_file} is not a napari-leap alignment file.")
        arrays_file = path / meta.get("arrays", "arrays.npz")
        if not arrays_file.exists():
            raise LeapError(f"{path} is incomplete: {arrays_file.name} is missing; align again.")
        with np.load(arrays_file, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        reader, vpath = None, None
        if video is not None:
            reader, vpath = frame_reader(video)
        else:
            for cand in (
                meta.get("video"),
                meta.get("video_relative") and str(path / meta["video_relative"]),
            ):
                if cand and Path(cand).exists():
                    vpath = Path(cand)
                    break
            else:
                vpath = Path(meta["video"]) if meta.get("video") else None
        out = cls(
            centers=arrays["centers"],
            angles=arrays["angles"],
            box_size=meta["box_size"],
            flags=arrays["flags"],
            options=meta.get("options"),
            video=reader,
            video_path=vpath,
            frame_shape=meta.get("frame_shape"),
            axes=arrays.get("axes"),
            cues=arrays.get("cues"),
            motion=arrays.get("motion"),
            found=arrays.get("found"),
            merged=arrays.get("merged"),
            animal_length=meta.get("animal_length") or float("nan"),
        )
        for name in ("labels_disagree", "identity_uncertain", "unreadable", "background"):
            if name in arrays:
                setattr(out, name, arrays[name])
        out.pins = {
            int(a): {int(f): int(s) for f, s in p.items()} for a, p in meta.get("pins", {}).items()
        }
        return out


# -- labels -------------------------------------------------------------------------------------


def correct_headings(alignment: Alignment, frames, front, back, resmooth: bool = True) -> dict:
    """Check headings against labelled frames and correct them.

    ``frames`` ``(n,)``; ``front``, ``back`` ``(n, 2)`` x, y video points of two
    body parts along the body (e.g. head and thorax), one row per labelled
    animal (NaN rows are skipped). Each row is matched to the aligned animal
    nearest to its midpoint. If most labels disagree with the image cue, the
    cue's sign is reversed (``options['cue_sign']``); the labelled frames are
    then pinned and the heading path recomputed, so a correction spreads along
    the run of frames it belongs to. Returns counts
    (``checked``, ``disagreed`` before, ``changed`` animal-frames, ``cue_sign``).
    """
    frames = np.asarray(frames, int).reshape(-1)
    front = np.asarray(front, float).reshape(-1, 2)
    back = np.asarray(back, float).reshape(-1, 2)
    if not len(frames) == len(front) == len(back):
        raise LeapError("frames, front and back must have one row per labelled animal.")
    ok = np.all(np.isfinite(front), 1) & np.all(np.isfinite(back), 1)
    ok &= (frames >= 0) & (frames < alignment.n_frames)
    frames, front, back = frames[ok], front[ok], back[ok]
    before = alignment.angles.copy()
    mid = (front + back) / 2
    d = np.linalg.norm(alignment.centers[frames] - mid[:, None, :], axis=-1)
    animal = np.nanargmin(np.nan_to_num(d, nan=np.inf), axis=1) if len(frames) else np.zeros(0, int)
    heading = np.arctan2(front[:, 1] - back[:, 1], front[:, 0] - back[:, 0])
    disagree = np.abs(wrap(alignment.angles[frames, animal] - heading)) > np.pi / 2
    alignment.labels_disagree[:] = False
    alignment.labels_disagree[frames[disagree], animal[disagree]] = True
    want = (np.abs(wrap(heading - alignment.axes[frames, animal])) > np.pi / 2).astype(int)
    ev = alignment.evidence()[frames, animal]
    informative = ev != 0
    if informative.sum() >= 3:
        cue_state = (ev[informative] < 0).astype(int)
        if np.mean(cue_state != want[informative]) > 0.5:
            alignment.options["cue_sign"] = -float(alignment.options.get("cue_sign", 1.0))
    for f, a in zip(frames, animal, strict=True):
        # labels win over earlier hand flips on the same run of frames
        start, stop = alignment.run_of(int(f), int(a))
        pins = alignment.pins.get(int(a), {})
        for p in [p for p in pins if start <= p < stop]:
            del pins[p]
    for f, a, s in zip(frames, animal, want, strict=True):
        alignment.pins.setdefault(int(a), {})[int(f)] = int(s)
    if resmooth:
        alignment.resolve_headings()
    else:
        for f, a in zip(frames[disagree], animal[disagree], strict=True):
            alignment.flip(int(f), int(a))
        alignment._update_flags()
    alignment._boxes = None
    changed = int((np.abs(wrap(alignment.angles - before)) > np.pi / 2).sum())
    return {
        "checked": int(len(frames)),
        "disagreed": int(disagree.sum()),
        "changed": changed,
        "cue_sign": float(alignment.options.get("cue_sign", 1.0)),
    }


def correct_with_poses(
    alignment: Alignment, poses, front="head", back="thorax", resmooth: bool = True
) -> dict:
    """:func:`correct_headings` from labelled poses (:class:`napari_leap.model.poses.Poses`).

    ``front`` and ``back``: two body parts along the body (names or indices), by
    default head and thorax; every labelled animal with both placed is used.
    """
    nodes = list(poses.skeleton.nodes)

    def index(node):
        if isinstance(node, (int, np.integer)):
            return int(node)
        if node not in nodes:
            raise LeapError(
                f"body part {node!r} is not in the skeleton ({', '.join(nodes)}); choose two "
                "parts along the body, e.g. front='head', back='thorax'."
            )
        return nodes.index(node)

    f, b = index(front), index(back)
    pts = np.asarray(poses.points, float)  # (N, A, K, 2)
    frames = np.repeat(np.asarray(poses.frames, int), pts.shape[1])
    return correct_headings(
        alignment,
        frames,
        pts[:, :, f].reshape(-1, 2),
        pts[:, :, b].reshape(-1, 2),
        resmooth=resmooth,
    )


# -- writing boxes ------------------------------------------------------------------------------


def iter_write_boxes(
    alignment: Alignment, path: str | Path, batch: int = 16
) -> Generator[AlignProgress, None, Path]:
    """Generator form of :func:`write_boxes`; closing it leaves no partial output."""
    import zarr

    path = Path(path)
    a = alignment
    shape = (
        a.n_frames,
        a.n_animals,
        a.box_size,
        a.box_size,
        a.frame_shape[2] if a.frame_shape else a.video.shape[3],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    ok = False
    try:
        arr = zarr.create_array(
            store=str(tmp),
            shape=shape,
            chunks=(1, *shape[1:]),
            dtype="uint8",
            attributes={
                "box_size": a.box_size,
                "video": None if a.video_path is None else str(a.video_path),
                "axes": ["frame", "animal", "y", "x", "channel"],
            },
        )
        buf = np.zeros((batch, *shape[1:]), np.uint8)
        start = 0
        yield AlignProgress(0, a.n_frames, "boxes", "writing boxes")
        last = -1
        for i, frame in _prefetch(a.video, range(a.n_frames), tolerate=True):
            # an undecodable frame gets black boxes (it is flagged "unreadable")
            buf[i - start] = 0 if isinstance(frame, Exception) else a.warp(frame, i)
            last = i
            if i - start == batch - 1 or i == a.n_frames - 1:
                arr[start : i + 1] = buf[: i + 1 - start]
                start = i + 1
                yield AlignProgress(i + 1, a.n_frames, "boxes", "writing boxes")
        if last >= start:  # the video ended early (undecodable tail): the rest stays black
            arr[start : last + 1] = buf[: last + 1 - start]
        yield AlignProgress(a.n_frames, a.n_frames, "boxes", "writing boxes")
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
        ok = True
    finally:
        if not ok:
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def write_boxes(
    alignment: Alignment, path: str | Path, progress: Callable[[AlignProgress], None] | None = None
) -> Path:
    """Write every box to a zarr array ``(frames, animals, box, box, channels)`` at ``path``,
    one chunk per frame, streamed (memory does not grow with the video); the array
    appears at ``path`` only when complete."""
    return run_to_end(iter_write_boxes(alignment, path), progress)
