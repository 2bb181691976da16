"""Body parts, the edges between them and their left/right pairs.

Symmetric pairs are data, not decoration: flip augmentation swaps them, so
they travel with the project and every model folder. So do the two body parts
learned alignment finds the animal by (``anchor`` and ``heading_part``, None:
chosen when training, see :func:`napari_leap.pose.first_stage.choose_parts`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from napari_leap.errors import LeapError

_SIDE_PATTERNS = [
    # (regex capturing prefix, side, suffix) with the side written as L/R or left/right
    re.compile(r"^(?P<pre>.*?)(?P<side>left|right)(?P<post>.*)$", re.IGNORECASE),
    re.compile(r"^(?P<pre>.*?)(?P<side>[LR])(?P<post>\d*)$"),
    re.compile(r"^(?P<pre>.*?)(?P<side>[LR])(?P<post>[_\-\s].*)$"),
    re.compile(r"^(?P<pre>.*?[_\-\s])(?P<side>[LlRr])(?P<post>[_\-\s]?.*)$"),
]
_OPPOSITE = {"l": "r", "r": "l", "left": "right", "right": "left"}


def _mirror_name(name: str) -> list[str]:
    """Names the left/right counterpart of ``name`` could have."""
    out = []
    for pattern in _SIDE_PATTERNS:
        m = pattern.match(name)
        if not m:
            continue
        side = m.group("side")
        other = _OPPOSITE[side.lower()]
        if side.isupper():
            other = other.upper()
        elif side[0].isupper():
            other = other.capitalize()
        out.append(f"{m.group('pre')}{other}{m.group('post')}")
    return out


def propose_symmetries(nodes: list[str]) -> list[tuple[int, int]]:
    """Left/right pairs guessed from names: ``wingL/wingR``, ``left_ear/right_ear``, ``forelegL4/forelegR4``."""
    index = {n: i for i, n in enumerate(nodes)}
    pairs: set[tuple[int, int]] = set()
    for i, name in enumerate(nodes):
        for candidate in _mirror_name(name):
            j = index.get(candidate)
            if j is not None and j != i:
                pairs.add((min(i, j), max(i, j)))
    return sorted(pairs)


def flip_permutation(n_nodes: int, pairs) -> list[int]:
    """Part order after a left/right flip: each part of a pair takes its partner's place."""
    perm = list(range(n_nodes))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


class SkeletonError(LeapError):
    """A skeleton that cannot be used as it is (repeated names, inconsistent pairs)."""


