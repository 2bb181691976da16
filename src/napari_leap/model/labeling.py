"""The labelling state: which body part a person places next, what counts as labelled, undo.

Plain data (numpy arrays, names), no Qt and no napari: the Label dock reads its
points layer into a :class:`Placements`, asks a :class:`LabelingState` what to do
and keeps an :class:`UndoStack` of its edits. Body parts and animals are indices
into ``Placements.parts`` and ``Placements.tracks``; points carry their names so
that a skeleton edit (a part renamed, removed) never mislabels one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

#: (frame, animal, body-part name) a person marked not visible
Invisible = tuple[int, int, str]

#: edits one undo stack keeps (placing, moving, deleting, predicting)
UNDO_DEPTH = 100

T = TypeVar("T")


def person_animals(person_points: np.ndarray) -> np.ndarray:
    """(N, A) True where a person placed any body part of an animal on a frame.

    Such an animal-frame is that person's: the model's guess for it is hidden,
    in the Label dock, in a layer and when labels are read (what a proofreader meant).
    ``person_points`` is ``(N, A, K, 2)`` with NaN where unplaced.
    """
    placed = np.isfinite(np.asarray(person_points, dtype=np.float64)).all(axis=-1)
    return np.asarray(placed.any(axis=-1), dtype=bool)


def hidden_by_person(
    frames: np.ndarray, person_frames: np.ndarray, person_points: np.ndarray
) -> np.ndarray:
    """(len(frames), A) mask of the predicted animal-frames a person's points hide.

    :func:`person_animals` on the person's frames (sorted) matched to ``frames``.
    """
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    person_frames = np.asarray(person_frames, dtype=np.int64).reshape(-1)
    person_points = np.asarray(person_points, dtype=np.float64)
    hidden = np.zeros((len(frames), person_points.shape[1]), dtype=bool)
    if not len(person_frames):
        return hidden
    placed = person_animals(person_points)
    row = np.searchsorted(person_frames, frames)
    found = (row < len(person_frames)) & (
        person_frames[np.minimum(row, len(person_frames) - 1)] == frames
    )
    hidden[found] = placed[row[found]]
    return hidden


def next_frame(frames: Sequence[int], here: int, direction: int) -> int | None:
    """The nearest of ``frames`` after ``here`` (direction > 0) or before it, None if none."""
    later = sorted(f for f in frames if (f > here if direction > 0 else f < here))
    if not later:
        return None
    return later[0] if direction > 0 else later[-1]


@dataclass(frozen=True)
class Placements:
    """The points of a pose layer, one row each, with the skeleton and animals they belong to."""

    frames: np.ndarray  # int frame of each point
    nodes: np.ndarray  # body-part name of each point
    animals: np.ndarray  # animal (track) name of each point
    human: np.ndarray  # a person placed or corrected it (not an untouched prediction)
    parts: list[str]  # the skeleton's body parts, in order
    tracks: list[str]  # the animals, in order

    @classmethod
    def from_columns(
        cls,
        frames: Sequence[float] | np.ndarray,
        columns: tuple[Sequence[str], Sequence[str], Sequence[str]],
        parts: Sequence[str],
        tracks: Sequence[str],
    ) -> Placements:
        """From the layer's frame coordinates and its (node, animal, status) columns."""
        node, animal, status = (np.asarray(c, dtype=str).reshape(-1) for c in columns)
        return cls(
            frames=np.rint(np.asarray(frames, dtype=np.float64).reshape(-1)).astype(np.int64),
            nodes=node,
            animals=animal,
            human=status != "predicted",
            parts=list(parts),
            tracks=list(tracks),
        )

    def on_frame(self, frame: int) -> np.ndarray:
        """Mask of the points on ``frame``."""
        return self.frames == frame

    def index(self, frame: int, animal: int, node: int) -> int | None:
        """Row of body part ``node`` of ``animal`` on ``frame`` (the last if placed twice)."""
        hit = (
            self.on_frame(frame)
            & (self.nodes == self.parts[node])
            & (self.animals == self.tracks[animal])
        )
        rows = np.flatnonzero(hit)
        return int(rows[-1]) if len(rows) else None

    def placed(self, frame: int, animal: int) -> set[int]:
        """Body parts of ``animal`` that have a point on ``frame`` (by anyone)."""
        sel = self.on_frame(frame) & (self.animals == self.tracks[animal])
        names = set(self.nodes[sel].tolist())
        return {self.parts.index(n) for n in names if n in self.parts}

    def labelled_frames(self) -> dict[int, int]:
        """Frame -> points on it, for the frames where a person placed or corrected a point."""
        frames, counts = np.unique(self.frames, return_counts=True)
        human = set(self.frames[self.human].tolist())
        return {int(f): int(c) for f, c in zip(frames, counts, strict=True) if int(f) in human}


