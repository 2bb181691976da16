"""The Skeleton dock's controls: built once, refreshed from the skeleton after each edit."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
)

from napari_leap.napari import layers
from napari_leap.napari.widgets.scroll import scroll_layout


def swatch(color) -> object:
    """A small square icon of ``color`` (RGBA 0..1): a body part's colour beside its name."""
    from qtpy.QtGui import QColor, QIcon, QPixmap

    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor.fromRgbF(*color))
    return QIcon(pixmap)


def build_controls(dock) -> None:
    """Give ``dock`` its controls as attributes, lay them out and connect them."""
    root = scroll_layout(dock)
    dock.target = QLabel("no pose layer: edit here, then create one or save the skeleton")
    dock.target.setWordWrap(True)
    root.addWidget(dock.target)

    nodes_box = QGroupBox("Body parts (double-click to rename, drag to reorder)")
    grid = QGridLayout(nodes_box)
    dock.node_list = QListWidget()
    dock.node_list.setDragDropMode(QListWidget.InternalMove)
    dock.node_list.model().rowsMoved.connect(dock._on_rows_moved)
    dock.node_list.itemDoubleClicked.connect(lambda item: dock.rename_node_dialog(item.text()))
    grid.addWidget(dock.node_list, 0, 0, 1, 4)
    for col, (text, slot) in enumerate(
        (
            ("Add…", dock.add_node_dialog),
            ("Rename…", dock._rename_selected),
            ("Up", lambda: dock._move_selected(-1)),
            ("Down", lambda: dock._move_selected(1)),
        )
    ):
        b = QPushButton(text)
        b.clicked.connect(slot)
        grid.addWidget(b, 1, col)
    dock.remove_button = QPushButton("Delete")
    dock.remove_button.clicked.connect(dock._remove_selected)
    grid.addWidget(dock.remove_button, 2, 0, 1, 4)
    root.addWidget(nodes_box)

    dock.edge_list, dock.edge_a, dock.edge_b = _pair_box(
        root, "Edges (drawn between body parts)", dock._add_edge, dock._remove_edge
    )
    dock.sym_list, dock.sym_a, dock.sym_b = _pair_box(
        root,
        "Left/right pairs (swapped when training flips images)",
        dock._add_symmetry,
        dock._remove_symmetry,
    )
    propose = QPushButton("Propose pairs from names")
    propose.clicked.connect(dock.propose_pairs)
    root.addWidget(propose)
    parts = QHBoxLayout()
    dock.anchor_combo, dock.heading_combo = QComboBox(), QComboBox()
    dock.anchor_combo.setToolTip("learned alignment finds each animal by this part")
    dock.heading_combo.setToolTip("learned alignment turns each animal to face this part")
    parts.addWidget(QLabel("Align by"))
    parts.addWidget(dock.anchor_combo)
    parts.addWidget(QLabel("facing"))
    parts.addWidget(dock.heading_combo)
    for combo in (dock.anchor_combo, dock.heading_combo):
        combo.activated.connect(lambda _: dock._guard(dock._set_parts_from_combos))
    root.addLayout(parts)

    files = QHBoxLayout()
    for text, slot in (("Load…", dock._load_dialog), ("Save…", dock._save_dialog)):
        b = QPushButton(text)
        b.clicked.connect(slot)
        files.addWidget(b)
    root.addLayout(files)
    new = QHBoxLayout()
    dock.n_animals = QSpinBox()
    dock.n_animals.setRange(1, 20)
    dock.n_animals.setPrefix("animals: ")
    b = QPushButton("New labels layer")
    b.setToolTip("an empty pose layer with this skeleton, for the Label widget")
    b.clicked.connect(dock.new_layer)
    new.addWidget(dock.n_animals)
    new.addWidget(b)
    root.addLayout(new)
    root.addStretch(1)


def _pair_box(root, title, add, remove):
    box = QGroupBox(title)
    grid = QGridLayout(box)
    lst = QListWidget()
    lst.setMaximumHeight(110)
    a, b = QComboBox(), QComboBox()
    plus, minus = QPushButton("Add"), QPushButton("Remove")
    plus.clicked.connect(add)
    minus.clicked.connect(remove)
    grid.addWidget(lst, 0, 0, 1, 4)
    grid.addWidget(a, 1, 0)
    grid.addWidget(b, 1, 1)
    grid.addWidget(plus, 1, 2)
    grid.addWidget(minus, 1, 3)
    root.addWidget(box)
    return lst, a, b


def show_skeleton(dock, sk) -> None:
    """Fill the lists and choices from the skeleton ``sk``."""
    colors = layers.node_colors(sk.nodes)
    dock.node_list.blockSignals(True)
    dock.node_list.clear()
    for n in sk.nodes:
        item = QListWidgetItem(swatch(colors[n]), n)
        item.setFlags(item.flags() | Qt.ItemIsDragEnabled)
        dock.node_list.addItem(item)
    dock.node_list.blockSignals(False)
    for combo in (dock.edge_a, dock.edge_b, dock.sym_a, dock.sym_b):
        current = combo.currentText()
        combo.clear()
        combo.addItems(sk.nodes)
        if current in sk.nodes:
            combo.setCurrentText(current)
    dock.edge_list.clear()
    dock.edge_list.addItems([f"{a} — {b}" for a, b in sk.edge_names])
    dock.sym_list.clear()
    dock.sym_list.addItems([f"{a} ↔ {b}" for a, b in sk.symmetry_names])
    for combo, part in ((dock.anchor_combo, sk.anchor), (dock.heading_combo, sk.heading_part)):
        combo.clear()
        combo.addItems(["auto", *sk.nodes])
        combo.setCurrentIndex(0 if part is None else sk.nodes.index(part) + 1)
