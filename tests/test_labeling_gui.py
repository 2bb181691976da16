"""The Label widget driven in a real viewer: clicks place body parts, drags move them,
edges follow, labels survive closing napari, predictions become corrections."""

from __future__ import annotations

import numpy as np
import pytest
from napari.utils._proxies import ReadOnlyWrapper
from napari.utils.interactions import (
    mouse_move_callbacks,
    mouse_press_callbacks,
    mouse_release_callbacks,
)

from conftest import CLIP, CLIP_LABELS
from napari_leap.io.labels import load_labels, poses_from_labels, skeleton_from_sleap
from napari_leap.io.project import Project
from napari_leap.model.skeleton import propose_symmetries
from napari_leap.napari import layers
from napari_leap.napari._compat import viewer_canvas
from napari_leap.napari.widgets.labeling import SHORTCUTS, LabelingWidget

pytestmark = pytest.mark.gui
FRAME = 1200


class _Event:
    def __init__(self, **kwargs):
        self.handled = False
        self.__dict__.update(kwargs)


def _event(kind, world, canvas_px, dragging=False):
    return ReadOnlyWrapper(
        _Event(
            type=kind,
            position=tuple(float(v) for v in world),
            pos=np.asarray(canvas_px, dtype=float),
            modifiers=[],
            is_dragging=dragging,
            dims_displayed=[1, 2],
            view_direction=None,
            dims_point=list(world),
        ),
        exceptions=("handled",),
    )


def click(layer, world):
    """A press and release at one spot, through napari's own mouse dispatch."""
    mouse_press_callbacks(layer, _event("mouse_press", world, (100, 100)))
    mouse_release_callbacks(layer, _event("mouse_release", world, (100, 100)))


def drag(layer, start, stop, steps=4, check=None):
    """Press at ``start``, move in ``steps`` to ``stop`` (calling ``check`` mid-way), release."""
    mouse_press_callbacks(layer, _event("mouse_press", start, (100, 100)))
    for i in range(1, steps + 1):
        p = np.asarray(start) + (np.asarray(stop) - np.asarray(start)) * i / steps
        mouse_move_callbacks(layer, _event("mouse_move", p, (100 + 10 * i, 100), dragging=True))
        if check is not None and i == steps // 2:
            check(p)
    mouse_release_callbacks(layer, _event("mouse_release", stop, (100 + 10 * steps, 100)))


@pytest.fixture
def project(tmp_path):
    reference = load_labels(CLIP_LABELS)
    skeleton = skeleton_from_sleap(reference.skeletons[0])
    skeleton.symmetries = propose_symmetries(skeleton.nodes)
    return Project.create(
        tmp_path / "proj",
        skeleton,
        videos=[CLIP],
        settings={"tracks": ["female", "male"], "tracked": True},
    )


def _truth(frame):
    p = poses_from_labels(load_labels(CLIP_LABELS))
    return p.points[np.searchsorted(p.frames, frame)]  # (animals, nodes, 2) x, y


def test_click_every_node_drag_save_reopen(make_napari_viewer, project):
    viewer = make_napari_viewer()
    widget = LabelingWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.open_project(project.root)
    layer = widget.layer
    assert layer.mode == "add" and layers.is_pose_layer(layer)
    widget.go_to(FRAME)
    truth = _truth(FRAME)
    sk = widget.skeleton
    for k in range(len(sk)):
        assert (widget.current_animal, widget.current_node) == (0, k)  # auto-advance
        x, y = truth[0, k]
        click(layer, (FRAME, y, x))
    assert len(layer.data) == len(sk)
    assert widget.current_animal == 1 and widget.current_node == 0  # on to the next fly
    assert widget.labelled_frames() == {FRAME: len(sk)}
    assert "1 frames labelled" in widget.count_label.text()
    placed = {str(n): layer.data[i, 1:] for i, n in enumerate(layer.features["node"])}
    for k, name in enumerate(sk.nodes):
        np.testing.assert_allclose(placed[name], truth[0, k, ::-1], atol=1e-9)
    # every edge of the skeleton is drawn once the fly is complete
    assert len(widget.edges.data) == len(sk.edges)

    # drag the head: the edges follow while it moves, and after it lands
    head = sk.index("head")
    hx, hy = truth[0, head]
    target = np.array([FRAME, hy + 12.0, hx - 7.0])

    def edges_follow(p):
        starts_ends = np.concatenate(
            [widget.edges.data[:, 0, 1:], widget.edges.data[:, 0, 1:] + widget.edges.data[:, 1, 1:]]
        )
        assert np.min(np.linalg.norm(starts_ends - p[1:], axis=1)) < 1e-6

    drag(layer, (FRAME, hy, hx), target, check=edges_follow)
    idx = widget.point_index(FRAME, 0, head)
    np.testing.assert_allclose(layer.data[idx], target, atol=1e-9)
    edges_follow(target)
    assert len(layer.data) == len(sk)  # a drag never adds a point

    # Tab chooses the body part; V marks it not visible; undo brings back a deleted point
    widget.set_current_node(0, animal=1)
    widget.cycle_node(1)
    assert widget.current_node == 1
    widget.delete_point(idx)
    assert widget.point_index(FRAME, 0, head) is None
    widget.undo()
    assert widget.point_index(FRAME, 0, head) is not None

    # moving to another frame saves; close napari; everything is on disk
    widget.go_to(FRAME + 1)
    assert not widget._dirty
    viewer.close()
    reopened = Project.open(project.root)
    saved = poses_from_labels(reopened.labels)
    assert saved.frames.tolist() == [FRAME]
    assert saved.tracks == ["female", "male"]
    expected = truth[0].copy()
    expected[head] = target[[2, 1]]
    np.testing.assert_allclose(saved.points[0, 0], expected, atol=1e-6)
    assert np.isnan(saved.points[0, 1]).all()
    assert reopened.skeleton == project.skeleton
    assert reopened.skeleton.symmetries == project.skeleton.symmetries

    # a new viewer shows the same points
    viewer2 = make_napari_viewer()
    widget2 = LabelingWidget(viewer2)
    widget2.open_project(project.root)
    np.testing.assert_allclose(
        np.sort(widget2.layer.data, axis=0), np.sort(layer.data, axis=0), atol=1e-6
    )


