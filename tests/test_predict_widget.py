"""The Predict dock widget in a real viewer: layers stream in, threshold, tails, export, errors."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import some_frames
from napari_leap.io.labels import load_labels, poses_from_labels
from napari_leap.io.video import open_video
from napari_leap.napari import layers
from napari_leap.pose import predict as P

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from test_predict import train_small_model

    return train_small_model(tmp_path_factory.mktemp("predict_widget"))


def test_widget_predicts_shows_and_exports(make_napari_viewer, qtbot, small, tmp_path, monkeypatch):
    import napari.utils.notifications as notifications

    from napari_leap.napari.widgets.predict import PredictWidget

    errors = []
    monkeypatch.setattr(notifications, "show_error", errors.append)
    model_dir, video, labels_path = small
    viewer = make_napari_viewer()
    data, kwargs, _ = layers.video_layer_data(open_video(video), path=video)
    viewer.add_image(data, **kwargs)
    user = poses_from_labels(load_labels(labels_path))
    pdata, pkw, _ = layers.points_layer_data(user, name="labels", video=video)
    viewer.add_points(pdata, **pkw)

    w = PredictWidget(viewer)
    assert w.source_combo.currentText() == kwargs["name"]
    w.model_edit.setText(str(model_dir))
    w.start_spin.setValue(0)
    w.stop_spin.setValue(16)
    w.batch_spin.setValue(8)
    events = []
    w.start()
    w._worker.yielded.connect(events.append)
    qtbot.waitUntil(lambda: not w.running, timeout=180_000)
    assert not errors
    assert w.result is not None and len(w.result.poses[0].frames) == 16
    assert any(e.phase == "predict" and np.isfinite(e.fps) for e in events)
    assert "done" in w.progress_bar.format()

    tag = f" [{kwargs['name']}]"
    points = viewer.layers["predictions" + tag]
    assert len(points.data) == 16 * 2 * 13
    assert {"animal", "node", "confidence"} <= set(points.features.columns)
    np.testing.assert_array_equal(np.unique(points.data[:, 0]), np.arange(16))
    tracks = viewer.layers["tracks" + tag]
    assert len(np.unique(tracks.data[:, 0])) == 2 * 13  # one track per animal and body part
    # coloured like the points: one colour per body part
    assert len(np.unique(np.round(tracks.track_colors, 4), axis=0)) == 13
    assert viewer.layers["skeleton" + tag].data.shape[1:] == (2, 3)

    conf = np.asarray(points.features["confidence"])
    for value in (0, int(round(float(np.median(conf)) * 100))):
        w.threshold_slider.setValue(value)
        np.testing.assert_array_equal(points.shown, conf >= w.threshold)
    w.tail_spin.setValue(7)
    assert tracks.tail_length == 7

    out = w.export(tmp_path / "w.csv")
    frames, animals, nodes, pts, _ = P.read_csv(out)
    np.testing.assert_array_equal(frames, np.arange(16))
    np.testing.assert_array_equal(pts, w.result.poses[0].points)
    assert w.evaluation is not None and "thorax" in w.validation.text()
    # the DeepLabCut button: its save dialog, then DeepLabCut's table under the name given
    from qtpy.QtWidgets import QFileDialog

    asked = tmp_path / "dlc_table"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(asked), ""))
    w.export_buttons["DeepLabCut .csv"].click()
    table = asked.with_suffix(".csv").read_text().splitlines()
    assert table[0].startswith("scorer,napari-leap") and table[3].startswith("coords,x,y,")
    assert len(table) == 4 + 16 and "dlc_table.csv" in w.status.text()

    # a bad model folder: one notification, the widget stays usable
    w.model_edit.setText(str(tmp_path / "missing"))
    w.start()
    qtbot.waitUntil(lambda: not w.running, timeout=60_000)
    assert len(errors) == 1 and "does not exist" in errors[0]
    assert w.predict_button.isEnabled()


def test_flip_checkbox_predicts_with_flip_average(make_napari_viewer, qtbot, small):
    from napari_leap.napari.widgets.predict import PredictWidget

    model_dir, video, _ = small
    viewer = make_napari_viewer()
    data, kwargs, _ = layers.video_layer_data(open_video(video), path=video)
    viewer.add_image(data, **kwargs)
    w = PredictWidget(viewer)
    w.model_edit.setText(str(model_dir))
    w.stop_spin.setValue(8)
    w.batch_spin.setValue(8)
    w.flip_check.click()  # as a click does: toggles and emits clicked/toggled
    assert w.flip_check.isChecked()
    w.start()
    qtbot.waitUntil(lambda: not w.running, timeout=180_000)
    expected = P.predict(model_dir, video, frames="0:8", batch_size=8, flip_average=True)
    np.testing.assert_allclose(w.result.poses[0].points, expected.poses[0].points)


def test_a_package_opened_in_napari_shows_and_predicts_its_own_frames(
    make_napari_viewer, qtbot, small, tmp_path
):
    """A .pkg.slp dropped on napari: its embedded images under the points (there were
    none: points on black), and the Predict dock predicts the frames it holds, not the
    black frames between them."""
    import sleap_io as sio

    from napari_leap.napari import labels_io
    from napari_leap.napari.widgets.predict import PredictWidget

    model_dir, _, labels_path = small
    package = tmp_path / "three.pkg.slp"
    some_frames(labels_path, (3, 10, 20)).save(str(package), embed="user", verbose=False)
    viewer = make_napari_viewer()
    for data, kwargs, kind in labels_io.read_labels(package):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    image = viewer.layers["three.pkg labels frames"]
    embedded = sio.load_slp(str(package)).videos[0]
    assert image.data.shape[0] == 21
    np.testing.assert_array_equal(np.asarray(image.data[10]), np.asarray(embedded[10])[..., 0])
    assert not np.asarray(image.data[11]).any()  # not in the package: black

    w = PredictWidget(viewer)
    assert w.source_combo.currentText() == image.name
    w.model_edit.setText(str(model_dir))
    w.batch_spin.setValue(8)
    w.start()
    qtbot.waitUntil(lambda: not w.running, timeout=180_000)
    assert w.result.poses[0].frames.tolist() == [3, 10, 20]
    shown = viewer.layers[f"predictions [{image.name}]"]
    assert set(np.unique(shown.data[:, 0])) == {3, 10, 20}
