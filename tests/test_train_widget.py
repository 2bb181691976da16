"""The Train dock in a real viewer: start, progress events, Stop after a batch, checkpoint kept."""

from __future__ import annotations

from pathlib import Path

import pytest

import napari_leap

FLY32 = Path(napari_leap.__file__).parent / "sample_data" / "fly32" / "example_annotation_set.h5"
TINY = {
    "arch_params": {"filters": 4, "depth": 2, "max_filters": 16},
    "input_scale": 0.25,
    "batch_size": 4,
    "steps_per_epoch": 2,
    "device": "cpu",
    "epochs": 500,
}


@pytest.mark.gui
def test_train_widget_runs_stops_and_keeps_checkpoint(make_napari_viewer, qtbot, tmp_path):
    from napari_leap.napari.widgets.train import FILE_ITEM, TrainWidget
    from napari_leap.pose.train import BatchEnd, EpochEnd, TrainStarted

    viewer = make_napari_viewer()
    widget = TrainWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.source.setCurrentText(FILE_ITEM)
    widget.path.setText(str(FLY32))
    widget.out.setText(str(tmp_path / "model"))
    widget.start(**TINY)
    assert not widget.train_btn.isEnabled() and widget.stop_btn.isEnabled()
    qtbot.waitUntil(
        lambda: sum(isinstance(e, EpochEnd) for e in widget.events) >= 2, timeout=90_000
    )
    widget.stop_btn.click()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    kinds = [type(e) for e in widget.events]
    assert TrainStarted in kinds and BatchEnd in kinds
    assert sum(k is EpochEnd for k in kinds) < 500  # stopped long before the end
    assert (tmp_path / "model" / "best.pt").is_file() and (tmp_path / "model" / "last.pt").is_file()
    assert (
        widget.model is not None and widget.model.config["training"]["stopped_reason"] == "stopped"
    )
    # the per-body-part bar plot replaced the error curve
    assert len(widget.plot.err_ax.patches) == 32
    assert widget.train_btn.isEnabled()


@pytest.mark.gui
def test_train_widget_bad_source_shows_error_and_stays_usable(
    make_napari_viewer, qtbot, tmp_path, monkeypatch
):
    import napari.utils.notifications as notifications

    from napari_leap.napari.widgets import train as train_widget

    shown = []
    monkeypatch.setattr(notifications, "show_error", shown.append)
    viewer = make_napari_viewer()
    widget = train_widget.TrainWidget(viewer)
    widget.source.setCurrentText(train_widget.FILE_ITEM)
    widget.path.setText("")
    widget.start()
    widget.path.setText(str(tmp_path / "missing.slp"))
    widget.out.setText(str(tmp_path / "m"))
    widget.start()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    assert len(shown) == 2 and "choose a labels layer" in shown[0]
    assert "does not exist" in shown[1]
    assert widget.train_btn.isEnabled() and not (tmp_path / "m" / "best.pt").exists()


@pytest.mark.gui
def test_train_widget_checks_the_model_folder_before_starting(
    make_napari_viewer, tmp_path, monkeypatch
):
    """The dock makes the CLI's checks (``check_config``) before any work, not hours later."""
    from napari.utils import notifications

    from napari_leap.napari.widgets import train as train_widget

    shown = []
    monkeypatch.setattr(notifications, "show_error", shown.append)
    viewer = make_napari_viewer()
    widget = train_widget.TrainWidget(viewer)
    widget.source.setCurrentText(train_widget.FILE_ITEM)
    widget.path.setText(str(FLY32))
    (tmp_path / "a_file").write_text("")
    widget.out.setText(str(tmp_path / "a_file" / "model"))
    widget.start(**TINY)
    assert widget.worker is None  # refused at once: no thread started
    assert len(shown) == 1 and "is a file, not a folder" in shown[0]
    assert widget.train_btn.isEnabled()