def test_predictions_become_corrections(make_napari_viewer, project):
    viewer = make_napari_viewer()
    widget = LabelingWidget(viewer)
    widget.open_project(project.root)
    reference = poses_from_labels(load_labels(CLIP_LABELS))
    frames = [1100, 1300]
    pred = reference.select(np.isin(reference.frames, frames))
    pred.scores = np.full(pred.points.shape[:3], 0.8)
    widget.set_suggestions(frames)
    widget.add_predictions(pred)
    layer = widget.layer
    assert set(layer.features["status"].astype(str)) == {"predicted"}
    assert widget.labelled_frames() == {}
    assert "labelled 0 of 2 suggested" in widget.count_label.text()
    widget.go_to(1300)
    thorax = widget.skeleton.index("thorax")
    x, y = pred.points[1, 1, thorax]
    drag(layer, (1300, y, x), (1300, y + 5, x + 5))
    idx = widget.point_index(1300, 1, thorax)
    assert str(layer.features["status"].iloc[idx]) == "corrected"
    assert list(widget.labelled_frames()) == [1300]
    assert "labelled 1 of 2 suggested" in widget.count_label.text()
    widget.save()
    saved = Project.open(project.root)
    user = poses_from_labels(saved.labels, predicted=False)
    assert user.frames.tolist() == [1300]
    np.testing.assert_allclose(user.points[0, 1, thorax], [x + 5, y + 5], atol=1e-6)
    preds = poses_from_labels(saved.predictions, user=False)
    assert preds.frames.tolist() == [1100, 1300]  # the female of 1300 is still a prediction
    assert saved.settings["suggestions"]["0"] == frames


def test_shortcuts_listed():
    keys = [k for k, _ in SHORTCUTS]
    for needed in (
        "Tab / Shift+Tab",
        "V",
        "Delete / Backspace",
        "Right / Left",
        "Shift+Right / Shift+Left",
        "S / Shift+S",
    ):
        assert needed in keys


def test_label_on_aligned_boxes(make_napari_viewer, project):
    from napari_leap.align.alignment import Alignment
    from napari_leap.io.video import open_video

    truth = poses_from_labels(load_labels(CLIP_LABELS))
    d = truth.points[:, :, 0] - truth.points[:, :, 1]  # thorax -> head
    alignment = Alignment(
        truth.points[:, :, 1],
        np.arctan2(d[..., 1], d[..., 0]),
        box_size=160,
        video=open_video(CLIP),
    )
    viewer = make_napari_viewer()
    widget = LabelingWidget(viewer)
    widget.open_project(project.root)
    assert not widget.box_check.isEnabled()
    # the Align widget's boxes layer carries the alignment; labelling on boxes becomes possible
    viewer.add_image(np.zeros((4, 4)), name="aligned boxes", metadata={"alignment": alignment})
    assert widget.box_check.isEnabled()
    widget.go_to(FRAME)
    widget.set_animal(1)
    widget.box_check.setChecked(True)
    box_layer = widget._box_layer
    assert box_layer.data.shape == (1500, 160, 160)
    layer = widget.layer
    # click the male's head where the box shows it: straight above the box centre
    head_box = alignment.video_to_box(truth.points[FRAME, 1, 0], FRAME, 1)
    assert head_box[1] < 79.5 and abs(head_box[0] - 79.5) < 1e-6
    widget.set_current_node(0, animal=1)
    click(layer, (FRAME, head_box[1], head_box[0]))
    idx = widget.point_index(FRAME, 1, 0)
    np.testing.assert_allclose(layer.data[idx, [2, 1]], truth.points[FRAME, 1, 0], atol=1e-6)
    # a point placed anywhere on the box lands at box_to_video of that spot
    spot = np.array([30.0, 120.0])
    click(layer, (FRAME, spot[1], spot[0]))
    idx = widget.point_index(FRAME, 1, 1)
    np.testing.assert_allclose(
        layer.data[idx, [2, 1]], alignment.box_to_video(spot, FRAME, 1), atol=1e-6
    )
    # the next frame gets its own box transform
    widget.go_to(FRAME + 50)
    np.testing.assert_allclose(
        layer.affine.affine_matrix, layers.box_affine(alignment, FRAME + 50, 1), atol=1e-9
    )
    widget.box_check.setChecked(False)
    assert np.allclose(layer.affine.affine_matrix, np.eye(4))


