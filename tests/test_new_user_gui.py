"""Issue 13, the docks as a new user meets them: each test replays one defect with real
clicks and keys on a real viewer and checks what the person sees afterwards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qtpy.QtCore import Qt

from conftest import CLIP, CLIP_LABELS
from napari_leap.io.labels import poses_from_labels
from napari_leap.io.project import Project
from napari_leap.napari._compat import viewer_canvas
from napari_leap.napari.widgets.labeling import LabelingWidget
from napari_leap.napari.widgets.skeleton import SkeletonWidget
from qt_canvas import click, key, settle

pytestmark = pytest.mark.gui


def _errors(monkeypatch) -> list[str]:
    """Every error notification the docks show, collected instead of shown."""
    import napari.utils.notifications as notifications

    shown: list[str] = []
    monkeypatch.setattr(notifications, "show_error", shown.append)
    monkeypatch.setattr(LabelingWidget, "_error", lambda self, m: shown.append(m))
    return shown


def _new_labels_layer(viewer, video=CLIP, plugin="napari-leap"):
    """What the README tells a newcomer: open the video, Skeleton dock, New labels layer."""
    viewer.open(str(video), plugin=plugin)
    skeleton = SkeletonWidget(viewer, confirm=lambda m: True)
    viewer.window.add_dock_widget(skeleton, name="Skeleton")
    skeleton.load(CLIP_LABELS)
    skeleton.new_layer()
    label = LabelingWidget(viewer)
    viewer.window.add_dock_widget(label, name="Label")
    settle()
    return skeleton, label


# -- item 2: undo ------------------------------------------------------------------------------
def test_ctrl_z_after_ten_clicks_keeps_the_label_dock_working(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer(show=True)
    _, label = _new_labels_layer(viewer)
    label.new_project(tmp_path / "proj")
    frame = label.frame
    spots = [(300.0 + 30 * i, 400.0 + 20 * i) for i in range(11)]
    for y, x in spots[:10]:
        click(viewer, y, x)
    layer = label.layer
    assert len(layer.data) == 10
    assert label.frame_list.item(0).text().startswith(f"frame {frame}: 10/13")

    key(viewer, Qt.Key_Z, Qt.ControlModifier)
    assert len(layer.data) == 9
    assert set(layer.selected_data) <= set(range(9))  # no selection of a point that is gone
    assert label.frame_list.item(0).text().startswith(f"frame {frame}: 9/13")
    # the tenth body part is the one to place again, and a click places it
    assert label.current_node == 9
    click(viewer, *spots[10])
    assert len(layer.data) == 10
    np.testing.assert_allclose(layer.data[-1], [frame, *spots[10]], atol=1.0)
    assert str(layer.features["node"].iloc[-1]) == label.skeleton.nodes[9]
    # frame changes and further undos work too, and the project gets the labels
    key(viewer, Qt.Key_Right)
    assert label.frame == frame + 1
    key(viewer, Qt.Key_Left)
    key(viewer, Qt.Key_Z, Qt.ControlModifier)
    assert len(layer.data) == 9
    label.save()
    saved = poses_from_labels(Project.open(tmp_path / "proj").labels)
    assert saved.frames.tolist() == [frame]
    assert int(np.isfinite(saved.points).all(axis=-1).sum()) == 9


# -- item 1: a frame range with no animal --------------------------------------------------------
@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A real model trained for two steps on a 48-frame cut of the clip (test_predict's)."""
    from test_predict import train_small_model

    return train_small_model(tmp_path_factory.mktemp("new_user"))


def _project_with_animals_until(root, video, labels_path, last: int) -> Project:
    """A project whose saved alignment has both flies on frames 0..last-1 and none after
    (they left the arena): the frames after ``last`` have no animal to predict."""
    from napari_leap.align.alignment import Alignment
    from napari_leap.io.labels import load_labels
    from napari_leap.io.video import open_video

    truth = poses_from_labels(load_labels(labels_path))
    n = len(open_video(video))
    centers, angles = np.full((n, 2, 2), np.nan), np.full((n, 2), np.nan)
    head_to_thorax = truth.points[:last, :, 0] - truth.points[:last, :, 1]
    centers[:last] = truth.points[:last, :, 1]
    angles[:last] = np.arctan2(head_to_thorax[..., 1], head_to_thorax[..., 0])
    project = Project.create(root, truth.skeleton, videos=[video])
    Alignment(centers, angles, box_size=128, video=open_video(video)).save(root / "alignments/0")
    project.set_alignment(0, root / "alignments/0")
    project.save()
    return project


