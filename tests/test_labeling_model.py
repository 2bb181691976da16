"""The labelling state without Qt: which part comes next, what is labelled, undo, and the
rule that a person's point hides the prediction (one function, three callers)."""

from __future__ import annotations

import numpy as np
import sleap_io as sio

from napari_leap.io.labels import poses_from_labels
from napari_leap.model.labeling import (
    LabelingState,
    Placements,
    UndoStack,
    hidden_by_person,
    next_frame,
    person_animals,
)

PARTS = ["head", "thorax", "abdomen"]
TRACKS = ["fly0", "fly1"]


def placements(rows) -> Placements:
    """Points from (frame, animal, node, status) rows."""
    frames = [r[0] for r in rows]
    columns = tuple([r[i] for r in rows] for i in (2, 1, 3))
    return Placements.from_columns(frames, columns, PARTS, TRACKS)


def test_index_and_placed_follow_names_and_rounded_frames():
    points = placements(
        [
            (4.0, "fly0", "head", "user"),
            (4.2, "fly1", "abdomen", "predicted"),
            (4.0, "fly0", "head", "user"),  # placed twice: the last counts
            (5.0, "fly0", "thorax", "corrected"),
            (4.0, "fly0", "wing", "user"),  # a part the skeleton lost
        ]
    )
    assert points.index(4, 0, 0) == 2
    assert points.index(4, 1, 2) == 1
    assert points.index(4, 0, 1) is None and points.index(6, 0, 0) is None
    assert points.placed(4, 0) == {0}
    assert points.placed(4, 1) == {2}
    assert points.placed(5, 0) == {1}


def test_labelled_frames_are_those_a_person_touched_counting_all_points():
    points = placements(
        [
            (1, "fly0", "head", "predicted"),
            (2, "fly0", "head", "predicted"),
            (2, "fly1", "head", "corrected"),
            (2, "fly1", "thorax", "predicted"),
            (7, "fly0", "head", "user"),
        ]
    )
    assert points.labelled_frames() == {2: 3, 7: 1}
    assert placements([]).labelled_frames() == {}


def test_next_part_skips_placed_and_not_visible_then_the_next_animal():
    points = placements([(3, "fly0", "head", "user"), (3, "fly0", "abdomen", "predicted")])
    state = LabelingState()
    assert state.next_unplaced(points, 3, 0, -1) == (0, 1)
    state.invisible.add((3, 0, "thorax"))
    assert state.next_unplaced(points, 3, 0, -1) == (1, 0)  # fly0 is done: on to fly1
    assert state.next_unplaced(points, 4, 0, -1) == (0, 0)  # marks are per frame
    every = placements([(3, a, n, "user") for a in TRACKS for n in PARTS])
    assert state.next_unplaced(every, 3, 1, 0) == (1, 1)  # all done: the next part comes round
    assert state.next_unplaced(every, 3, 1, 2) == (1, 0)


def test_placing_marking_and_choosing_move_the_current_part():
    state = LabelingState(invisible={(0, 0, "head")})
    points = placements([(0, "fly0", "head", "user")])
    state.placed_part(points, 0, 0, 0)  # a part marked not visible and then placed is visible
    assert state.invisible == set() and (state.current_animal, state.current_node) == (0, 1)
    state.mark_invisible(points, 0)
    assert (0, 0, "thorax") in state.invisible and state.current_node == 2
    assert state.invisible_nodes(0, 0, PARTS) == {1}
    state.choose(4, len(PARTS), animal=3, n_animals=len(TRACKS))
    assert (state.current_animal, state.current_node) == (1, 1)
    state.choose(-1, len(PARTS))
    assert (state.current_animal, state.current_node) == (1, 2)
    state.fit(2)  # the skeleton lost a part
    assert state.current_node == 1
    state.start_animal(points, 0, 2)  # wraps to fly0: head placed, thorax not visible
    assert (state.current_animal, state.current_node) == (0, 2)
    state.start_frame(placements([(9, "fly0", n, "user") for n in PARTS]), 9)
    assert (state.current_animal, state.current_node) == (1, 0)


