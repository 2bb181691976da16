"""Screenshots of the Label and Skeleton widgets on the real two-fly clip for the README.

Run under a display: xvfb-run -a python benchmarks/screenshots_labeling.py
Writes docs/images/labeling.png and docs/images/skeleton.png.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import napari_leap
from napari_leap.io.labels import (
    labels_from_poses,
    load_labels,
    poses_from_labels,
    skeleton_from_sleap,
)
from napari_leap.io.project import Project
from napari_leap.model.skeleton import propose_symmetries
from napari_leap.pose.suggest import suggest_frames

DATA = Path(napari_leap.__file__).parent / "sample_data" / "flies13"
OUT = Path(__file__).resolve().parents[1] / "docs" / "images"


def settle() -> None:
    """Let Qt lay out the docks before the picture is taken."""
    import time

    from qtpy.QtWidgets import QApplication

    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)
    for widget in QApplication.allWidgets():  # startup notices would cover the flies
        if type(widget).__name__ == "NapariQtNotification":
            widget.close()
    QApplication.processEvents()


def shrink(path: Path, limit_kb: int = 290) -> None:
    """Scale down (never posterise: the grey fly bodies must stay smooth) until under the limit."""
    from PIL import Image

    with Image.open(path) as im:
        original = im.convert("RGB")
    scale = 1.0
    while path.stat().st_size > limit_kb * 1024 and scale > 0.5:
        scale -= 0.05
        size = (int(original.width * scale), int(original.height * scale))
        original.resize(size, Image.Resampling.LANCZOS).save(path, optimize=True)


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore", message=".*PyQt5 backend")  # no toast over the picture
    import napari

    from napari_leap.napari.widgets.labeling import LabelingWidget
    from napari_leap.napari.widgets.skeleton import SkeletonWidget

    reference = poses_from_labels(load_labels(DATA / "clip.slp"))
    skeleton = skeleton_from_sleap(load_labels(DATA / "clip.slp").skeletons[0])
    skeleton.symmetries = propose_symmetries(skeleton.nodes)
    suggested = suggest_frames(DATA / "clip.mp4", 20, "kmeans")
    root = Path(tempfile.mkdtemp()) / "two-flies"
    project = Project.create(
        root,
        skeleton,
        videos=[DATA / "clip.mp4"],
        settings={
            "tracks": ["female", "male"],
            "tracked": True,
            "suggestions": {"0": [int(f) for f in suggested]},
        },
    )
    done = suggested[:8]  # a person has labelled 8 of the 20 suggested frames
    current = int(suggested[8])  # and is half-way through the next one
    labelled = reference.select(np.isin(reference.frames, [*done, current]))
    row = int(np.flatnonzero(labelled.frames == current)[0])
    labelled.points[row, 1, 6:] = np.nan  # the male's last body parts are still to place
    labelled.skeleton = skeleton
    project.labels = labels_from_poses(labelled, [project.sleap_video(0)], predicted=False)
    project.save()

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1300, 880)
    label = LabelingWidget(viewer)
    viewer.window.add_dock_widget(label, name="Label", area="right")
    label.open_project(root)
    label.go_to(current)
    label.names_check.setChecked(True)
    pts = reference.points[np.searchsorted(reference.frames, current)].reshape(-1, 2)
    centre = (np.nanmin(pts, axis=0) + np.nanmax(pts, axis=0)) / 2
    viewer.camera.center = (current, centre[1], centre[0])
    label.layer.size = 7
    OUT.mkdir(parents=True, exist_ok=True)
    settle()
    qt = viewer.window._qt_viewer  # the canvas gets the room the layer docks had
    qt.dockLayerControls.setVisible(False)
    qt.dockLayerList.setVisible(False)
    settle()
    span = np.nanmax(pts, axis=0) - np.nanmin(pts, axis=0) + 120
    width, height = qt.canvas.native.width(), qt.canvas.native.height()
    viewer.camera.center = (current, centre[1], centre[0])
    viewer.camera.zoom = min(width / span[0], height / span[1])
    settle()
    viewer.screenshot(str(OUT / "labeling.png"), canvas_only=False)

    skel = SkeletonWidget(viewer, confirm=lambda m: False)
    viewer.window.add_dock_widget(skel, name="Skeleton", area="right", tabify=True)
    skel.set_layer(label.layer)
    skel.node_list.setCurrentRow(3)
    settle()
    viewer.screenshot(str(OUT / "skeleton.png"), canvas_only=False)
    for name in ("labeling.png", "skeleton.png"):
        shrink(OUT / name)
        print(OUT / name, f"{(OUT / name).stat().st_size // 1024} KB")
    viewer.close()


if __name__ == "__main__":
    main()
