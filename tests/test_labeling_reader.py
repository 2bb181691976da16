"""Labelling straight from a dropped labels file: the Label widget takes over the reader's
layers, and makes a project from them."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import CLIP_LABELS
from napari_leap.io.labels import load_labels, poses_from_labels
from napari_leap.io.project import Project
from napari_leap.napari import labels_io
from napari_leap.napari.widgets.labeling import LabelingWidget

pytestmark = pytest.mark.gui


def test_dropped_file_to_project(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    for data, kwargs, kind in labels_io.read_labels(CLIP_LABELS):
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    assert [lay.name for lay in viewer.layers] == ["clip", "clip labels edges", "clip labels"]
    widget = LabelingWidget(viewer)
    assert widget.layer is viewer.layers["clip labels"]
    # the reader's static edges are replaced by the live ones
    assert [lay.name for lay in viewer.layers if lay._type_string == "vectors"] == [
        "clip labels edges"
    ]
    assert widget.edges is viewer.layers["clip labels edges"]
    assert len(widget.labelled_frames()) == 1500

    widget.new_project(tmp_path / "proj")
    saved = poses_from_labels(Project.open(tmp_path / "proj").labels)
    reference = poses_from_labels(load_labels(CLIP_LABELS))
    np.testing.assert_allclose(saved.points, reference.points, atol=1e-6)
