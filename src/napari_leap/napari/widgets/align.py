"""Align dock widget: find the animals, preview their boxes live, align the whole video.

Controls map to :func:`napari_leap.align.alignment.iter_align`'s arguments. The
preview (an oriented box and a heading arrow per animal on the current frame)
uses the same detector as the run, so what you see is what you get; after a
run it shows the aligned result (smoothed headings, kept identities). The run
happens in a ``thread_worker`` (progress bar, Cancel); its result is added as
a lazy Image layer of boxes next to the video (see
:func:`napari_leap.napari.layers.alignment_boxes_layer_data` for the layout),
flagged frames are listed in a table (click to jump), and ``f`` flips the
heading of the animal under the cursor (or the one chosen in the widget)
along its run of frames.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from napari_leap.napari import layers
from napari_leap.napari.widgets.scroll import scroll_layout

POLARITY_ITEMS = {"auto": "auto", "light animal on dark": "light", "dark animal on light": "dark"}
PREVIEW_NAME = "align preview"
HEADING_NAME = "align headings"
#: most rows shown in the flags table (the rest are counted in its title)
MAX_TABLE_ROWS = 5000
#: share of the whole run each stage of ``iter_align`` fills on the progress bar (sampling
#: the background is one step of a few seconds; the bar must not fill up, then restart)
STAGE_SPANS = {"background": (0.0, 0.05), "align": (0.05, 1.0), "done": (1.0, 1.0)}
ANIMAL_COLORS = ["#e69f00", "#56b4e9", "#009e73", "#f0e442", "#cc79a7", "#d55e00", "#0072b2"]


def _show_error(message: str) -> None:
    from napari.utils.notifications import show_error

    show_error(message)


def _displayed_image(layer, frame: int) -> np.ndarray | None:
    """The image of ``frame`` as the layer currently holds it for display, if it is that frame.

    Seeking in a compressed video can cost hundreds of decoded frames, so the preview
    reuses napari's slice. Uses napari's private slice response; None if it changes.
    """
    try:
        sl = layer._slice
        if sl.empty or int(round(sl.slice_input.world_slice.point[0])) != int(frame):
            return None
        img = np.asarray(sl.image.raw)
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.dtype != np.uint8 or img.shape[:2] != tuple(layer.data.shape[1:3]):
        return None
    return img


class AlignWidget(QWidget):
    """Align a video: choose the video layer and the animals, preview, run, review flags."""

    #: emitted when a run ends (finished, cancelled or failed) and Run is enabled again
    run_button_enabled = Signal()

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        # napari hands plugin docks a proxy that hides private API and makes identity checks
        # fail (a new proxy per access); these docks work with the layers themselves
        self.viewer = getattr(napari_viewer, "__wrapped__", napari_viewer)
        self.alignment = None  # napari_leap.align.alignment.Alignment of the last run
        self.boxes_layer = None
        self._aligned_layer = None  # the video layer the alignment belongs to
        self._detector = None
        self._detector_key = None
        self._samples = None
        self._samples_key = None
        self._worker = None
        self._progress = None
        from qtpy.QtCore import QTimer

        self._step_timer = QTimer(self)
        self._step_timer.setSingleShot(True)
        self._step_timer.setInterval(80)
        self._step_timer.timeout.connect(self.update_preview)
        self._build()
        self._refresh_layers()
        ev = self.viewer.layers.events
        ev.inserted.connect(self._refresh_layers)
        ev.removed.connect(self._refresh_layers)
        self.viewer.dims.events.current_step.connect(self._on_step)
        self.update_preview()

    # -- UI --------------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        self.video_combo = QComboBox()
        self.video_combo.setToolTip("the Image layer holding the video (frames, height, width)")
        form.addRow("Video", self.video_combo)
        self.animals_spin = QSpinBox()
        self.animals_spin.setRange(1, 100)
        self.animals_spin.setToolTip("how many animals are in every frame")
        form.addRow("Animals", self.animals_spin)
        self.box_spin = QSpinBox()
        self.box_spin.setRange(0, 4096)
        self.box_spin.setSingleStep(8)
        self.box_spin.setSpecialValueText("auto")
        self.box_spin.setSuffix(" px")
        self.box_spin.setToolTip("side of the square box; auto: 1.4x the measured animal length")
        form.addRow("Box size", self.box_spin)
        self.polarity_combo = QComboBox()
        self.polarity_combo.addItems(list(POLARITY_ITEMS))
        form.addRow("Polarity", self.polarity_combo)
        self.threshold_spin = QSpinBox()
        self.threshold_spin.setRange(0, 254)
        self.threshold_spin.setSpecialValueText("auto")
        self.threshold_spin.setToolTip("contrast to the background, in grey levels; auto: Otsu")
        form.addRow("Threshold", self.threshold_spin)
        self.preview_check = QCheckBox("show boxes on the current frame")
        self.preview_check.setChecked(True)
        form.addRow("Preview", self.preview_check)
        self.info = QLabel("")
        self.info.setWordWrap(True)

        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("align every frame of the video")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setValue(0)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        self.table_title = QLabel("Flagged frames")
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Frame", "Animal", "Reason"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.Stretch)
        self.table.setMinimumHeight(140)

        flip_row = QHBoxLayout()
        self.flip_animal = QComboBox()
        self.flip_animal.addItem("animal 0")
        self.flip_animal.setToolTip("the animal the Flip button turns")
        self.flip_button = QPushButton("Flip heading (f)")
        self.flip_button.setToolTip(
            "turn the heading by 180° on this frame and the run of frames it belongs to; "
            "key f flips the animal under the cursor"
        )
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip("save the alignment (a folder; boxes are recomputed)")
        self.load_button = QPushButton("Load…")
        self.load_button.setToolTip("open a saved alignment (e.g. from `napari-leap align`)")
        flip_row.addWidget(self.flip_animal)
        flip_row.addWidget(self.flip_button)
        flip_row.addWidget(self.save_button)
        flip_row.addWidget(self.load_button)

        layout = scroll_layout(self)
        layout.addLayout(form)
        layout.addWidget(self.info)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.table_title)
        layout.addWidget(self.table)
        layout.addLayout(flip_row)
        layout.addStretch(1)
        self._set_result_controls(False)

        self.video_combo.currentIndexChanged.connect(self._on_params)
        self.animals_spin.valueChanged.connect(self._on_params)
        self.polarity_combo.currentIndexChanged.connect(self._on_params)
        self.threshold_spin.valueChanged.connect(self._on_params)
        self.box_spin.valueChanged.connect(lambda _: self.update_preview())
        self.preview_check.toggled.connect(lambda _: self.update_preview())
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.table.cellClicked.connect(self._on_cell)
        self.flip_button.clicked.connect(lambda: self.flip(animal=self.flip_animal.currentIndex()))
        self.save_button.clicked.connect(self._save_dialog)
        self.load_button.clicked.connect(self._load_dialog)

    def _set_result_controls(self, enabled: bool) -> None:
        for w in (self.flip_animal, self.flip_button, self.save_button, self.table):
            w.setEnabled(enabled)

    # -- inputs ----------------------------------------------------------------------------
    def _video_layers(self):
        from napari.layers import Image

        own = {self.boxes_layer}
        return [
            ly
            for ly in self.viewer.layers
            if isinstance(ly, Image)
            and ly not in own
            and "alignment" not in ly.metadata
            and ly.ndim >= 3
        ]

    def _refresh_layers(self, event=None) -> None:
        current = self.video_combo.currentText()
        names = [ly.name for ly in self._video_layers()]
        self.video_combo.blockSignals(True)
        self.video_combo.clear()
        self.video_combo.addItems(names)
        if current in names:
            self.video_combo.setCurrentIndex(names.index(current))
        self.video_combo.blockSignals(False)
        if self.boxes_layer is not None and self.boxes_layer not in self.viewer.layers:
            self.boxes_layer = None
        if current not in names:
            self._on_params()

    @property
    def video_layer(self):
        name = self.video_combo.currentText()
        for ly in self._video_layers():
            if ly.name == name:
                return ly
        return None

    def options(self) -> dict:
        """The alignment options set in the widget (``None``: automatic)."""
        thr = self.threshold_spin.value()
        return {
            "polarity": POLARITY_ITEMS[self.polarity_combo.currentText()],
            "threshold": None if thr == 0 else float(thr),
        }

    def _frame_axis(self, layer) -> int:
        return self.viewer.dims.ndim - layer.ndim

    def current_frame(self) -> int:
        layer = self.video_layer
        if layer is None:
            return 0
        return int(self.viewer.dims.current_step[self._frame_axis(layer)])

    # -- preview ---------------------------------------------------------------------------
    def _on_params(self, *_) -> None:
        self._detector = None
        self.update_preview()

    def _on_step(self, event=None) -> None:
        # coalesce fast scrubbing/playback into one preview per 80 ms
        self._step_timer.start()

    def detector(self):
        """The detector for the chosen layer and settings (set up once, then cached)."""
        from napari_leap.align.alignment import sample_frames
        from napari_leap.align.detect import make_detector
        from napari_leap.io.video import frame_reader

        layer = self.video_layer
        if layer is None:
            return None
        key = (id(layer.data), self.animals_spin.value(), tuple(sorted(self.options().items())))
        if self._detector is None or self._detector_key != key:
            if self._samples_key != id(layer.data):
                # decoding the sampled frames is the slow part: once per video
                self._samples = sample_frames(frame_reader(layer.data)[0])[1]
                self._samples_key = id(layer.data)
            opts = self.options()
            self._detector = make_detector(
                self._samples, self.animals_spin.value(), opts["polarity"], opts["threshold"]
            )
            self._detector_key = key
            d = self._detector
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
        return self._detector

    def box_size(self) -> int:
        from napari_leap.align.alignment import default_box_size

        if self.box_spin.value() > 0:
            return self.box_spin.value()
        if self.alignment is not None and self._aligned_layer is self.video_layer:
            return self.alignment.box_size
        d = self._detector
        return default_box_size(d.animal_length if d is not None else float("nan"))

    def _read_frame(self, layer, frame: int) -> np.ndarray:
        """The frame napari already shows (no second decode) or, failing that, read it."""
        shown = _displayed_image(layer, frame)
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
        frame = self.current_frame()
        try:
            if self.alignment is not None and self._aligned_layer is layer:
                al = self.alignment
                frame = min(frame, al.n_frames - 1)
                centers, heads = al.centers[frame], al.angles[frame]
                flags = al.flags[frame]
            else:
                from napari_leap.align.alignment import detect_frame

                det = self.detector()
                centers, heads, _ = detect_frame(det, self._read_frame(layer, frame))
                flags = [""] * len(centers)
        except Exception as e:  # noqa: BLE001 - the widget stays usable
            from napari_leap.errors import is_user_error

            _show_error(
                str(e)
                if is_user_error(e)
                else f"preview failed ({type(e).__name__}: {e}); please report it"
            )
            return
        corners, vectors = layers.oriented_boxes(centers, heads, self.box_size())
        ok = np.all(np.isfinite(np.asarray(centers, float).reshape(-1, 2)), axis=1)
        animal_ids = np.flatnonzero(ok)
        colors = [ANIMAL_COLORS[i % len(ANIMAL_COLORS)] for i in animal_ids]
        labels = [f"{i}" + (f" {flags[i]}" if flags[i] else "") for i in animal_ids]
        self._show_preview(corners, vectors, colors, labels, layer)

    def _show_preview(self, corners, vectors, colors, labels, video_layer) -> None:
        selected = list(self.viewer.layers.selection)
        active = self.viewer.layers.selection.active
        scale, translate = video_layer.scale[-2:], video_layer.translate[-2:]
        features = {"label": np.asarray(labels, dtype=object)}
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
                scale=scale,
                translate=translate,
            )
        if len(corners):
            shapes.add_polygons(
                list(corners), edge_color=colors, face_color="transparent", edge_width=3
            )
            shapes.features = features
            shapes.text = {
                "string": "{label}",
                "color": "white",
                "size": 10,
                "anchor": "upper_left",
            }
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
                scale=scale,
                translate=translate,
            )
        vec.edge_color = colors if len(colors) else "white"
        # keep the user's selection (adding layers selects them)
        if selected:
            self.viewer.layers.selection.clear()
            self.viewer.layers.selection.update(selected)
            if active is not None:
                self.viewer.layers.selection.active = active

    # -- run -------------------------------------------------------------------------------
    def run(self):
        """Align the whole video in a worker thread; returns the worker."""
        from napari.qt.threading import thread_worker
        from napari.utils import progress

        from napari_leap.align.alignment import iter_align

        layer = self.video_layer
        if layer is None:
            _show_error("Open a video first (File > Open or drag it in), then choose it here.")
            return None
        if self._worker is not None:
            return self._worker
        video = layer.data
        n = self.animals_spin.value()
        box = self.box_spin.value() or None
        opts = self.options()
        if box is not None:  # say it now rather than after sampling the video
            from napari_leap.align.alignment import _check_box_size
            from napari_leap.errors import LeapError

            try:
                _check_box_size(box, int(video.shape[1]), int(video.shape[2]))
            except LeapError as e:
                _show_error(str(e))
                self.status.setText(str(e))
                return None

        @thread_worker(ignore_errors=True)  # errors go to _on_error (a notification)
        def work():
            return (yield from iter_align(video, n, box, **opts))

        worker = work()
        self._worker = worker
        self._progress = progress(total=1, desc="Aligning")
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("sampling frames for the background…")
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(lambda al: self._on_done(al, layer))
        worker.errored.connect(self._on_error)
        worker.aborted.connect(self._on_aborted)
        worker.finished.connect(self._on_finished)
        worker.start()
        return worker

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.quit()
            self.status.setText("cancelling…")

    def _on_progress(self, event) -> None:
        lo, hi = STAGE_SPANS.get(event.stage, (0.0, 1.0))
        self.progress_bar.setValue(int(100 * (lo + (hi - lo) * event.done / max(event.total, 1))))
        if event.stage == "align":
            self.status.setText(f"aligning frame {event.done}/{event.total}")
            if self._progress is not None:
                self._progress.total = event.total
                self._progress.n = event.done
                self._progress.refresh()

    def _on_error(self, e) -> None:
        from napari_leap.errors import is_user_error, user_message

        self.status.setText(f"alignment failed: {e}")
        if is_user_error(e):
            _show_error(user_message(e))
        else:
            _show_error(f"alignment failed ({type(e).__name__}: {e}); please report it")

    def _on_aborted(self) -> None:
        self.status.setText("cancelled; nothing was changed")
        self.progress_bar.setValue(0)

    def _on_finished(self) -> None:
        self._worker = None
        if self._progress is not None:
            self._progress.close()
            self._progress = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.run_button_enabled.emit()

    def _on_done(self, alignment, layer) -> None:
        self.set_alignment(alignment, layer)
        n_flag = len(alignment.flagged())
        o = alignment.options
        self.status.setText(
            f"aligned {alignment.n_frames} frames × {alignment.n_animals} animals, box "
            f"{alignment.box_size} px ({o['polarity']} animals, threshold {o['threshold']:.0f}); "
            f"{n_flag} flagged"
        )
        self.progress_bar.setValue(100)

    def set_alignment(self, alignment, layer=None) -> None:
        """Show an alignment (from a run, or loaded): boxes layer, flags table, preview."""
        layer = layer if layer is not None else self.video_layer
        self.alignment = alignment
        self._aligned_layer = layer
        width = layer.data.shape[2] if layer is not None else None
        data, kwargs, _ = layers.alignment_boxes_layer_data(
            alignment,
            name=f"{layer.name} boxes" if layer is not None else "aligned boxes",
            video_width=width,
        )
        if layer is not None:
            kwargs["translate"] = tuple(np.asarray(layer.translate[-3:]) + kwargs["translate"])
        if self.boxes_layer is not None and self.boxes_layer in self.viewer.layers:
            self.boxes_layer.data = data
            self.boxes_layer.metadata.update(kwargs["metadata"])
        else:
            self.boxes_layer = self.viewer.add_image(data, **kwargs)
            self._bind_keys(self.boxes_layer)
            self.viewer.reset_view()  # the boxes lie right of the video: bring both into view
        if layer is not None:
            self._bind_keys(layer)
        keep = self.flip_animal.currentIndex()
        self.flip_animal.clear()
        self.flip_animal.addItems([f"animal {a}" for a in range(alignment.n_animals)])
        self.flip_animal.setCurrentIndex(min(max(keep, 0), alignment.n_animals - 1))
        self._set_result_controls(True)
        self.fill_table()
        self.update_preview()

    # -- flags and flips -------------------------------------------------------------------
    def fill_table(self) -> None:
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
        layer = self._aligned_layer or self.video_layer
        if layer is None:
            return
        self.viewer.dims.set_current_step(self._frame_axis(layer), int(frame))

    def animal_under_cursor(self) -> int:
        """The animal under the mouse: its box in the boxes layer, or the nearest centre in
        the video; the one chosen in the widget otherwise."""
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
            if self._aligned_layer.rgb:
                y, x = d[-2], d[-1]
            if 0 <= y < h and 0 <= x < w:
                dist = np.linalg.norm(al.centers[frame] - np.array([x, y]), axis=1)
                if np.isfinite(dist).any():
                    return int(np.nanargmin(dist))
        return int(max(self.flip_animal.currentIndex(), 0))

    def flip(self, frame: int | None = None, animal: int | None = None):
        """Flip the heading of ``animal`` (default: under the cursor) along the run of
        frames ``frame`` (default: current) belongs to; returns the frames changed."""
        if self.alignment is None:
            _show_error("Run the alignment first; flips apply to its result.")
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
        from napari_leap.align.alignment import Alignment
        from napari_leap.errors import is_user_error

        layer = self.video_layer
        try:
            al = Alignment.load(path)
            if layer is not None and tuple(layer.data.shape[:3]) == (
                al.n_frames,
                *(al.frame_shape or (None, None))[:2],
            ):
                al = Alignment.load(path, video=layer.data)  # the layer's frames, no reopening
            elif layer is None or al.frame_shape is None:
                raise ValueError("no matching video layer")
            else:
                raise ValueError(
                    f"{Path(path).name} aligns a video of {al.n_frames} frames of "
                    f"{al.frame_shape[1]}x{al.frame_shape[0]} px, not the layer "
                    f"{layer.name!r}; open that video and choose it here first."
                )
        except Exception as e:  # noqa: BLE001 - the widget stays usable
            msg = (
                str(e)
                if is_user_error(e) or isinstance(e, ValueError)
                else (f"could not open the alignment ({type(e).__name__}: {e})")
            )
            if msg == "no matching video layer":
                msg = "Open the aligned video and choose it here before loading its alignment."
            _show_error(msg)
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
                _show_error(f"could not save the alignment: {e}")
                return
            self.status.setText(f"alignment saved to {path}")
