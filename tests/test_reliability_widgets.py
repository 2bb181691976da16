"""The same bad inputs through the reader and every dock widget in a real viewer.

Each case asserts a napari error notification carrying one sentence, that no
exception escaped into Qt (pytest-qt's ``capture_exceptions``), that the widget
is usable again afterwards and, where a project is involved, that its folder
is byte-identical. Run under ``xvfb-run -a``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import CLIP
from napari_leap.io.labels import labels_from_poses
from test_reliability_cli import (
    build_models,
    clip_labels,
    make_bad_inputs,
    make_label_files,
    tree_hash,
)

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_gui")
    paths = make_bad_inputs(root)
    paths.update(make_label_files(root, CLIP))
    return paths


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The same small models as the CLI tests (trained once for this module)."""
    return build_models(tmp_path_factory.mktemp("models_gui"))


@pytest.fixture
def errors(monkeypatch):
    """Every message the widgets show with ``napari.utils.notifications.show_error``."""
    import napari.utils.notifications as notifications

    shown: list[str] = []
    monkeypatch.setattr(notifications, "show_error", lambda message: shown.append(str(message)))
    return shown


def one_sentence(shown: list[str], *fragments: str) -> str:
    assert shown, "no notification was shown"
    message = shown[-1]
    assert "\n" not in message and "Traceback" not in message, message
    for fragment in fragments:
        assert fragment.lower() in message.lower(), message
    return message


def wait_idle(qtbot, widget, attr: str, timeout: int = 60_000) -> None:
    qtbot.waitUntil(lambda: getattr(widget, attr) is None, timeout=timeout)


@pytest.fixture
def project(tmp_path):
    from napari_leap.io.project import Project

    poses, skeleton = clip_labels()
    project = Project.create(tmp_path / "flies", skeleton, videos=[CLIP])
    project.labels = labels_from_poses(poses, project.sleap_video(0), predicted=False)
    project.save()
    return project.root, tree_hash(project.root)


# -- the reader -------------------------------------------------------------------------------

READER_CASES = {
    "empty": "empty",
    "text_mp4": "not a video",
    "truncated_mp4": "truncated",
    "codec": "codec",
    "audio": "no video stream",
    "empty_slp": "empty",
    "text_slp": "cannot be read",
}


@pytest.mark.parametrize("case", list(READER_CASES))
def test_reader_refuses_bad_files_with_one_sentence(make_napari_viewer, qtbot, bad, case):
    """napari shows the reader's error; ours is the cause, one line, and no layer is added."""
    from napari_leap.errors import LeapError

    viewer = make_napari_viewer()
    with qtbot.capture_exceptions() as escaped, pytest.raises(Exception) as info:
        viewer.open(str(bad[case]), plugin="napari-leap")
    assert not escaped
    cause = info.value
    while cause is not None and not isinstance(cause, LeapError):
        cause = cause.__cause__ or cause.__context__
    assert cause is not None, repr(info.value)
    assert "\n" not in str(cause) and READER_CASES[case] in str(cause).lower()
    assert len(viewer.layers) == 0


def test_reader_opens_a_folder_of_images_of_several_sizes(make_napari_viewer, bad):
    """A DeepLabCut folder mixes a rig's crops: shown padded to the largest, not refused."""
    viewer = make_napari_viewer()
    viewer.open(str(bad["mixed"]), plugin="napari-leap")
    (layer,) = viewer.layers
    assert layer.data.shape[:3] == (3, 48, 64)  # frames of 60x40 and 64x48


def test_reader_declines_what_it_cannot_know(bad):
    from napari_leap.napari.reader import get_reader

    assert get_reader(str(bad["missing"])) is None
    assert get_reader([str(bad["good"]), str(bad["good"])]) is None


def test_truncated_recording_opens_with_the_frames_that_decode(make_napari_viewer, bad):
    viewer = make_napari_viewer()
    viewer.open(str(bad["truncated_mkv"]), plugin="napari-leap")
    n = viewer.layers[0].data.shape[0]
    assert 0 < n < 60
    viewer.dims.set_point(0, n - 1)  # the last frame shown decodes


# -- align ------------------------------------------------------------------------------------


def _video_layer(viewer, path: Path):
    from napari_leap.napari.reader import read_video

    data, kwargs, _ = read_video(str(path))[0]
    return viewer.add_image(data, **kwargs)


