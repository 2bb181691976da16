"""Learned alignment: a first-stage network finds every animal and its heading on any background.

Trained from the same labels as the pose model (no video, no background
model): on each labelled frame, downscaled so that the animal's anchor and
heading part lie about :data:`PART_PX` pixels apart, a small U-Net learns
confidence maps of every body part (the animal's whole shape, so a neighbour's
part is not taken for its own) and is read for two, the *anchor* (e.g. a fly's
abdomen) and the *heading part* (e.g. its head). On a new frame the anchor
map's local maxima are the animals, each is paired with a heading-part peak
(Hungarian matching on how far their distance is from the labelled one), and
the angle anchor -> heading part is the heading. Identities follow by Hungarian matching across
frames (:func:`napari_leap.align.identity.assign`) and a heading does not turn
round from one frame to the next unless the network insists (:class:`Tracker`);
tracking is online, so prediction runs both stages in one pass over a video
(:mod:`napari_leap.pose.two_stage`). :func:`iter_align_learned` gives the same
as an :class:`~napari_leap.align.alignment.Alignment`, so boxes, predictions,
layers and exports are the same whichever alignment made them.

A box's centre is not the anchor itself but a fixed point of the animal's
own frame (:func:`box_geometry`): the middle of where its labelled parts lie
once head-up, so a snout/tail-base pair still centres the whole mouse.
"""

from __future__ import annotations

import math
import re
from collections.abc import Generator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from napari_leap.errors import LeapError

#: names of parts an animal faces towards, most telling first
HEADING_NAMES = ("head", "snout", "nose", "beak", "rostrum", "mouth", "face")
#: names of parts on the body's core (of these, the one farthest from the heading part anchors)
ANCHOR_NAMES = (
    "thorax",
    "centroid",
    "center",
    "centre",
    "body",
    "spine",
    "back",
    "trunk",
    "neck",
    "tailbase",
    "abdomen",
    "pelvis",
    "hip",
)
#: distance of anchor and heading part in the first stage's downscaled frame, pixels
PART_PX = 8.0
#: the first stage's input is at most this many pixels on its longer side
MAX_SIDE = 384
#: ... and at least this many on its shorter one (where the frame is that large)
MIN_SIDE = 112
#: first-stage network: a U-Net narrower than the pose model's (it runs on every frame)
FIRST_STAGE_ARCH = {"filters": 8, "depth": 4, "max_filters": 64, "output_stride": 2}
#: a peak lower than this is not an animal
PEAK_THRESHOLD = 0.2
#: the first stage's Gaussian targets, downscaled pixels
SIGMA = 3.0
#: the first stage trains on crops of at least this side (downscaled pixels)
CROP = 64
#: folder of the first stage inside a model folder
FIRST_STAGE_DIR = "align"


class LearnedAlignmentError(LeapError):
    """Labels or a model that learned alignment cannot use as they are."""


# -- which two parts ----------------------------------------------------------------------
@dataclass
class Parts:
    """The two body parts learned alignment finds, as indices into the skeleton."""

    anchor: int
    heading: int
    reason: str


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _by_name(nodes: list[str], names: tuple[str, ...], exclude: int | None = None) -> int | None:
    """The first node named like ``names`` (exactly, else as a prefix: ``head1``, ``thorax_c``)."""
    norm = [_normal(n) for n in nodes]
    for exact in (True, False):
        for want in names:
            for i, n in enumerate(norm):
                if i != exclude and (n == want if exact else n.startswith(want)):
                    return i
    return None


def _all_named(nodes: list[str], names: tuple[str, ...], exclude: int) -> list[int]:
    """Every node named like one of ``names`` (exactly or as a prefix), but ``exclude``."""
    norm = [_normal(n) for n in nodes]
    return [i for i, n in enumerate(norm) if i != exclude and any(n.startswith(w) for w in names)]


def _farthest(points: np.ndarray, heading: int, candidates: list[int]) -> int | None:
    """The candidate lying farthest from the heading part (median over instances where
    both are placed, on at least half of those with the heading part): the longer the
    vector, the finer the heading at the first stage's small scale."""
    has_h = np.isfinite(points[:, heading]).all(-1)
    best, best_d = None, -1.0
    for c in candidates:
        both = has_h & np.isfinite(points[:, c]).all(-1)
        if both.sum() == 0 or both.sum() < 0.5 * has_h.sum():
            continue
        d = float(np.median(np.linalg.norm(points[both, c] - points[both, heading], axis=-1)))
        if d > best_d:
            best, best_d = c, d
    return best


