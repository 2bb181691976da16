"""Body parts, the edges between them and their left/right pairs.

Symmetric pairs are data, not decoration: flip augmentation swaps them, so
they travel with the project and every model folder. So do the two body parts
learned alignment finds the animal by (``anchor`` and ``heading_part``, None:
chosen when training, see :func:`napari_leap.align.learned.choose_parts`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

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


def _is_skeleton_table(path) -> bool:
    """True for a LEAP/DeepPoseKit ``name,parent,swap`` table (not a labels CSV)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        header = [c.strip().lower() for c in f.readline().split(",")]
    return "name" in header and "parent" in header


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

    def __post_init__(self):
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
        self.symmetries = sorted({tuple(sorted(self._pair(s))) for s in self.symmetries})
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
        try:
            return self.nodes.index(node)
        except ValueError:
            raise KeyError(
                f"no body part named {node!r}; the skeleton has {', '.join(self.nodes)}"
            ) from None

    @property
    def edge_names(self) -> list[tuple[str, str]]:
        return [(self.nodes[a], self.nodes[b]) for a, b in self.edges]

    @property
    def symmetry_names(self) -> list[tuple[str, str]]:
        return [(self.nodes[a], self.nodes[b]) for a, b in self.symmetries]

    def flip_permutation(self) -> list[int]:
        """Channel order after a left/right flip: each node takes its partner's place."""
        perm = list(range(len(self.nodes)))
        for a, b in self.symmetries:
            perm[a], perm[b] = b, a
        return perm

    # -- editing (keeps indices of edges and pairs consistent) -------------------------
    def add_node(self, name: str) -> None:
        if name in self.nodes:
            raise ValueError(f"a body part named {name!r} exists already")
        self.nodes.append(name)

    def rename_node(self, old: str, new: str) -> None:
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
        self.symmetries = sorted(
            tuple(sorted((inverse[a], inverse[b]))) for a, b in self.symmetries
        )
        return order

    # -- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict:
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
        return cls(
            nodes=list(d["nodes"]),
            edges=[tuple(e) for e in d.get("edges", [])],
            symmetries=[tuple(s) for s in d.get("symmetries", [])],
            name=d.get("name", "skeleton"),
            anchor=d.get("anchor"),
            heading_part=d.get("heading_part"),
        )

    def save(self, path: str | Path) -> None:
        from napari_leap.io.atomic import atomic_write_text

        path = Path(path)
        if path.suffix.lower() in (".yml", ".yaml"):
            import yaml

            text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        else:
            text = json.dumps(self.to_dict(), indent=2)
        atomic_write_text(path, text)

    @classmethod
    def load(cls, path: str | Path) -> Skeleton:
        """From JSON/YAML, or the skeleton of any labels file sleap-io reads."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix in (".yml", ".yaml"):
            import yaml

            return cls.from_dict(yaml.safe_load(path.read_text()))
        if suffix == ".json":
            return cls.from_dict(json.loads(path.read_text()))
        if suffix == ".csv" and _is_skeleton_table(path):
            return cls.from_csv(path)
        from napari_leap.io.formats import read_any_labels

        if (
            suffix == ".csv"
        ):  # a DeepLabCut CollectedData file: node order and pairs from its sidecar
            from napari_leap.io.formats import dlc_metadata

            found = dlc_metadata(path).get("skeleton")
            if found is not None:
                return found
        labels = read_any_labels(path)
        return cls.from_sleap(labels.skeletons[0])

    @classmethod
    def from_csv(cls, path: str | Path) -> Skeleton:
        """LEAP/DeepPoseKit ``name,parent,swap`` tables."""
        import csv

        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        nodes = [r["name"].strip() for r in rows]
        edges = [
            (r["parent"].strip(), r["name"].strip()) for r in rows if r.get("parent", "").strip()
        ]
        swap = {r["name"].strip(): (r.get("swap") or "").strip() for r in rows}
        # keep only mutual pairs (a one-sided swap entry is an upstream slip), then let the
        # names pair what the slip left alone (fly32: midlegR3 lists midlegL2)
        pairs = {tuple(sorted((a, b))) for a, b in swap.items() if b and swap.get(b) == a}
        paired = {n for p in pairs for n in p}
        for i, j in propose_symmetries(nodes):
            if nodes[i] not in paired and nodes[j] not in paired:
                pairs.add(tuple(sorted((nodes[i], nodes[j]))))
        return cls(nodes=nodes, edges=edges, symmetries=sorted(pairs), name=Path(path).stem)

    # -- sleap-io bridge -----------------------------------------------------------------
    def to_sleap(self):
        import sleap_io as sio

        nodes = [sio.Node(n) for n in self.nodes]
        edges = [sio.Edge(nodes[a], nodes[b]) for a, b in self.edges]
        symmetries = [sio.Symmetry({nodes[a], nodes[b]}) for a, b in self.symmetries]
        return sio.Skeleton(nodes=nodes, edges=edges, symmetries=symmetries, name=self.name)

    @classmethod
    def from_sleap(cls, skeleton) -> Skeleton:
        names = list(skeleton.node_names)
        edges = [
            (names.index(e.source.name), names.index(e.destination.name)) for e in skeleton.edges
        ]
        symmetries = []
        for s in skeleton.symmetries:
            a, b = (n.name for n in s.nodes)
            symmetries.append((names.index(a), names.index(b)))
        return cls(
            nodes=names, edges=edges, symmetries=symmetries, name=skeleton.name or "skeleton"
        )

    def __eq__(self, other) -> bool:
        if not isinstance(other, Skeleton):
            return NotImplemented
        return (
            self.nodes == other.nodes
            and sorted(self.edges) == sorted(other.edges)
            and self.symmetries == other.symmetries
        )
