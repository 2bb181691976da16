"""Train dock widget: pick labels, an architecture and a folder; watch the losses fall.

``Train`` runs :func:`napari_leap.pose.train.iter_train` in a ``thread_worker``
that yields its events: the napari progress bar advances per epoch, the loss
curves redraw in the dock, and ``Stop`` sets the run's stop event so it ends
after the current batch and keeps the best checkpoint. After training, a bar
plot shows the validation error per body part (where the model still errs).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_leap.napari import layers
from napari_leap.napari.widgets.scroll import scroll_layout

FILE_ITEM = "labels file or project folder..."
ALIGN_ITEMS = {"auto": None, "align animals into boxes": True, "full frames": False}


def _show_error(message: str) -> None:
    from napari.utils.notifications import show_error

    show_error(message)


def _user_message(e: BaseException) -> str:
    from napari_leap.errors import is_user_error

    return str(e) if is_user_error(e) else f"training failed: {type(e).__name__}: {e}"


class LossPlot(QWidget):
    """Training loss per step (smoothed) as it comes, validation per epoch, then the
    validation error per body part.

    An epoch of a few labels can take minutes on a CPU, so waiting for epochs would
    leave the plot blank; each step's loss is drawn as soon as it is known.
    """

    SMOOTHING = 0.2  # weight of the newest step in the running mean drawn over the raw losses

    def __init__(self, parent=None):
        super().__init__(parent)
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(3.2, 3.6), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(260)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.loss_ax = self.figure.add_subplot(211)
        self.err_ax = self.figure.add_subplot(212)
        self.clear()

    def clear(self) -> None:
        self.steps: list[tuple[float, float]] = []  # (epochs so far, loss) of every step
        self.smoothed: list[float] = []
        for ax in (self.loss_ax, self.err_ax):
            ax.clear()
            ax.tick_params(labelsize=7)
        ax = self.loss_ax
        ax.set_title("loss", fontsize=8)
        ax.set_yscale("log")
        (self.raw_line,) = ax.plot([], [], color="#0072b2", alpha=0.25, linewidth=0.8)
        (self.train_line,) = ax.plot([], [], color="#0072b2", label="train (per step)")
        (self.val_line,) = ax.plot(
            [], [], color="#d55e00", marker="o", markersize=3, label="validation (per epoch)"
        )
        ax.legend(fontsize=7)
        self.err_ax.set_title("validation error (px)", fontsize=8)
        self.canvas.draw_idle()

    def add_step(self, epoch: int, batch: int, n_batches: int, loss: float) -> None:
        """One training step's loss, at ``epoch - 1 + batch / n_batches`` epochs."""
        if not np.isfinite(loss) or loss <= 0:
            return
        last = self.smoothed[-1] if self.smoothed else loss
        self.steps.append((epoch - 1 + batch / max(n_batches, 1), float(loss)))
        self.smoothed.append(last + self.SMOOTHING * (loss - last))
        x = [s[0] for s in self.steps]
        self.raw_line.set_data(x, [s[1] for s in self.steps])
        self.train_line.set_data(x, self.smoothed)
        self._rescale()

    def _rescale(self) -> None:
        self.loss_ax.relim()
        self.loss_ax.autoscale_view()
        self.canvas.draw_idle()

    def show_history(self, history: list[dict]) -> None:
        """Per-epoch values: validation loss and error (and, for epochs of an earlier run
        that this plot did not see step by step, the training loss)."""
        epochs = [h["epoch"] for h in history]
        self.val_line.set_data(epochs, [h["val_loss"] for h in history])
        if not self.steps and history:  # a resumed run: its earlier epochs, one point each
            self.steps = [(float(h["epoch"]), float(h["train_loss"])) for h in history]
            self.smoothed = [s[1] for s in self.steps]
            self.train_line.set_data(epochs, self.smoothed)
        self._rescale()

        def plot(ax, key: str, label: str, color: str) -> None:
            ax.plot(epochs, [h[key] for h in history], label=label, color=color, marker=".")

        ax = self.err_ax
        ax.clear()
        plot(ax, "val_error_px", "mean", "#009e73")
        plot(ax, "val_error_median_px", "median", "#e69f00")
        ax.set_yscale("log")
        ax.set_xlabel("epoch", fontsize=7)
        ax.set_title("validation error (px)", fontsize=8)
        ax.legend(fontsize=7)
        ax.tick_params(labelsize=7)
        self.canvas.draw_idle()

    def show_per_node(self, nodes: list[str], errors: list[float]) -> None:
        ax = self.err_ax
        ax.clear()
        ax.bar(range(len(nodes)), errors, color="#56b4e9")
        ax.set_xticks(range(len(nodes)))
        ax.set_xticklabels(nodes, rotation=90, fontsize=6)
        ax.set_ylabel("px", fontsize=7)
        ax.set_title("validation error per body part (best epoch, mean)", fontsize=8)
        ax.tick_params(labelsize=7)
        self.canvas.draw_idle()