def test_predicting_frames_without_animals_says_so_and_never_crashes(
    make_napari_viewer, qtbot, small, tmp_path, monkeypatch
):
    from napari_leap.napari.widgets.predict import PredictWidget

    model_dir, video, labels_path = small
    project = _project_with_animals_until(tmp_path / "proj", video, labels_path, last=24)
    errors = _errors(monkeypatch)
    viewer = make_napari_viewer(show=True)
    widget = PredictWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Predict")
    widget.model_edit.setText(str(model_dir))
    widget.set_project(project.root)

    def predict(start: int, stop: int) -> None:
        widget.start_spin.setValue(start)
        widget.stop_spin.setValue(stop)
        qtbot.mouseClick(widget.predict_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: not widget.running, timeout=120_000)

    predict(20, 28)  # four frames with flies, four without
    assert not errors
    assert widget.status.text() == "8 frames predicted in 1 video(s); 4 of them had no animals"
    assert len(viewer.layers["tracks [project]"].data) == 4 * 2 * 13
    assert widget.export_buttons[".slp"].isEnabled()

    predict(30, 40)  # none: no crash, no claim of success, the older layers go
    assert len(errors) == 1 and "no animal was found on any of the 10 predicted frames" in errors[0]
    assert widget.status.text() == errors[0]
    assert "done" not in widget.progress_bar.format()
    assert widget.result is None and not widget.export_buttons[".slp"].isEnabled()
    assert not [lay.name for lay in viewer.layers if "[project]" in lay.name]
    assert widget.predict_button.isEnabled()


# -- item 4: a video opened by napari's own reader -----------------------------------------------
def test_every_dock_takes_a_video_opened_by_napari_builtins(
    make_napari_viewer, qtbot, small, tmp_path, monkeypatch
):
    from napari_leap.napari.widgets.align import AlignWidget
    from napari_leap.napari.widgets.predict import PredictWidget
    from napari_leap.napari.widgets.train import TrainWidget

    model_dir, video, _ = small
    errors = _errors(monkeypatch)
    viewer = make_napari_viewer(show=True)
    _, label = _new_labels_layer(
        viewer, video=video, plugin="napari"
    )  # what File > Open preselects
    image = viewer.layers[video.stem]
    assert image.source.reader_plugin == "napari" and not image.metadata  # no napari-leap metadata
    assert label.layer.metadata["video"] == str(video.resolve())

    label.new_project(tmp_path / "proj")
    assert Project.open(tmp_path / "proj").video_path(0) == video.resolve()
    click(viewer, 500.0, 520.0)
    assert len(label.layer.data) == 1

    align = AlignWidget(viewer)
    assert align.video_combo.currentText() == video.stem
    train = TrainWidget(viewer)
    train.source.setCurrentText(label.layer.name)
    assert train.training_source().labeled_frames  # the layer knows its video
    predict = PredictWidget(viewer)
    viewer.window.add_dock_widget(predict, name="Predict")
    assert predict.source_combo.currentText() == video.stem
    predict.model_edit.setText(str(model_dir))
    predict.stop_spin.setValue(4)
    qtbot.mouseClick(predict.predict_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not predict.running, timeout=120_000)
    assert not errors
    assert predict.result.poses[0].frames.tolist() == [0, 1, 2, 3]


# -- item 11: models belong to the project -------------------------------------------------------
TINY = {
    "arch_params": {"filters": 4, "depth": 2, "max_filters": 16},
    "input_scale": 0.25,
    "batch_size": 4,
    "steps_per_epoch": 2,
    "box_size": 128,
    "device": "cpu",
    "epochs": 1,
}


