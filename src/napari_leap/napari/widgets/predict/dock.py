"""Predict dock widget: run a trained model over a video and watch the poses appear.

Reads its controls, runs :func:`napari_leap.pose.predict.iter_predict` in a
``thread_worker`` and turns the chunks it yields into layers over the video
(:mod:`.display`). Cancel keeps the finished chunks; export writes .slp, .h5 or .csv.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from qtpy.QtWidgets import QFileDialog, QWidget

from napari_leap.napari import layers
from napari_leap.napari._compat import unwrapped
from napari_leap.napari.widgets.errors import show_error, show_warning
from napari_leap.napari.widgets.predict.controls import build_controls
from napari_leap.napari.widgets.predict.display import DisplayMixin

PROJECT_ITEM = "all videos of a project…"
#: seconds between layer refreshes while predictions stream in
REFRESH_S = 0.5


class _Failed:
    """What the worker returns instead of raising, so errors never escape the event loop."""

    def __init__(self, error: Exception):
        self.error = error


class PredictWidget(DisplayMixin, QWidget):
    """Choose a model and a video (or a project), predict, inspect and export the poses."""

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        self.viewer = unwrapped(napari_viewer)  # the docks share layers by identity
        self.project_path: Path | None = None
        self.result = None  # napari_leap.pose.predict.PredictResult of the last finished run
        self.evaluation = None  # EvaluationResult against a person's labels, when there are some
        self._worker = None
        self._stop: threading.Event | None = None
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._skeleton = None
        self._video_name = ""
        self._shown_video = 0
        self._last_refresh = 0.0
        self._layers: dict[str, object] = {}
        self._video_layer = None
        self._poses_shown = None
        build_controls(self)
        self._apply_threshold()
        self.viewer.layers.events.inserted.connect(self._refresh_sources)
        self.viewer.layers.events.removed.connect(self._refresh_sources)
        self._refresh_sources()

    # -- sources --------------------------------------------------------------------------
    def _video_layers(self) -> list:
        from napari.layers import Image

        from napari_leap.io.video import source_of

        out = []
        for layer in self.viewer.layers:
            if not isinstance(layer, Image):
                continue
            if source_of(layer.data) is not None or layers.layer_video_path(layer) is not None:
                out.append(layer)
        return out

    def _refresh_sources(self, event=None) -> None:
        current = self.source_combo.currentText()
        self.source_combo.clear()
        for layer in self._video_layers():
            self.source_combo.addItem(layer.name)
        self.source_combo.addItem(
            PROJECT_ITEM if self.project_path is None else f"all videos of {self.project_path.name}"
        )
        idx = self.source_combo.findText(current)
        if idx >= 0:
            self.source_combo.setCurrentIndex(idx)
        self._suggest_model()

    def _project_root(self) -> Path | None:
        """The project chosen here, else the one the Label dock's layer belongs to."""
        if self.project_path is not None:
            return self.project_path
        for layer in self.viewer.layers:
            if layers.is_pose_layer(layer) and layer.metadata.get("project"):
                return Path(layer.metadata["project"])
        return None

    def _suggest_model(self) -> None:
        """An empty model field gets the project's newest model."""
        from napari_leap.io.project import Project

        root = self._project_root()
        if self.model_edit.text().strip() or root is None:
            return
        try:
            newest = Project.open(root).newest_model()
        except Exception:  # noqa: BLE001 - a project that cannot open is reported when used
            return
        if newest is not None:
            self.model_edit.setText(str(newest))

    def _on_source_chosen(self, index: int) -> None:
        if index == self.source_combo.count() - 1 and self.project_path is None:
            folder = QFileDialog.getExistingDirectory(self, "Project folder")
            if folder:
                self.set_project(folder)

    def set_project(self, path) -> None:
        """Predict all videos of the project at ``path`` (results are saved in it)."""
        self.project_path = Path(path)
        self._refresh_sources()
        self.source_combo.setCurrentIndex(self.source_combo.count() - 1)

    def _browse_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Trained model folder")
        if folder:
            self.model_edit.setText(folder)

    def _inputs(self):
        """(what to predict, the video layer it is shown over or None)."""
        from napari_leap.io.project import Project
        from napari_leap.io.video import source_of, video_source

        if self.source_combo.currentIndex() == self.source_combo.count() - 1:
            if self.project_path is None:
                raise FileNotFoundError("choose a project folder or a video layer first.")
            return Project.open(self.project_path), None
        name = self.source_combo.currentText()
        layer = self.viewer.layers[name]
        if layer.metadata.get("labels_frames"):  # a package's images: the frames it holds
            return Path(layer.metadata["labels_frames"]), layer
        src = source_of(layer.data)
        if src is None:  # opened by another reader: napari-leap reads the file itself
            src = video_source(layers.layer_video_path(layer))
        return src, layer

    # -- running --------------------------------------------------------------------------
    def start(self) -> None:
        """Start predicting with the chosen model, source and frames (in a thread)."""
        from napari.qt.threading import thread_worker

        from napari_leap.pose.predict import iter_predict

        if self._worker is not None:
            return
        self._suggest_model()
        model_dir = self.model_edit.text().strip()
        try:
            if not model_dir:
                raise FileNotFoundError(
                    "choose a trained model folder first (or train one into the project)."
                )
            inputs, layer = self._inputs()
        except Exception as e:  # noqa: BLE001 - every failure here is shown, none escapes
            show_error(e, "starting the prediction")
            return
        start, stop = self.start_spin.value(), self.stop_spin.value()
        frames = None if (start == 0 and stop == 0) else slice(start, stop or None)
        self._stop = threading.Event()
        self._chunks = []
        self._shown_video = 0
        self._video_layer = layer
        self._video_name = layer.name if layer is not None else "project"
        self.result = None
        self.evaluation = None
        self.validation.setText("")
        for b in self.export_buttons.values():
            b.setEnabled(False)

        def work():
            from napari_leap.pose.predict import load_model

            try:
                model = load_model(model_dir)
                self._skeleton = model.skeleton
                result = yield from iter_predict(
                    model,
                    inputs,
                    frames=frames,
                    batch_size=self.batch_spin.value(),
                    flip_average=self.flip_check.isChecked(),
                    stop=self._stop,
                )
            except Exception as e:  # noqa: BLE001 - reported on the main thread, never raised
                return _Failed(e)
            return result

        self._worker = thread_worker(work, start_thread=False)()
        self._worker.yielded.connect(self._on_event)
        self._worker.returned.connect(self._on_done)
        self._worker.finished.connect(self._on_finished)
        self.predict_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setFormat("starting…")
        self._worker.start()

    def cancel(self) -> None:
        """Stop after the chunk in progress; what is finished stays on screen."""
        if self._stop is not None:
            self._stop.set()
        self.status.setText("cancelling after the current chunk…")

    @property
    def running(self) -> bool:
        """True while a prediction runs."""
        return self._worker is not None

    def _on_event(self, ev) -> None:
        self.progress_bar.setMaximum(max(1, ev.total))
        self.progress_bar.setValue(min(ev.done, ev.total))
        rate = "" if not np.isfinite(ev.fps) else f" — {ev.fps:.1f} frames/s"
        self.progress_bar.setFormat(f"{ev.phase}: %v / %m frames{rate}")
        if ev.frames is not None and ev.video == self._shown_video:
            self._chunks.append((ev.frames, ev.points, ev.scores))
            if time.monotonic() - self._last_refresh > REFRESH_S:
                self.show_poses(self._partial_poses())

    def _partial_poses(self):
        from napari_leap.model.poses import Poses, default_tracks

        f = np.concatenate([c[0] for c in self._chunks])
        p = np.concatenate([c[1] for c in self._chunks])
        s = np.concatenate([c[2] for c in self._chunks])
        order = np.argsort(f, kind="stable")
        tracks = default_tracks(p.shape[1])
        return Poses(f[order], p[order], s[order], tracks, self._skeleton)

    def _on_done(self, result) -> None:
        if isinstance(result, _Failed):  # the core refuses an all-empty run too
            self._on_error(result.error)
            if self._chunks:  # what streamed in replaces an older run's layers (none if empty)
                self.show_poses(self._partial_poses())
            return
        if result is None:  # cancelled: keep what streamed in
            self.status.setText(
                f"cancelled; {sum(len(c[0]) for c in self._chunks)} frames kept on screen"
            )
            if self._chunks:
                self.show_poses(self._partial_poses())
            return
        n = sum(len(p.frames) for p in result.poses)
        empty = result.frames_without_animals
        self.result = result
        self.show_poses(result.poses[self._shown_video])
        for b in self.export_buttons.values():
            b.setEnabled(True)
        self.status.setText(
            f"{n} frames predicted in {len(result.poses)} video(s)"
            + (f"; {empty} of them had no animals" if empty else "")
        )
        for text in result.warnings:  # model and data must fit (pose/fit.py)
            show_warning(text)
        self._validate()

    def _on_error(self, e: Exception) -> None:
        self.status.setText(show_error(e, "prediction"))

    def _on_finished(self) -> None:
        self._worker = None
        self.predict_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self.result is not None:
            self.progress_bar.setFormat("done: %v / %m frames")

    # -- export and validation --------------------------------------------------------------
    def _export_dialog(self, ext: str, fmt: str | None = None) -> None:
        what = "DeepLabCut's table" if fmt == "dlc" else ext
        path, _ = QFileDialog.getSaveFileName(
            self, f"Save predictions as {what}", f"predictions{ext}", f"*{ext}"
        )
        if path:
            self.export(path if path.endswith(ext) else path + ext, fmt)

    def export(self, path, fmt: str | None = None) -> Path | None:
        """Write the last predictions to ``path`` (.slp, .h5 or .csv by extension, or ``fmt``)."""
        from napari_leap.pose.predict import write_predictions
        from napari_leap.pose.predict.writers import written_text

        if self.result is None:
            show_error("nothing to export yet; run a prediction first.")
            return None
        try:
            out = write_predictions(self.result, path, fmt)
        except Exception as e:  # noqa: BLE001 - shown to the user, the widget stays usable
            show_error(e, "exporting the predictions")
            return None
        self.status.setText(f"saved {written_text(out, len(self.result.poses), fmt)}")
        return out

    def _ground_truth(self):
        """A person's labels for the predicted video: a pose layer over it, or the project's."""
        from napari_leap.io.labels import labels_from_poses

        if self.project_path is not None and self._video_layer is None:
            from napari_leap.io.project import Project

            labels = Project.open(self.project_path).labels
            return labels if labels.labeled_frames else None
        for layer in self.viewer.layers:
            if not layers.is_pose_layer(layer) or not len(layer.data):
                continue
            if "status" not in layer.features:
                continue
            skeleton, tracks = layers.pose_metadata(layer.metadata)
            user = layers.points_to_poses(
                layer.data, layer.features, skeleton, tracks, statuses=("user", "corrected")
            )
            if len(user.frames):
                return labels_from_poses(user, [self.result.videos[0]], predicted=False)
        return None

    def _validate(self) -> None:
        """Per-body-part error against a person's labels on the frames both have."""
        from napari_leap.pose.evaluate import evaluate

        try:
            gt = self._ground_truth()
            if gt is None:
                return
            self.evaluation = evaluate(gt, self.result.to_labels())
        except Exception as e:  # noqa: BLE001 - no common frames etc.: say so, keep the results
            self.validation.setText(f"no validation: {e}")
            return
        self.validation.setText(self.evaluation.format_table())
