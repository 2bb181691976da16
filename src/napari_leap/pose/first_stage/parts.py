"""Which two body parts learned alignment finds: the anchor and the heading part."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

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
    """The candidate lying farthest from the heading part.

    The median over instances where both are placed, on at least half of those with the
    heading part: the longer the vector, the finer the heading at the first stage's
    small scale.
    """
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


def spec_parts(spec: dict) -> Parts:
    """The two parts a model's alignment spec names."""
    nodes = list(spec["nodes"])
    return Parts(nodes.index(spec["anchor"]), nodes.index(spec["heading_part"]), "")
