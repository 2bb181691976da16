"""The Train dock's plot: losses as they come, then the error per body part."""

from __future__ import annotations

import numpy as np
from qtpy.QtWidgets import QVBoxLayout, QWidget


class LossPlot(QWidget):
    """Training loss per step (smoothed) as it comes, validation per epoch, then the error.

    The error is drawn per epoch, and per body part when training ends. An epoch of a few labels can take minutes on a CPU, so waiting for epochs would
    leave the plot blank; each step's loss is drawn as soon as it is known.
    """

    SMOOTHING = 0.2  # weight of the newest step in the running mean drawn over the raw losses

    def __init__(self, parent=None):
        super().__init__(parent)
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(3.2, 3.6), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(260)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.loss_ax = self.figure.add_subplot(211)
        self.err_ax = self.figure.add_subplot(212)
        self.clear()

    def clear(self) -> None:
        """Empty both plots for a new run."""
        self.steps: list[tuple[float, float]] = []  # (epochs so far, loss) of every step
        self.smoothed: list[float] = []
        for ax in (self.loss_ax, self.err_ax):
            ax.clear()
            ax.tick_params(labelsize=7)
        ax = self.loss_ax
        ax.set_title("loss", fontsize=8)
        ax.set_yscale("log")
        (self.raw_line,) = ax.plot([], [], color="#0072b2", alpha=0.25, linewidth=0.8)
        (self.train_line,) = ax.plot([], [], color="#0072b2", label="train (per step)")
        (self.val_line,) = ax.plot(
            [], [], color="#d55e00", marker="o", markersize=3, label="validation (per epoch)"
        )
        ax.legend(fontsize=7)
        self.err_ax.set_title("validation error (px)", fontsize=8)
        self.canvas.draw_idle()

    def add_step(self, epoch: int, batch: int, n_batches: int, loss: float) -> None:
        """One training step's loss, at ``epoch - 1 + batch / n_batches`` epochs."""
        if not np.isfinite(loss) or loss <= 0:
            return
        last = self.smoothed[-1] if self.smoothed else loss
        self.steps.append((epoch - 1 + batch / max(n_batches, 1), float(loss)))
        self.smoothed.append(last + self.SMOOTHING * (loss - last))
        x = [s[0] for s in self.steps]
        self.raw_line.set_data(x, [s[1] for s in self.steps])
        self.train_line.set_data(x, self.smoothed)
        self._rescale()

    def _rescale(self) -> None:
        self.loss_ax.relim()
        self.loss_ax.autoscale_view()
        self.canvas.draw_idle()

    def show_history(self, history: list[dict]) -> None:
        """Per-epoch values: validation loss and error.

        For epochs of an earlier run that this plot did not see step by step, the
        training loss too.
        """
        epochs = [h["epoch"] for h in history]
        self.val_line.set_data(epochs, [h["val_loss"] for h in history])
        if not self.steps and history:  # a resumed run: its earlier epochs, one point each
            self.steps = [(float(h["epoch"]), float(h["train_loss"])) for h in history]
            self.smoothed = [s[1] for s in self.steps]
            self.train_line.set_data(epochs, self.smoothed)
        self._rescale()

        def plot(ax, key: str, label: str, color: str) -> None:
            ax.plot(epochs, [h[key] for h in history], label=label, color=color, marker=".")

        ax = self.err_ax
        ax.clear()
        plot(ax, "val_error_px", "mean", "#009e73")
        plot(ax, "val_error_median_px", "median", "#e69f00")
        ax.set_yscale("log")
        ax.set_xlabel("epoch", fontsize=7)
        ax.set_title("validation error (px)", fontsize=8)
        ax.legend(fontsize=7)
        ax.tick_params(labelsize=7)
        self.canvas.draw_idle()

    def show_per_node(self, nodes: list[str], errors: list[float]) -> None:
        """Bars of the best epoch's validation error per body part (where the model errs)."""
        ax = self.err_ax
        ax.clear()
        ax.bar(range(len(nodes)), errors, color="#56b4e9")
        ax.set_xticks(range(len(nodes)))
        ax.set_xticklabels(nodes, rotation=90, fontsize=6)
        ax.set_ylabel("px", fontsize=7)
        ax.set_title("validation error per body part (best epoch, mean)", fontsize=8)
        ax.tick_params(labelsize=7)
        self.canvas.draw_idle()
