"""The Alignment contract: centres, headings and box transforms of every animal in every frame."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_leap.align.alignment.files import read_folder, stored_video, write_folder
from napari_leap.align.alignment.geometry import affine_matrix, to_box, to_video, warp_boxes
from napari_leap.align.alignment.options import DEFAULT_OPTIONS, FLAG_REASONS, check_box_size
from napari_leap.align.identity import evidence, smooth_headings, wrap
from napari_leap.errors import LeapError
from napari_leap.io.video import frame_reader

#: the Measures' arrays, saved with an alignment
MEASURED = ("axes", "cues", "motion", "found", "merged")
#: the state set after construction, saved with an alignment when known
STATE_ARRAYS = ("labels_disagree", "identity_uncertain", "unreadable", "background")


@dataclass
class Measures:
    """What the detector saw per frame and animal, from which headings and flags are chosen.

    None: no measure (axes: the angles; cues and motion: none; found everywhere;
    merged nowhere).
    """

    axes: np.ndarray | None = None  # body axis, radians; the heading is it or it + pi
    cues: np.ndarray | None = None  # image head/tail cue along the axis
    motion: np.ndarray | None = None  # signed speed along the axis
    found: np.ndarray | None = None
    merged: np.ndarray | None = None  # touching animals, split
    animal_length: float = float("nan")


class _BoxArray:
    """Array-like ``(frames, animals, box, box, channels)``: each read warps one frame."""

    ndim = 5
    dtype = np.dtype(np.uint8)

    def __init__(self, alignment: Alignment):
        self.alignment = alignment
        a = alignment
        channels = a.frame_shape[2] if a.frame_shape else a.video.shape[3]
        self.shape = (a.n_frames, a.n_animals, a.box_size, a.box_size, channels)

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
        return out[(slice(None),) + rest] if rest else out


class Alignment:
    """Centres, headings and box transforms of every animal in every frame.

    Attributes: ``centers`` ``(frames, animals, 2)`` x, y; ``angles``
    ``(frames, animals)`` heading in radians; ``box_size``; ``flags``
    ``(frames, animals)`` strings, comma-separated reasons from
    :data:`FLAG_REASONS` ("" when fine); ``options`` (the alignment options
    used); ``video_path``; the :class:`Measures` as ``axes``, ``cues``,
    ``motion``, ``found``, ``merged``, ``animal_length``. ``boxes`` is a lazy
    dask array recomputed from the video.
    """

    def __init__(
        self,
        centers,
        angles,
        box_size: int,
        options=None,
        video=None,
        video_path=None,
        frame_shape=None,
        measures: Measures | None = None,
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
        m = measures or Measures()
        self.axes = np.asarray(self.angles if m.axes is None else m.axes, float).copy()
        self.cues = np.zeros(shape) if m.cues is None else np.asarray(m.cues, float)
        self.motion = np.zeros(shape) if m.motion is None else np.asarray(m.motion, float)
        self.found = np.ones(shape, bool) if m.found is None else np.asarray(m.found, bool)
        self.merged = np.zeros(shape, bool) if m.merged is None else np.asarray(m.merged, bool)
        self.animal_length = float(m.animal_length)
        self.pins: dict[int, dict[int, int]] = {}  # animal -> frame -> state fixed by hand/labels
        self.labels_disagree: np.ndarray = np.zeros(shape, bool)
        self.identity_uncertain: np.ndarray = np.zeros(shape, bool)
        self.unreadable: np.ndarray = np.zeros(shape[0], bool)  # frames that could not be decoded
        self.read_errors: list[str] = []  # the first decoding errors, for the report
        #: grey background the animals were found against (None when not known)
        self.background: np.ndarray | None = None
        self.flags = np.full(shape, "", dtype="U64")
        self.update_flags()
        self._boxes = None

    # -- shape -----------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        """Frames aligned."""
        return self.centers.shape[0]

    @property
    def n_animals(self) -> int:
        """Animals (tracks) per frame."""
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
            box_size = check_box_size(box_size, *self.frame_shape[:2])
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

    def states(self) -> np.ndarray:
        """0 where the heading is the axis direction, 1 where it is opposite."""
        return (np.abs(wrap(self.angles - self.axes)) > np.pi / 2).astype(int)

    def resolve_headings(self) -> None:
        """(Re)choose every heading from the image cue, motion and continuity, keeping pins."""
        ev = self.evidence()
        turn = float(self.options.get("turn_weight", 8.0))
        for a in range(self.n_animals):
            states = smooth_headings(self.axes[:, a], ev[:, a], turn, self.pins.get(a))
            self.angles[:, a] = wrap(self.axes[:, a] + np.pi * states)
        self.update_flags()
        self._boxes = None

    def update_flags(self, animals: Iterable[int] | None = None) -> None:
        """Recompute ``flags`` (of ``animals``, default all) from the measures and headings."""
        ev = self.evidence()
        signed = np.where(self.states() == 0, ev, -ev)
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
        for a in range(self.n_animals) if animals is None else list(animals):
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
        """``[start, stop)`` of the run of frames around ``frame`` with no heading jump.

        A jump is a change of more than 90 degrees from frame to frame; a lost frame
        also ends a run.
        """
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
        """Turn the heading by 180 degrees over the run ``frame`` belongs to; the frames changed.

        The run is :meth:`run_of`; the flip is pinned, so recomputed headings keep it.
        """
        start, stop = self.run_of(frame, animal)
        self.angles[start:stop, animal] = wrap(self.angles[start:stop, animal] + np.pi)
        pins = self.pins.setdefault(int(animal), {})
        pins[int(frame)] = int(self.states()[int(frame), int(animal)])
        self.update_flags([int(animal)])
        self._boxes = None
        return np.arange(start, stop)

    # -- transforms --------------------------------------------------------------------------
    def _pose(self, frame, animal, lead_ndim: int) -> tuple[np.ndarray, np.ndarray]:
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
        """``(..., 2)`` x, y video points to box points of ``frame``, ``animal``.

        ``frame``, ``animal``: ints, or integer arrays aligned with the leading
        dimensions of ``points``.
        """
        p = np.asarray(points, dtype=np.float64)
        return to_box(p, *self._pose(frame, animal, p.ndim - 1), self.box_size)

    def box_to_video(self, points, frame, animal) -> np.ndarray:
        """Inverse of :meth:`video_to_box`: ``p_video = R^T (p_box - c_box) + centre``."""
        p = np.asarray(points, dtype=np.float64)
        return to_video(p, *self._pose(frame, animal, p.ndim - 1), self.box_size)

    def affine(self, frame: int, animal: int) -> np.ndarray:
        """2x3 video -> box matrix (as ``cv2.warpAffine`` takes it)."""
        f, a = int(frame), int(animal)
        return affine_matrix(self.centers[f, a], self.angles[f, a], self.box_size)

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
        """Box(es) cut from an already decoded frame (no second decode).

        ``(box, box, channels)`` for one animal, ``(animals, box, box, channels)``
        when ``animal`` is None.
        """
        animals = list(range(self.n_animals)) if animal is None else [int(animal)]
        c, ang = self.centers[frame, animals], self.angles[frame, animals]
        out = warp_boxes(frame_image, c, ang, self.box_size)
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
        """Write a folder ``path``: ``alignment.json`` and the arrays it names (atomically).

        Boxes are not stored: they are recomputed from the video (its path is kept).
        """
        path = Path(path)
        arrays = {"centers": self.centers, "angles": self.angles, "flags": self.flags}
        arrays.update({k: getattr(self, k) for k in MEASURED})
        arrays.update({k: getattr(self, k) for k in STATE_ARRAYS if getattr(self, k) is not None})
        video = None if self.video_path is None else Path(self.video_path).resolve()
        meta = {
            "n_frames": self.n_frames,
            "n_animals": self.n_animals,
            "box_size": self.box_size,
            "frame_shape": list(self.frame_shape) if self.frame_shape else None,
            "animal_length": self.animal_length,
            "options": self.options,
            "pins": {str(a): {str(f): s for f, s in p.items()} for a, p in self.pins.items()},
            "video": None if video is None else str(video),
            "video_relative": None if video is None else os.path.relpath(video, path.resolve()),
        }
        return write_folder(path, arrays, meta)

    @classmethod
    def load(cls, path: str | Path, video=None) -> Alignment:
        """Read a folder written by :meth:`save`; ``video`` overrides the stored video path."""
        path = Path(path)
        meta, arrays = read_folder(path)
        reader, vpath = (
            frame_reader(video) if video is not None else (None, stored_video(meta, path))
        )
        measured = {k: arrays.get(k) for k in MEASURED}
        measures = Measures(**measured, animal_length=meta.get("animal_length") or float("nan"))
        out = cls(
            arrays["centers"],
            arrays["angles"],
            meta["box_size"],
            meta.get("options"),
            reader,
            vpath,
            meta.get("frame_shape"),
            measures,
        )
        out.flags = np.asarray(arrays["flags"], dtype="U64")
        for name in STATE_ARRAYS:
            if name in arrays:
                setattr(out, name, arrays[name])
        out.pins = {
            int(a): {int(f): int(s) for f, s in p.items()} for a, p in meta.get("pins", {}).items()
        }
        return out
