"""Align dock widget: find the animals, preview their boxes live, align the whole video.

Controls map to :func:`napari_leap.align.alignment.iter_align`'s arguments. The
preview (:mod:`.preview`) uses the same detector as the run. The run happens in a
``thread_worker`` (progress bar, Cancel); its result is added as a lazy Image layer
of boxes next to the video (see
:func:`napari_leap.napari.layers.alignment_boxes_layer_data` for the layout) and
reviewed in the dock (:mod:`.review`: flagged frames, heading flips).
"""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QTimer, Signal
from qtpy.QtWidgets import QWidget

from napari_leap.napari import layers
from napari_leap.napari._compat import unwrapped
from napari_leap.napari.widgets.align.controls import POLARITY_ITEMS, build_controls
from napari_leap.napari.widgets.align.preview import PreviewMixin
from napari_leap.napari.widgets.align.review import ReviewMixin
from napari_leap.napari.widgets.errors import show_error

#: share of the whole run each stage of ``iter_align`` fills on the progress bar (sampling
#: the background is one step of a few seconds; the bar must not fill up, then restart)
STAGE_SPANS = {"background": (0.0, 0.05), "align": (0.05, 1.0), "done": (1.0, 1.0)}


class AlignWidget(PreviewMixin, ReviewMixin, QWidget):
    """Align a video: choose the video layer and the animals, preview, run, review flags."""

    #: emitted when a run ends (finished, cancelled or failed) and Run is enabled again
    run_button_enabled = Signal()

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        self.viewer = unwrapped(napari_viewer)  # the docks share layers by identity
        self.alignment = None  # napari_leap.align.alignment.Alignment of the last run
        self.boxes_layer = None
        self._aligned_layer = None  # the video layer the alignment belongs to
        self._detector = None
        self._detector_key = None
        self._samples = None
        self._samples_key = None
        self._worker = None
        self._progress = None
        self._step_timer = QTimer(self)
        self._step_timer.setSingleShot(True)
        self._step_timer.setInterval(80)
        self._step_timer.timeout.connect(self.update_preview)
        build_controls(self)
        self._refresh_layers()
        ev = self.viewer.layers.events
        ev.inserted.connect(self._refresh_layers)
        ev.removed.connect(self._refresh_layers)
        self.viewer.dims.events.current_step.connect(self._on_step)
        self.update_preview()

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
        """The Image layer chosen in the Video box (None when there is none)."""
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
        """The frame the viewer shows of the chosen video."""
        layer = self.video_layer
        if layer is None:
            return 0
        return int(self.viewer.dims.current_step[self._frame_axis(layer)])

    # -- run -------------------------------------------------------------------------------
    def run(self):
        """Align the whole video in a worker thread; returns the worker."""
        from napari.qt.threading import thread_worker
        from napari.utils import progress

        from napari_leap.align.alignment import iter_align

        layer = self.video_layer
        if layer is None:
            show_error("Open a video first (File > Open or drag it in), then choose it here.")
            return None
        if self._worker is not None:
            return self._worker
        video = layer.data
        n = self.animals_spin.value()
        box = self.box_spin.value() or None
        opts = self.options()
        if box is not None:  # say it now rather than after sampling the video
            from napari_leap.align.alignment import check_box_size
            from napari_leap.errors import LeapError

            try:
                check_box_size(box, int(video.shape[1]), int(video.shape[2]))
            except LeapError as e:
                self.status.setText(show_error(e))
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
        """Stop the run; decoding ends at once and nothing is changed."""
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
        self.status.setText(f"alignment failed: {e}")
        show_error(e, "the alignment")

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
