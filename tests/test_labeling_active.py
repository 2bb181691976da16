"""The predict-and-correct loop in the Label dock: suggestions say why, Enter accepts a
suggested frame's predictions as labels and moves on, "where the model is unsure" runs a
real model in a worker and leaves its predictions on the suggested frames."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import CLIP, CLIP_LABELS
from napari_leap.io.labels import load_labels, poses_from_labels, skeleton_from_sleap
from napari_leap.io.project import Project
from napari_leap.napari._compat import viewer_canvas
from napari_leap.napari.widgets.labeling import LabelingWidget
from napari_leap.pose.uncertainty import Suggestion

pytestmark = pytest.mark.gui


def _project(root, video):
    skeleton = skeleton_from_sleap(load_labels(CLIP_LABELS).skeletons[0])
    return Project.create(
        root, skeleton, videos=[video], settings={"tracks": ["female", "male"], "tracked": True}
    )


def test_enter_accepts_a_suggested_frame(make_napari_viewer, tmp_path, qtbot):
    from qtpy.QtCore import Qt

    project = _project(tmp_path / "proj", CLIP)
    viewer = make_napari_viewer(show=True)
    widget = LabelingWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.open_project(project.root)
    reference = poses_from_labels(load_labels(CLIP_LABELS))
    frames = [1100, 1300]
    pred = reference.select(np.isin(reference.frames, frames))
    pred.scores = np.full(pred.points.shape[:3], 0.8)
    widget._suggested(
        [Suggestion(1100, 0.9, "lowest part wingL 0.08"), Suggestion(1300, 0.7, "flip 6 px")]
    )
    widget.add_predictions(pred)
    widget.go_to(1100)
    assert widget.reason_label.text() == "suggested: lowest part wingL 0.08"
    texts = [widget.frame_list.item(i).text() for i in range(widget.frame_list.count())]
    assert "frame 1300: suggested (flip 6 px)" in texts
    assert widget.labelled_frames() == {}
    canvas = viewer_canvas(viewer).native
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key_Return)
    n_parts = len(widget.skeleton) * 2
    assert widget.labelled_frames() == {1100: n_parts}
    assert widget.frame == 1300  # on to the next suggested frame
    assert "labelled 1 of 2 suggested" in widget.count_label.text()
    widget.save()
    saved = poses_from_labels(Project.open(project.root).labels, predicted=False)
    assert saved.frames.tolist() == [1100]
    np.testing.assert_allclose(saved.points[0], pred.points[0], atol=1e-6)
    widget.undo()  # accepting is one undoable edit
    assert widget.labelled_frames() == {}


def test_suggest_where_the_model_is_unsure(make_napari_viewer, tmp_path, qtbot):
    from test_predict import train_small_model

    model_dir, video, _ = train_small_model(tmp_path)
    project = _project(tmp_path / "proj", video)
    viewer = make_napari_viewer()
    widget = LabelingWidget(viewer)
    widget.open_project(project.root)
    widget.method.setCurrentIndex(widget.method.findData("model"))
    widget.n_suggest.setValue(3)
    widget.suggest_button.click()  # no model yet: one sentence, the dock stays usable
    assert not widget.suggestions and widget.suggest_button.isEnabled()
    widget.set_model(model_dir)
    widget.suggest_button.click()
    qtbot.waitUntil(lambda: len(widget.suggestions) == 3, timeout=180_000)
    assert all(widget.suggestion_reasons[f] for f in widget.suggestions)
    assert np.diff(widget.suggestions).min() >= 5
    # the model's predictions appear on the suggested frames, ready to accept
    qtbot.waitUntil(lambda: len(widget.layer.data) > 0, timeout=120_000)
    shown = set(np.rint(widget.layer.data[:, 0]).astype(int))
    assert shown == set(widget.suggestions)
    widget.go_to(widget.suggestions[0])
    assert widget.reason_label.text().startswith("suggested: ")
    widget.accept_frame()
    assert list(widget.labelled_frames()) == [widget.suggestions[0]]
    assert widget.frame == widget.suggestions[1]
    # the reasons are kept with the project: reopened, each suggested frame still says why
    reasons = dict(widget.suggestion_reasons)
    widget.save()
    again = LabelingWidget(make_napari_viewer())
    again.open_project(project.root)
    assert again.suggestions == widget.suggestions
    assert {f: again.suggestion_reasons[f] for f in again.suggestions} == {
        f: reasons[f] for f in widget.suggestions
    }
