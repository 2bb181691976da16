"""The mouse on the pose layer: a click places the current part, a press on a point drags it."""

from __future__ import annotations

import numpy as np

#: pixels the mouse may move between press and release and still be a click
CLICK_SLOP = 5
#: an edit is saved this long after the last one (edits come in bursts)
DEBOUNCE_MS = 1500


class MouseMixin:
    """napari's "add" mode handler and the layer's data and feature events."""

    def point_under(self, position) -> int | None:
        """The point of this frame under a data ``position`` (within its drawn radius)."""
        if self.layer is None or not len(self.layer.data):
            return None
        data = np.asarray(self.layer.data)
        mask = np.rint(data[:, 0]) == int(round(position[0]))
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
        """Handle napari's 'add' mode: press on a point drags it, a click elsewhere places a part."""
        position = np.asarray(layer.world_to_data(event.position), dtype=np.float64)
        idx = self.point_under(position)
        if idx is None:
            start = np.asarray(event.pos, dtype=np.float64)
            yield
            while event.type == "mouse_move":
                yield
            if np.linalg.norm(np.asarray(event.pos, dtype=np.float64) - start) < CLICK_SLOP:
                self.place(layer.world_to_data(event.position))
            return
        layer.selected_data = {idx}
        self._push_undo()
        self._dragging = True
        yield
        moved = False
        try:
            while event.type == "mouse_move":
                self._set_position(idx, self._on_point_frame(layer, event, idx), emit=False)
                self._refresh_edges()  # the skeleton follows the point while it moves
                moved = True
                yield
        finally:
            self._dragging = False
        if moved:
            pos = self._on_point_frame(layer, event, idx)
            self._set_position(idx, pos, status=self._moved_status(idx))
            self._after_change()
        else:
            self.undo_stack.drop()
            self._clicked_point(layer, position, idx)

    @staticmethod
    def _on_point_frame(layer, event, idx: int) -> np.ndarray:
        """The mouse position in data coordinates, on the frame of point ``idx``."""
        pos = np.asarray(layer.world_to_data(event.position), dtype=np.float64)
        pos[0] = np.asarray(layer.data)[idx, 0]
        return pos

    def _clicked_point(self, layer, position, idx: int) -> None:
        """Place the current part if it is still missing, else pick the clicked point's part.

        A click on a point without a drag: close parts stay placeable.
        """
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
        self.state.fit(len(self.skeleton))  # parts may be gone
        self._refresh_nodes()
        self._refresh_edges()
