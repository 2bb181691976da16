"""What the Label dock shows after every change: skeleton edges, body-part list, frames, status."""

from __future__ import annotations

import time

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QListWidgetItem

from napari_leap.napari import layers


class ViewsMixin:
    """Refresh the edges layer and the dock's lists and status from the pose layer."""

    def _after_change(self) -> None:
        if self.layer is None:
            return
        self._set_defaults(self.current_node, self.current_animal, "user")
        self._refresh_edges()
        self._refresh_nodes()
        self._refresh_frames()
        self._show_status()
        why = self.suggestion_reasons.get(self.frame) if self.frame in self.suggestions else None
        self.reason_label.setText(f"suggested: {why}" if why else "")

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
        from napari_leap.napari.widgets.skeleton import swatch

        frame, nodes = self.frame, self.skeleton.nodes
        placed = self.placed(frame, self.current_animal)
        hidden = self.state.invisible_nodes(frame, self.current_animal, nodes)
        colors = layers.node_colors(nodes)
        self.node_list.blockSignals(True)
        self.node_list.clear()
        for k, name in enumerate(nodes):
            mark = "✓" if k in placed else ("–" if k in hidden else " ")
            item = QListWidgetItem(swatch(colors[name]), f"{mark} {name}")
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
            suggested = "  (suggested)" if f in self.suggestions else ""
            self._add_frame_item(f, f"frame {f}: {count}/{total} parts{suggested}")
        for f in self.suggestions:
            if f not in labelled:
                why = self.suggestion_reasons.get(f)
                self._add_frame_item(
                    f,
                    f"frame {f}: suggested ({why})"
                    if why
                    else f"frame {f}: suggested, not labelled",
                )
        self.frame_list.blockSignals(False)
        done = len(set(self.suggestions) & set(labelled))
        self.count_label.setText(
            f"labelled {done} of {len(self.suggestions)} suggested "
            f"({len(labelled)} frames labelled in all)"
        )

    def _add_frame_item(self, frame: int, text: str) -> None:
        item = QListWidgetItem(text)
        item.setData(Qt.UserRole, frame)
        self.frame_list.addItem(item)

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