def _index(nodes: list[str], name) -> int:
    if isinstance(name, (int, np.integer)):
        return int(name)
    if name not in nodes:
        raise LearnedAlignmentError(
            f"body part {name!r} is not in the skeleton ({', '.join(nodes)}); choose one of those."
        )
    return nodes.index(name)


def choose_parts(skeleton, points: np.ndarray, anchor=None, heading_part=None) -> Parts:
    """The anchor and heading part: as given, else from names, else the most rigid pair.

    ``points`` (N, K, 2): labelled instances (NaN where not placed). Names:
    a heading part like head/snout/nose, and of the parts named like a body
    core (thorax, centroid, tailbase, abdomen, ...) the one farthest from it
    (a fly's abdomen rather than its thorax: twice the distance, so the same
    heading precision at half the first stage's resolution). Otherwise the
    pair whose distance varies least for its length over the labelled
    instances, both placed on most of them, wins (a rigid piece of the body
    gives a steady heading); of the two, the part nearer the middle of the
    animal is the anchor.
    """
    nodes = list(skeleton.nodes)
    if len(nodes) < 2:
        raise LearnedAlignmentError(
            "learned alignment needs at least two body parts (e.g. head and thorax); "
            "add one or train with --align none."
        )
    anchor = anchor if anchor is not None else getattr(skeleton, "anchor", None)
    heading_part = (
        heading_part if heading_part is not None else getattr(skeleton, "heading_part", None)
    )
    given_a = None if anchor is None else _index(nodes, anchor)
    given_h = None if heading_part is None else _index(nodes, heading_part)
    if given_a is not None and given_a == given_h:
        raise LearnedAlignmentError(
            f"the anchor and the heading part are both {nodes[given_a]!r}; choose two parts."
        )
    h = given_h if given_h is not None else _by_name(nodes, HEADING_NAMES, exclude=given_a)
    a = given_a
    if a is None and h is not None:
        a = _farthest(np.asarray(points, float), h, _all_named(nodes, ANCHOR_NAMES, exclude=h))
    if a is not None and h is not None:
        how = "as chosen" if given_a is not None and given_h is not None else "from their names"
        return Parts(a, h, f"anchor {nodes[a]}, heading part {nodes[h]} ({how})")
    a, h = _most_rigid_pair(np.asarray(points, float), fixed_anchor=given_a, fixed_heading=given_h)
    return Parts(
        a, h, f"anchor {nodes[a]}, heading part {nodes[h]} (the steadiest pair of labelled parts)"
    )


def _most_rigid_pair(points: np.ndarray, fixed_anchor=None, fixed_heading=None) -> tuple[int, int]:
    """(anchor, heading) of the pair with the least relative spread of its length."""
    k = points.shape[1]
    visible = np.isfinite(points).all(-1)  # (N, K)
    centre = np.nanmedian(np.where(visible[..., None], points, np.nan), axis=1)  # (N, 2)
    extent = np.nanmedian(
        np.nanmax(np.linalg.norm(points - centre[:, None], axis=-1), axis=1)
    )  # typical animal radius
    to_centre = np.nanmedian(np.linalg.norm(points - centre[:, None], axis=-1), axis=0)  # (K,)
    best, best_score = None, math.inf
    for i in range(k):
        for j in range(i + 1, k):
            if fixed_anchor is not None and fixed_anchor not in (i, j):
                continue
            if fixed_heading is not None and fixed_heading not in (i, j):
                continue
            both = visible[:, i] & visible[:, j]
            if both.sum() < 2:
                continue
            d = np.linalg.norm(points[both, i] - points[both, j], axis=-1)
            if np.mean(d) < 0.2 * extent:  # too short to give a direction
                continue
            score = np.std(d) / np.mean(d) + (1.0 - both.mean())
            if score < best_score:
                best, best_score = (i, j), score
    if best is None:
        raise LearnedAlignmentError(
            "no two body parts are labelled together often enough to give a heading; "
            "choose them with --anchor and --heading-part, or train with --align none."
        )
    i, j = best
    if fixed_anchor is not None:
        return fixed_anchor, j if i == fixed_anchor else i
    if fixed_heading is not None:
        return (j if i == fixed_heading else i), fixed_heading
    return (i, j) if to_centre[i] <= to_centre[j] else (j, i)


# -- the animal's own frame ----------------------------------------------------------------
def part_poses(points: np.ndarray, parts: Parts) -> tuple[np.ndarray, np.ndarray]:
    """Anchors (..., 2) and headings (...) of labelled instances (..., K, 2); NaN where unknown."""
    a = points[..., parts.anchor, :]
    h = points[..., parts.heading, :]
    angles = np.arctan2(h[..., 1] - a[..., 1], h[..., 0] - a[..., 0])
    ok = np.isfinite(a).all(-1) & np.isfinite(h).all(-1)
    return np.where(ok[..., None], a, np.nan), np.where(ok, angles, np.nan)