def test_a_model_trained_from_the_docks_is_the_projects_and_both_docks_use_it(
    make_napari_viewer, qtbot, small, tmp_path, monkeypatch
):
    from napari_leap.io.labels import labels_from_poses, load_labels
    from napari_leap.napari.widgets.predict import PredictWidget
    from napari_leap.napari.widgets.train import TrainWidget

    _, video, labels_path = small
    poses = poses_from_labels(load_labels(labels_path))
    poses = poses.select(poses.frames < 40)  # frames 40..47 are left to predict
    project = Project.create(
        tmp_path / "proj",
        poses.skeleton,
        videos=[video],
        settings={"tracks": poses.tracks, "tracked": True},
    )
    project.labels = labels_from_poses(poses, [project.sleap_video(0)], predicted=False)
    project.save()
    errors = _errors(monkeypatch)
    viewer = make_napari_viewer(show=True)
    label = LabelingWidget(viewer)
    viewer.window.add_dock_widget(label, name="Label")
    label.open_project(project.root)
    assert label.model_label.text() == "no model"

    train = TrainWidget(viewer)
    viewer.window.add_dock_widget(train, name="Train")
    assert train.source.currentText() == label.layer.name
    train.start(**TINY)
    qtbot.waitUntil(lambda: train.worker is None, timeout=180_000)
    assert not errors and train.model is not None
    model_dir = Path(train.out.text())
    assert model_dir.parent == project.root / "models"  # a new folder inside the project
    assert Project.open(project.root).models == [f"models/{model_dir.name}"]
    assert "recorded in project proj" in train.status.text()

    # the Label dock follows the project's newest model: P predicts this frame with it
    label.delete_point(label.point_index(label.frame, 0, 0))  # an edit: the dock saves again
    label.save()
    assert Project.open(project.root).models == [f"models/{model_dir.name}"]  # still recorded
    label.go_to(44)
    key(viewer, Qt.Key_Right)
    assert label.model_dir == model_dir and model_dir.name in label.model_label.text()
    key(viewer, Qt.Key_P)
    qtbot.waitUntil(
        lambda: errors or label.progress.text() == "predicted 1 frames", timeout=120_000
    )
    assert not errors
    predicted = label.layer.features["status"].astype(str) == "predicted"
    assert set(np.rint(label.layer.data[np.asarray(predicted), 0])) == {45}
    # and a Predict dock opened now needs no path typed in
    predict = PredictWidget(viewer)
    assert predict.model_edit.text() == str(model_dir)
    assert not errors