def test_keys_on_the_canvas_and_nothing_lost_on_close(make_napari_viewer, project, qtbot):
    from qtpy.QtCore import Qt

    viewer = make_napari_viewer(show=True)
    widget = LabelingWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.open_project(project.root)
    layer = widget.layer
    widget.go_to(FRAME)
    canvas = viewer_canvas(viewer).native
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key_Tab)
    assert widget.current_node == 1
    qtbot.keyClick(canvas, Qt.Key_Backtab, Qt.ShiftModifier)
    assert widget.current_node == 0
    qtbot.keyClick(canvas, Qt.Key_V)  # head not visible: on to the thorax
    assert widget.current_node == 1 and (FRAME, 0, "head") in widget.invisible
    truth = _truth(FRAME)
    click(layer, (FRAME, truth[0, 1, 1], truth[0, 1, 0]))
    qtbot.keyClick(canvas, Qt.Key_Right)
    assert widget.frame == FRAME + 1
    qtbot.keyClick(canvas, Qt.Key_Left, Qt.ShiftModifier)  # back to the labelled frame
    assert widget.frame == FRAME
    click(layer, (FRAME, truth[0, 2, 1], truth[0, 2, 0]))  # abdomen, then close at once
    assert widget._dirty
    viewer.close()
    saved = poses_from_labels(Project.open(project.root).labels)
    np.testing.assert_allclose(saved.points[0, 0, 1:3], truth[0, 1:3], atol=1e-6)
    assert np.isnan(saved.points[0, 0, 0]).all()
    assert [FRAME, 0, "head"] in Project.open(project.root).settings["not_visible"]["0"]


def test_suggest_button_runs_in_a_worker(make_napari_viewer, project, qtbot):
    viewer = make_napari_viewer()
    widget = LabelingWidget(viewer)
    widget.open_project(project.root)
    widget.go_to(375)
    click(widget.layer, (375, 500.0, 500.0))  # frame 375 is labelled, so it is not suggested again
    widget.method.setCurrentText("uniform")
    widget.n_suggest.setValue(4)
    widget.suggest_button.click()
    qtbot.waitUntil(
        lambda: widget.suggest_button.isEnabled() and bool(widget.suggestions), timeout=60_000
    )
    assert 375 not in widget.suggestions and len(widget.suggestions) == 4
    assert widget.suggestions[0] == 0 and widget.suggestions[-1] == 1499
    assert "labelled 0 of 4 suggested" in widget.count_label.text()
    # the labelled-frames panel lists the labelled frame, then the suggestions; a click jumps
    first = widget.frame_list.item(0)
    assert first.text().startswith("frame 375: 1/26 parts")
    widget.frame_list.itemClicked.emit(widget.frame_list.item(2))
    assert widget.frame == widget.suggestions[1]
    widget.go_to(0)
    widget.jump_suggested(1)
    assert widget.frame == widget.suggestions[1]
    widget.save()
    assert Project.open(project.root).settings["suggestions"]["0"] == widget.suggestions


def test_labels_that_look_like_slips_are_suggested(make_napari_viewer, project, qtbot):
    """A head clicked on the other fly is what the Suggest menu's slip check finds first."""
    viewer = make_napari_viewer()
    widget = LabelingWidget(viewer)
    widget.open_project(project.root)
    reference = poses_from_labels(load_labels(CLIP_LABELS))
    frames = list(range(0, 1000, 80))  # 13 frames, 26 flies
    accepted = reference.select(np.isin(reference.frames, frames))
    accepted.scores = np.full(accepted.points.shape[:3], 0.8)
    head, thorax = widget.skeleton.index("head"), widget.skeleton.index("thorax")
    slip = frames.index(560)
    accepted.points[slip, 0, head] = accepted.points[slip, 1, thorax]  # female's head on the male
    widget.method.setCurrentText("labels that look like slips")
    widget.suggest_button.click()
    assert "no labelled point looks like a slip among 0 labelled animals" in widget.progress.text()
    widget.set_suggestions(frames)
    widget.add_predictions(accepted)
    for f in frames:  # the person accepts each frame as it came (Enter)
        widget.go_to(f)
        widget.accept_frame()
    assert sorted(widget.labelled_frames()) == frames

    widget.suggest_button.click()
    assert widget.suggestions == [560]  # only the frame to check, not the accepted ones
    widget.go_to(0)
    widget.jump_suggested(1)  # S
    assert widget.frame == 560
    assert "head of female" in widget.reason_label.text()
    assert "slip" in widget.reason_label.text()
