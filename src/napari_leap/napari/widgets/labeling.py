"""Label dock widget: click body parts on frames (or aligned boxes), helped by suggestions and a model.

The pose Points layer is the single store of labels, always in video coordinates.
On aligned boxes the layer gets, frame by frame, the affine that maps video pixels
into the shown box, so clicks on a box land in video coordinates and nothing is
ever converted twice. Every edit marks the labels dirty; they are written to the
project a moment later, on every frame change, on a timer and when the widget
closes, so nothing placed is lost.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_leap.errors import LeapError
from napari_leap.io.video import same_video
from napari_leap.napari import layers
from napari_leap.napari.widgets.scroll import scroll_layout

SHORTCUTS = [
    ("click", "place the current body part; moves on to the next one not yet placed"),
    ("drag a point", "move it (a predicted point becomes corrected)"),
    ("Tab / Shift+Tab", "next / previous body part"),
    ("A", "next animal"),
    ("V", "current body part is not visible (skip it)"),
    ("Delete / Backspace", "delete the selected (else the current) body part's point"),
    ("Ctrl+Z", "undo the last edit"),
    ("Right / Left", "next / previous frame"),
    ("Shift+Right / Shift+Left", "next / previous labelled frame"),
    ("S / Shift+S", "next / previous suggested frame"),
    ("P", "predict this frame with the loaded model"),
    ("N", "show / hide body-part names"),
]

AUTOSAVE_SECONDS = 30
DEBOUNCE_MS = 1500
UNDO_DEPTH = 100


def shortcuts_text() -> str:
    return "\n".join(f"{k}: {v}" for k, v in SHORTCUTS)


class LabelingWidget(QWidget):
    """Label frames into a pose layer backed by a project (autosaved)."""

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        # napari hands plugin docks a proxy that hides private API and makes identity checks
        # fail (a new proxy per access); these docks work with the layers themselves
        self.viewer = getattr(napari_viewer, "__wrapped__", napari_viewer)
        self.project = None
        self.video_index = 0
        self.layer = None
        self.edges = None
        self.image = None
        self.alignment = None
        self.box_animal: int | None = None
        self.current_node = 0
        self.current_animal = 0
        self.suggestions: list[int] = []
        self.model_dir: Path | None = None
        self._model_chosen = False  # a person chose the model: stop following the project's
        self._manifest_seen: float | None = None
        #: (frame, animal, body-part name) marked not visible (names survive skeleton edits)
        self.invisible: set[tuple[int, int, str]] = set()
        self.last_saved: float | None = None
        self._dirty = False
        self._undo: list[tuple] = []
        self._dragging = False
        self._own = False  # True while this widget itself rewrites the layer's data
        self._worker = None
        self._build()
        self._save_soon = QTimer(self)
        self._save_soon.setSingleShot(True)
        self._save_soon.timeout.connect(self.autosave)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.autosave)
        self._timer.timeout.connect(self._follow_project_model)
        self._timer.start(AUTOSAVE_SECONDS * 1000)
        self.viewer.dims.events.current_step.connect(self._on_frame)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.viewer.layers.events.inserted.connect(self._on_layer_inserted)
        self.viewer.layers.selection.events.active.connect(self._on_active)
        self._frame = self.frame
        self._canvas = getattr(
            getattr(getattr(self.viewer, "window", None), "_qt_viewer", None), "canvas", None
        )
        if self._canvas is not None:  # Qt spends Tab on moving focus unless we take it first
            self._canvas.native.installEventFilter(self)
        self._on_active()

    def eventFilter(self, obj, event) -> bool:
        from qtpy.QtCore import QEvent

        if (
            event.type() == QEvent.KeyPress
            and event.key() in (Qt.Key_Tab, Qt.Key_Backtab)
            and self.layer is not None
            and self.viewer.layers.selection.active is self.layer
        ):
            back = event.key() == Qt.Key_Backtab or bool(event.modifiers() & Qt.ShiftModifier)
            self.cycle_node(-1 if back else 1)
            return True
        return super().eventFilter(obj, event)

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        root = scroll_layout(self)
        proj = QHBoxLayout()
        for text, slot in (
            ("Open project…", self._open_project_dialog),
            ("New project…", self._new_project_dialog),
        ):
            b = QPushButton(text)
            b.clicked.connect(slot)
            proj.addWidget(b)
        root.addLayout(proj)
        self.status = QLabel("no labels yet: open a project, or a video and a skeleton")
        self.status.setWordWrap(True)
        root.addWidget(self.status)

        where = QHBoxLayout()
        self.animal_combo = QComboBox()
        self.animal_combo.currentIndexChanged.connect(self._on_animal_combo)
        self.box_check = QCheckBox("label on aligned boxes")
        self.box_check.setEnabled(False)
        self.box_check.toggled.connect(self.set_box_mode)
        self.names_check = QCheckBox("names")
        self.names_check.toggled.connect(self.show_names)
        where.addWidget(QLabel("animal"))
        where.addWidget(self.animal_combo, 1)
        where.addWidget(self.box_check)
        where.addWidget(self.names_check)
        root.addLayout(where)

        self.node_list = QListWidget()
        self.node_list.setMinimumHeight(150)
        self.node_list.itemClicked.connect(
            lambda item: self.set_current_node(self.node_list.row(item))
        )
        root.addWidget(self.node_list, 2)

        edit = QHBoxLayout()
        for text, slot in (
            ("Not visible (V)", self.mark_invisible),
            ("Delete (Del)", self.delete_point),
            ("Undo (Ctrl+Z)", self.undo),
        ):
            b = QPushButton(text)
            b.clicked.connect(slot)
            edit.addWidget(b)
        root.addLayout(edit)
        nav = QHBoxLayout()
        for text, slot in (
            ("◀ labelled", lambda: self.jump_labelled(-1)),
            ("labelled ▶", lambda: self.jump_labelled(1)),
            ("suggested ▶", lambda: self.jump_suggested(1)),
        ):
            b = QPushButton(text)
            b.clicked.connect(slot)
            nav.addWidget(b)
        root.addLayout(nav)

        sug = QGroupBox("Suggested frames")
        grid = QGridLayout(sug)
        self.method = QComboBox()
        self.method.addItems(["kmeans", "uniform", "confidence"])
        self.method.setToolTip("kmeans: LEAP cluster sampling; confidence: lowest model confidence")
        self.n_suggest = QSpinBox()
        self.n_suggest.setRange(1, 10000)
        self.n_suggest.setValue(20)
        self.suggest_button = QPushButton("Suggest")
        self.suggest_button.clicked.connect(self.suggest)
        grid.addWidget(self.method, 0, 0)
        grid.addWidget(self.n_suggest, 0, 1)
        grid.addWidget(self.suggest_button, 0, 2)
        self.progress = QLabel("")
        grid.addWidget(self.progress, 1, 0, 1, 3)
        root.addWidget(sug)

        model = QGroupBox("Predict and correct")
        grid = QGridLayout(model)
        self.model_label = QLabel("no model")
        b = QPushButton("Model…")
        b.clicked.connect(self._model_dialog)
        self.predict_frame_button = QPushButton("Predict frame (P)")
        self.predict_frame_button.clicked.connect(lambda: self.predict([self.frame]))
        self.predict_suggested_button = QPushButton("Predict suggested")
        self.predict_suggested_button.clicked.connect(lambda: self.predict(self.suggestions))
        grid.addWidget(self.model_label, 0, 0, 1, 2)
        grid.addWidget(b, 0, 2)
        grid.addWidget(self.predict_frame_button, 1, 0, 1, 2)
        grid.addWidget(self.predict_suggested_button, 1, 2)
        root.addWidget(model)

        frames = QGroupBox("Labelled frames")
        box = QVBoxLayout(frames)
        self.count_label = QLabel("labelled 0 of 0 suggested")
        self.frame_list = QListWidget()
        self.frame_list.itemClicked.connect(lambda item: self.go_to(int(item.data(Qt.UserRole))))
        self.frame_list.setMinimumHeight(80)
        box.addWidget(self.count_label)
        box.addWidget(self.frame_list)
        root.addWidget(frames, 1)

        rows = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in SHORTCUTS)
        self.keys = QLabel(f"<small><table cellspacing='0' cellpadding='1'>{rows}</table></small>")
        self.keys.setWordWrap(True)
        self.keys_button = QPushButton("Shortcuts ▸")
        self.keys_button.setCheckable(True)
        self.keys_button.toggled.connect(self._toggle_keys)
        self.keys.setVisible(False)  # open on demand: the table is as tall as the rest
        root.addWidget(self.keys_button)
        root.addWidget(self.keys)

    def _toggle_keys(self, on: bool) -> None:
        self.keys.setVisible(on)
        self.keys_button.setText("Shortcuts ▾" if on else "Shortcuts ▸")

    # -- the labels --------------------------------------------------------------------------
    @property
    def skeleton(self):
        return layers.pose_layer_skeleton(self.layer)

    @property
    def tracks(self) -> list[str]:
        return list(self.layer.metadata["tracks"])

    @property
    def frame(self) -> int:
        return int(self.viewer.dims.current_step[0]) if self.viewer.dims.ndim else 0

    def _on_active(self, event=None) -> None:
        active = self.viewer.layers.selection.active
        if (
            active is not None
            and layers.is_editable_pose_layer(active)
            and active is not self.layer
        ):
            self.attach(active)

    def _on_layer_removed(self, event) -> None:
        if event.value is self.layer:
            self.autosave()
            self.layer = None
        if event.value is self.edges:
            self.edges = None

    def _on_layer_inserted(self, event) -> None:
        """An alignment made after the labels opened (Align widget) enables box labelling."""
        if (
            self.layer is not None
            and self.alignment is None
            and "alignment" in getattr(event.value, "metadata", {})
        ):
            self._find_alignment()

    def attach(self, layer, image=None) -> None:
        """Label into ``layer`` (a pose Points layer) shown over ``image`` (found if None)."""
        if self.layer is not None and self.layer is not layer:
            self.autosave()
            self._detach()
        self.layer = layer
        self.image = image or self._find_image()
        layer.events.data.connect(self._on_data)
        layer.events.features.connect(self._on_features)
        from napari.layers.points._points_constants import Mode

        raw = getattr(layer, "__wrapped__", layer)  # napari hands plugin docks proxied layers
        drag_modes = dict(type(raw)._drag_modes)
        drag_modes[Mode.ADD] = self._place_or_drag
        raw._drag_modes = drag_modes  # the instance's own click handler for "add" mode
        layer.mode = "pan_zoom"
        layer.mode = "add"
        self._bind_keys(layer)
        name = f"{layer.name} edges"
        stale = [lay for lay in self.viewer.layers if lay.name == name]
        for lay in stale:
            self.viewer.layers.remove(lay)
        self.edges = self.viewer.add_vectors(
            np.zeros((0, 2, 3)),
            ndim=3,
            name=name,
            edge_width=1.5,
            vector_style="line",
            length=1.0,
            opacity=0.9,
            edge_color="white",
        )
        self.edges.metadata["edges_of"] = layer.name
        self.viewer.layers.move(
            self.viewer.layers.index(self.edges), self.viewer.layers.index(layer)
        )
        self.viewer.layers.selection.active = layer
        self.animal_combo.blockSignals(True)
        self.animal_combo.clear()
        self.animal_combo.addItems(self.tracks)
        self.animal_combo.blockSignals(False)
        self._find_alignment()
        self._undo.clear()
        self.current_animal = 0
        self.current_node = self._next_unplaced(self.frame, 0, -1)[1]
        self._after_change()

    def _detach(self) -> None:
        layer = self.layer
        for ev, slot in (
            (layer.events.data, self._on_data),
            (layer.events.features, self._on_features),
        ):
            with contextlib.suppress(TypeError, ValueError):
                ev.disconnect(slot)
        if self.edges is not None and self.edges in self.viewer.layers:
            self.viewer.layers.remove(self.edges)
        self.edges = None

    def _find_image(self):
        video = self.layer.metadata.get("video") if self.layer is not None else None
        images = [
            lay
            for lay in self.viewer.layers
            if lay._type_string == "image" and "alignment" not in lay.metadata
        ]
        for lay in images:
            shown = layers.layer_video_path(lay)
            if video and shown is not None and same_video(shown, video):
                return lay
        return images[0] if images else None

    def _find_alignment(self) -> None:
        self.alignment = None
        for lay in self.viewer.layers:
            al = lay.metadata.get("alignment") if hasattr(lay, "metadata") else None
            if al is not None and hasattr(al, "affine"):
                self.alignment = al
                break
        if self.alignment is None and self.project is not None:
            path = self.project.alignment_path(self.video_index)
            if path.exists():
                from napari_leap.align.alignment import Alignment

                try:
                    self.alignment = Alignment.load(
                        path, video=self.project.video_path(self.video_index)
                    )
                except Exception as e:  # noqa: BLE001 - a stale alignment must not block labelling
                    self._error(
                        f"the project's alignment could not be loaded ({e}); labelling on frames."
                    )
        self.box_check.setEnabled(self.alignment is not None)

    # -- project ---------------------------------------------------------------------------
    def open_project(self, root, video_index: int = 0) -> None:
        """Open a project folder: its video, labels and predictions, suggestions and skeleton."""
        from napari_leap.io.project import Project
        from napari_leap.io.video import open_video
        from napari_leap.model.poses import Poses, default_tracks

        project = root if isinstance(root, Project) else Project.open(root)
        if not project.videos:
            raise LeapError(f"{project.root} has no video yet; add one to the project first.")
        _ = (project.labels, project.predictions)  # read (and check) them before changing anything
        if self.layer is not None:
            self.autosave()
            self._detach()
            self.layer = None
        self.project, self.video_index = project, video_index
        path = project.video_path(video_index)
        data, kwargs, _ = layers.video_layer_data(open_video(path), path=path)
        image = self.viewer.add_image(data, **kwargs)
        skeleton = project.skeleton
        user = self._project_poses(project.labels, path, user=True)
        pred = self._project_poses(project.predictions, path, user=False)
        tracks = (
            project.settings.get("tracks")
            or layers._merged_tracks(user.tracks if user else [], pred.tracks if pred else [])
            or default_tracks(1)
        )

        def retarget(p):
            if p is None:
                return None
            return layers._align_tracks(p, tracks).on_skeleton(skeleton)

        user, pred = retarget(user), retarget(pred)
        if user is None:
            user = Poses(
                np.zeros(0, np.int64),
                np.zeros((0, len(tracks), len(skeleton), 2)),
                np.zeros((0, len(tracks), len(skeleton))),
                tracks,
                skeleton,
            )
        data, kwargs, _ = layers.points_layer_data(
            user,
            pred,
            name=_layer_name(project),
            video=path,
            tracked=bool(project.settings.get("tracked", len(tracks) > 1)),
        )
        kwargs["metadata"]["project"] = str(project.root.resolve())  # for the Train/Predict docks
        layer = self.viewer.add_points(data, ndim=3, **kwargs)
        if self.viewer.dims.ndim == 3:
            self.viewer.dims.axis_labels = ("frame", "y", "x")
        self.suggestions = sorted(
            int(f) for f in project.settings.get("suggestions", {}).get(str(video_index), [])
        )
        invisible = project.settings.get("not_visible", {}).get(str(video_index), [])
        self._manifest_seen = None
        self._follow_project_model()
        self.attach(layer, image)
        if project.labels_path.exists():
            self.last_saved = project.labels_path.stat().st_mtime
        self.invisible = {(int(f), int(a), str(n)) for f, a, n in invisible}
        self._after_change()
        self.status.setText(f"project {project.root}")

    @staticmethod
    def _project_poses(labels, video_path: Path, user: bool):
        from napari_leap.io.labels import poses_from_labels

        for i, v in enumerate(labels.videos):
            if same_video(v.filename, video_path):
                p = poses_from_labels(labels, i, user=user, predicted=not user)
                return p if len(p.frames) else None
        return None

    def new_project(self, root, video_path=None) -> None:
        """Create a project from the video shown and the pose layer's skeleton, then label into it."""
        from napari_leap.io.project import Project

        if self.layer is None:
            raise LeapError("make a labels layer first (Skeleton widget: New labels layer).")
        if self.image is None:
            self.image = self._find_image()
        video_path = (
            video_path
            or self.layer.metadata.get("video")
            or (layers.layer_video_path(self.image) if self.image is not None else None)
        )
        if not video_path:
            raise LeapError("open the video first (drag it into napari), then create the project.")
        project = Project.create(
            root,
            self.skeleton,
            videos=[video_path],
            settings={"tracks": self.tracks, "tracked": bool(self.layer.metadata.get("tracked"))},
        )
        self.project, self.video_index = project, 0
        self.layer.name = _layer_name(project)  # the name it gets each time the project opens
        if self.edges is not None:
            self.edges.name = f"{self.layer.name} edges"
            self.edges.metadata["edges_of"] = self.layer.name
        self.layer.metadata = {
            **self.layer.metadata,
            "video": str(Path(video_path).resolve()),
            "project": str(project.root.resolve()),
        }
        self._dirty = True
        self.save()
        self.status.setText(f"project {project.root}")

    def save(self) -> None:
        """Write the layer's labels and predictions into the project (atomic files)."""
        if self.project is None or self.layer is None:
            return
        from napari_leap.io.labels import labels_from_poses, poses_from_labels

        project = self.project
        skeleton, tracks = self.skeleton, self.tracks
        md = {**self.layer.metadata}
        data, features = np.asarray(self.layer.data), self.layer.features
        video = project.sleap_video(self.video_index)
        mine = layers.layer_to_labels(data, features, md, video=video)
        import sleap_io as sio

        user_frames, pred_frames = [], []
        for lf in mine.labeled_frames:
            u = [i for i in lf.instances if type(i) is sio.Instance]
            p = [i for i in lf.instances if type(i) is not sio.Instance]
            if u:
                user_frames.append(
                    sio.LabeledFrame(video=video, frame_idx=lf.frame_idx, instances=u)
                )
            if p:
                pred_frames.append(
                    sio.LabeledFrame(video=video, frame_idx=lf.frame_idx, instances=p)
                )

        def merged(frames, old, predicted: bool):
            labels = sio.Labels(
                labeled_frames=frames,
                videos=[video],
                skeletons=mine.skeletons,
                tracks=list(mine.tracks),
            )
            for i in range(len(project.videos)):  # other videos' labels stay as they were
                if i == self.video_index:
                    continue
                for vi, v in enumerate(old.videos):
                    if same_video(v.filename, project.video_path(i)):
                        p = poses_from_labels(old, vi, user=not predicted, predicted=predicted)
                        if len(p.frames) and p.skeleton.nodes == skeleton.nodes:
                            p.skeleton = skeleton
                            labels_from_poses(
                                p, [project.sleap_video(i)], predicted=predicted, labels=labels
                            )
            return labels

        project.labels = merged(user_frames, project.labels, False)
        project.predictions = merged(pred_frames, project.predictions, True)
        project.skeleton = skeleton
        settings = dict(project.settings)
        settings["tracks"] = tracks
        settings["tracked"] = bool(md.get("tracked", True))
        settings.setdefault("suggestions", {})[str(self.video_index)] = [
            int(f) for f in self.suggestions
        ]
        settings.setdefault("not_visible", {})[str(self.video_index)] = sorted(
            list(t) for t in self.invisible
        )
        project.settings = settings
        project.save()
        self._dirty = False
        self.last_saved = time.time()
        self._show_status()

    def autosave(self) -> None:
        """Save when something changed since the last save; errors are shown, never raised."""
        if not self._dirty or self.project is None or self.layer is None:
            return
        try:
            self.save()
        except Exception as e:  # noqa: BLE001 - the GUI must stay usable; the labels stay in the layer
            self._error(
                f"autosave failed ({e}); your labels are still in the layer, "
                "free space or fix permissions and they will be saved."
            )

    def hideEvent(self, event) -> None:  # the window is closing or the dock was hidden
        self.autosave()
        super().hideEvent(event)

    # -- placing, moving, deleting ----------------------------------------------------------------
    def _frame_mask(self, frame: int) -> np.ndarray:
        data = np.asarray(self.layer.data)
        return np.rint(data[:, 0]) == frame if len(data) else np.zeros(0, bool)

    def point_index(self, frame: int, animal: int, node: int) -> int | None:
        """Index in the layer of body part ``node`` of ``animal`` on ``frame`` (None if unplaced)."""
        if not len(self.layer.data):
            return None
        f = self.layer.features
        hit = (
            self._frame_mask(frame)
            & np.asarray(f["node"].astype(str) == self.skeleton.nodes[node])
            & np.asarray(f["animal"].astype(str) == self.tracks[animal])
        )
        idx = np.flatnonzero(hit)
        return int(idx[-1]) if len(idx) else None

    def placed(self, frame: int, animal: int) -> set[int]:
        if not len(self.layer.data):
            return set()
        f = self.layer.features
        sel = self._frame_mask(frame) & np.asarray(f["animal"].astype(str) == self.tracks[animal])
        names = set(f["node"][sel].astype(str))
        return {self.skeleton.nodes.index(n) for n in names if n in self.skeleton.nodes}

    def _next_unplaced(self, frame: int, animal: int, after: int) -> tuple[int, int]:
        """(animal, node) of the next body part to place after ``after``, this animal first."""
        k = len(self.skeleton)
        n_animals = len(self.tracks)
        for da in range(n_animals):
            a = (animal + da) % n_animals
            nodes = self.skeleton.nodes
            done = self.placed(frame, a) | {
                nodes.index(n)
                for f, aa, n in self.invisible
                if f == frame and aa == a and n in nodes
            }
            start = after + 1 if da == 0 else 0
            for step in range(k):
                node = (start + step) % k
                if node not in done:
                    return a, node
        return animal, (after + 1) % k if after >= 0 else 0

    def place(self, position, node: int | None = None, animal: int | None = None) -> int:
        """Place a body part at data ``position`` (frame, y, x); returns its point index.

        A body part placed already on this frame moves there instead (one point per
        part per animal), then the current part advances to the next unplaced one.
        """
        node = self.current_node if node is None else node
        animal = self.current_animal if animal is None else animal
        position = np.asarray(position, dtype=np.float64)
        frame = int(round(position[0]))
        position = np.array([frame, position[1], position[2]])
        self._push_undo()
        idx = self.point_index(frame, animal, node)
        if idx is not None:
            self._set_position(idx, position, status="user")
        else:
            self._set_defaults(node, animal, "user")
            self.layer.add(position)
            idx = len(self.layer.data) - 1
        self.invisible.discard((frame, animal, self.skeleton.nodes[node]))
        self.current_animal, self.current_node = self._next_unplaced(frame, animal, node)
        self._after_change()
        return idx

    def _set_defaults(self, node: int, animal: int, status: str) -> None:
        import pandas as pd

        self.layer.feature_defaults = pd.DataFrame(
            {
                "node": pd.Categorical([self.skeleton.nodes[node]], categories=self.skeleton.nodes),
                "animal": pd.Categorical([self.tracks[animal]], categories=self.tracks),
                "status": pd.Categorical([status], categories=layers.STATUSES),
                "confidence": [np.nan],
            }
        )
        # napari also gives the *selected* points the new current symbol: set it only when it
        # differs (placing always uses the user's disc), never restyling a selected point
        symbol = layers.STATUS_SYMBOL[status]
        if getattr(self.layer.current_symbol, "value", self.layer.current_symbol) != symbol:
            with self._no_selection():
                self.layer.current_symbol = symbol

    @contextlib.contextmanager
    def _no_selection(self):
        """Run a change with nothing selected, then select again what still exists."""
        chosen = set(self.layer.selected_data)
        self.layer.selected_data = set()
        try:
            yield
        finally:
            self.layer.selected_data = {i for i in chosen if i < len(self.layer.data)}

    def _set_position(
        self, idx: int, position, status: str | None = None, emit: bool = True
    ) -> None:
        data = np.asarray(self.layer.data).copy()
        data[idx] = position
        if emit:
            self._set_data(data)
        else:
            with self.layer.events.data.blocker():
                self.layer.data = data
        if status is not None:
            self._set_status([idx], status)

    def _set_data(self, data) -> None:
        self._own = True
        try:
            if len(data) != len(self.layer.data):  # a selection of other rows means nothing now
                self.layer.selected_data = set()
            self.layer.data = data
        finally:
            self._own = False

    def _set_status(self, indices, status: str) -> None:
        features = self.layer.features
        col = features["status"].copy()
        col.iloc[list(indices)] = status
        features["status"] = col
        if status != "predicted":
            conf = features["confidence"].copy()
            conf.iloc[list(indices)] = np.nan if status == "user" else conf.iloc[list(indices)]
            features["confidence"] = conf
        symbols = np.array(self.layer.symbol, dtype=object).reshape(-1)
        if len(symbols) == len(features):
            symbols[list(indices)] = layers.STATUS_SYMBOL[status]
            self.layer.symbol = list(symbols)
        self.layer.refresh_colors(update_color_mapping=False)

    def move_point(self, idx: int, position) -> None:
        """Move a point (a predicted one becomes 'corrected', so its frame counts as labelled)."""
        self._push_undo()
        position = np.asarray(position, dtype=np.float64).copy()
        position[0] = round(float(np.asarray(self.layer.data)[idx, 0]))
        status = str(self.layer.features["status"].iloc[idx])
        self._set_position(idx, position, status="corrected" if status == "predicted" else None)
        self._after_change()

    def delete_point(self, idx: int | None = None) -> None:
        """Delete ``idx``, else the selected points, else the current body part's point on this frame."""
        if self.layer is None:
            return
        if idx is None:
            chosen = sorted(self.layer.selected_data)
            if not chosen:
                found = self.point_index(self.frame, self.current_animal, self.current_node)
                chosen = [] if found is None else [found]
        else:
            chosen = [idx]
        if not chosen:
            return
        self._push_undo()
        self.layer.selected_data = set(chosen)
        self.layer.remove_selected()
        self._after_change()

    def mark_invisible(self) -> None:
        """The current body part is not visible on this frame: remove its point, move on."""
        if self.layer is None:
            return
        idx = self.point_index(self.frame, self.current_animal, self.current_node)
        if idx is not None:
            self.delete_point(idx)
        self.invisible.add(
            (self.frame, self.current_animal, self.skeleton.nodes[self.current_node])
        )
        self._dirty = True
        self.current_animal, self.current_node = self._next_unplaced(
            self.frame, self.current_animal, self.current_node
        )
        self._after_change()

    def _push_undo(self) -> None:
        self._undo.append(
            (
                np.asarray(self.layer.data).copy(),
                self.layer.features.copy(),
                np.array(self.layer.symbol, dtype=object).reshape(-1).copy(),
                set(self.invisible),
                (self.frame, self.current_animal, self.current_node),
            )
        )
        del self._undo[:-UNDO_DEPTH]

    def undo(self) -> None:
        """Back to before the last edit (placing, moving, deleting, predicting)."""
        if not self._undo or self.layer is None:
            return
        data, features, symbols, invisible, current = self._undo.pop()
        self.layer.selected_data = set()
        self._set_data(data)
        self.layer.features = features
        if len(symbols) == len(data) and len(data):
            self.layer.symbol = list(symbols)
        self.layer.refresh_colors(update_color_mapping=False)
        self.invisible = invisible
        if current[0] == self.frame:  # the part that edit placed is the one to place again
            self.current_animal, self.current_node = current[1:]
        self._after_change()

    # -- the mouse -------------------------------------------------------------------------------
    def point_under(self, position) -> int | None:
        """The point of this frame under a data ``position`` (within its drawn radius)."""
        if self.layer is None or not len(self.layer.data):
            return None
        data = np.asarray(self.layer.data)
        mask = self._frame_mask(int(round(position[0])))
        if not mask.any():
            return None
        idx = np.flatnonzero(mask)
        d = np.hypot(data[idx, 1] - position[1], data[idx, 2] - position[2])
        zoom = max(float(self.viewer.camera.zoom), 1e-6)
        size = np.asarray(self.layer.size, dtype=np.float64).reshape(-1)
        radius = np.maximum((size[idx] if len(size) == len(data) else size[0]) / 2, 6.0 / zoom)
        best = int(np.argmin(d - radius))
        return int(idx[best]) if d[best] <= radius[best] else None

    def _place_or_drag(self, layer, event):
        """napari 'add'-mode handler: press on a point drags it, a click elsewhere places a part."""
        position = np.asarray(layer.world_to_data(event.position), dtype=np.float64)
        idx = self.point_under(position)
        start = np.asarray(event.pos, dtype=np.float64)
        if idx is None:
            yield
            while event.type == "mouse_move":
                yield
            if np.linalg.norm(np.asarray(event.pos, dtype=np.float64) - start) < 5:
                self.place(layer.world_to_data(event.position))
            return
        layer.selected_data = {idx}
        self._push_undo()
        self._dragging = True
        yield
        moved = False
        try:
            while event.type == "mouse_move":
                pos = np.asarray(layer.world_to_data(event.position), dtype=np.float64)
                pos[0] = np.asarray(layer.data)[idx, 0]
                self._set_position(idx, pos, emit=False)
                self._refresh_edges()  # the skeleton follows the point while it moves
                moved = True
                yield
        finally:
            self._dragging = False
        if moved:
            pos = np.asarray(layer.world_to_data(event.position), dtype=np.float64)
            pos[0] = np.asarray(layer.data)[idx, 0]
            status = str(layer.features["status"].iloc[idx])
            self._set_position(idx, pos, status="corrected" if status == "predicted" else None)
            self._after_change()
        else:  # a click without a drag: place the current part if it is still missing,
            self._undo.pop()  # else pick the clicked point's part (so close parts stay placeable)
            frame = int(round(position[0]))
            if self.point_index(frame, self.current_animal, self.current_node) is None:
                layer.selected_data = set()
                self.place(position)
                return
            node = self.skeleton.nodes.index(str(layer.features["node"].iloc[idx]))
            animal = self.tracks.index(str(layer.features["animal"].iloc[idx]))
            self.set_current_node(node, animal)

    def _on_data(self, event=None) -> None:
        if self._dragging:
            return
        action = str(getattr(event, "action", ""))
        if action.endswith("changed") and getattr(event, "data_indices", None) and not self._own:
            moved = [
                i
                for i in event.data_indices
                if i < len(self.layer.features)
                and str(self.layer.features["status"].iloc[i]) == "predicted"
            ]
            if moved:  # moved with napari's own select tool
                self._set_status(moved, "corrected")
        self._dirty = True
        self._save_soon.start(DEBOUNCE_MS)
        self._refresh_edges()

    def _on_features(self, event=None) -> None:
        if self.layer is None:
            return
        self.current_node = min(self.current_node, len(self.skeleton) - 1)  # parts may be gone
        self._refresh_nodes()
        self._refresh_edges()

    # -- navigation -----------------------------------------------------------------------------
    def labelled_frames(self) -> dict[int, int]:
        """Frame -> placed body parts, for frames where a person placed or corrected a point."""
        if self.layer is None or not len(self.layer.data):
            return {}
        human = np.asarray(self.layer.features["status"].astype(str) != "predicted")
        counts = layers.frame_counts(np.asarray(self.layer.data), self.layer.features)
        frames = set(np.rint(np.asarray(self.layer.data)[human, 0]).astype(int).tolist())
        return {f: counts[f] for f in sorted(frames)}

    def go_to(self, frame: int) -> None:
        self.viewer.dims.set_current_step(0, int(frame))

    def step(self, delta: int) -> None:
        n = int(self.viewer.dims.nsteps[0]) if self.viewer.dims.ndim else 1
        self.go_to(min(max(self.frame + delta, 0), n - 1))

    def jump_labelled(self, direction: int) -> None:
        self._jump(sorted(self.labelled_frames()), direction)

    def jump_suggested(self, direction: int = 1) -> None:
        self._jump(sorted(self.suggestions), direction)

    def _jump(self, frames: list[int], direction: int) -> None:
        here = self.frame
        later = [f for f in frames if (f > here if direction > 0 else f < here)]
        if later:
            self.go_to(later[0] if direction > 0 else later[-1])

    def _on_frame(self, event=None) -> None:
        frame = self.frame
        if frame == self._frame:
            return
        self._frame = frame
        self.autosave()
        self._follow_project_model()
        if self.layer is None:
            return
        self.current_animal, self.current_node = self._next_unplaced(frame, 0, -1)
        self._update_box_affine()
        self._after_change()

    def set_current_node(self, node: int, animal: int | None = None) -> None:
        if self.layer is None:
            return
        self.current_node = int(node) % len(self.skeleton)
        if animal is not None:
            self.current_animal = int(animal) % len(self.tracks)
        self._set_defaults(self.current_node, self.current_animal, "user")
        self._refresh_nodes()

    def cycle_node(self, step: int) -> None:
        self.set_current_node(self.current_node + step)

    def cycle_animal(self) -> None:
        if self.layer is not None:
            self.set_animal(self.current_animal + 1)

    def set_animal(self, animal: int) -> None:
        self.current_animal = int(animal) % len(self.tracks)
        self.current_node = self._next_unplaced(self.frame, self.current_animal, -1)[1]
        if self.box_animal is not None and self.alignment is not None:
            self.box_animal = min(self.current_animal, self.alignment.n_animals - 1)
            self._show_boxes()
        self._after_change()

    def _on_animal_combo(self, index: int) -> None:
        if index >= 0 and self.layer is not None and index != self.current_animal:
            self.set_animal(index)

    def show_names(self, on: bool) -> None:
        if self.layer is not None:
            self.layer.text.visible = bool(on)

    # -- aligned boxes ------------------------------------------------------------------------------
    def set_box_mode(self, on: bool) -> None:
        """Show the current animal's aligned box instead of the frame; points stay in video pixels."""
        if self.layer is None:
            return
        if on and self.alignment is None:
            self._error("this video has no alignment; align it first (Align widget).")
            self.box_check.setChecked(False)
            return
        self.box_animal = min(self.current_animal, self.alignment.n_animals - 1) if on else None
        if on:
            self._show_boxes()
        else:
            if (
                getattr(self, "_box_layer", None) is not None
                and self._box_layer in self.viewer.layers
            ):
                self.viewer.layers.remove(self._box_layer)
            self._box_layer = None
            if self.image is not None:
                self.image.visible = True
            for lay in (self.layer, self.edges):
                if lay is not None:
                    lay.affine = np.eye(4)
            self.viewer.reset_view()

    def _show_boxes(self) -> None:
        boxes = self.alignment.boxes[:, self.box_animal]
        data = boxes if boxes.shape[-1] == 3 else boxes[..., 0]
        old = getattr(self, "_box_layer", None)
        if old is not None and old in self.viewer.layers:
            old.data = data
        else:
            self._box_layer = self.viewer.add_image(
                data,
                name="aligned box",
                rgb=boxes.shape[-1] == 3,
                contrast_limits=[0, 255],
                metadata={"alignment": self.alignment},
            )
            self.viewer.layers.move(self.viewer.layers.index(self._box_layer), 0)
        if self.image is not None:
            self.image.visible = False
        self._update_box_affine()
        self.viewer.reset_view()

    def _update_box_affine(self) -> None:
        if self.box_animal is None or self.alignment is None:
            return
        frame = min(self.frame, self.alignment.n_frames - 1)
        matrix = layers.box_affine(self.alignment, frame, self.box_animal)
        if not np.isfinite(matrix).all():
            return
        for lay in (self.layer, self.edges):
            if lay is not None:
                lay.affine = matrix

    # -- suggestions and predictions -------------------------------------------------------------------
    def set_suggestions(self, frames) -> None:
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
        """Run the chosen suggestion method in a worker; the frames appear in the panel."""
        from napari.qt.threading import thread_worker

        from napari_leap.pose.suggest import suggest_frames

        method, n = self.method.currentText(), self.n_suggest.value()
        try:
            video = self._video_for_work()
            predictions = None
            if method == "confidence":
                predictions = layers.points_to_poses(
                    self.layer.data, self.layer.features, self.skeleton, self.tracks, ("predicted",)
                )
            exclude = list(self.labelled_frames())
        except Exception as e:  # noqa: BLE001
            self._error(str(e))
            return

        @thread_worker(ignore_errors=True)  # errors go to the notification below, not into Qt
        def work():
            import queue

            events: queue.Queue = queue.Queue()
            result = {}

            def progress(done, total):
                events.put((done, total))

            import threading

            def run():
                try:
                    result["frames"] = suggest_frames(
                        video,
                        n,
                        method,
                        exclude=exclude,
                        predictions=predictions,
                        alignment=self.alignment if self.box_animal is not None else None,
                        progress=progress,
                    )
                except Exception as e:  # noqa: BLE001 - re-raised in the worker
                    result["error"] = e

            t = threading.Thread(target=run, daemon=True)
            t.start()
            while t.is_alive() or not events.empty():
                try:
                    yield events.get(timeout=0.2)
                except queue.Empty:
                    continue
            if "error" in result:
                raise result["error"]
            return result["frames"]

        worker = work()
        worker.yielded.connect(lambda p: self.progress.setText(f"reading frames {p[0]}/{p[1]}"))
        worker.returned.connect(self._suggested)
        worker.errored.connect(lambda e: self._error(f"suggesting frames failed: {e}"))
        worker.finished.connect(lambda: self.suggest_button.setEnabled(True))
        self.suggest_button.setEnabled(False)
        self._worker = worker
        worker.start()

    def _suggested(self, frames) -> None:
        self.progress.setText(f"{len(frames)} frames suggested")
        self.set_suggestions(
            list(frames) + [f for f in self.suggestions if f in self.labelled_frames()]
        )

    def set_model(self, model_dir, chosen: bool = True) -> None:
        """Predict with ``model_dir``; ``chosen`` (a person's choice) stops following the
        project's newest model."""
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
        import pandas as pd

        from napari_leap.model.poses import Poses

        self._push_undo()
        tracks, skeleton = self.tracks, self.skeleton
        if not set(poses.tracks) & set(tracks):  # a model numbers animals in alignment order
            poses = Poses(
                poses.frames,
                poses.points[:, : len(tracks)],
                poses.scores[:, : len(tracks)],
                tracks[: poses.n_animals],
                poses.skeleton,
            )
        poses = layers._align_tracks(poses, tracks)
        labelled = {
            (int(f), a)
            for f in poses.frames
            for a in range(len(tracks))
            if self._has_human(int(f), a)
        }
        keep_rows = np.ones(len(self.layer.data), bool)
        if len(self.layer.data):
            frames_now = np.rint(np.asarray(self.layer.data)[:, 0]).astype(int)
            old_pred = np.asarray(self.layer.features["status"].astype(str) == "predicted")
            keep_rows &= ~(old_pred & np.isin(frames_now, poses.frames))
        points = poses.points.copy()
        for i, f in enumerate(poses.frames):
            for a in range(len(tracks)):
                if (int(f), a) in labelled:
                    points[i, a] = np.nan
        new_data, new_feat = layers.poses_to_points(
            Poses(poses.frames, points, poses.scores, tracks, skeleton), "predicted"
        )
        data = np.concatenate([np.asarray(self.layer.data)[keep_rows], new_data])
        features = pd.concat([self.layer.features[keep_rows], new_feat], ignore_index=True)
        for col, cats in (
            ("node", skeleton.nodes),
            ("animal", tracks),
            ("status", layers.STATUSES),
        ):
            features[col] = pd.Categorical(features[col].astype(str), categories=cats)
        symbols = [layers.STATUS_SYMBOL[s] for s in features["status"].astype(str)]
        self._set_data(data)
        self.layer.features = features
        if symbols:
            self.layer.symbol = symbols
        self.layer.refresh_colors(update_color_mapping=False)
        self.progress.setText(f"predicted {len(poses.frames)} frames")
        self._dirty = True
        self._after_change()

    def _has_human(self, frame: int, animal: int) -> bool:
        if not len(self.layer.data):
            return False
        f = self.layer.features
        sel = (
            self._frame_mask(frame)
            & np.asarray(f["animal"].astype(str) == self.tracks[animal])
            & np.asarray(f["status"].astype(str) != "predicted")
        )
        return bool(sel.any())

    # -- keys ---------------------------------------------------------------------------------------------
    def _bind_keys(self, layer) -> None:
        bindings = {  # Tab / Shift+Tab: see eventFilter
            "A": self.cycle_animal,
            "V": self.mark_invisible,
            "Delete": self.delete_point,
            "Backspace": self.delete_point,
            "Control-Z": self.undo,
            "Right": lambda: self.step(1),
            "Left": lambda: self.step(-1),
            "Shift-Right": lambda: self.jump_labelled(1),
            "Shift-Left": lambda: self.jump_labelled(-1),
            "S": lambda: self.jump_suggested(1),
            "Shift-S": lambda: self.jump_suggested(-1),
            "P": lambda: self.predict([self.frame]),
            "N": lambda: self.names_check.setChecked(not self.names_check.isChecked()),
        }
        for key, fn in bindings.items():
            layer.bind_key(key, _key_handler(fn), overwrite=True)

    # -- views ----------------------------------------------------------------------------------------------
    def _after_change(self) -> None:
        if self.layer is None:
            return
        self._set_defaults(self.current_node, self.current_animal, "user")
        self._refresh_edges()
        self._refresh_nodes()
        self._refresh_frames()
        self._show_status()

    def _refresh_edges(self) -> None:
        if self.edges is None or self.layer is None:
            return
        vectors, colors = layers.edge_vectors(
            np.asarray(self.layer.data),
            self.layer.features,
            self.skeleton,
            self.tracks,
            frame=self.frame,
        )
        self.edges.data = vectors
        if len(colors):
            self.edges.edge_color = colors

    def _refresh_nodes(self) -> None:
        if self.layer is None:
            return
        frame = self.frame
        placed = self.placed(frame, self.current_animal)
        hidden = {
            self.skeleton.nodes.index(n)
            for f, a, n in self.invisible
            if f == frame and a == self.current_animal and n in self.skeleton.nodes
        }
        colors = layers.node_colors(self.skeleton.nodes)
        from napari_leap.napari.widgets.skeleton import _swatch

        self.node_list.blockSignals(True)
        self.node_list.clear()
        for k, name in enumerate(self.skeleton.nodes):
            mark = "✓" if k in placed else ("–" if k in hidden else " ")
            item = QListWidgetItem(_swatch(colors[name]), f"{mark} {name}")
            if k == self.current_node:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.node_list.addItem(item)
        self.node_list.setCurrentRow(self.current_node)
        self.node_list.blockSignals(False)
        if self.animal_combo.currentIndex() != self.current_animal:
            self.animal_combo.blockSignals(True)
            self.animal_combo.setCurrentIndex(self.current_animal)
            self.animal_combo.blockSignals(False)

    def _refresh_frames(self) -> None:
        labelled = self.labelled_frames()
        total = len(self.skeleton) * len(self.tracks)
        self.frame_list.blockSignals(True)
        self.frame_list.clear()
        for f, count in labelled.items():
            item = QListWidgetItem(
                f"frame {f}: {count}/{total} parts"
                + ("  (suggested)" if f in self.suggestions else "")
            )
            item.setData(Qt.UserRole, f)
            self.frame_list.addItem(item)
        for f in self.suggestions:
            if f not in labelled:
                item = QListWidgetItem(f"frame {f}: suggested, not labelled")
                item.setData(Qt.UserRole, f)
                self.frame_list.addItem(item)
        self.frame_list.blockSignals(False)
        done = len(set(self.suggestions) & set(labelled))
        self.count_label.setText(
            f"labelled {done} of {len(self.suggestions)} suggested "
            f"({len(labelled)} frames labelled in all)"
        )

    def _show_status(self) -> None:
        where = (
            f"project {self.project.root.name}"
            if self.project is not None
            else "no project: labels live only in this layer (New project… keeps them safe)"
        )
        saved = (
            time.strftime("%H:%M:%S", time.localtime(self.last_saved)) if self.last_saved else "—"
        )
        node = self.skeleton.nodes[self.current_node] if self.layer is not None else ""
        animal = self.tracks[self.current_animal] if self.layer is not None else ""
        self.status.setText(
            f"{where} · saved {saved}{' · unsaved edits' if self._dirty else ''}\n"
            f"frame {self.frame} · now placing: {node} of {animal}"
        )

    def _error(self, message: str) -> None:
        from napari.utils.notifications import show_error

        show_error(message)

    # -- dialogs ----------------------------------------------------------------------------------------------
    def _open_project_dialog(self) -> None:
        root = QFileDialog.getExistingDirectory(self, "Open napari-leap project")
        if root:
            try:
                self.open_project(root)
            except Exception as e:  # noqa: BLE001
                self._error(str(e))

    def _new_project_dialog(self) -> None:
        root = QFileDialog.getExistingDirectory(self, "Folder for the new project")
        if root:
            try:
                self.new_project(root)
            except Exception as e:  # noqa: BLE001
                self._error(str(e))

    def _model_dialog(self) -> None:
        start = str(self.project.models_dir) if self.project is not None else ""
        root = QFileDialog.getExistingDirectory(self, "Trained model folder", start)
        if root:
            self.set_model(root)


def _layer_name(project) -> str:
    return f"{project.name or project.root.name} labels"


def _key_handler(fn):
    def handler(layer):
        fn()

    return handler


def predict_frames(model_dir, video, frames, alignment=None):
    """Predictions (``Poses``) of a trained model on some frames of a video, in video pixels."""
    from napari_leap.io.video import source_of, video_source
    from napari_leap.pose.predict import VideoJob, predict

    source = video_source(video) if isinstance(video, (str, Path)) else source_of(video)
    if source is None:
        raise LeapError("this image layer is not a video napari-leap opened; open the video file.")
    job = VideoJob(
        source,
        np.asarray(sorted(frames), dtype=np.int64),
        None,
        alignment,
        Path(str(source.path)).name,
    )
    result = predict(model_dir, job)
    return result.poses[0]
