"""The Align dock's controls: built once, then wired to the dock's methods."""

from __future__ import annotations

from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
)

from napari_leap.napari.widgets.scroll import scroll_layout

POLARITY_ITEMS = {"auto": "auto", "light animal on dark": "light", "dark animal on light": "dark"}


def build_controls(dock) -> None:
    """Give ``dock`` its controls as attributes, lay them out and connect them."""
    layout = scroll_layout(dock)
    layout.addLayout(_settings(dock))
    dock.info = QLabel("")
    dock.info.setWordWrap(True)
    layout.addWidget(dock.info)
    layout.addLayout(_run_row(dock))
    dock.progress_bar = QProgressBar()
    dock.progress_bar.setRange(0, 100)
    dock.progress_bar.setValue(0)
    layout.addWidget(dock.progress_bar)
    dock.status = QLabel("")
    dock.status.setWordWrap(True)
    layout.addWidget(dock.status)
    dock.table_title = QLabel("Flagged frames")
    layout.addWidget(dock.table_title)
    layout.addWidget(_flags_table(dock))
    layout.addLayout(_result_row(dock))
    layout.addStretch(1)
    dock._set_result_controls(False)
    _connect(dock)


def _settings(dock) -> QFormLayout:
    form = QFormLayout()
    dock.video_combo = QComboBox()
    dock.video_combo.setToolTip("the Image layer holding the video (frames, height, width)")
    form.addRow("Video", dock.video_combo)
    dock.animals_spin = QSpinBox()
    dock.animals_spin.setRange(1, 100)
    dock.animals_spin.setToolTip("how many animals are in every frame")
    form.addRow("Animals", dock.animals_spin)
    dock.box_spin = QSpinBox()
    dock.box_spin.setRange(0, 4096)
    dock.box_spin.setSingleStep(8)
    dock.box_spin.setSpecialValueText("auto")
    dock.box_spin.setSuffix(" px")
    dock.box_spin.setToolTip("side of the square box; auto: 1.4x the measured animal length")
    form.addRow("Box size", dock.box_spin)
    dock.polarity_combo = QComboBox()
    dock.polarity_combo.addItems(list(POLARITY_ITEMS))
    form.addRow("Polarity", dock.polarity_combo)
    dock.threshold_spin = QSpinBox()
    dock.threshold_spin.setRange(0, 254)
    dock.threshold_spin.setSpecialValueText("auto")
    dock.threshold_spin.setToolTip("contrast to the background, in grey levels; auto: Otsu")
    form.addRow("Threshold", dock.threshold_spin)
    dock.preview_check = QCheckBox("show boxes on the current frame")
    dock.preview_check.setChecked(True)
    form.addRow("Preview", dock.preview_check)
    return form


def _run_row(dock) -> QHBoxLayout:
    dock.run_button = QPushButton("Run")
    dock.run_button.setToolTip("align every frame of the video")
    dock.cancel_button = QPushButton("Cancel")
    dock.cancel_button.setEnabled(False)
    buttons = QHBoxLayout()
    buttons.addWidget(dock.run_button)
    buttons.addWidget(dock.cancel_button)
    return buttons


def _flags_table(dock) -> QTableWidget:
    dock.table = table = QTableWidget(0, 3)
    table.setHorizontalHeaderLabels(["Frame", "Animal", "Reason"])
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.setSelectionMode(QAbstractItemView.SingleSelection)
    table.horizontalHeader().setSectionResizeMode(2, QHeaderView.Stretch)
    table.setMinimumHeight(140)
    return table


def _result_row(dock) -> QHBoxLayout:
    dock.flip_animal = QComboBox()
    dock.flip_animal.addItem("animal 0")
    dock.flip_animal.setToolTip("the animal the Flip button turns")
    dock.flip_button = QPushButton("Flip heading (f)")
    dock.flip_button.setToolTip(
        "turn the heading by 180° on this frame and the run of frames it belongs to; "
        "key f flips the animal under the cursor"
    )
    dock.save_button = QPushButton("Save…")
    dock.save_button.setToolTip("save the alignment (a folder; boxes are recomputed)")
    dock.load_button = QPushButton("Load…")
    dock.load_button.setToolTip("open a saved alignment (e.g. from `napari-leap align`)")
    row = QHBoxLayout()
    for w in (dock.flip_animal, dock.flip_button, dock.save_button, dock.load_button):
        row.addWidget(w)
    return row


def _connect(dock) -> None:
    dock.video_combo.currentIndexChanged.connect(dock._on_params)
    dock.animals_spin.valueChanged.connect(dock._on_params)
    dock.polarity_combo.currentIndexChanged.connect(dock._on_params)
    dock.threshold_spin.valueChanged.connect(dock._on_params)
    dock.box_spin.valueChanged.connect(lambda _: dock.update_preview())
    dock.preview_check.toggled.connect(lambda _: dock.update_preview())
    dock.run_button.clicked.connect(dock.run)
    dock.cancel_button.clicked.connect(dock.cancel)
    dock.table.cellClicked.connect(dock._on_cell)
    dock.flip_button.clicked.connect(lambda: dock.flip(animal=dock.flip_animal.currentIndex()))
    dock.save_button.clicked.connect(dock._save_dialog)
    dock.load_button.clicked.connect(dock._load_dialog)
