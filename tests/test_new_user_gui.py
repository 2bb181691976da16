"""Issue 13, the docks as a new user meets them: each test replays one defect with real
clicks and keys on a real viewer and checks what the person sees afterwards."""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from conftest import CLIP, CLIP_LABELS
from napari_leap.io.labels import poses_from_labels
from napari_leap.io.project import Project
from napari_leap.napari.widgets.labeling import LabelingWidget
from napari_leap.napari.widgets.skeleton import SkeletonWidget
from qt_canvas import click, key, settle

pytestmark = pytest.mark.gui


def _errors(monkeypatch, *modules) -> list[str]:
    """Every error notification the docks show, collected instead of shown."""
    shown: list[str] = []
    for module in modules:
        name = "_show_error" if hasattr(module, "_show_error") else None
        if name:
            monkeypatch.setattr(module, name, shown.append)
    monkeypatch.setattr(LabelingWidget, "_error", lambda self, m: shown.append(m))
    return shown


def _new_labels_layer(viewer, video=CLIP, plugin="napari-leap"):
    """What the README tells a newcomer: open the video, Skeleton dock, New labels layer."""
    viewer.open(str(video), plugin=plugin)
    skeleton = SkeletonWidget(viewer, confirm=lambda m: True)
    viewer.window.add_dock_widget(skeleton, name="Skeleton")
    skeleton.load(CLIP_LABELS)
    skeleton.new_layer()
    label = LabelingWidget(viewer)
    viewer.window.add_dock_widget(label, name="Label")
    settle()
    return skeleton, label


# -- item 2: undo ------------------------------------------------------------------------------
def test_ctrl_z_after_ten_clicks_keeps_the_label_dock_working(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer(show=True)
    _, label = _new_labels_layer(viewer)
    label.new_project(tmp_path / "proj")
    frame = label.frame
    spots = [(300.0 + 30 * i, 400.0 + 20 * i) for i in range(11)]
    for y, x in spots[:10]:
        click(viewer, y, x)
    layer = label.layer
    assert len(layer.data) == 10
    assert label.frame_list.item(0).text().startswith(f"frame {frame}: 10/13")

    key(viewer, Qt.Key_Z, Qt.ControlModifier)
    assert len(layer.data) == 9
    assert set(layer.selected_data) <= set(range(9))  # no selection of a point that is gone
    assert label.frame_list.item(0).text().startswith(f"frame {frame}: 9/13")
    # the tenth body part is the one to place again, and a click places it
    assert label.current_node == 9
    click(viewer, *spots[10])
    assert len(layer.data) == 10
    np.testing.assert_allclose(layer.data[-1], [frame, *spots[10]], atol=1.0)
    assert str(layer.features["node"].iloc[-1]) == label.skeleton.nodes[9]
    # frame changes and further undos work too, and the project gets the labels
    key(viewer, Qt.Key_Right)
    assert label.frame == frame + 1
    key(viewer, Qt.Key_Left)
    key(viewer, Qt.Key_Z, Qt.ControlModifier)
    assert len(layer.data) == 9
    label.save()
    saved = poses_from_labels(Project.open(tmp_path / "proj").labels)
    assert saved.frames.tolist() == [frame]
    assert int(np.isfinite(saved.points).all(axis=-1).sum()) == 9