def _instance_alignment(centres: np.ndarray, angles: np.ndarray, box_size: int):
    """An Alignment with one 'frame' per instance: its transforms map instances to boxes."""
    from napari_leap.align.alignment import Alignment

    return Alignment(
        centers=np.asarray(centres, float).reshape(-1, 1, 2),
        angles=np.nan_to_num(np.asarray(angles, float)).reshape(-1, 1),
        box_size=box_size,
        flags=np.full((len(centres), 1), "", dtype="U64"),
    )


def to_own_frame(points: np.ndarray, anchors: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Instances (N, K, 2) in their own head-up frame: anchor at 0, heading towards -y."""
    al = _instance_alignment(anchors, angles, 1)
    idx = np.arange(len(points))[:, None]
    return al.video_to_box(points, idx, np.zeros_like(idx))


def from_own_frame(offset: np.ndarray, anchors: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Video position (N, 2) of the own-frame point ``offset`` (2,) of each animal."""
    al = _instance_alignment(anchors, angles, 1)
    n = len(anchors)
    return al.box_to_video(np.broadcast_to(offset, (n, 2)), np.arange(n), np.zeros(n, int))


def box_geometry(points: np.ndarray, parts: Parts, margin: float = 1.2) -> tuple[np.ndarray, int]:
    """``(offset, box_size)``: box centre in the animal's own frame, and a side holding it.

    The centre is the middle of the range (2nd to 98th percentile) of the
    labelled parts once head-up; the side is ``margin`` times twice the
    farthest a part lies from it on either axis (99th percentile), so the
    first stage's shift and turn errors still leave the animal inside,
    rounded up to a multiple of 16.
    """
    anchors, angles = part_poses(points, parts)
    ok = np.isfinite(angles)
    own = to_own_frame(points[ok], anchors[ok], angles[ok]).reshape(-1, 2)
    own = own[np.isfinite(own).all(-1)]
    if not len(own):
        raise LearnedAlignmentError(
            "no labelled animal has both alignment parts placed; label them or choose "
            "other parts with --anchor and --heading-part."
        )
    lo, hi = np.percentile(own, 2, axis=0), np.percentile(own, 98, axis=0)
    offset = (lo + hi) / 2
    half = float(np.percentile(np.abs(own - offset).max(-1), 99))
    return offset, int(max(32, math.ceil(2 * margin * half / 16) * 16))


# -- the first stage's frame scale -----------------------------------------------------------
def first_stage_scale(part_distance: float, frame_hw) -> float:
    """Downscale putting anchor and heading part :data:`PART_PX` apart, or more when that
    leaves less than :data:`MIN_SIDE` pixels on the frame's shorter side (large animals in
    a small frame: their headings come finer for the same cost per frame), the input at
    most :data:`MAX_SIDE` pixels long, never upscaled."""
    s = max(PART_PX / max(float(part_distance), 1.0), MIN_SIDE / min(frame_hw[:2]))
    return float(min(1.0, s, MAX_SIDE / max(frame_hw[:2])))


def scaled_hw(frame_hw, scale: float) -> tuple[int, int]:
    """The first stage's frame size: ``scale`` times the frame, rounded to what the
    network takes without padding (a 115 px side would be padded to 128: 24 % more work)."""
    m = 2 ** FIRST_STAGE_ARCH["depth"]
    return tuple(max(m, int(round(v * scale / m)) * m) for v in frame_hw[:2])


def _area_factor(frame_hw, hw) -> int:
    """The integer part of the downscale, done first by OpenCV's fast area averaging."""
    return max(1, min(int(frame_hw[0]) // int(hw[0]), int(frame_hw[1]) // int(hw[1])))


def downscale(frame: np.ndarray, hw) -> np.ndarray:
    """A frame resized to ``hw`` by area averaging (the same at training and prediction).

    First by the integer factor ``k`` (OpenCV's fast path, on the frame cut to a
    multiple of ``k``: its last ``< k`` rows and columns are left out), then by
    what remains: 0.5 ms for a 1024x1024 frame instead of 2.6 ms in one go.
    """
    import cv2

    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = frame[..., None]
    c = frame.shape[2]
    k = _area_factor(frame.shape, hw)
    if k > 1:
        h, w = frame.shape[0] // k * k, frame.shape[1] // k * k
        frame = cv2.resize(frame[:h, :w], (w // k, h // k), interpolation=cv2.INTER_AREA)
        frame = frame.reshape(h // k, w // k, c)
    if tuple(frame.shape[:2]) != tuple(hw):
        frame = cv2.resize(frame, (int(hw[1]), int(hw[0])), interpolation=cv2.INTER_AREA)
    return frame.reshape(int(hw[0]), int(hw[1]), c)


def _ratio(frame_hw, hw) -> np.ndarray:
    """x, y downscaled pixels per frame pixel (of the part of the frame :func:`downscale` uses)."""
    k = _area_factor(frame_hw, hw)
    used = [int(frame_hw[0]) // k * k, int(frame_hw[1]) // k * k]
    return np.array([hw[1] / used[1], hw[0] / used[0]])


def to_scaled(points: np.ndarray, frame_hw, hw) -> np.ndarray:
    """Frame pixels to downscaled pixels (pixel centres at integers in both)."""
    return (np.asarray(points, float) + 0.5) * _ratio(frame_hw, hw) - 0.5


def to_frame(points: np.ndarray, frame_hw, hw) -> np.ndarray:
    return (np.asarray(points, float) + 0.5) / _ratio(frame_hw, hw) - 0.5


# -- from peaks to animals ---------------------------------------------------------------------
def pair_parts(
    anchors: np.ndarray,
    anchor_scores: np.ndarray,
    heads: np.ndarray,
    head_scores: np.ndarray,
    distance: float,
    n_animals: int,
    threshold: float = PEAK_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Animals of one frame from its anchor and heading-part peaks.

    The ``n_animals`` strongest anchors above ``threshold`` are the animals;
    each takes the heading-part peak whose distance from it is closest to the
    labelled ``distance`` (Hungarian matching, so two animals never share one),
    between 0.3 and 2.5 times that distance. Returns ``centres`` (n, 2),
    ``angles`` (n,) (NaN when no heading part fits) and ``scores`` (n,), the
    anchor's confidence, for the ``n <= n_animals`` animals found, strongest first.
    """
    from scipy.optimize import linear_sum_assignment

    keep = np.flatnonzero(np.isfinite(anchors).all(-1) & (anchor_scores >= threshold))
    keep = keep[np.argsort(-anchor_scores[keep], kind="stable")][:n_animals]
    a = anchors[keep]
    angles = np.full(len(a), np.nan)
    hk = np.flatnonzero(np.isfinite(heads).all(-1) & (head_scores >= threshold / 2))
    if len(a) and len(hk):
        h = heads[hk]
        d = np.linalg.norm(h[None] - a[:, None], axis=-1)
        cost = np.abs(d - distance) / max(distance, 1e-6) + 0.1 * (1 - head_scores[hk])[None]
        bad = (d < 0.3 * distance) | (d > 2.5 * distance)
        cost[bad] = 1e6
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols, strict=True):
            if cost[r, c] < 1e6:
                v = h[c] - a[r]
                angles[r] = math.atan2(v[1], v[0])
    return a, angles, anchor_scores[keep]


class LearnedAligner:
    """The first stage of a model folder: frames in, animals (anchors, headings) out."""

    def __init__(self, spec: dict, model_dir: str | Path, device=None):
        from napari_leap.pose.trained import Preprocessor, TrainedModel

        self.spec = spec
        self.net = TrainedModel.load(Path(model_dir) / spec["first_stage"], device=device)
        self.frame_hw = tuple(spec["frame_hw"])
        self.hw = tuple(spec["scaled_hw"])
        self.n_animals = int(spec["n_animals"])
        self.distance = float(spec["part_distance"])
        self.offset = np.asarray(spec["centre_offset"], float)
        parts = _spec_parts(spec)
        self.parts = [parts.anchor, parts.heading]  # of the first stage's maps, the two read
        # fully convolutional: trained on crops, it takes whole downscaled frames
        p = self.net.preprocessor
        self.net.preprocessor = Preprocessor(
            self.hw, 1.0, p.channels, int(self.net.config["size_multiple"]), p.device
        )
        stride = self.net.output_stride
        self.radius = max(1, int(round(0.3 * PART_PX / stride)))

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """One decoded frame as the first stage takes it (runs on decoder threads)."""
        frame = np.asarray(frame)
        if frame.ndim == 2:
            frame = frame[..., None]
        if frame.shape[0] > self.frame_hw[0] or frame.shape[1] > self.frame_hw[1]:
            raise LearnedAlignmentError(
                f"the frames are {frame.shape[1]}x{frame.shape[0]} px but the model's first stage "
                f"was trained on frames of at most {self.frame_hw[1]}x{self.frame_hw[0]} px; use "
                "a model trained on frames of this size."
            )
        from napari_leap.io.video import pad_to

        return downscale(pad_to(frame, self.frame_hw), self.hw)

    def detect(self, small: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per frame of a batch of prepared frames: ``(anchors, angles, scores)`` in video px."""
        import torch

        from napari_leap.pose.confmaps import find_local_peaks

        n = 2 * self.n_animals + 2
        with torch.inference_mode():
            cm = self.net.forward_confmaps(self.net.preprocess(small))[:, self.parts]
            pts, sc = find_local_peaks(cm, self.net.output_stride, n, self.radius)
        pts = to_frame(pts.double().cpu().numpy(), self.frame_hw, self.hw)
        sc = sc.double().cpu().numpy()
        return [
            pair_parts(p[0], s[0], p[1], s[1], self.distance, self.n_animals)
            for p, s in zip(pts, sc, strict=True)
        ]

    def box_centres(self, anchors: np.ndarray, angles: np.ndarray) -> np.ndarray:
        """Box centres (..., 2) of animals at ``anchors`` (..., 2) facing ``angles`` (...)."""
        shape = anchors.shape
        a = anchors.reshape(-1, 2)
        ang = angles.reshape(-1)
        out = np.full_like(a, np.nan)
        ok = np.isfinite(a).all(-1) & np.isfinite(ang)
        if ok.any():
            out[ok] = from_own_frame(self.offset, a[ok], ang[ok])
        return out.reshape(shape)


# -- a whole video ---------------------------------------------------------------------------
#: confidence a track must see against its heading, frame after frame, before it turns round
FLIP_AFTER = 4.0


class Tracker:
    """Who is who and which way each faces, frame by frame (online, so one pass suffices).

    Animals are matched to last frame's tracks by Hungarian matching on their
    positions extrapolated with their velocity and on their orientation
    (:func:`napari_leap.align.identity.assign`). An animal does not turn round
    between two frames: a heading more than 90 degrees from its track's is
    taken as the first stage confusing head and tail, and turned back, unless
    the network insists: its confidence on frames that disagree, less that on
    frames that agree, summed (and never below 0), reaches :data:`FLIP_AFTER`
    (a few frames). So a track that started the wrong way round is put right as
    soon as the network is right more often than not. ``keep_heading=False`` (unrelated frames, such
    as a package's labelled frames) takes every heading as found. A lost animal
    keeps its last position and heading.
    """

    def __init__(self, n_animals: int, length: float, keep_heading: bool = True):
        self.length, self.keep_heading = float(length), keep_heading
        self.centres = np.full((n_animals, 2), np.nan)
        self.angles = np.full(n_animals, np.nan)
        self.velocity = np.zeros((n_animals, 2))
        self.seen = np.zeros(n_animals, bool)
        self.against = np.zeros(n_animals)

    def update(self, centres: np.ndarray, angles: np.ndarray, scores: np.ndarray):
        """One frame's animals (from :func:`pair_parts`) -> per track ``(anchors (A, 2),
        headings (A,), found (A,), confidence (A,))``; NaN for a track never seen."""
        from napari_leap.align.identity import assign

        n = len(self.seen)
        predicted = self.centres + np.where(self.seen[:, None], self.velocity, 0.0)
        found, confidence = np.zeros(n, bool), np.zeros(n)
        if len(centres):
            none = np.full(len(centres), np.nan)
            match = assign(
                predicted,
                np.nan_to_num(self.angles),
                np.full(n, np.nan),
                centres,
                np.nan_to_num(angles),
                none,
                self.length,
            )
            for a, j in enumerate(match):
                if j < 0:
                    continue
                moved = centres[j] - self.centres[a]
                self.velocity[a] = 0.6 * self.velocity[a] + 0.4 * moved if self.seen[a] else 0.0
                self.angles[a] = self._heading(a, angles[j], scores[j])
                self.centres[a] = centres[j]
                found[a] = True
                confidence[a] = scores[j] if np.isfinite(angles[j]) else 0.0
        self.seen = found
        return self.centres.copy(), self.angles.copy(), found, confidence

    def _heading(self, a: int, heading: float, score: float) -> float:
        from napari_leap.align.identity import wrap

        previous = self.angles[a]
        if not np.isfinite(heading):  # no heading part found: keep the track's
            return previous if np.isfinite(previous) else 0.0
        if not self.keep_heading or not np.isfinite(previous):
            return heading
        if abs(wrap(heading - previous)) <= np.pi / 2:  # agrees: weighs against a turn
            self.against[a] = max(0.0, self.against[a] - score)
            return heading
        self.against[a] += score
        if self.against[a] >= FLIP_AFTER:
            self.against[a] = 0.0
            return heading
        return float(wrap(heading + np.pi))

    def state(self) -> dict:
        """The arrays to save so that another process continues these tracks."""
        keys = ("centres", "angles", "velocity", "seen", "against")
        return {k: getattr(self, k).copy() for k in keys}

    def set_state(self, state: dict) -> None:
        for k, v in state.items():
            setattr(self, k, np.asarray(v).copy())


def animal_length(spec: dict) -> float:
    """The length used to weigh distances when matching tracks (twice the parts' distance)."""
    return 2.0 * float(spec["part_distance"])


class _Prepared:
    """A frame source whose ``read`` returns frames as the first stage takes them."""

    def __init__(self, reader, aligner: LearnedAligner):
        self.reader, self.aligner, self.shape = reader, aligner, reader.shape

    def read(self, i: int) -> np.ndarray:
        return self.aligner.prepare(self.reader.read(int(i)))

    def close(self) -> None:
        close = getattr(self.reader, "close", None)
        if close is not None:
            close()


def iter_align_learned(
    video, aligner: LearnedAligner, box_size: int, keep_heading: bool = True, batch: int = 32
) -> Generator:
    """Align ``video`` with the first stage; yields :class:`AlignProgress`, returns the Alignment.

    The same tracking (:class:`Tracker`) as a one-pass prediction, so the boxes
    are the ones that prediction cuts. ``keep_heading``: see :class:`Tracker`.
    """
    from napari_leap.align.alignment import Alignment, AlignProgress, _prefetch
    from napari_leap.io.video import frame_reader

    reader, path = frame_reader(video)
    n_frames, height, width, channels = (int(v) for v in reader.shape)
    a_n = aligner.n_animals
    anchors = np.full((n_frames, a_n, 2), np.nan)
    angles = np.full((n_frames, a_n), np.nan)
    scores = np.zeros((n_frames, a_n))
    found = np.zeros((n_frames, a_n), bool)
    unreadable = np.ones(n_frames, bool)
    tracker = Tracker(a_n, animal_length(aligner.spec), keep_heading)
    every = max(1, n_frames // 100)
    errors: list[str] = []
    yield AlignProgress(0, n_frames, "align", "finding animals (learned)")
    pending_i, pending = [], []

    def flush() -> None:
        if pending:
            for i, result in zip(pending_i, aligner.detect(np.stack(pending)), strict=True):
                anchors[i], angles[i], found[i], scores[i] = tracker.update(*result)
            pending_i.clear()
            pending.clear()

    for i, small in _prefetch(_Prepared(reader, aligner), range(n_frames), tolerate=True):
        if isinstance(small, Exception):
            flush()
            errors.append(str(small))
            tracker.seen[:] = False
            continue
        unreadable[i] = False
        pending_i.append(i)
        pending.append(small)
        if len(pending) == batch:
            flush()
            if i % every < batch or i == n_frames - 1:
                yield AlignProgress(i + 1, n_frames, "align", "finding animals (learned)")
    flush()
    result = Alignment(
        centers=aligner.box_centres(anchors, angles),
        angles=np.nan_to_num(angles),
        box_size=box_size,
        options={"method": "learned"},
        video=reader,
        video_path=path,
        frame_shape=(height, width, channels),
        cues=scores,
        found=found,
        animal_length=animal_length(aligner.spec),
    )
    result.unreadable = unreadable
    result.read_errors = errors[:5]
    result._update_flags()
    yield AlignProgress(n_frames, n_frames, "done", "aligned (learned)")
    return result


# -- training the first stage -----------------------------------------------------------------
def first_stage_errors(
    aligner: LearnedAligner, images: np.ndarray, anchors: np.ndarray, angles: np.ndarray
) -> dict:
    """How far the first stage is off on ``images`` (prepared frames) against labelled animals.

    ``anchors`` (N, A, 2) and ``angles`` (N, A) from the labels (NaN: no such
    animal). Each labelled animal is matched to the found animal nearest its
    anchor; returns per labelled animal the box-centre error (px) and heading
    error (degrees, NaN when missed) and the number of animals missed.
    """
    from scipy.optimize import linear_sum_assignment

    from napari_leap.align.identity import wrap

    centre_err, heading_err, missed = [], [], 0
    for s in range(0, len(images), 32):
        found = aligner.detect(images[s : s + 32])
        for i, (c, ang, _) in enumerate(found, start=s):
            ok = np.flatnonzero(np.isfinite(anchors[i]).all(-1) & np.isfinite(angles[i]))
            if not len(ok):
                continue
            if not len(c):
                missed += len(ok)
                continue
            d = np.linalg.norm(anchors[i, ok][:, None] - c[None], axis=-1)
            rows, cols = linear_sum_assignment(d)
            missed += len(ok) - len(rows)
            for r, j in zip(rows, cols, strict=True):
                if d[r, j] > aligner.distance:  # another animal's peak: this one was missed
                    missed += 1
                    continue
                true_angle = angles[i, ok[r]]
                truth = aligner.box_centres(anchors[i, ok[r]][None], np.array([true_angle]))[0]
                # no heading part found: the centre error is the anchor's, the heading is NaN
                turn = ang[j] if np.isfinite(ang[j]) else true_angle
                guess = aligner.box_centres(c[j][None], np.array([turn]))[0]
                centre_err.append(float(np.linalg.norm(guess - truth)))
                heading_err.append(float(np.degrees(abs(wrap(ang[j] - true_angle)))))
    return {
        "centre_px": np.array(centre_err),
        "heading_deg": np.array(heading_err),
        "missed": int(missed),
    }


def _spec_parts(spec: dict) -> Parts:
    nodes = list(spec["nodes"])
    return Parts(nodes.index(spec["anchor"]), nodes.index(spec["heading_part"]), "")


def labelled_poses(first, spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """Anchors (N, A, 2) in frame pixels and headings (N, A) of the first stage's labels."""
    pts = to_frame(first.points, spec["frame_hw"], spec["scaled_hw"])  # (N, A, 2, 2)
    return part_poses(pts, _spec_parts(spec))


def summarise_errors(errors: dict) -> dict:
    """Median and 95th percentile of the first stage's errors, flips and misses."""
    c, h = errors["centre_px"], errors["heading_deg"]
    turned = h[np.isfinite(h) & (h <= 90)]
    return {
        "animals": int(len(c) + errors["missed"]),
        "missed": int(errors["missed"]),
        "flips": int(np.sum(h[np.isfinite(h)] > 90)),
        "no_heading": int(np.sum(~np.isfinite(h))),
        "centre_median_px": float(np.median(c)) if len(c) else math.nan,
        "centre_p95_px": float(np.percentile(c, 95)) if len(c) else math.nan,
        "heading_median_deg": float(np.median(turned)) if len(turned) else math.nan,
        "heading_p95_deg": float(np.percentile(turned, 95)) if len(turned) else math.nan,
    }


def jitter_for(summary: dict) -> dict:
    """Second-stage augmentation matching the first stage's errors: at least LEAP's +-15
    degrees, turns up to 60 degrees (a flip is not something to learn), shifts in pixels."""
    rot = summary.get("heading_p95_deg", math.nan)
    shift = summary.get("centre_p95_px", math.nan)
    return {
        "rotation": float(min(60.0, max(15.0, rot if math.isfinite(rot) else 15.0))),
        "translate": float(shift) if math.isfinite(shift) else 0.0,
    }


def iter_train_first_stage(
    data, out_dir, *, time_limit=None, resume=False, seed=0, device=None, stop=None, epochs=60
) -> Generator:
    """Train the first stage of ``data`` (a TrainingData with ``first_stage``) into
    ``out_dir/align``; yields the trainer's events (``stage="alignment"``), returns the
    errors summary (:func:`summarise_errors`) on its validation frames."""
    from napari_leap.pose.dataset import split_blocks
    from napari_leap.pose.train import Message, iter_train

    first = data.first_stage
    spec = data.alignment
    stage_dir = Path(out_dir) / FIRST_STAGE_DIR
    done = _finished(stage_dir) if resume else None
    if done is None:
        crop = max(CROP, int(math.ceil(2 * spec["box_size"] * _scale(spec) / 16) * 16))
        gen = iter_train(
            first_stage_crops(first, crop, _spec_parts(spec).anchor, seed),
            stage_dir,
            arch="unet",
            arch_params=FIRST_STAGE_ARCH,
            input_scale=1.0,
            sigma=SIGMA,
            augment={"rotation": 180.0, "flip": True, "scale": 0.1},
            time_limit=time_limit,
            resume=resume and (stage_dir / "last.pt").exists(),
            seed=seed,
            device=device,
            stop=stop,
            epochs=epochs,
            patience=epochs,  # its few validation frames are too noisy to stop on
        )
        factor = 1.0 / float(_ratio(spec["frame_hw"], spec["scaled_hw"]).mean())
        while True:
            try:
                event = next(gen)
            except StopIteration:
                break
            yield _as_first_stage(event, factor)
    aligner = LearnedAligner(spec, out_dir, device=device)
    _, val = split_blocks(first.groups, 0.1, seed=seed)
    idx = val if len(val) else np.arange(len(first))
    anchors, angles = labelled_poses(first, spec)
    summary = summarise_errors(
        first_stage_errors(aligner, first.images[idx], anchors[idx], angles[idx])
    )
    if summary["missed"] == summary["animals"]:
        yield Message(
            f"alignment stage found none of the {summary['animals']} held-out animal(s); "
            "give it more time or labels"
        )
        return summary
    yield Message(
        f"alignment stage on {summary['animals']} held-out animal(s): box centre "
        f"{summary['centre_median_px']:.1f} px off (median; 95th percentile "
        f"{summary['centre_p95_px']:.1f}), heading {summary['heading_median_deg']:.1f} deg "
        f"(95th percentile {summary['heading_p95_deg']:.1f}), {summary['flips']} head/tail "
        f"flip(s), {summary['missed']} missed"
    )
    return summary


def _scale(spec: dict) -> float:
    return float(_ratio(spec["frame_hw"], spec["scaled_hw"]).mean())


def first_stage_crops(data, size: int, anchor: int, seed: int = 0):
    """Training crops of the first stage's downscaled frames: one around each labelled
    animal (shifted at random by up to a quarter of the crop) and one anywhere (kept
    when an animal is in it). Parts outside a crop are not its targets.

    A step on crops costs a fraction of one on whole frames and sees animals far
    more often than background, so the first stage learns in the minutes a CPU
    gives it; the network is fully convolutional and runs on whole frames. Frames
    not much larger than a crop are kept whole.
    """
    from napari_leap.pose.dataset import TrainingData

    h, w = data.input_size
    if size >= 0.75 * min(h, w):
        return data
    rng = np.random.default_rng(seed)
    images, points, groups = [], [], []
    for image, pts, group in zip(data.images, data.points, data.groups, strict=True):
        anchors = pts[:, anchor][np.isfinite(pts[:, anchor]).all(-1)]
        centres = [
            *(anchors + rng.uniform(-size / 4, size / 4, anchors.shape)),
            (rng.uniform(0, w), rng.uniform(0, h)),
        ]
        for cx, cy in centres:
            x0, y0 = int(round(cx - size / 2)), int(round(cy - size / 2))
            images.append(_crop(image, x0, y0, size))
            moved = pts - np.array([x0, y0], float)
            outside = ((moved < -0.5) | (moved > size - 0.5)).any(-1)
            points.append(np.where(outside[..., None], np.nan, moved))  # not in this crop
            groups.append(group)
    return TrainingData(
        np.stack(images),
        np.stack(points),
        data.skeleton,
        np.array(groups),
        None,
        f"{data.description}, {size}x{size} crops",
    )


def _crop(image: np.ndarray, x0: int, y0: int, size: int) -> np.ndarray:
    """``image[y0:y0+size, x0:x0+size]``, black where it runs off the image."""
    out = np.zeros((size, size, image.shape[2]), image.dtype)
    h, w = image.shape[:2]
    ys, xs = slice(max(0, y0), min(h, y0 + size)), slice(max(0, x0), min(w, x0 + size))
    if ys.start < ys.stop and xs.start < xs.stop:
        out[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0] = image[ys, xs]
    return out


def _as_first_stage(event, factor: float):
    """A trainer event of the first stage as the consumers of ``train`` see it: marked as the
    alignment stage, errors in frame pixels, and its end a message (training goes on)."""
    from napari_leap.pose.train import EpochEnd, Message, TrainFinished, TrainStarted

    if isinstance(event, TrainStarted):
        return replace(event, stage="alignment")
    if isinstance(event, EpochEnd):
        return replace(
            event,
            val_error_px=event.val_error_px * factor,
            val_error_median_px=event.val_error_median_px * factor,
            per_node_val_error=[v * factor for v in event.per_node_val_error],
        )
    if isinstance(event, TrainFinished):
        return Message(
            f"alignment stage done ({event.reason.replace('_', ' ')}): best epoch "
            f"{event.best_epoch}, validation error {event.best_val_error_px * factor:.1f} px mean"
        )
    return event


def _finished(stage_dir: Path) -> dict | None:
    """The training summary of a first stage that finished, or None."""
    import json

    cfg = stage_dir / "config.json"
    if not cfg.exists() or not (stage_dir / "best.pt").exists():
        return None
    training = json.loads(cfg.read_text()).get("training", {})
    return training if "stopped_reason" in training else None