@dataclass
class LabelingState:
    """The body part being placed and the parts marked not visible (names survive skeleton edits)."""

    current_animal: int = 0
    current_node: int = 0
    invisible: set[Invisible] = field(default_factory=set)

    def invisible_nodes(self, frame: int, animal: int, parts: Sequence[str]) -> set[int]:
        """Body parts of ``animal`` marked not visible on ``frame``."""
        return {
            parts.index(n)
            for f, a, n in self.invisible
            if f == frame and a == animal and n in parts
        }

    def next_unplaced(
        self, points: Placements, frame: int, animal: int, after: int
    ) -> tuple[int, int]:
        """(animal, node) of the next body part to place after ``after``, this animal first.

        Parts placed or marked not visible are done; when every animal is done the
        next part of this animal comes round again.
        """
        k, n_animals = len(points.parts), len(points.tracks)
        for da in range(n_animals):
            a = (animal + da) % n_animals
            done = points.placed(frame, a) | self.invisible_nodes(frame, a, points.parts)
            start = after + 1 if da == 0 else 0
            for step in range(k):
                node = (start + step) % k
                if node not in done:
                    return a, node
        return animal, (after + 1) % k if after >= 0 else 0

    def start_frame(self, points: Placements, frame: int) -> None:
        """On a newly shown frame: the first part still to place, first animal first."""
        self.current_animal, self.current_node = self.next_unplaced(points, frame, 0, -1)

    def start_animal(self, points: Placements, frame: int, animal: int) -> None:
        """Label ``animal`` now, from its first part still to place."""
        self.current_animal = int(animal) % len(points.tracks)
        self.current_node = self.next_unplaced(points, frame, self.current_animal, -1)[1]

    def placed_part(self, points: Placements, frame: int, animal: int, node: int) -> None:
        """A part was placed: it is visible, and the next part to place comes up."""
        self.invisible.discard((frame, animal, points.parts[node]))
        self.current_animal, self.current_node = self.next_unplaced(points, frame, animal, node)

    def mark_invisible(self, points: Placements, frame: int) -> None:
        """The current part is not visible on ``frame``: remember it and move on."""
        self.invisible.add((frame, self.current_animal, points.parts[self.current_node]))
        self.current_animal, self.current_node = self.next_unplaced(
            points, frame, self.current_animal, self.current_node
        )

    def choose(
        self, node: int, n_parts: int, animal: int | None = None, n_animals: int = 1
    ) -> None:
        """Place ``node`` (of ``animal``, when given) next; indices wrap around."""
        self.current_node = int(node) % n_parts
        if animal is not None:
            self.current_animal = int(animal) % n_animals

    def fit(self, n_parts: int) -> None:
        """Keep the current part inside a skeleton that may have lost parts."""
        self.current_node = min(self.current_node, n_parts - 1)


@dataclass(frozen=True)
class Edit(Generic[T]):
    """What one edit changed: the layer's points before it (opaque here) and the state."""

    points: T
    invisible: frozenset[Invisible]
    frame: int
    animal: int
    node: int


@dataclass
class UndoStack(Generic[T]):
    """The last :data:`UNDO_DEPTH` edits, each with the labelling state it started from."""

    depth: int = UNDO_DEPTH
    edits: list[Edit[T]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.edits)

    def push(self, points: T, state: LabelingState, frame: int) -> None:
        """Remember ``points`` (the layer before an edit on ``frame``) and the state."""
        self.edits.append(
            Edit(
                points, frozenset(state.invisible), frame, state.current_animal, state.current_node
            )
        )
        del self.edits[: -self.depth]

    def drop(self) -> None:
        """Forget the last push (the edit did not happen: a click without a drag)."""
        self.edits.pop()

    def clear(self) -> None:
        """Forget every edit (other labels now)."""
        self.edits.clear()

    def pop(self, state: LabelingState, frame: int) -> T | None:
        """Undo the last edit: restore ``state`` and return the points to put back.

        The part that edit placed is the one to place again, when the edit was on
        the frame shown now.
        """
        if not self.edits:
            return None
        edit = self.edits.pop()
        state.invisible = set(edit.invisible)
        if edit.frame == frame:
            state.current_animal, state.current_node = edit.animal, edit.node
        return edit.points
