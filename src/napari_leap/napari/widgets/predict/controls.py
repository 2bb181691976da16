"""The Predict dock's controls: built once, then wired to the dock's methods."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtGui import QFont
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
)

from napari_leap.napari.widgets.scroll import scroll_layout

#: export buttons: (label, extension, format); DeepLabCut's table is a .csv named by its format
EXPORTS = (
    (".slp", ".slp", None),
    (".h5", ".h5", None),
    (".csv", ".csv", None),
    ("DeepLabCut .csv", ".csv", "dlc"),
)


def build_controls(dock) -> None:
    """Give ``dock`` its controls as attributes, lay them out and connect them."""
    root = scroll_layout(dock)
    root.addLayout(_inputs(dock))
    root.addLayout(_run_row(dock))
    dock.progress_bar = QProgressBar()
    dock.progress_bar.setFormat("idle")
    dock.progress_bar.setTextVisible(True)
    root.addWidget(dock.progress_bar)
    dock.status = QLabel("")
    dock.status.setWordWrap(True)
    root.addWidget(dock.status)
    root.addWidget(_display(dock))
    root.addWidget(_export(dock))
    dock.validation = QLabel("")
    dock.validation.setFont(QFont("monospace", 8))
    dock.validation.setTextInteractionFlags(Qt.TextSelectableByMouse)
    root.addWidget(dock.validation)
    root.addStretch(1)


def _inputs(dock) -> QFormLayout:
    form = QFormLayout()
    row = QHBoxLayout()
    dock.model_edit = QLineEdit()
    dock.model_edit.setPlaceholderText("trained model folder")
    browse = QPushButton("Browse…")
    browse.clicked.connect(dock._browse_model)
    row.addWidget(dock.model_edit)
    row.addWidget(browse)
    form.addRow("Model", row)
    dock.source_combo = QComboBox()
    dock.source_combo.activated.connect(dock._on_source_chosen)
    form.addRow("Video", dock.source_combo)
    frames = QHBoxLayout()
    dock.start_spin = QSpinBox()
    dock.stop_spin = QSpinBox()
    for spin in (dock.start_spin, dock.stop_spin):
        spin.setRange(0, 10**9)
    dock.stop_spin.setSpecialValueText("end")
    frames.addWidget(dock.start_spin)
    frames.addWidget(QLabel("to"))
    frames.addWidget(dock.stop_spin)
    form.addRow("Frames", frames)
    dock.batch_spin = QSpinBox()
    dock.batch_spin.setRange(1, 4096)
    dock.batch_spin.setValue(64)
    form.addRow("Batch (boxes)", dock.batch_spin)
    dock.flip_check = QCheckBox("Average with left/right flip")
    dock.flip_check.setToolTip(
        "Run each box twice, as it is and mirrored, and average the two: twice the time, "
        "a lower error (fly32: 2.14 -> 2.04 px median). Models trained with flips only."
    )
    form.addRow("", dock.flip_check)
    return form


def _run_row(dock) -> QHBoxLayout:
    buttons = QHBoxLayout()
    dock.predict_button = QPushButton("Predict")
    dock.predict_button.clicked.connect(dock.start)
    dock.cancel_button = QPushButton("Cancel")
    dock.cancel_button.setEnabled(False)
    dock.cancel_button.clicked.connect(dock.cancel)
    buttons.addWidget(dock.predict_button)
    buttons.addWidget(dock.cancel_button)
    return buttons


def _display(dock) -> QGroupBox:
    display = QGroupBox("Display")
    form = QFormLayout(display)
    dock.threshold_slider = QSlider(Qt.Horizontal)
    dock.threshold_slider.setRange(0, 100)
    dock.threshold_slider.setValue(20)
    dock.threshold_label = QLabel()
    dock.threshold_slider.valueChanged.connect(dock._apply_threshold)
    row = QHBoxLayout()
    row.addWidget(dock.threshold_slider)
    row.addWidget(dock.threshold_label)
    form.addRow("Hide below", row)
    dock.tail_spin = QSpinBox()
    dock.tail_spin.setRange(0, 10000)
    dock.tail_spin.setValue(25)
    dock.tail_spin.valueChanged.connect(dock._apply_tail)
    form.addRow("Track tail (frames)", dock.tail_spin)
    return display


def _export(dock) -> QGroupBox:
    export = QGroupBox("Export")
    row = QHBoxLayout(export)
    dock.export_buttons = {}
    for label, ext, fmt in EXPORTS:
        b = QPushButton(label)
        b.setEnabled(False)
        b.clicked.connect(lambda _=False, e=ext, f=fmt: dock._export_dialog(e, f))
        row.addWidget(b)
        dock.export_buttons[label] = b
    return export
