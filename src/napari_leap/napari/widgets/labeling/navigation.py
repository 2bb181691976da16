"""Moving between frames, body parts and animals, on frames or on an animal's aligned box."""

from __future__ import annotations

import numpy as np

from napari_leap.model.labeling import next_frame
from napari_leap.napari import layers


class NavigationMixin:
    """Frames, the current part and animal, and the aligned-box view."""

    def labelled_frames(self) -> dict[int, int]:
        """Frame -> placed body parts, for frames where a person placed or corrected a point."""
        if self.layer is None or not len(self.layer.data):
            return {}
        return self.placements().labelled_frames()

    def go_to(self, frame: int) -> None:
        """Show ``frame``."""
        self.viewer.dims.set_current_step(0, int(frame))

    def step(self, delta: int) -> None:
        """Show the frame ``delta`` frames on (within the video)."""
        n = int(self.viewer.dims.nsteps[0]) if self.viewer.dims.ndim else 1
        self.go_to(min(max(self.frame + delta, 0), n - 1))

    def jump_labelled(self, direction: int) -> None:
        """Show the next (``direction`` > 0) or previous labelled frame."""
        self._jump(list(self.labelled_frames()), direction)

    def jump_suggested(self, direction: int = 1) -> None:
        """Show the next (``direction`` > 0) or previous suggested frame."""
        self._jump(self.suggestions, direction)

    def _jump(self, frames: list[int], direction: int) -> None:
        target = next_frame(frames, self.frame, direction)
        if target is not None:
            self.go_to(target)

    def _on_frame(self, event=None) -> None:
        frame = self.frame
        if frame == self._frame:
            return
        self._frame = frame
        self.autosave()
        self._follow_project_model()
        if self.layer is None:
            return
        self.state.start_frame(self.placements(), frame)
        self._update_box_affine()
        self._after_change()

    def set_current_node(self, node: int, animal: int | None = None) -> None:
        """Place body part ``node`` (of ``animal``, when given) next."""
        if self.layer is None:
            return
        self.state.choose(node, len(self.skeleton), animal, len(self.tracks))
        self._set_defaults(self.current_node, self.current_animal, "user")
        self._refresh_nodes()

    def cycle_node(self, step: int) -> None:
        """Place the body part ``step`` parts on next."""
        self.set_current_node(self.current_node + step)

    def cycle_animal(self) -> None:
        """Label the next animal."""
        if self.layer is not None:
            self.set_animal(self.current_animal + 1)

    def set_animal(self, animal: int) -> None:
        """Label ``animal`` now (its box too, on aligned boxes)."""
        self.state.start_animal(self.placements(), self.frame, animal)
        if self.box_animal is not None and self.alignment is not None:
            self.box_animal = min(self.current_animal, self.alignment.n_animals - 1)
            self._show_boxes()
        self._after_change()

    def _on_animal_combo(self, index: int) -> None:
        if index >= 0 and self.layer is not None and index != self.current_animal:
            self.set_animal(index)

    def show_names(self, on: bool) -> None:
        """Show or hide the body-part names next to the points."""
        if self.layer is not None:
            self.layer.text.visible = bool(on)

    # -- aligned boxes ----------------------------------------------------------------------
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
            return
        if self._box_layer is not None and self._box_layer in self.viewer.layers:
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
        old = self._box_layer
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
