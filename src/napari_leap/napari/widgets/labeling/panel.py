"""The Label dock's controls, top to bottom; each is wired to one of the widget's methods."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from napari_leap.napari.widgets.labeling.keys import shortcuts_html
from napari_leap.napari.widgets.scroll import scroll_layout

#: the Suggest menu: (what it shows, the method of napari_leap.pose.suggest)
SUGGEST_METHODS = [
    ("appearance (k-means)", "kmeans"),
    ("uniform", "uniform"),
    ("confidence", "confidence"),
    ("where the model is unsure", "model"),
    ("labels that look like slips", "slips"),
]


def build(w) -> None:
    """Lay out the dock's controls on the widget ``w`` (they become its attributes)."""
    root = scroll_layout(w)
    root.addLayout(
        _buttons(
            ("Open project…", w._open_project_dialog),
            ("New project…", w._new_project_dialog),
        )
    )
    w.status = QLabel("no labels yet: open a project, or a video and a skeleton")
    w.status.setWordWrap(True)
    root.addWidget(w.status)
    root.addLayout(_where(w))
    w.node_list = QListWidget()
    w.node_list.setMinimumHeight(150)
    w.node_list.itemClicked.connect(lambda item: w.set_current_node(w.node_list.row(item)))
    root.addWidget(w.node_list, 2)
    root.addLayout(
        _buttons(
            ("Not visible (V)", w.mark_invisible),
            ("Delete (Del)", w.delete_point),
            ("Undo (Ctrl+Z)", w.undo),
        )
    )
    root.addLayout(
        _buttons(
            ("◀ labelled", lambda: w.jump_labelled(-1)),
            ("labelled ▶", lambda: w.jump_labelled(1)),
            ("suggested ▶", lambda: w.jump_suggested(1)),
        )
    )
    root.addWidget(_suggestions(w))
    root.addWidget(_model(w))
    root.addWidget(_frames(w), 1)
    w.keys = QLabel(shortcuts_html())
    w.keys.setWordWrap(True)
    w.keys_button = QPushButton("Shortcuts ▸")
    w.keys_button.setCheckable(True)
    w.keys_button.toggled.connect(lambda on: _toggle_keys(w, on))
    w.keys.setVisible(False)  # open on demand: the table is as tall as the rest
    root.addWidget(w.keys_button)
    root.addWidget(w.keys)


def _buttons(*buttons) -> QHBoxLayout:
    row = QHBoxLayout()
    for text, slot in buttons:
        b = QPushButton(text)
        b.clicked.connect(slot)
        row.addWidget(b)
    return row


def _where(w) -> QHBoxLayout:
    """Which animal, on frames or aligned boxes, names shown."""
    where = QHBoxLayout()
    w.animal_combo = QComboBox()
    w.animal_combo.currentIndexChanged.connect(w._on_animal_combo)
    w.box_check = QCheckBox("label on aligned boxes")
    w.box_check.setEnabled(False)
    w.box_check.toggled.connect(w.set_box_mode)
    w.names_check = QCheckBox("names")
    w.names_check.toggled.connect(w.show_names)
    where.addWidget(QLabel("animal"))
    where.addWidget(w.animal_combo, 1)
    where.addWidget(w.box_check)
    where.addWidget(w.names_check)
    return where


def _suggestions(w) -> QGroupBox:
    box = QGroupBox("Suggested frames")
    grid = QGridLayout(box)
    w.method = QComboBox()
    for text, method in SUGGEST_METHODS:
        w.method.addItem(text, method)
    w.method.setToolTip(
        "appearance: LEAP cluster sampling; uniform: evenly spread; confidence: lowest mean "
        "confidence of the predictions shown; where the model is unsure: runs the model "
        "(lowest part peak, left/right-flip disagreement, jumps between frames); labels that "
        "look like slips: labelled points far from where their animal's other parts put "
        "them, which training leaves out"
    )
    w.n_suggest = QSpinBox()
    w.n_suggest.setRange(1, 10000)
    w.n_suggest.setValue(20)
    w.suggest_button = QPushButton("Suggest")
    w.suggest_button.clicked.connect(w.suggest)
    grid.addWidget(w.method, 0, 0)
    grid.addWidget(w.n_suggest, 0, 1)
    grid.addWidget(w.suggest_button, 0, 2)
    w.progress = QLabel("")
    grid.addWidget(w.progress, 1, 0, 1, 3)
    w.reason_label = QLabel("")
    w.reason_label.setWordWrap(True)
    w.reason_label.setToolTip("why this frame was suggested")
    grid.addWidget(w.reason_label, 2, 0, 1, 3)
    return box


def _model(w) -> QGroupBox:
    box = QGroupBox("Predict and correct")
    grid = QGridLayout(box)
    w.model_label = QLabel("no model")
    choose = QPushButton("Model…")
    choose.clicked.connect(w._model_dialog)
    w.predict_frame_button = QPushButton("Predict frame (P)")
    w.predict_frame_button.clicked.connect(lambda: w.predict([w.frame]))
    w.predict_suggested_button = QPushButton("Predict suggested")
    w.predict_suggested_button.clicked.connect(lambda: w.predict(w.suggestions))
    grid.addWidget(w.model_label, 0, 0, 1, 2)
    grid.addWidget(choose, 0, 2)
    w.accept_button = QPushButton("Accept frame (Enter)")
    w.accept_button.setToolTip(
        "the predicted points of this frame become labels; on to the next suggested frame"
    )
    w.accept_button.clicked.connect(w.accept_frame)
    grid.addWidget(w.predict_frame_button, 1, 0, 1, 2)
    grid.addWidget(w.predict_suggested_button, 1, 2)
    grid.addWidget(w.accept_button, 2, 0, 1, 3)
    return box


def _frames(w) -> QGroupBox:
    box = QGroupBox("Labelled frames")
    column = QVBoxLayout(box)
    w.count_label = QLabel("labelled 0 of 0 suggested")
    w.frame_list = QListWidget()
    w.frame_list.itemClicked.connect(lambda item: w.go_to(int(item.data(Qt.UserRole))))
    w.frame_list.setMinimumHeight(80)
    column.addWidget(w.count_label)
    column.addWidget(w.frame_list)
    return box


def _toggle_keys(w, on: bool) -> None:
    w.keys.setVisible(on)
    w.keys_button.setText("Shortcuts ▾" if on else "Shortcuts ▸")