def test_align_widget_box_larger_than_the_frame(make_napari_viewer, qtbot, bad, errors):
    from napari_leap.napari.widgets.align import AlignWidget

    viewer = make_napari_viewer()
    widget = AlignWidget(viewer)
    with qtbot.capture_exceptions() as escaped:
        widget.run()  # no video yet
        one_sentence(errors, "open a video")
        _video_layer(viewer, bad["good"])
        widget.box_spin.setValue(min(5000, widget.box_spin.maximum()))
        assert widget.run() is None
        one_sentence(errors, "larger than the frame")
    assert not escaped
    assert widget.run_button.isEnabled()


# -- predict ----------------------------------------------------------------------------------

PREDICT_MODEL_CASES = {
    "missing": "does not exist",
    "corrupt": "corrupt",
    "no_config": "damaged",
    "labels": "folder",
    "fly32": "192x192",
}


@pytest.fixture
def predict_widget(make_napari_viewer, models):
    from napari_leap.napari.widgets.predict import PredictWidget

    viewer = make_napari_viewer()
    _video_layer(viewer, models["video"])
    return PredictWidget(viewer)


@pytest.mark.parametrize("case", list(PREDICT_MODEL_CASES))
def test_predict_widget_bad_models(predict_widget, qtbot, models, errors, tmp_path, case):
    widget = predict_widget
    model = tmp_path / "no_model" if case == "missing" else models[case]
    widget.model_edit.setText(str(model))
    widget.start_spin.setValue(0)
    widget.stop_spin.setValue(4)
    with qtbot.capture_exceptions() as escaped:
        widget.start()
        wait_idle(qtbot, widget, "_worker")
    assert not escaped, escaped
    one_sentence(errors, PREDICT_MODEL_CASES[case])
    assert widget.predict_button.isEnabled() and widget.result is None


def test_predict_widget_out_of_range_frames_then_recovers(predict_widget, qtbot, models, errors):
    widget = predict_widget
    widget.model_edit.setText(str(models["model"]))
    widget.stop_spin.setMaximum(10**6)
    widget.start_spin.setMaximum(10**6)
    widget.start_spin.setValue(5000)
    widget.stop_spin.setValue(6000)
    with qtbot.capture_exceptions() as escaped:
        widget.start()
        wait_idle(qtbot, widget, "_worker")
        one_sentence(errors, "out of range")
        widget.start_spin.setValue(0)
        widget.stop_spin.setValue(2)
        widget.start()  # the widget is usable again
        wait_idle(qtbot, widget, "_worker")
    assert not escaped, escaped
    assert widget.result is not None and len(widget.result.poses[0].frames) == 2


def test_predict_widget_project_with_another_skeleton_is_unchanged(
    predict_widget, qtbot, models, project, errors
):
    root, before = project
    widget = predict_widget
    widget.model_edit.setText(str(models["fly32"]))
    widget.set_project(root)
    with qtbot.capture_exceptions() as escaped:
        widget.start()
        wait_idle(qtbot, widget, "_worker")
    assert not escaped, escaped
    one_sentence(errors, "skeleton")
    assert tree_hash(root) == before


# -- train ------------------------------------------------------------------------------------

TRAIN_CASES = {
    "missing": "does not exist",
    "folder": "folder",
    "empty_slp": "empty",
    "text_slp": "cannot be read",
    "zero": "no labelled frames",
}


@pytest.mark.parametrize("case", list(TRAIN_CASES))
def test_train_widget_bad_labels(make_napari_viewer, qtbot, bad, errors, tmp_path, case):
    from napari_leap.napari.widgets.train import FILE_ITEM, TrainWidget

    widget = TrainWidget(make_napari_viewer())
    widget.source.setCurrentText(FILE_ITEM)
    widget.path.setText(str(bad[case]))
    widget.out.setText(str(tmp_path / "model"))
    with qtbot.capture_exceptions() as escaped:
        widget.start(epochs=1, steps_per_epoch=1)
        wait_idle(qtbot, widget, "worker")
    assert not escaped, escaped
    one_sentence(errors, TRAIN_CASES[case])
    assert widget.train_btn.isEnabled()
    assert not (tmp_path / "model").exists() or not list((tmp_path / "model").iterdir())


def test_train_widget_project_problems_leave_it_unchanged(
    make_napari_viewer, qtbot, bad, errors, project
):
    from napari_leap.napari.widgets.train import FILE_ITEM, TrainWidget

    root, _ = project
    shutil.copy(bad["other_skeleton"], root / "labels.slp")
    before = tree_hash(root)
    widget = TrainWidget(make_napari_viewer())
    widget.source.setCurrentText(FILE_ITEM)
    widget.path.setText(str(root))
    widget.out.setText(str(root / "models" / "m"))
    with qtbot.capture_exceptions() as escaped:
        widget.start(epochs=1, steps_per_epoch=1)
        wait_idle(qtbot, widget, "worker")
    assert not escaped, escaped
    one_sentence(errors, "skeleton")
    assert tree_hash(root) == before


