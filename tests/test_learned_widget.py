"""The Skeleton dock's two alignment-part boxes: chosen with the keyboard, kept in the layer,
following renames, and carried into the labels that training reads."""

from __future__ import annotations

import pytest
from qtpy.QtCore import Qt

from conftest import CLIP_LABELS
from napari_leap.napari import labels_io, layers
from napari_leap.napari.widgets.skeleton import SkeletonWidget

pytestmark = pytest.mark.gui


def _choose(qtbot, combo, text: str) -> None:
    """Pick ``text`` in a closed combo box the way a person does: press Down on it."""
    combo.setFocus()
    while combo.currentText() != text:
        before = combo.currentIndex()
        qtbot.keyClick(combo, Qt.Key_Down)
        assert combo.currentIndex() != before, f"{text!r} is not in the box"


def test_alignment_parts_are_chosen_kept_and_reach_training(make_napari_viewer, qtbot):
    from napari_leap.pose.dataset import PARTS_KEY, DataOptions, from_labels

    viewer = make_napari_viewer()
    for data, kwargs, kind in labels_io.read_labels(CLIP_LABELS):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    layer = [lay for lay in viewer.layers if layers.is_pose_layer(lay)][0]
    widget = SkeletonWidget(viewer)
    viewer.window.add_dock_widget(widget)
    assert widget.anchor_combo.currentText() == widget.heading_combo.currentText() == "auto"

    _choose(qtbot, widget.anchor_combo, "thorax")
    _choose(qtbot, widget.heading_combo, "head")
    assert (widget.skeleton.anchor, widget.skeleton.heading_part) == ("thorax", "head")
    assert layer.metadata["skeleton"]["anchor"] == "thorax"
    # the same part twice is refused with a notification; the choice stays as it was
    qtbot.keyClick(widget.heading_combo, Qt.Key_Up)  # head -> auto
    _choose(qtbot, widget.heading_combo, "head")
    qtbot.keyClick(widget.heading_combo, Qt.Key_Down)  # head -> thorax, the anchor
    assert widget.skeleton.heading_part == "head" and widget.heading_combo.currentText() == "head"

    widget.rename_node("thorax", "mesothorax")  # the choice follows a rename
    assert widget.anchor_combo.currentText() == "mesothorax"
    assert layer.metadata["skeleton"]["anchor"] == "mesothorax"

    labels = layers.layer_to_labels(layer.data, layer.features, layer.metadata)
    assert labels.provenance[PARTS_KEY] == {"anchor": "mesothorax", "heading_part": "head"}
    labels.labeled_frames = [lf for lf in labels.labeled_frames if lf.frame_idx in (0, 500)]
    said = []
    data = from_labels(labels, DataOptions(align="learned"), say=said.append)
    assert any("anchor mesothorax, heading part head (as chosen)" in t for t in said)
    assert data.alignment["anchor"] == "mesothorax"
