"""Work the Label dock runs in the background: suggesting frames, predicting frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_leap.errors import LeapError
from napari_leap.model.labeling import hidden_by_person
from napari_leap.napari import layers


class WorkMixin:
    """Suggested frames and a model's predictions, in workers that keep the dock responsive."""

    def set_suggestions(self, frames) -> None:
        """Frames to label (shown in the panel, saved in the project)."""
        self.suggestions = sorted({int(f) for f in frames})
        self._dirty = True
        self._after_change()

    def _video_for_work(self):
        if self.project is not None:
            return self.project.video_path(self.video_index)
        video = self.layer.metadata.get("video") if self.layer is not None else None
        if video:
            return video
        if self.image is not None:
            return layers.layer_video_path(self.image) or self.image.data
        raise LeapError("open a video first.")

    def suggest(self) -> None:
        """Run the chosen suggestion method in a worker; the frames appear in the panel.

        ``model`` (where the model is unsure) runs the loaded model, then shows its
        predictions on the suggested frames, ready to correct and accept (Enter).
        """
        from napari.qt.threading import thread_worker

        from napari_leap.pose.suggest import suggest_with_reasons

        method = self.method.currentData() or self.method.currentText()
        n = self.n_suggest.value()
        if method == "slips":
            self._suggest_slips(n)
            return
        try:
            video = self._video_for_work()
            predictions = model = None
            if method == "confidence":
                predictions = layers.points_to_poses(
                    self.layer.data, self.layer.features, self.skeleton, self.tracks, ("predicted",)
                )
            if method == "model":
                model = self._model_for_suggestions()
            exclude = sorted(set(self.labelled_frames()) | self._frames_not_held())
        except Exception as e:  # noqa: BLE001
            self._error(str(e))
            return
        boxes = self.box_animal is not None or method == "model"
        alignment = self.alignment if boxes else None

        def run(progress):
            return suggest_with_reasons(
                video,
                n,
                method,
                exclude=exclude,
                predictions=predictions,
                alignment=alignment,
                progress=progress,
                model=model,
            )

        what = "predicting frames" if method == "model" else "reading frames"
        worker = thread_worker(_with_progress, ignore_errors=True)(run)  # errors: notified below
        worker.yielded.connect(lambda p: self.progress.setText(f"{what} {p[0]}/{p[1]}"))
        worker.returned.connect(lambda picks: self._suggested(picks, method))
        worker.errored.connect(lambda e: self._error(f"suggesting frames failed: {e}"))
        worker.finished.connect(lambda: self.suggest_button.setEnabled(True))
        self.suggest_button.setEnabled(False)
        self._worker = worker
        worker.start()

    def _frames_not_held(self) -> set[int]:
        """Frames a package's image layer shows black (it does not hold them): never suggested."""
        from napari_leap.io.video import source_of
        from napari_leap.io.video.labels_frames import frames_not_held

        return frames_not_held(source_of(self.image.data) if self.image is not None else None)

    def _suggest_slips(self, n: int) -> None:
        """The labelled frames whose points look like slips (no video to read: at once)."""
        from napari_leap.pose.dataset.strays import MIN_ANIMALS, slip_suggestions

        if self.layer is None:
            self._error("open a project or a video and a skeleton first.")
            return
        poses = layers.points_to_poses(
            self.layer.data, self.layer.features, self.skeleton, self.tracks, ("user", "corrected")
        )
        picks = slip_suggestions(poses, n)
        if picks:  # else the suggestions the user had stay
            self._suggested(picks, "slips")
            return
        animals = int(np.isfinite(poses.points).all(-1).any(-1).sum())
        few = f" (it needs {MIN_ANIMALS} labelled animals)" if animals < MIN_ANIMALS else ""
        self.progress.setText(
            f"no labelled point looks like a slip among {animals} labelled animals{few}"
        )

    def _model_for_suggestions(self):
        self._follow_project_model()
        if self.model_dir is None:
            raise LeapError(
                "suggesting where the model is unsure needs a model: train one (Train dock) "
                "or choose a model folder (Model…)."
            )
        return self.model_dir

    def _suggested(self, picks, method: str = "") -> None:
        picks = list(picks)
        self.progress.setText(f"{len(picks)} frames suggested")
        self.suggestion_reasons.update({int(s.frame): s.reason for s in picks})
        new = [int(s.frame) for s in picks]
        # labelled suggestions stay to count progress by; slips to check are all S should visit
        done = (
            []
            if method == "slips"
            else [f for f in self.suggestions if f in self.labelled_frames()]
        )
        self.set_suggestions(new + done)
        if method == "model" and new:  # the model's answers there, ready to correct
            self.predict(new)

    def accept_frame(self) -> None:
        """Accept the shown frame: its predicted points become labels; on to the next suggestion.

        Points already dragged are corrected already; the rest are taken as the model
        placed them (status ``corrected``: they count as labelled and train the next model).
        """
        if self.layer is None:
            return
        frame, data = self.frame, np.asarray(self.layer.data)
        rows: np.ndarray = np.zeros(0, int)
        if len(data):
            predicted = np.asarray(self.layer.features["status"].astype(str) == "predicted")
            rows = np.flatnonzero(predicted & (np.rint(data[:, 0]).astype(int) == frame))
        if len(rows):
            self._push_undo()
            self._set_status(rows, "corrected")
            self._dirty = True
        elif frame not in self.labelled_frames():
            self._error("no predicted points on this frame to accept; predict it first (P).")
            return
        self.progress.setText(f"frame {frame} accepted ({len(rows)} points)")
        self.jump_suggested(1)
        self._after_change()

    def set_model(self, model_dir, chosen: bool = True) -> None:
        """Predict with ``model_dir``.

        ``chosen`` (a person's choice) stops following the project's newest model.
        """
        self.model_dir = Path(model_dir)
        self._model_chosen = self._model_chosen or chosen
        self.model_label.setText(
            f"model: {self.model_dir.name}" + ("" if chosen else " (the project's newest)")
        )

    def _follow_project_model(self) -> None:
        """Use the project's newest model, also one trained (Train dock, CLI) since it opened.

        Reads the manifest only when it changed on disk: this runs on every frame change.
        """
        from napari_leap.io.project import MANIFEST

        if self.project is None or self._model_chosen:
            return
        try:
            seen = (self.project.root / MANIFEST).stat().st_mtime
        except OSError:
            return
        if seen == self._manifest_seen:
            return
        self._manifest_seen = seen
        newest = self.project.newest_model()
        if newest is not None and newest != self.model_dir:
            self.set_model(newest, chosen=False)

    def predict(self, frames) -> None:
        """Predicted points for ``frames`` (animal-frames a person labelled are left alone)."""
        if self.layer is None:
            return
        self._follow_project_model()
        if self.model_dir is None:
            self._error("train a model first (Train dock), or choose a model folder (Model…).")
            return
        frames = sorted({int(f) for f in frames})
        if not frames:
            self._error("no frames to predict; suggest frames first.")
            return
        from napari.qt.threading import thread_worker

        try:
            video = self._video_for_work()
        except ValueError as e:
            self._error(str(e))
            return
        model_dir, alignment = self.model_dir, self.alignment

        @thread_worker(ignore_errors=True)  # errors go to the notification below, not into Qt
        def work():
            return predict_frames(model_dir, video, frames, alignment)

        worker = work()
        worker.returned.connect(self.add_predictions)
        worker.errored.connect(lambda e: self._error(f"prediction failed: {e}"))
        self._worker = worker
        self.progress.setText(f"predicting {len(frames)} frames…")
        worker.start()

    def add_predictions(self, poses) -> None:
        """Show predictions as points with status 'predicted', replacing older predictions there."""
        from napari_leap.model.poses import Poses

        self._push_undo()
        tracks, skeleton = self.tracks, self.skeleton
        poses = layers.align_tracks(self._by_this_layers_tracks(poses), tracks)
        person = layers.points_to_poses(
            self.layer.data, self.layer.features, skeleton, tracks, ("user", "corrected")
        )
        points = poses.points.copy()
        points[hidden_by_person(poses.frames, person.frames, person.points)] = np.nan
        new_data, new_feat = layers.poses_to_points(
            Poses(poses.frames, points, poses.scores, tracks, skeleton), "predicted"
        )
        self._replace_predictions(poses.frames, new_data, new_feat)
        self.progress.setText(f"predicted {len(poses.frames)} frames")
        self._dirty = True
        self._after_change()

    def _by_this_layers_tracks(self, poses):
        """Predictions named by the layer's animals (a model numbers them in alignment order)."""
        from napari_leap.model.poses import Poses

        tracks = self.tracks
        if set(poses.tracks) & set(tracks):
            return poses
        return Poses(
            poses.frames,
            poses.points[:, : len(tracks)],
            poses.scores[:, : len(tracks)],
            tracks[: poses.n_animals],
            poses.skeleton,
        )

    def _replace_predictions(self, frames, new_data, new_feat) -> None:
        """The layer with its older predictions on ``frames`` replaced by the new points."""
        import pandas as pd

        keep_rows = np.ones(len(self.layer.data), bool)
        if len(self.layer.data):
            frames_now = np.rint(np.asarray(self.layer.data)[:, 0]).astype(int)
            old_pred = np.asarray(self.layer.features["status"].astype(str) == "predicted")
            keep_rows &= ~(old_pred & np.isin(frames_now, frames))
        data = np.concatenate([np.asarray(self.layer.data)[keep_rows], new_data])
        features = pd.concat([self.layer.features[keep_rows], new_feat], ignore_index=True)
        for col, cats in (
            ("node", self.skeleton.nodes),
            ("animal", self.tracks),
            ("status", layers.STATUSES),
        ):
            features[col] = pd.Categorical(features[col].astype(str), categories=cats)
        symbols = [layers.STATUS_SYMBOL[s] for s in features["status"].astype(str)]
        self._set_data(data)
        self.layer.features = features
        if symbols:
            self.layer.symbol = symbols
        self.layer.refresh_colors(update_color_mapping=False)


def _with_progress(run):
    """Run ``run(progress)`` in a thread; yield its (done, total) progress, return its result.

    A worker generator (``thread_worker``) that can follow a core function which
    reports progress by callback; the core function's error is raised here.
    """
    import queue
    import threading

    events: queue.Queue = queue.Queue()
    result: dict = {}

    def target():
        try:
            result["value"] = run(lambda done, total: events.put((done, total)))
        except Exception as e:  # noqa: BLE001 - re-raised in the worker
            result["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    while t.is_alive() or not events.empty():
        try:
            yield events.get(timeout=0.2)
        except queue.Empty:
            continue
    if "error" in result:
        raise result["error"]
    return result["value"]


def predict_frames(model_dir, video, frames, alignment=None):
    """Predictions (``Poses``) of a trained model on some frames of a video, in video pixels."""
    from napari_leap.io.video import seekable_source
    from napari_leap.pose.predict import VideoJob, predict

    source = seekable_source(video)
    job = VideoJob(
        source,
        np.asarray(sorted(frames), dtype=np.int64),
        None,
        alignment,
        Path(str(source.path)).name,
    )
    result = predict(model_dir, job)
    return result.poses[0]