# -- labeling ---------------------------------------------------------------------------------


def _open_with_dialog(widget, monkeypatch, path) -> None:
    from qtpy.QtWidgets import QFileDialog

    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(path))
    )
    widget._open_project_dialog()


@pytest.mark.parametrize("case", ["missing", "not_a_project", "other_skeleton", "damaged"])
def test_labeling_widget_open_bad_projects(
    make_napari_viewer, qtbot, monkeypatch, bad, errors, project, tmp_path, case
):
    from napari_leap.napari.widgets.labeling import LabelingWidget

    root, _ = project
    expect = {
        "missing": "does not exist",
        "not_a_project": "not a napari-leap project",
        "other_skeleton": "skeleton",
        "damaged": "damaged",
    }[case]
    if case == "missing":
        root = tmp_path / "nowhere"
    elif case == "not_a_project":
        root = bad["folder"]
    elif case == "other_skeleton":
        shutil.copy(bad["other_skeleton"], root / "labels.slp")
    else:
        (root / "napari-leap.yaml").write_text("skeleton: [unclosed")
    before = tree_hash(root) if root.exists() else None
    viewer = make_napari_viewer()
    widget = LabelingWidget(viewer)
    with qtbot.capture_exceptions() as escaped:
        _open_with_dialog(widget, monkeypatch, root)
    assert not escaped, escaped
    one_sentence(errors, expect)
    assert widget.project is None
    if before is not None:
        assert tree_hash(root) == before


@pytest.mark.parametrize("code", ["ENOSPC", "EROFS"])
def test_labeling_autosave_on_a_full_or_read_only_disk(
    make_napari_viewer, qtbot, monkeypatch, errors, project, code
):
    """The save fails, the person is told once, the labels stay in the layer, the project is intact."""
    import errno
    import os

    import numpy as np

    from napari_leap.napari.widgets.labeling import LabelingWidget

    root, before = project
    viewer = make_napari_viewer()
    widget = LabelingWidget(viewer)
    widget.open_project(root)
    n_points = len(widget.layer.data)
    widget.go_to(100)
    widget.place(np.array([100, 512.0, 512.0]), node=0, animal=0)
    assert len(widget.layer.data) == n_points + 1

    def fail(fd, _code=getattr(errno, code)):
        raise OSError(_code, os.strerror(_code))

    monkeypatch.setattr(os, "fsync", fail)
    with qtbot.capture_exceptions() as escaped:
        widget.autosave()
    assert not escaped, escaped
    one_sentence(errors, "autosave failed")
    assert tree_hash(root) == before
    assert len(widget.layer.data) == n_points + 1
    monkeypatch.undo()
    widget.autosave()  # space freed: the same edits are saved now
    assert tree_hash(root) != before


# -- skeleton ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["missing", "folder", "empty_slp", "text_slp"])
def test_skeleton_widget_load_bad_files(make_napari_viewer, qtbot, monkeypatch, bad, errors, case):
    from qtpy.QtWidgets import QFileDialog

    from napari_leap.napari.widgets.skeleton import SkeletonWidget

    widget = SkeletonWidget(make_napari_viewer())
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(bad[case]), ""))
    )
    with qtbot.capture_exceptions() as escaped:
        widget._load_dialog()
    assert not escaped, escaped
    one_sentence(errors)


@pytest.mark.parametrize("case", ["corrupt", "fly32"])
def test_labeling_widget_predict_with_a_bad_model(
    make_napari_viewer, qtbot, models, errors, project, case
):
    """Predicting suggested frames with a broken model: told once, nothing escapes, labels intact."""
    from napari_leap.napari.widgets.labeling import LabelingWidget

    root, before = project
    widget = LabelingWidget(make_napari_viewer())
    widget.open_project(root)
    n_points = len(widget.layer.data)
    widget.set_model(models[case])
    with qtbot.capture_exceptions() as escaped:
        widget.predict([0, 1])
        qtbot.waitUntil(lambda: bool(errors), timeout=60_000)
        qtbot.wait(200)
    assert not escaped, escaped
    one_sentence(errors, "prediction failed")
    assert len(widget.layer.data) == n_points
    assert tree_hash(root) == before
