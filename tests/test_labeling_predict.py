"""Predict-and-correct with a real model: a model trained for two steps predicts the
suggested frames in a worker and its points appear as predictions."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import CLIP_LABELS
from napari_leap.io.labels import load_labels, skeleton_from_sleap
from napari_leap.io.project import Project
from napari_leap.napari.widgets.labeling import LabelingWidget

pytestmark = pytest.mark.gui


def test_predict_with_a_trained_model(make_napari_viewer, tmp_path, qtbot):
    """A real (two-step) model predicts the suggested frames in a worker; points appear as
    predictions on the project's animals."""
    from test_predict import train_small_model

    model_dir, video, labels_path = train_small_model(tmp_path)
    reference = load_labels(CLIP_LABELS)
    skeleton = skeleton_from_sleap(reference.skeletons[0])
    project = Project.create(
        tmp_path / "proj",
        skeleton,
        videos=[video],
        settings={"tracks": ["female", "male"], "tracked": True},
    )
    viewer = make_napari_viewer()
    widget = LabelingWidget(viewer)
    widget.open_project(project.root)
    widget.set_model(model_dir)
    widget.set_suggestions([3, 7])
    widget.predict(widget.suggestions)
    qtbot.waitUntil(lambda: len(widget.layer.data) > 0, timeout=120_000)
    layer = widget.layer
    assert set(layer.features["status"].astype(str)) == {"predicted"}
    assert set(np.rint(layer.data[:, 0]).astype(int)) == {3, 7}
    assert set(layer.features["animal"].astype(str)) <= {"female", "male"}
    assert np.isfinite(layer.features["confidence"]).all()
    assert widget.labelled_frames() == {}
