"""The Train dock's controls: built once, then wired to the dock's methods."""

from __future__ import annotations

from pathlib import Path

from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
)

from napari_leap.napari.widgets.scroll import scroll_layout
from napari_leap.napari.widgets.train.plot import LossPlot

FILE_ITEM = "labels file or project folder..."
ALIGN_ITEMS = {"auto": None, "align animals into boxes": True, "full frames": False}


def build_controls(dock) -> None:
    """Give ``dock`` its controls as attributes, lay them out and connect them."""
    form = QFormLayout()
    _source_rows(dock, form)
    _setting_rows(dock, form)
    _output_row(dock, form)
    dock.train_btn = QPushButton("Train")
    dock.train_btn.clicked.connect(dock.start)
    dock.stop_btn = QPushButton("Stop")
    dock.stop_btn.setEnabled(False)
    dock.stop_btn.setToolTip("end after the current batch; the best checkpoint is kept")
    dock.stop_btn.clicked.connect(dock.stop)
    buttons = QHBoxLayout()
    buttons.addWidget(dock.train_btn)
    buttons.addWidget(dock.stop_btn)
    dock.status = QLabel("")
    dock.status.setWordWrap(True)
    dock.plot = LossPlot(dock)

    layout = scroll_layout(dock)
    layout.addLayout(form)
    layout.addLayout(buttons)
    layout.addWidget(dock.status)
    layout.addWidget(dock.plot)
    layout.addStretch(1)


def _source_rows(dock, form: QFormLayout) -> None:
    dock.source = QComboBox()
    dock.source.setToolTip("a labeling Points layer, or a labels file / project folder")
    dock.path = QLineEdit()
    dock.path.setPlaceholderText("labels (.slp, .mat, DLC, NWB, box .h5) or project folder")
    browse = QPushButton("File...")
    browse.clicked.connect(dock._browse_file)
    browse_dir = QPushButton("Folder...")
    browse_dir.clicked.connect(dock._browse_folder)
    path_row = QHBoxLayout()
    path_row.addWidget(dock.path)
    path_row.addWidget(browse)
    path_row.addWidget(browse_dir)
    form.addRow("labels", dock.source)
    form.addRow("", path_row)


def _setting_rows(dock, form: QFormLayout) -> None:
    from napari_leap.pose.models import ARCHITECTURES

    dock.arch = QComboBox()
    for name, text in ARCHITECTURES.items():
        dock.arch.addItem(name)
        dock.arch.setItemData(dock.arch.count() - 1, text, 3)  # Qt.ToolTipRole
    dock.arch.setCurrentText("unet")
    form.addRow("architecture", dock.arch)
    dock.align = QComboBox()
    dock.align.addItems(list(ALIGN_ITEMS))
    dock.align.setToolTip("auto: align when animals are small in the frame or several share it")
    form.addRow("alignment", dock.align)
    dock.epochs = QSpinBox()
    dock.epochs.setRange(0, 10_000)
    dock.epochs.setSpecialValueText("auto")  # iter_train's default: the budget decides
    form.addRow("epochs", dock.epochs)
    dock.minutes = QDoubleSpinBox()
    dock.minutes.setRange(0, 10_000)
    dock.minutes.setValue(0)
    dock.minutes.setSpecialValueText("no limit")
    dock.minutes.setSuffix(" min")
    form.addRow("time limit", dock.minutes)
    dock.scale = QDoubleSpinBox()
    dock.scale.setRange(0, 4)
    dock.scale.setSingleStep(0.05)
    dock.scale.setValue(0)
    dock.scale.setSpecialValueText("auto")
    form.addRow("input scale", dock.scale)
    dock.fine_tune = QCheckBox("fine-tune the project's newest model")
    dock.fine_tune.setToolTip(
        "start from the newest model's weights (its network, input scale and alignment) "
        "instead of from scratch, with a fresh optimiser"
    )
    form.addRow("start", dock.fine_tune)


def _output_row(dock, form: QFormLayout) -> None:
    dock.out = QLineEdit(str(Path.cwd() / "models" / "leap_model"))
    dock.out.setToolTip("training from a project: a new folder in its models/ unless you set one")
    dock.out.textEdited.connect(dock._out_edited)
    out_btn = QPushButton("...")
    out_btn.clicked.connect(dock._browse_out)
    out_row = QHBoxLayout()
    out_row.addWidget(dock.out)
    out_row.addWidget(out_btn)
    form.addRow("model folder", out_row)