def test_undo_restores_marks_and_the_part_only_on_the_same_frame():
    stack: UndoStack[str] = UndoStack(depth=2)
    state = LabelingState(current_animal=1, current_node=2, invisible={(5, 1, "head")})
    stack.push("before first", state, 5)
    state.invisible.add((5, 1, "thorax"))
    state.current_node = 0
    stack.push("before second", state, 5)
    state.invisible.clear()
    assert stack.pop(state, 6) == "before second"
    assert state.invisible == {(5, 1, "head"), (5, 1, "thorax")}
    assert state.current_node == 0  # another frame is shown: the current part stays
    state.current_node = 1
    assert stack.pop(state, 5) == "before first"
    assert state.invisible == {(5, 1, "head")} and state.current_node == 2
    assert stack.pop(state, 5) is None and len(stack) == 0
    for k in range(3):
        stack.push(f"edit {k}", state, 5)
    assert len(stack) == 2  # only the newest edits are kept
    stack.drop()
    assert stack.pop(state, 5) == "edit 1"
    stack.push("again", state, 5)
    stack.clear()
    assert len(stack) == 0


def test_next_frame_in_either_direction():
    assert next_frame([30, 10, 20], 10, 1) == 20
    assert next_frame([30, 10, 20], 25, -1) == 20
    assert next_frame([30, 10, 20], 30, 1) is None
    assert next_frame([], 0, -1) is None


def test_a_person_point_hides_the_whole_animal_frame():
    person_frames = np.array([2, 5])
    person = np.full((2, 2, 3, 2), np.nan)
    person[0, 1, 2] = (10.0, 20.0)  # frame 2: fly1 has one part
    person[1, 0, 0] = (1.0, np.nan)  # frame 5: half a point is no point
    hidden = hidden_by_person(np.array([1, 2, 5, 9]), person_frames, person)
    assert hidden.tolist() == [[False, False], [False, True], [False, False], [False, False]]
    assert hidden_by_person(np.array([3]), np.zeros(0, int), np.zeros((0, 2, 3, 2))).shape == (
        1,
        2,
    )


def test_poses_from_labels_keeps_the_person_instance_of_a_track():
    skeleton = sio.Skeleton(nodes=PARTS)
    video = sio.Video(filename="clip.mp4", open_backend=False)
    tracks = [sio.Track(name=t) for t in TRACKS]
    pts = np.arange(6, dtype=float).reshape(3, 2)

    def guess(offset, track):
        return sio.PredictedInstance.from_numpy(
            points_data=pts + offset,
            point_scores=np.full(3, 0.5),
            score=0.5,
            skeleton=skeleton,
            track=track,
        )

    person = sio.Instance.from_numpy(pts + 100, skeleton=skeleton, track=tracks[0])
    frames = [
        sio.LabeledFrame(
            video=video, frame_idx=0, instances=[guess(1, tracks[0]), person, guess(2, tracks[0])]
        ),
        sio.LabeledFrame(video=video, frame_idx=1, instances=[guess(3, tracks[1])]),
    ]
    labels = sio.Labels(labeled_frames=frames, videos=[video], skeletons=[skeleton], tracks=tracks)
    both = poses_from_labels(labels)
    np.testing.assert_array_equal(both.points[0, 0], pts + 100)  # before or after a prediction
    assert np.isnan(both.scores[0, 0]).all()
    assert np.isnan(both.points[0, 1]).all()
    np.testing.assert_array_equal(both.points[1, 1], pts + 3)
    np.testing.assert_array_equal(both.scores[1, 1], 0.5)
    guesses = poses_from_labels(labels, user=False)
    np.testing.assert_array_equal(guesses.points[0, 0], pts + 2)  # the last prediction


def test_person_animals_needs_a_whole_point():
    points = np.full((2, 2, 3, 2), np.nan)
    points[0, 0, 1] = (3.0, 4.0)
    points[1, 1, 0] = (np.nan, 4.0)
    assert person_animals(points).tolist() == [[True, False], [False, False]]
