"""Placing, moving and deleting points on the pose layer, and undoing it.

Which part comes next and what undo restores is :mod:`napari_leap.model.labeling`;
this module only reads and writes the layer.
"""

from __future__ import annotations

import contextlib

import numpy as np

from napari_leap.model.labeling import Placements
from napari_leap.napari import layers


class EditingMixin:
    """Edits of the pose layer, each undoable."""

    def placements(self) -> Placements:
        """The layer's points as plain data for the labelling state."""
        data = np.asarray(self.layer.data).reshape(-1, 3)
        f = self.layer.features
        columns = tuple(f[c].astype(str) for c in ("node", "animal", "status"))
        return Placements.from_columns(data[:, 0], columns, self.skeleton.nodes, self.tracks)

    def point_index(self, frame: int, animal: int, node: int) -> int | None:
        """Index in the layer of body part ``node`` of ``animal`` on ``frame`` (None if unplaced)."""
        if not len(self.layer.data):
            return None
        return self.placements().index(frame, animal, node)

    def placed(self, frame: int, animal: int) -> set[int]:
        """Body parts of ``animal`` with a point on ``frame``."""
        if not len(self.layer.data):
            return set()
        return self.placements().placed(frame, animal)

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
        self.state.placed_part(self.placements(), frame, animal, node)
        self._after_change()
        return idx

    def move_point(self, idx: int, position) -> None:
        """Move a point (a predicted one becomes 'corrected', so its frame counts as labelled)."""
        self._push_undo()
        position = np.asarray(position, dtype=np.float64).copy()
        position[0] = round(float(np.asarray(self.layer.data)[idx, 0]))
        self._set_position(idx, position, status=self._moved_status(idx))
        self._after_change()

    def _moved_status(self, idx: int) -> str | None:
        """A predicted point a person moved is corrected; others keep their status."""
        return "corrected" if str(self.layer.features["status"].iloc[idx]) == "predicted" else None

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
        self.state.mark_invisible(self.placements(), self.frame)
        self._dirty = True
        self._after_change()

    def _push_undo(self) -> None:
        layer = (
            np.asarray(self.layer.data).copy(),
            self.layer.features.copy(),
            np.array(self.layer.symbol, dtype=object).reshape(-1).copy(),
        )
        self.undo_stack.push(layer, self.state, self.frame)

    def undo(self) -> None:
        """Back to before the last edit (placing, moving, deleting, predicting)."""
        if not len(self.undo_stack) or self.layer is None:
            return
        data, features, symbols = self.undo_stack.pop(self.state, self.frame)
        self.layer.selected_data = set()
        self._set_data(data)
        self.layer.features = features
        if len(symbols) == len(data) and len(data):
            self.layer.symbol = list(symbols)
        self.layer.refresh_colors(update_color_mapping=False)
        self._after_change()

    # -- writing the layer ------------------------------------------------------------------
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