class TrainWidget(QWidget):
    """Choose labels, architecture and output folder; Train / Stop; live curves."""

    def __init__(self, napari_viewer):
        super().__init__()
        from napari_leap.pose.models import ARCHITECTURES

        # napari hands plugin docks a proxy that hides private API and makes identity checks
        # fail (a new proxy per access); these docks work with the layers themselves
        self.viewer = getattr(napari_viewer, "__wrapped__", napari_viewer)
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

        form = QFormLayout()
        self.source = QComboBox()
        self.source.setToolTip("a labeling Points layer, or a labels file / project folder")
        self.path = QLineEdit()
        self.path.setPlaceholderText("labels (.slp, .mat, DLC, NWB, box .h5) or project folder")
        browse = QPushButton("File...")
        browse.clicked.connect(self._browse_file)
        browse_dir = QPushButton("Folder...")
        browse_dir.clicked.connect(self._browse_folder)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path)
        path_row.addWidget(browse)
        path_row.addWidget(browse_dir)
        form.addRow("labels", self.source)
        form.addRow("", path_row)

        self.arch = QComboBox()
        for name, text in ARCHITECTURES.items():
            self.arch.addItem(name)
            self.arch.setItemData(self.arch.count() - 1, text, 3)  # Qt.ToolTipRole
        self.arch.setCurrentText("unet")
        form.addRow("architecture", self.arch)
        self.align = QComboBox()
        self.align.addItems(list(ALIGN_ITEMS))
        self.align.setToolTip("auto: align when animals are small in the frame or several share it")
        form.addRow("alignment", self.align)
        self.epochs = QSpinBox()
        self.epochs.setRange(0, 10_000)
        self.epochs.setSpecialValueText("auto")  # iter_train's default: the budget decides
        form.addRow("epochs", self.epochs)
        self.minutes = QDoubleSpinBox()
        self.minutes.setRange(0, 10_000)
        self.minutes.setValue(0)
        self.minutes.setSpecialValueText("no limit")
        self.minutes.setSuffix(" min")
        form.addRow("time limit", self.minutes)
        self.scale = QDoubleSpinBox()
        self.scale.setRange(0, 4)
        self.scale.setSingleStep(0.05)
        self.scale.setValue(0)
        self.scale.setSpecialValueText("auto")
        form.addRow("input scale", self.scale)
        self.out = QLineEdit(str(Path.cwd() / "models" / "leap_model"))
        self.out.setToolTip(
            "training from a project: a new folder in its models/ unless you set one"
        )
        self.out.textEdited.connect(self._out_edited)
        out_btn = QPushButton("...")
        out_btn.clicked.connect(self._browse_out)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out)
        out_row.addWidget(out_btn)
        form.addRow("model folder", out_row)

        self.train_btn = QPushButton("Train")
        self.train_btn.clicked.connect(self.start)
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setEnabled(False)
        self.stop_btn.setToolTip("end after the current batch; the best checkpoint is kept")
        self.stop_btn.clicked.connect(self.stop)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_btn)
        buttons.addWidget(self.stop_btn)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.plot = LossPlot(self)

        layout = scroll_layout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.plot)
        layout.addStretch(1)

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
            video = layer.metadata.get("video")
            if not video:
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
            source = self.training_source()
            self._project = self.training_project()
            if self._project is not None and self._out_auto:  # a new model of the project
                from napari_leap.io.project import Project

                folder = Project.open(self._project).new_model_dir(self.arch.currentText())
                self.out.setText(str(folder))
            out = self.out.text().strip()
            if not out:
                from napari_leap.errors import LeapError

                raise LeapError("choose a model folder to write the model to.")
        except Exception as e:  # noqa: BLE001 - shown to the user, the widget stays usable
            _show_error(_user_message(e))
            return
        from napari_leap.pose.train import TrainConfig, check_config

        out_dir = Path(out)
        config = TrainConfig(
            **{
                "arch": self.arch.currentText(),
                "epochs": self.epochs.value() or None,
                "time_limit": self.minutes.value() * 60 or None,
                "input_scale": self.scale.value() or None,
                "align": ALIGN_ITEMS[self.align.currentText()],
                "resume": (out_dir / "last.pt").exists(),
                **overrides,
            }
        )
        try:
            check_config(config, out_dir)  # the CLI's checks, before any work
        except Exception as e:  # noqa: BLE001 - shown to the user, the widget stays usable
            _show_error(_user_message(e))
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

    @staticmethod
    def _make_worker(source, out_dir, config, stop_event):
        from napari.qt.threading import thread_worker

        from napari_leap.pose.train import iter_train

        @thread_worker(ignore_errors=True)  # errors go to _on_error, not re-raised in Qt
        def run():
            return (yield from iter_train(source, out_dir, config, stop=stop_event))

        return run()

    def stop(self):
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
            _show_error(f"the model is in {model_dir} but could not be added to the project: {e}")
            return
        self.status.setText(f"{self.status.text()}; recorded in project {root.name}")

    def _on_error(self, e):
        _show_error(_user_message(e))
        self.status.setText(_user_message(e))

    def _on_finished(self):
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        self.worker = None
        self.train_btn.setEnabled(True)
        self.stop_btn.setEnabled(False)
