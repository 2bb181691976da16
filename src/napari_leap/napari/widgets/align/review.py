"""The Align dock's review of a result: flagged frames, heading flips, save and load.

Flagged frames are listed in a table (click to jump), and ``f`` flips the heading
of the animal under the cursor (or the one chosen in the widget) along its run
of frames.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFileDialog, QTableWidgetItem

from napari_leap.napari.widgets.errors import show_error

#: most rows shown in the flags table (the rest are counted in its title)
MAX_TABLE_ROWS = 5000


class ReviewMixin:
    """The review half of :class:`~napari_leap.napari.widgets.align.AlignWidget`."""

    def fill_table(self) -> None:
        """List the flagged frames of the alignment (the first :data:`MAX_TABLE_ROWS`)."""
        rows = self.alignment.flagged() if self.alignment is not None else []
        shown = rows[:MAX_TABLE_ROWS]
        self.table.setRowCount(len(shown))
        for r, (frame, animal, reason) in enumerate(shown):
            for c, value in enumerate((frame, animal, reason)):
                item = QTableWidgetItem(str(value))
                if c < 2:
                    item.setData(Qt.DisplayRole, int(value))
                self.table.setItem(r, c, item)
        more = f" (first {MAX_TABLE_ROWS} shown)" if len(rows) > len(shown) else ""
        self.table_title.setText(f"Flagged frames: {len(rows)}{more}")

    def _on_cell(self, row: int, column: int) -> None:
        frame = int(self.table.item(row, 0).text())
        animal = int(self.table.item(row, 1).text())
        self.jump_to(frame)
        self.flip_animal.setCurrentIndex(animal)

    def jump_to(self, frame: int) -> None:
        """Show ``frame`` of the aligned (or chosen) video."""
        layer = self._aligned_layer or self.video_layer
        if layer is None:
            return
        self.viewer.dims.set_current_step(self._frame_axis(layer), int(frame))

    def animal_under_cursor(self) -> int:
        """The animal under the mouse, else the one chosen in the widget.

        Under the mouse: its box in the boxes layer, or the nearest centre in the video.
        """
        al = self.alignment
        pos = np.asarray(self.viewer.cursor.position, float)
        frame = min(self.current_frame(), al.n_frames - 1)
        if self.boxes_layer is not None:
            d = np.asarray(self.boxes_layer.world_to_data(pos), float)
            if 0 <= d[-2] < al.box_size and 0 <= d[-1] < al.box_size * al.n_animals:
                return int(d[-1] // al.box_size)
        if self._aligned_layer is not None:
            d = np.asarray(self._aligned_layer.world_to_data(pos), float)
            h, w = self._aligned_layer.data.shape[1:3]
            y, x = d[-2], d[-1]
            if 0 <= y < h and 0 <= x < w:
                dist = np.linalg.norm(al.centers[frame] - np.array([x, y]), axis=1)
                if np.isfinite(dist).any():
                    return int(np.nanargmin(dist))
        return int(max(self.flip_animal.currentIndex(), 0))

    def flip(self, frame: int | None = None, animal: int | None = None):
        """Flip the heading of ``animal`` along the run of frames ``frame`` belongs to.

        Defaults: the animal under the cursor, the current frame. Returns the frames changed.
        """
        if self.alignment is None:
            show_error("Run the alignment first; flips apply to its result.")
            return None
        al = self.alignment
        frame = min(self.current_frame(), al.n_frames - 1) if frame is None else int(frame)
        animal = self.animal_under_cursor() if animal is None else int(animal)
        changed = al.flip(frame, animal)
        self.set_alignment(al, self._aligned_layer)
        self.status.setText(
            f"flipped animal {animal} on frames {changed[0]}–{changed[-1]} ({len(changed)} frames)"
        )
        return changed

    def _bind_keys(self, layer) -> None:
        def flip_key(_layer=None):
            self.flip()

        # where 'f' is already bound on the video layer by another tool, use the button
        with contextlib.suppress(ValueError, TypeError):
            layer.bind_key("f", flip_key, overwrite=layer is self.boxes_layer)

    def load_alignment(self, path):
        """Open a saved alignment over the chosen video layer; returns it (None on error)."""
        layer = self.video_layer
        try:
            al = _load_for(path, layer)
        except Exception as e:  # noqa: BLE001 - the widget stays usable
            message = str(e) if isinstance(e, ValueError) else e
            if message == "no matching video layer":
                message = "Open the aligned video and choose it here before loading its alignment."
            show_error(message, "opening the alignment")
            return None
        self.set_alignment(al, layer)
        self.status.setText(f"loaded {path}: {len(al.flagged())} flagged")
        return al

    def _load_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open an alignment folder")
        if path:
            self.load_alignment(path)

    def _save_dialog(self) -> None:
        if self.alignment is None:
            return
        path = QFileDialog.getSaveFileName(self, "Save alignment (a folder)", "alignment")[0]
        if path:
            try:
                self.alignment.save(path)
            except Exception as e:  # noqa: BLE001 - the widget stays usable
                show_error(e, "saving the alignment")
                return
            self.status.setText(f"alignment saved to {path}")


def _load_for(path, layer):
    """The alignment saved at ``path``, over ``layer``'s frames; ValueError if they differ."""
    from napari_leap.align.alignment import Alignment

    al = Alignment.load(path)
    if layer is not None and tuple(layer.data.shape[:3]) == (
        al.n_frames,
        *(al.frame_shape or (None, None))[:2],
    ):
        return Alignment.load(path, video=layer.data)  # the layer's frames, no reopening
    if layer is None or al.frame_shape is None:
        raise ValueError("no matching video layer")
    raise ValueError(
        f"{Path(path).name} aligns a video of {al.n_frames} frames of "
        f"{al.frame_shape[1]}x{al.frame_shape[0]} px, not the layer "
        f"{layer.name!r}; open that video and choose it here first."
    )
