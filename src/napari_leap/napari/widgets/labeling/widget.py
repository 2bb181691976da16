"""Label dock widget: click body parts on frames (or aligned boxes), helped by suggestions and a model.

The pose Points layer is the single store of labels, always in video coordinates.
On aligned boxes the layer gets, frame by frame, the affine that maps video pixels
into the shown box, so clicks on a box land in video coordinates and nothing is
ever converted twice. Every edit marks the labels dirty; they are written to the
project a moment later, on every frame change, on a timer and when the widget
closes, so nothing placed is lost.

The widget is assembled from one mixin per concern (project, editing, mouse,
navigation, background work, views); the labelling state itself is
:mod:`napari_leap.model.labeling`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
from qtpy.QtCore import QEvent, Qt, QTimer
from qtpy.QtWidgets import QFileDialog, QWidget

from napari_leap.io.video import same_video
from napari_leap.model.labeling import Invisible, LabelingState, UndoStack
from napari_leap.napari import layers
from napari_leap.napari._compat import set_drag_handler, unwrapped, viewer_canvas
from napari_leap.napari.widgets.errors import show_error
from napari_leap.napari.widgets.labeling.editing import EditingMixin
from napari_leap.napari.widgets.labeling.keys import bind_keys
from napari_leap.napari.widgets.labeling.mouse import MouseMixin
from napari_leap.napari.widgets.labeling.navigation import NavigationMixin
from napari_leap.napari.widgets.labeling.panel import build
from napari_leap.napari.widgets.labeling.project import ProjectMixin
from napari_leap.napari.widgets.labeling.views import ViewsMixin
from napari_leap.napari.widgets.labeling.work import WorkMixin

AUTOSAVE_SECONDS = 30


class LabelingWidget(
    ProjectMixin, EditingMixin, MouseMixin, NavigationMixin, WorkMixin, ViewsMixin, QWidget
):
    """Label frames into a pose layer backed by a project (autosaved)."""

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        self.viewer = unwrapped(napari_viewer)
        self.project = None
        self.video_index = 0
        self.layer = None
        self.edges = None
        self.image = None
        self.alignment = None
        self.box_animal: int | None = None
        self._box_layer = None
        self.state = LabelingState()
        self.undo_stack: UndoStack = UndoStack()
        self.suggestions: list[int] = []
        self.suggestion_reasons: dict[int, str] = {}  # frame -> why it was suggested
        self.model_dir: Path | None = None
        self._model_chosen = False  # a person chose the model: stop following the project's
        self._manifest_seen: float | None = None
        self.last_saved: float | None = None
        self._dirty = False
        self._dragging = False
        self._own = False  # True while this widget itself rewrites the layer's data
        self._worker = None
        build(self)
        self._start_timers()
        self.viewer.dims.events.current_step.connect(self._on_frame)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.viewer.layers.events.inserted.connect(self._on_layer_inserted)
        self.viewer.layers.selection.events.active.connect(self._on_active)
        self._frame = self.frame
        canvas = viewer_canvas(self.viewer)
        if canvas is not None:  # Qt spends Tab on moving focus unless we take it first
            canvas.native.installEventFilter(self)
        self._on_active()

    def _start_timers(self) -> None:
        self._save_soon = QTimer(self)
        self._save_soon.setSingleShot(True)
        self._save_soon.timeout.connect(self.autosave)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.autosave)
        self._timer.timeout.connect(self._follow_project_model)
        self._timer.start(AUTOSAVE_SECONDS * 1000)

    def eventFilter(self, obj, event) -> bool:
        """Tab / Shift+Tab on the canvas cycle body parts while the pose layer is active."""
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

    # -- the labels -------------------------------------------------------------------------
    @property
    def skeleton(self):
        """The pose layer's skeleton (it changes when the Skeleton dock edits it)."""
        return layers.pose_layer_skeleton(self.layer)

    @property
    def tracks(self) -> list[str]:
        """The pose layer's animal names, in order."""
        return list(self.layer.metadata["tracks"])

    @property
    def frame(self) -> int:
        """The frame shown."""
        return int(self.viewer.dims.current_step[0]) if self.viewer.dims.ndim else 0

    @property
    def current_node(self) -> int:
        """The body part a click places."""
        return self.state.current_node

    @current_node.setter
    def current_node(self, node: int) -> None:
        self.state.current_node = node

    @property
    def current_animal(self) -> int:
        """The animal a click places a body part of."""
        return self.state.current_animal

    @current_animal.setter
    def current_animal(self, animal: int) -> None:
        self.state.current_animal = animal

    @property
    def invisible(self) -> set[Invisible]:
        """(frame, animal, body-part name) marked not visible."""
        return self.state.invisible

    @invisible.setter
    def invisible(self, marked: set[Invisible]) -> None:
        self.state.invisible = marked

    # -- the layers -------------------------------------------------------------------------
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
        set_drag_handler(layer, "add", self._place_or_drag)
        layer.mode = "pan_zoom"
        layer.mode = "add"
        bind_keys(layer, self)
        self._add_edges(layer)
        self.viewer.layers.selection.active = layer
        self.animal_combo.blockSignals(True)
        self.animal_combo.clear()
        self.animal_combo.addItems(self.tracks)
        self.animal_combo.blockSignals(False)
        self._find_alignment()
        self.undo_stack.clear()
        self.state.start_animal(self.placements(), self.frame, 0)
        self._after_change()

    def _add_edges(self, layer) -> None:
        """The skeleton's edges as a Vectors layer under the points (an old one replaced)."""
        name = f"{layer.name} edges"
        for lay in [lay for lay in self.viewer.layers if lay.name == name]:
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
        from napari.layers import Image

        video = self.layer.metadata.get("video") if self.layer is not None else None
        images = [
            lay
            for lay in self.viewer.layers
            if isinstance(lay, Image) and "alignment" not in lay.metadata
        ]
        for lay in images:
            shown = layers.layer_video_path(lay)
            if video and shown is not None and same_video(shown, video):
                return lay
        return images[0] if images else None

    def _find_alignment(self) -> None:
        self.alignment = next(
            (
                lay.metadata["alignment"]
                for lay in self.viewer.layers
                if hasattr(getattr(lay, "metadata", {}).get("alignment"), "affine")
            ),
            None,
        )
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

    def _error(self, message: str) -> None:
        show_error(message)

    # -- dialogs ----------------------------------------------------------------------------
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
