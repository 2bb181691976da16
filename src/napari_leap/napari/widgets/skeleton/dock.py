"""Skeleton dock widget: body parts, edges and left/right pairs, applied to the pose layer live.

The skeleton lives in the pose layer's metadata (and from there in the project), so
renaming a body part renames its labels and deleting one deletes its labels after
asking. Left/right pairs are proposed from names (``wingL``/``wingR``,
``left_ear``/``right_ear``): the trainer flips images and swaps them. The two
parts learned alignment finds each animal by (anchor, heading part) are
chosen here too; "auto" leaves the choice to training.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QComboBox, QFileDialog, QInputDialog, QMessageBox, QWidget

from napari_leap.io.skeleton_files import load_skeleton, save_skeleton
from napari_leap.model.skeleton import Skeleton, propose_symmetries
from napari_leap.napari import layers
from napari_leap.napari._compat import unwrapped
from napari_leap.napari.widgets.errors import show_error
from napari_leap.napari.widgets.skeleton.controls import build_controls, show_skeleton


def _ask(parent: QWidget, message: str) -> bool:
    answer = QMessageBox.question(
        parent, "napari-leap", message, QMessageBox.Yes | QMessageBox.No, QMessageBox.No
    )
    return answer == QMessageBox.Yes


class SkeletonWidget(QWidget):
    """Edit the skeleton of the active pose layer (or a new one) and save/load it."""

    skeleton_changed = Signal(object)

    def __init__(self, napari_viewer, confirm: Callable[[str], bool] | None = None, parent=None):
        super().__init__(parent)
        self.viewer = unwrapped(napari_viewer)  # the docks share layers by identity
        #: asked before labels are deleted; tests replace it
        self.confirm = confirm or (lambda message: _ask(self, message))
        self.skeleton = Skeleton(nodes=[])
        self._layer = None
        build_controls(self)
        self.viewer.layers.selection.events.active.connect(self._on_active)
        self._on_active()

    # -- target layer ---------------------------------------------------------------------
    @property
    def layer(self):
        """The pose layer being edited, while it is still in the viewer."""
        if self._layer is not None and self._layer in self.viewer.layers:
            return self._layer
        return None

    def _on_active(self, event=None) -> None:
        active = self.viewer.layers.selection.active
        if (
            active is not None
            and layers.is_editable_pose_layer(active)
            and active is not self._layer
        ):
            self.set_layer(active)
        elif self.layer is None:
            found = [lay for lay in self.viewer.layers if layers.is_editable_pose_layer(lay)]
            if found:
                self.set_layer(found[-1])

    def set_layer(self, layer) -> None:
        """Edit ``layer``'s skeleton from now on."""
        self._layer = layer
        self.skeleton = layers.pose_layer_skeleton(layer)
        self.target.setText(f"editing the skeleton of layer “{layer.name}”")
        if not self.skeleton.symmetries and self.skeleton.nodes:
            self.propose_pairs()
        self._refresh()

    # -- edits (public: the same calls the buttons make) -------------------------------------
    def add_node(self, name: str) -> None:
        """Add a body part (and the left/right pair its name suggests)."""
        name = name.strip()
        if not name:
            return
        sk = self._copy()
        sk.add_node(name)
        self._commit(sk, propose=True)

    def rename_node(self, old: str, new: str) -> None:
        """Rename a body part; its labels follow."""
        new = new.strip()
        if not new or new == old:
            return
        sk = self._copy()
        sk.rename_node(old, new)
        self._commit(sk, renames={old: new}, propose=True)

    def remove_node(self, name: str) -> bool:
        """Delete a body part; its labels go too, after :attr:`confirm` says yes."""
        n = len(layers.points_of_nodes(self.layer, [name])) if self.layer is not None else 0
        if n and not self.confirm(f"Delete body part “{name}” and its {n} labelled points?"):
            return False
        sk = self._copy()
        sk.remove_node(name)
        self._commit(sk)
        return True

    def move_node(self, name: str, index: int) -> None:
        """Move a body part to ``index`` (colours follow the order)."""
        sk = self._copy()
        sk.move_node(name, max(0, min(index, len(sk.nodes) - 1)))
        self._commit(sk)

    def add_edge(self, a: str, b: str) -> None:
        """Draw an edge between two body parts (once)."""
        sk = self._copy()
        if (
            a != b
            and (sk.index(a), sk.index(b)) not in sk.edges
            and (sk.index(b), sk.index(a)) not in sk.edges
        ):
            sk.edges.append((sk.index(a), sk.index(b)))
            self._commit(sk)

    def remove_edge(self, a: str, b: str) -> None:
        """Remove the edge between two body parts."""
        sk = self._copy()
        pair = {sk.index(a), sk.index(b)}
        sk.edges = [e for e in sk.edges if set(e) != pair]
        self._commit(sk)

    def add_symmetry(self, a: str, b: str) -> None:
        """Pair two body parts as left/right; each part has one partner at most."""
        sk = self._copy()
        ia, ib = sk.index(a), sk.index(b)
        if ia == ib:
            return
        taken = {i for p in sk.symmetries for i in p}
        if ia in taken or ib in taken:
            show_error(f"“{a}” or “{b}” already has a partner; remove that pair first.")
            return
        sk.symmetries = sorted({*sk.symmetries, (min(ia, ib), max(ia, ib))})
        self._commit(sk)

    def remove_symmetry(self, a: str, b: str) -> None:
        """Unpair two body parts."""
        sk = self._copy()
        pair = {sk.index(a), sk.index(b)}
        sk.symmetries = [s for s in sk.symmetries if set(s) != pair]
        self._commit(sk)

    def set_alignment_parts(self, anchor: str | None, heading_part: str | None) -> None:
        """The parts learned alignment uses (None: chosen when training)."""
        if anchor is not None and anchor == heading_part:
            raise ValueError(f"the anchor and the heading part are both “{anchor}”; choose two")
        sk = self._copy()
        sk.anchor, sk.heading_part = anchor, heading_part
        self._commit(sk)

    def _set_parts_from_combos(self) -> None:
        def name(combo):
            return None if combo.currentIndex() <= 0 else combo.currentText()

        try:
            self.set_alignment_parts(name(self.anchor_combo), name(self.heading_combo))
        finally:
            self._refresh()

    def propose_pairs(self) -> int:
        """Add the left/right pairs the names suggest (keeps pairs already set); returns how many."""
        sk = self._copy()
        taken = {i for p in sk.symmetries for i in p}
        new = [p for p in propose_symmetries(sk.nodes) if not (set(p) & taken)]
        if new:
            sk.symmetries = sorted({*sk.symmetries, *new})
            self._commit(sk)
        return len(new)

    def load(self, path: str | Path) -> None:
        """Skeleton from JSON/YAML/CSV or any labels file; labels keep the body parts found by name."""
        loaded = load_skeleton(path)
        if not loaded.symmetries:
            loaded.symmetries = propose_symmetries(loaded.nodes)
        if self.layer is not None:
            lost = [n for n in self.skeleton.nodes if n not in loaded.nodes]
            n = len(layers.points_of_nodes(self.layer, lost))
            if n and not self.confirm(
                f"The loaded skeleton lacks {', '.join(lost)}: delete their {n} labelled points?"
            ):
                return
        self._commit(loaded)

    def save(self, path: str | Path) -> None:
        """Write the skeleton to ``path`` (YAML or JSON by suffix)."""
        save_skeleton(self.skeleton, path)

    def new_layer(self) -> None:
        """An empty pose layer with this skeleton (what the Label widget labels into)."""
        if not self.skeleton.nodes:
            show_error("add body parts first.")
            return
        import numpy as np

        from napari_leap.model.poses import Poses, default_tracks

        n = self.n_animals.value()
        tracks = default_tracks(n)
        empty = Poses(
            np.zeros(0, np.int64),
            np.zeros((0, n, len(self.skeleton), 2)),
            np.zeros((0, n, len(self.skeleton))),
            tracks,
            self.skeleton,
        )
        video = next(filter(None, map(layers.layer_video_path, self.viewer.layers)), None)
        data, kwargs, _ = layers.points_layer_data(empty, name="labels", video=video, tracked=n > 1)
        layer = self.viewer.add_points(data, ndim=3, **kwargs)
        self.set_layer(layer)

    # -- internals ----------------------------------------------------------------------------
    def _copy(self) -> Skeleton:
        return Skeleton.from_dict(self.skeleton.to_dict())

    def _commit(
        self, skeleton: Skeleton, renames: dict | None = None, propose: bool = False
    ) -> None:
        if propose:
            taken = {i for p in skeleton.symmetries for i in p}
            extra = [p for p in propose_symmetries(skeleton.nodes) if not (set(p) & taken)]
            skeleton.symmetries = sorted({*skeleton.symmetries, *extra})
        if self.layer is not None and skeleton.nodes:
            layers.apply_skeleton(self.layer, skeleton, renames)
        self.skeleton = skeleton
        self._refresh()
        self.skeleton_changed.emit(skeleton)

    def _refresh(self) -> None:
        show_skeleton(self, self.skeleton)

    def _selected(self) -> str | None:
        item = self.node_list.currentItem()
        return item.text() if item is not None else None

    def _guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except (ValueError, KeyError, OSError) as e:
            show_error(str(e).strip("'\""))

    def add_node_dialog(self) -> None:
        """Ask for a body-part name and add it."""
        name, ok = QInputDialog.getText(self, "Add body part", "Name:")
        if ok:
            self._guard(self.add_node, name)

    def rename_node_dialog(self, old: str) -> None:
        """Ask for a new name of body part ``old``."""
        new, ok = QInputDialog.getText(self, "Rename body part", f"New name for “{old}”:", text=old)
        if ok:
            self._guard(self.rename_node, old, new)

    def _rename_selected(self) -> None:
        if self._selected():
            self.rename_node_dialog(self._selected())

    def _remove_selected(self) -> None:
        if self._selected():
            self._guard(self.remove_node, self._selected())

    def _move_selected(self, step: int) -> None:
        name = self._selected()
        if name:
            self._guard(self.move_node, name, self.skeleton.index(name) + step)
            self.node_list.setCurrentRow(self.skeleton.index(name))

    def _on_rows_moved(self, *args) -> None:
        order = [self.node_list.item(i).text() for i in range(self.node_list.count())]
        if order == self.skeleton.nodes:
            return
        sk = self._copy()
        for i, name in enumerate(order):
            sk.move_node(name, i)
        self._commit(sk)

    def _pair_names(self, a: QComboBox, b: QComboBox) -> tuple[str, str]:
        return a.currentText(), b.currentText()

    def _add_edge(self) -> None:
        self._guard(self.add_edge, *self._pair_names(self.edge_a, self.edge_b))

    def _remove_edge(self) -> None:
        row = self.edge_list.currentRow()
        if row >= 0:
            self._guard(self.remove_edge, *self.skeleton.edge_names[row])

    def _add_symmetry(self) -> None:
        self._guard(self.add_symmetry, *self._pair_names(self.sym_a, self.sym_b))

    def _remove_symmetry(self) -> None:
        row = self.sym_list.currentRow()
        if row >= 0:
            self._guard(self.remove_symmetry, *self.skeleton.symmetry_names[row])

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Load skeleton",
            "",
            "Skeleton or labels (*.json *.yaml *.yml *.csv *.slp *.mat *.nwb *.h5);;All files (*)",
        )
        if path:
            try:
                self.load(path)
            except Exception as e:  # noqa: BLE001 - any unreadable file: say why, stay usable
                show_error(f"cannot load a skeleton from {Path(path).name}: {e}")

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save skeleton", "skeleton.yaml", "YAML (*.yaml *.yml);;JSON (*.json)"
        )
        if path:
            self._guard(self.save, path)
