"""Train dock widget: pick labels, an architecture and a folder; watch the losses fall.

``Train`` runs :func:`napari_leap.pose.train.iter_train` in a ``thread_worker``
that yields its events: the napari progress bar advances per epoch, the loss
curves redraw in the dock (:mod:`.plot`), and ``Stop`` sets the run's stop event
so it ends after the current batch and keeps the best checkpoint. After training,
a bar plot shows the validation error per body part (where the model still errs).
"""

from __future__ import annotations

import threading
from pathlib import Path

from qtpy.QtWidgets import QFileDialog, QWidget

from napari_leap.napari import labels_io, layers
from napari_leap.napari._compat import unwrapped
from napari_leap.napari.widgets.errors import show_error, show_warning
from napari_leap.napari.widgets.train.controls import ALIGN_ITEMS, FILE_ITEM, build_controls


class TrainWidget(QWidget):
    """Choose labels, architecture and output folder; Train / Stop; live curves."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = unwrapped(napari_viewer)  # the docks share layers by identity
        self.worker = None
        self.stop_event: threading.Event | None = None
        self.events: list = []  # every event of the current run, for tests and the log
        self.model = None
        self._pbar = None
        self._earlier: list[dict] = []  # epochs of a resumed run done before this start
        self._out_dir: Path | None = None
        self._project: Path | None = None  # the project the run trains from: it gets the model
        self._out_auto = True  # the model folder is ours to choose until a person edits it
        self._validation_warning = ""  # said with every status line while it applies

        build_controls(self)

        self._refresh_sources()
        self.viewer.layers.events.inserted.connect(self._refresh_sources)
        self.viewer.layers.events.removed.connect(self._refresh_sources)

    # -- sources -------------------------------------------------------------------------
    def _refresh_sources(self, *_):
        current = self.source.currentText()
        self.source.clear()
        for layer in self.viewer.layers:
            if layers.is_pose_layer(layer):
                self.source.addItem(layer.name)
                layer.events.name.connect(self._refresh_sources)  # New project renames it
        self.source.addItem(FILE_ITEM)
        if current and self.source.findText(current) >= 0:
            self.source.setCurrentText(current)

    def _browse_file(self):
        path, _ = QFileDialog.getOpenFileName(self, "Labels file")
        if path:
            self.path.setText(path)
            self.source.setCurrentText(FILE_ITEM)

    def _browse_folder(self):
        path = QFileDialog.getExistingDirectory(self, "Project folder")
        if path:
            self.path.setText(path)
            self.source.setCurrentText(FILE_ITEM)

    def _browse_out(self):
        path = QFileDialog.getExistingDirectory(self, "Model folder (new or to resume)")
        if path:
            self.out.setText(path)
            self._out_edited()

    def _out_edited(self, *_):
        self._out_auto = False

    def training_project(self) -> Path | None:
        """The project folder the chosen source belongs to (a Label dock layer, or a folder)."""
        from napari_leap.io.project import MANIFEST

        name = self.source.currentText()
        if name and name != FILE_ITEM:
            root = self.viewer.layers[name].metadata.get("project")
            return Path(root) if root else None
        text = self.path.text().strip()
        return Path(text) if text and (Path(text) / MANIFEST).is_file() else None

    def training_source(self):
        """What ``iter_train`` gets: a labels path, or labels built from the chosen layer."""
        from napari_leap.errors import LeapError

        name = self.source.currentText()
        if name and name != FILE_ITEM:
            layer = self.viewer.layers[name]
            video = layer.metadata.get("video") or labels_io.own_video(layer.metadata)
            if video is None:
                raise LeapError(
                    f"layer {name!r} does not know its video; open the video with the "
                    "labels, or train from the saved labels file."
                )
            return layers.layer_to_labels(layer.data, layer.features, layer.metadata, video=video)
        text = self.path.text().strip()
        if not text:
            raise LeapError(
                "choose a labels layer, or a labels file or project folder to train from."
            )
        return text

    # -- run -----------------------------------------------------------------------------
    def start(self, **overrides):
        """Start training in a thread; ``overrides`` go to the ``TrainConfig`` (tests use few steps)."""
        if self.worker is not None:
            return
        try:
            source, out_dir = self._inputs()
            init_from = self._fine_tune_from() if self.fine_tune.isChecked() else None
        except Exception as e:  # noqa: BLE001 - shown to the user, the widget stays usable
            show_error(e, "training")
            return
        from napari_leap.pose.train import DEFAULT_ARCH, TrainConfig, check_config

        network = {  # a fine-tune keeps the model's network, scale and alignment
            "arch": self.arch.currentText() if init_from is None else DEFAULT_ARCH,
            "input_scale": (self.scale.value() or None) if init_from is None else None,
            "align": ALIGN_ITEMS[self.align.currentText()] if init_from is None else None,
            "init_from": init_from,
        }
        config = TrainConfig(
            **{
                **network,
                "epochs": self.epochs.value() or None,
                "time_limit": self.minutes.value() * 60 or None,
                "resume": (out_dir / "last.pt").exists(),
                **overrides,
            }
        )
        try:
            check_config(config, out_dir)  # the CLI's checks, before any work
        except Exception as e:  # noqa: BLE001 - shown to the user, the widget stays usable
            show_error(e, "training")
            return
        self.stop_event = threading.Event()
        self._out_dir = out_dir
        self._earlier = []
        self.events = []
        self.model = None
        self.plot.clear()
        self.status.setText("preparing data...")
        self.worker = self._make_worker(source, out_dir, config, self.stop_event)
        self.worker.yielded.connect(self._on_event)
        self.worker.returned.connect(self._on_done)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_finished)
        self.train_btn.setEnabled(False)
        self.stop_btn.setEnabled(True)
        self.worker.start()

    def _inputs(self) -> tuple:
        """``(labels source, model folder)`` of a run, or the error that says what to fix."""
        from napari_leap.errors import LeapError

        source = self.training_source()
        self._project = self.training_project()
        if self._project is not None and self._out_auto:  # a new model of the project
            from napari_leap.io.project import Project

            folder = Project.open(self._project).new_model_dir(self.arch.currentText())
            self.out.setText(str(folder))
        out = self.out.text().strip()
        if not out:
            raise LeapError("choose a model folder to write the model to.")
        return source, Path(out)

    def _fine_tune_from(self) -> str:
        """The project's newest model, which a fine-tune starts from."""
        from napari_leap.errors import LeapError
        from napari_leap.io.project import Project

        if self._project is None:
            raise LeapError(
                "fine-tuning starts from the project's newest model: train from a project "
                "(its labels layer or folder), or untick fine-tune."
            )
        newest = Project.open(self._project).newest_model()
        if newest is None:
            raise LeapError("the project has no trained model yet; train one first.")
        return str(newest)

    @staticmethod
    def _make_worker(source, out_dir, config, stop_event):
        from napari.qt.threading import thread_worker

        from napari_leap.pose.train import iter_train

        @thread_worker(ignore_errors=True)  # errors go to _on_error, not re-raised in Qt
        def run():
            return (yield from iter_train(source, out_dir, config, stop=stop_event))

        return run()

    def stop(self):
        """End after the current batch; the best checkpoint is kept."""
        if self.stop_event is not None:
            self.stop_event.set()
            self.status.setText("stopping after the current batch...")

    def _on_event(self, event):
        from napari.utils import progress

        from napari_leap.pose.train import (
            BatchEnd,
            EpochEnd,
            Message,
            TrainFinished,
            TrainStarted,
            few_validation_warning,
        )

        self.events.append(event)
        if isinstance(event, Message):
            self.status.setText(event.text)
            if event.warning:  # the status line moves on; the notification stays
                show_warning(event.text)
        elif isinstance(event, TrainStarted):
            warning = few_validation_warning(event.n_val)
            self._validation_warning = f"\n{warning}" if warning else ""
            self.status.setText(
                f"{event.arch} on {event.device}: {event.n_train} training, "
                f"{event.n_val} validation images"
                f"{' (aligned boxes)' if event.aligned else ''}{self._validation_warning}"
            )
            if event.start_epoch:
                self._earlier = self._saved_history()[: event.start_epoch]
                self.plot.show_history(self._earlier)
            # last: napari's progress bar runs the event loop, handling the next events now
            self._pbar = progress(total=event.epochs, desc="training")
            self._pbar.update(event.start_epoch)
        elif isinstance(event, BatchEnd):
            self.status.setText(
                f"epoch {event.epoch}: batch {event.batch}/{event.n_batches}, loss {event.loss:.2e}"
                + self._validation_warning
            )
            self.plot.add_step(event.epoch, event.batch, event.n_batches, event.loss)
        elif isinstance(event, EpochEnd):
            history = self._earlier + [e.__dict__ for e in self.events if isinstance(e, EpochEnd)]
            self.plot.show_history(history)
            self.status.setText(
                f"epoch {event.epoch}/{event.epochs}: validation error "
                f"{event.val_error_px:.2f} px mean, {event.val_error_median_px:.2f} median"
                + self._validation_warning
            )
            if self._pbar is not None:  # last, as above
                self._pbar.update(1)
        elif isinstance(event, TrainFinished):
            self.status.setText(
                f"done ({event.reason}); best epoch {event.best_epoch}, "
                f"validation error {event.best_val_error_px:.2f} px -> {event.model_dir}"
                + self._validation_warning
            )

    def _saved_history(self) -> list[dict]:
        import json

        try:
            return json.loads((self._out_dir / "history.json").read_text())
        except (OSError, ValueError):
            return []

    def _on_done(self, model):
        self.model = model
        if self._project is not None:
            self._record_in_project(self._project, self._out_dir)
        training = model.config.get("training", {})
        per_node = training.get("per_node_val_error") or []
        if per_node:
            self.plot.show_per_node(model.skeleton.nodes, per_node)

    def _record_in_project(self, root: Path, model_dir: Path) -> None:
        """List the model in the project's manifest: Label and Predict docks then use it."""
        from napari_leap.io.project import Project

        try:
            Project.open(root).record_model(model_dir)
        except Exception as e:  # noqa: BLE001 - the model is safe in its folder; say so
            show_error(f"the model is in {model_dir} but could not be added to the project: {e}")
            return
        self.status.setText(f"{self.status.text()}; recorded in project {root.name}")

    def _on_error(self, e):
        self.status.setText(show_error(e, "training"))

    def _on_finished(self):
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        self.worker = None
        self.train_btn.setEnabled(True)
        self.stop_btn.setEnabled(False)