@pytest.mark.gui
def test_train_widget_fine_tunes_the_projects_newest_model(
    make_napari_viewer, qtbot, tmp_path, monkeypatch
):
    """ "fine-tune the project's newest model": the run starts from that model's weights and
    settings; without a project it says so and does not start."""
    import json

    import napari.utils.notifications as notifications
    import numpy as np

    from napari_leap.io import project as project_module
    from napari_leap.napari.widgets.train import FILE_ITEM, TrainWidget
    from napari_leap.pose.dataset import load_box_h5
    from napari_leap.pose.train import TrainConfig, train

    base = tmp_path / "base"
    train(load_box_h5(FLY32).subset(np.arange(12)), base, TrainConfig(**TINY | {"epochs": 1}))
    shown = []
    monkeypatch.setattr(notifications, "show_error", shown.append)
    viewer = make_napari_viewer()
    widget = TrainWidget(viewer)
    widget.source.setCurrentText(FILE_ITEM)
    widget.path.setText(str(FLY32))
    widget.out.setText(str(tmp_path / "tuned"))
    widget._out_auto = False
    widget.fine_tune.setChecked(True)
    widget.start(epochs=1, steps_per_epoch=1, device="cpu")
    assert widget.worker is None and "train from a project" in shown[-1]

    class FakeProject:
        @staticmethod
        def open(root):
            return FakeProject()

        def newest_model(self):
            return base

    monkeypatch.setattr(widget, "training_project", lambda: tmp_path)
    monkeypatch.setattr(project_module, "Project", FakeProject)
    monkeypatch.setattr(widget, "_record_in_project", lambda root, model_dir: None)
    widget.arch.setCurrentText("leap_cnn")  # ignored: a fine-tune keeps the model's network
    widget.start(epochs=1, steps_per_epoch=1, device="cpu")
    qtbot.waitUntil(lambda: widget.worker is None, timeout=90_000)
    cfg = json.loads((tmp_path / "tuned" / "config.json").read_text())
    assert cfg["training"]["init_from"] == str(base) and cfg["arch"] == "unet"
    assert cfg["input_scale"] == 0.25


@pytest.mark.gui
def test_the_train_dock_shows_the_left_out_points_as_a_warning(
    make_napari_viewer, qtbot, tmp_path, monkeypatch
):
    import napari.utils.notifications as notifications

    from napari_leap.napari.widgets.train import FILE_ITEM, TrainWidget
    from napari_leap.pose.train import EpochEnd
    from test_strays import _slipped_boxes

    shown: list[str] = []
    monkeypatch.setattr(notifications, "show_warning", shown.append)
    viewer = make_napari_viewer()
    widget = TrainWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.source.setCurrentText(FILE_ITEM)
    widget.path.setText(str(_slipped_boxes(tmp_path)))  # no video to scan: trains at once
    widget.out.setText(str(tmp_path / "model"))
    widget.start(**TINY)
    qtbot.waitUntil(lambda: any(isinstance(e, EpochEnd) for e in widget.events), timeout=120_000)
    widget.stop_btn.click()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=60_000)
    assert len(shown) == 1 and "head on box 7" in shown[0]


@pytest.mark.gui
def test_the_train_dock_trains_from_a_packages_layer(make_napari_viewer, qtbot, tmp_path):
    """A .pkg.slp's layer (points corrected in napari, say) trains with the images the
    package embeds; it was refused: "does not know its video"."""
    from conftest import CLIP_LABELS, some_frames
    from napari_leap.napari import labels_io
    from napari_leap.napari.widgets.train import TrainWidget

    package = tmp_path / "flies.pkg.slp"
    labels = some_frames(CLIP_LABELS, (0, 400, 800))
    for lf in labels.labeled_frames:  # one fly: a full-frame model
        lf.instances = lf.instances[:1]
    labels.save(str(package), embed="user", verbose=False)
    viewer = make_napari_viewer()
    for data, kwargs, kind in labels_io.read_labels(package):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    widget = TrainWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.source.setCurrentText("flies.pkg labels")
    widget.out.setText(str(tmp_path / "model"))
    widget.start(**{**TINY, "epochs": 1, "input_scale": 0.125}, align="none")
    qtbot.waitUntil(lambda: widget.worker is None, timeout=120_000)
    assert widget.model is not None and (tmp_path / "model" / "best.pt").is_file()
    assert widget.model.config["training"]["n_train"] == 3  # the package's three frames
