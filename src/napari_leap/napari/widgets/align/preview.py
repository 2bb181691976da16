"""The Align dock's live preview: an oriented box and a heading arrow per animal.

The preview uses the same detector as the run, so what you see is what you get;
after a run it shows the aligned result (smoothed headings, kept identities).
"""

from __future__ import annotations

import numpy as np

from napari_leap.napari import layers
from napari_leap.napari._compat import displayed_image
from napari_leap.napari.widgets.errors import show_error

PREVIEW_NAME = "align preview"
HEADING_NAME = "align headings"
ANIMAL_COLORS = ["#e69f00", "#56b4e9", "#009e73", "#f0e442", "#cc79a7", "#d55e00", "#0072b2"]


class PreviewMixin:
    """The preview half of :class:`~napari_leap.napari.widgets.align.AlignWidget`."""

    def _on_params(self, *_) -> None:
        self._detector = None
        self.update_preview()

    def _on_step(self, event=None) -> None:
        # coalesce fast scrubbing/playback into one preview per 80 ms
        self._step_timer.start()

    def detector(self):
        """The detector for the chosen layer and settings (set up once, then cached)."""
        from napari_leap.align.alignment import setup_detector

        layer = self.video_layer
        if layer is None:
            return None
        key = (id(layer.data), self.animals_spin.value(), tuple(sorted(self.options().items())))
        if self._detector is None or self._detector_key != key:
            samples = self._sampled_frames(layer)
            self._detector = setup_detector(
                layer.data, self.animals_spin.value(), sampled=samples, **self.options()
            )
            self._detector_key = key
            self._describe_detector(self._detector)
        return self._detector

    def _sampled_frames(self, layer) -> np.ndarray:
        """The frames the detector learns from; decoding them is the slow part: once per video."""
        from napari_leap.align.alignment import sample_frames
        from napari_leap.io.video import frame_reader

        if self._samples_key != id(layer.data):
            self._samples = sample_frames(frame_reader(layer.data)[0])[1]
            self._samples_key = id(layer.data)
        return self._samples

    def _describe_detector(self, d) -> None:
        from napari_leap.align.alignment import default_box_size

        self.box_spin.setSpecialValueText(f"auto ({default_box_size(d.animal_length)} px)")
        length = d.animal_length
        self.info.setText(
            f"{'light' if d.polarity == 'light' else 'dark'} animals, threshold "
            f"{d.threshold:.0f}, animal length {length:.0f} px"
            if np.isfinite(length)
            else "no animal found on the sampled frames: try the other polarity or a "
            "lower threshold"
        )

    def box_size(self) -> int:
        """The box side the preview draws: the one set, the run's, or the detector's guess."""
        from napari_leap.align.alignment import default_box_size

        if self.box_spin.value() > 0:
            return self.box_spin.value()
        if self.alignment is not None and self._aligned_layer is self.video_layer:
            return self.alignment.box_size
        d = self._detector
        return default_box_size(d.animal_length if d is not None else float("nan"))

    def _read_frame(self, layer, frame: int) -> np.ndarray:
        """The frame napari already shows (no second decode) or, failing that, read it."""
        shown = displayed_image(layer, frame)
        if shown is not None:
            return shown
        from napari_leap.io.video import source_of

        src = source_of(layer.data)
        if src is not None and src.shape[0] == layer.data.shape[0]:
            return src.read(frame)
        return np.asarray(layer.data[frame])

    def update_preview(self) -> None:
        """Redraw the boxes and heading arrows of the current frame."""
        layer = self.video_layer
        if layer is None or not self.preview_check.isChecked():
            for name in (PREVIEW_NAME, HEADING_NAME):
                if name in self.viewer.layers:
                    self.viewer.layers[name].visible = False
            return
        try:
            centers, heads, flags = self._frame_boxes(layer, self.current_frame())
        except Exception as e:  # noqa: BLE001 - the widget stays usable
            show_error(e, "the preview")
            return
        corners, vectors = layers.oriented_boxes(centers, heads, self.box_size())
        ok = np.all(np.isfinite(np.asarray(centers, float).reshape(-1, 2)), axis=1)
        animal_ids = np.flatnonzero(ok)
        colors = [ANIMAL_COLORS[i % len(ANIMAL_COLORS)] for i in animal_ids]
        labels = [f"{i}" + (f" {flags[i]}" if flags[i] else "") for i in animal_ids]
        selected = list(self.viewer.layers.selection)
        active = self.viewer.layers.selection.active
        self._draw_boxes(corners, colors, labels, layer)
        self._draw_headings(vectors, colors, layer)
        if selected:  # keep the user's selection (adding layers selects them)
            self.viewer.layers.selection.clear()
            self.viewer.layers.selection.update(selected)
            if active is not None:
                self.viewer.layers.selection.active = active

    def _frame_boxes(self, layer, frame: int):
        """``(centers, headings, flags)`` of ``frame``: the run's result, else detected now."""
        if self.alignment is not None and self._aligned_layer is layer:
            al = self.alignment
            frame = min(frame, al.n_frames - 1)
            return al.centers[frame], al.angles[frame], al.flags[frame]
        from napari_leap.align.alignment import detect_frame

        det = self.detector()
        centers, heads, _ = detect_frame(det, self._read_frame(layer, frame))
        return centers, heads, [""] * len(centers)

    def _draw_boxes(self, corners, colors, labels, video_layer) -> None:
        if PREVIEW_NAME in self.viewer.layers:
            shapes = self.viewer.layers[PREVIEW_NAME]
            shapes.data = []
            shapes.visible = True
        else:
            shapes = self.viewer.add_shapes(
                name=PREVIEW_NAME,
                ndim=2,
                edge_width=3,
                face_color="transparent",
                scale=video_layer.scale[-2:],
                translate=video_layer.translate[-2:],
            )
        if len(corners):
            shapes.add_polygons(
                list(corners), edge_color=colors, face_color="transparent", edge_width=3
            )
            shapes.features = {"label": np.asarray(labels, dtype=object)}
            shapes.text = {
                "string": "{label}",
                "color": "white",
                "size": 10,
                "anchor": "upper_left",
            }

    def _draw_headings(self, vectors, colors, video_layer) -> None:
        if HEADING_NAME in self.viewer.layers:
            vec = self.viewer.layers[HEADING_NAME]
            vec.data = vectors.reshape(-1, 2, 2)
            vec.visible = True
        else:
            vec = self.viewer.add_vectors(
                vectors.reshape(-1, 2, 2),
                name=HEADING_NAME,
                edge_width=4,
                length=1.0,
                vector_style="arrow",
                scale=video_layer.scale[-2:],
                translate=video_layer.translate[-2:],
            )
        vec.edge_color = colors if len(colors) else "white"