@dataclass
class Skeleton:
    """Named body parts with edges and symmetric pairs, both as index pairs into ``nodes``."""

    nodes: list[str]
    edges: list[tuple[int, int]] = field(default_factory=list)
    symmetries: list[tuple[int, int]] = field(default_factory=list)
    name: str = "skeleton"
    anchor: str | None = None  # the part learned alignment finds each animal by (None: chosen)
    heading_part: str | None = None  # the part the animal faces towards (None: chosen)

    def __post_init__(self) -> None:
        self.nodes = [str(n) for n in self.nodes]
        for part in (self.anchor, self.heading_part):
            if part is not None and part not in self.nodes:
                raise ValueError(f"alignment part {part!r} is not a body part of the skeleton")
        if len(set(self.nodes)) != len(self.nodes):
            dup = sorted({n for n in self.nodes if self.nodes.count(n) > 1})
            raise SkeletonError(
                f"body part names must be unique, but {', '.join(dup)} appears more than once; "
                "rename or remove the repeated body part."
            )
        self.edges = [self._pair(e) for e in self.edges]
        pairs = [self._pair(s) for s in self.symmetries]
        self.symmetries = sorted({(min(p), max(p)) for p in pairs})
        seen: set[int] = set()
        for a, b in self.symmetries:
            if a == b:
                raise SkeletonError(f"{self.nodes[a]!r} cannot be its own left/right partner.")
            for k in (a, b):
                if k in seen:
                    raise SkeletonError(f"{self.nodes[k]!r} is in two left/right pairs; keep one.")
                seen.add(k)

    def _pair(self, pair) -> tuple[int, int]:
        a, b = (self.index(p) if isinstance(p, str) else int(p) for p in pair)
        for k in (a, b):
            if not 0 <= k < len(self.nodes):
                raise ValueError(f"body part index {k} is out of range (0..{len(self.nodes) - 1})")
        return (a, b)

    def __len__(self) -> int:
        return len(self.nodes)

    def index(self, node: str) -> int:
        """The index of a body part; KeyError naming the parts there are."""
        try:
            return self.nodes.index(node)
        except ValueError:
            raise KeyError(
                f"no body part named {node!r}; the skeleton has {', '.join(self.nodes)}"
            ) from None

    @property
    def edge_names(self) -> list[tuple[str, str]]:
        """Edges by body-part name."""
        return [(self.nodes[a], self.nodes[b]) for a, b in self.edges]

    @property
    def symmetry_names(self) -> list[tuple[str, str]]:
        """Left/right pairs by body-part name."""
        return [(self.nodes[a], self.nodes[b]) for a, b in self.symmetries]

    def flip_permutation(self) -> list[int]:
        """Channel order after a left/right flip: each node takes its partner's place."""
        return flip_permutation(len(self.nodes), self.symmetries)

    # -- editing (keeps indices of edges and pairs consistent) -------------------------
    def add_node(self, name: str) -> None:
        """Append a body part (names stay unique)."""
        if name in self.nodes:
            raise ValueError(f"a body part named {name!r} exists already")
        self.nodes.append(name)

    def rename_node(self, old: str, new: str) -> None:
        """Rename a body part; the alignment parts follow."""
        if new in self.nodes:
            raise ValueError(f"a body part named {new!r} exists already")
        self.nodes[self.index(old)] = new
        self.anchor = new if self.anchor == old else self.anchor
        self.heading_part = new if self.heading_part == old else self.heading_part

    def remove_node(self, name: str) -> int:
        """Remove a body part with its edges and pairs; returns its former index."""
        k = self.index(name)
        del self.nodes[k]
        self.anchor = None if self.anchor == name else self.anchor
        self.heading_part = None if self.heading_part == name else self.heading_part

        def shift(pairs):
            return [tuple(i - (i > k) for i in p) for p in pairs if k not in p]

        self.edges = shift(self.edges)
        self.symmetries = shift(self.symmetries)
        return k

    def move_node(self, name: str, new_index: int) -> list[int]:
        """Reorder; returns the permutation ``new_order[i] = old index``."""
        k = self.index(name)
        order = list(range(len(self.nodes)))
        order.insert(new_index, order.pop(k))
        self.nodes = [self.nodes[i] for i in order]
        inverse = {old: new for new, old in enumerate(order)}
        self.edges = [(inverse[a], inverse[b]) for a, b in self.edges]
        pairs = [(inverse[a], inverse[b]) for a, b in self.symmetries]
        self.symmetries = sorted((min(p), max(p)) for p in pairs)
        return order

    # -- plain-data form (files and sleap-io in napari_leap.io) -------------------------
    def to_dict(self) -> dict:
        """The manifest form: parts by name, so the file reads without the index order."""
        return {
            "name": self.name,
            "nodes": list(self.nodes),
            "edges": [list(e) for e in self.edge_names],
            "symmetries": [list(s) for s in self.symmetry_names],
            "anchor": self.anchor,
            "heading_part": self.heading_part,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Skeleton:
        """The inverse of :meth:`to_dict` (missing edges, pairs and parts: none)."""
        return cls(
            nodes=list(d["nodes"]),
            edges=[tuple(e) for e in d.get("edges", [])],
            symmetries=[tuple(s) for s in d.get("symmetries", [])],
            name=d.get("name", "skeleton"),
            anchor=d.get("anchor"),
            heading_part=d.get("heading_part"),
        )

    def __eq__(self, other) -> bool:
        if not isinstance(other, Skeleton):
            return NotImplemented
        return (
            self.nodes == other.nodes
            and sorted(self.edges) == sorted(other.edges)
            and self.symmetries == other.symmetries
        )


def retarget(values: np.ndarray, source: Skeleton, target: Skeleton) -> np.ndarray:
    """Per-part values (axis 2: ``(N, A, K, ...)``) moved onto ``target``'s parts by name.

    Files and projects may list fewer parts, or the same ones in another order;
    a part ``source`` lacks is NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.full((*values.shape[:2], len(target), *values.shape[3:]), np.nan)
    for k, name in enumerate(target.nodes):
        if name in source.nodes:
            out[:, :, k] = values[:, :, source.index(name)]
    return out