# -- item 10: the loss plot ------------------------------------------------------------------------
def test_loss_is_plotted_per_step_and_few_validation_images_are_warned_of(
    make_napari_viewer, qtbot, small, tmp_path, monkeypatch
):
    from napari_leap.io.labels import labels_from_poses, load_labels, save_labels
    from napari_leap.napari.widgets.train import FILE_ITEM, TrainWidget
    from napari_leap.pose.train import BatchEnd, EpochEnd, TrainStarted

    _, video, labels_path = small
    poses = poses_from_labels(load_labels(labels_path))
    few = save_labels(
        labels_from_poses(poses.select(poses.frames < 8), [str(video)], predicted=False),
        tmp_path / "eight.slp",
    )
    errors = _errors(monkeypatch)
    viewer = make_napari_viewer(show=True)
    widget = TrainWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Train")
    widget.source.setCurrentText(FILE_ITEM)
    widget.path.setText(str(few))
    widget.out.setText(str(tmp_path / "model"))
    seen = []

    def as_it_comes(event):  # runs after the dock's own handler of the same event
        if isinstance(event, BatchEnd):
            epochs_done = sum(isinstance(e, EpochEnd) for e in widget.events)
            seen.append(
                (len(widget.plot.steps), len(widget.plot.train_line.get_xdata()), epochs_done)
            )

    widget.start(**{**TINY, "epochs": 2, "steps_per_epoch": 3})
    widget.worker.yielded.connect(as_it_comes)
    qtbot.waitUntil(lambda: widget.worker is None, timeout=180_000)
    assert not errors
    started = next(e for e in widget.events if isinstance(e, TrainStarted))
    assert started.n_val < 5
    assert f"only {started.n_val} validation image" in widget.status.text()
    # every step's loss was on the plot before the epoch it belongs to ended
    assert seen == [(i, i, (i - 1) // 3) for i in range(1, 7)]
    steps = [e for e in widget.events if isinstance(e, BatchEnd)]
    np.testing.assert_allclose(widget.plot.raw_line.get_ydata(), [e.loss for e in steps])
    np.testing.assert_allclose(
        widget.plot.train_line.get_xdata(), [1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2]
    )
    assert list(widget.plot.val_line.get_xdata()) == [1, 2]  # validation once per epoch


# -- item 12: layout ---------------------------------------------------------------------------------
def test_label_and_skeleton_docks_fit_a_1600x1000_screen(make_napari_viewer, qtbot):
    from qtpy.QtWidgets import QApplication, QScrollArea

    from napari_leap.napari.widgets.scroll import MIN_HEIGHT

    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.resize(1200, 800)
    skeleton, label = _new_labels_layer(viewer)
    settle(20)
    screen = QApplication.primaryScreen().availableGeometry()
    assert (screen.width(), screen.height()) == (1600, 1000)  # xvfb-run -s "-screen 0 1600x1000x24"
    assert window.minimumSizeHint().height() <= screen.height()
    assert window.height() <= screen.height() and window.width() <= screen.width()
    assert min(label.height(), skeleton.height()) >= MIN_HEIGHT  # neither squashed away
    for dock in (label, skeleton):  # nothing cut off at the right: the dock is wide enough
        inner = dock.findChild(QScrollArea).widget()
        assert inner.width() >= inner.minimumSizeHint().width()
    # the shortcut table opens on demand
    assert not label.keys.isVisible()
    qtbot.mouseClick(label.keys_button, Qt.LeftButton)
    assert label.keys.isVisible() and window.height() <= screen.height()


def test_align_run_shows_its_boxes_and_its_progress_only_grows(make_napari_viewer, qtbot, small):
    from napari_leap.napari.widgets.align import AlignWidget

    _, video, _ = small
    viewer = make_napari_viewer(show=True)
    viewer.open(str(video), plugin="napari-leap")
    align = AlignWidget(viewer)
    viewer.window.add_dock_widget(align, name="Align")
    align.animals_spin.setValue(2)
    values = []
    align.progress_bar.valueChanged.connect(values.append)
    qtbot.mouseClick(align.run_button, Qt.LeftButton)
    qtbot.waitUntil(
        lambda: align.run_button.isEnabled() and align.alignment is not None, timeout=120_000
    )
    # the boxes layer lies inside what the canvas shows
    boxes = align.boxes_layer
    (top, left), (bottom, right) = boxes.extent.world[:, 1:]
    native = viewer_canvas(viewer).native
    cy, cx = viewer.camera.center[-2:]
    half_h, half_w = (
        native.height() / 2 / viewer.camera.zoom,
        native.width() / 2 / viewer.camera.zoom,
    )
    assert cx - half_w <= left and right <= cx + half_w
    assert cy - half_h <= top and bottom <= cy + half_h
    assert values and values[-1] == 100 and values == sorted(values)  # never full, then empty


def test_sample_labels_are_a_read_only_reference_and_the_clip_starts_at_frame_0(
    make_napari_viewer,
):
    viewer = make_napari_viewer(show=True)
    viewer.open_sample("napari-leap", "two_flies")
    settle()
    assert viewer.dims.current_step[0] == 0
    reference = viewer.layers["clip labels"]
    n = len(reference.data)
    assert n > 30_000 and not reference.editable
    label = LabelingWidget(viewer)
    skeleton = SkeletonWidget(viewer, confirm=lambda m: True)
    viewer.window.add_dock_widget(label, name="Label")
    viewer.layers.selection.active = reference
    assert label.layer is None and skeleton.layer is None
    reference.mode = "add"  # napari refuses: the layer is read-only
    click(viewer, 500.0, 500.0)
    assert len(reference.data) == n and reference.mode == "pan_zoom"

    viewer2 = make_napari_viewer()
    viewer2.open(str(CLIP), plugin="napari-leap")
    assert viewer2.dims.current_step[0] == 0


def test_the_labels_layer_keeps_its_name_between_sessions(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer(show=True)
    _, label = _new_labels_layer(viewer)
    label.new_project(tmp_path / "proj1")
    click(viewer, 400.0, 400.0)
    named = label.layer.name
    assert named == "proj1 labels"
    assert sorted(lay.name for lay in viewer.layers if "labels" in lay.name) == [
        named,
        f"{named} edges",
    ]
    viewer.close()
    again = make_napari_viewer()
    label2 = LabelingWidget(again)
    label2.open_project(tmp_path / "proj1")
    assert label2.layer.name == named
