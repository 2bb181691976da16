"""Screenshot: the Label and Skeleton docks open together on a 1600x1000 screen.

Run: xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/screenshot_docks.py
Writes docs/images/label_skeleton_docks.png and prints the window and dock sizes, so a
window that outgrows the screen (issue 13: 1600x1576 with both docks) shows in numbers too.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from napari_leap.io.labels import (
    labels_from_poses,
    load_labels,
    poses_from_labels,
    skeleton_from_sleap,
)
from napari_leap.io.project import Project
from napari_leap.model.skeleton import propose_symmetries

DATA = Path(__file__).resolve().parents[1] / "src" / "napari_leap" / "sample_data" / "flies13"
OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "label_skeleton_docks.png"
FRAME = 1200  # a frame of the clip where both flies are apart


def settle() -> None:
    import time

    from qtpy.QtWidgets import QApplication

    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)
    for widget in QApplication.allWidgets():  # startup notices would cover the picture
        if type(widget).__name__ == "NapariQtNotification":
            widget.close()
    QApplication.processEvents()


def project_with_labels(root: Path) -> Path:
    """A project on the clip where a person has labelled the female on one frame."""
    labels = load_labels(DATA / "clip.slp")
    skeleton = skeleton_from_sleap(labels.skeletons[0])
    skeleton.symmetries = propose_symmetries(skeleton.nodes)
    project = Project.create(
        root,
        skeleton,
        videos=[DATA / "clip.mp4"],
        settings={"tracks": ["female", "male"], "tracked": True},
    )
    poses = poses_from_labels(labels)
    done = poses.select(np.isin(poses.frames, [FRAME]))
    done.points[:, 1] = np.nan  # the male is still to do
    done.skeleton = skeleton
    project.labels = labels_from_poses(done, [project.sleap_video(0)], predicted=False)
    project.save()
    return root


def main() -> None:
    os.environ.setdefault("NAPARI_CONFIG", str(Path(tempfile.mkdtemp()) / "settings.yaml"))
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_leap.napari.widgets.labeling import LabelingWidget
    from napari_leap.napari.widgets.skeleton import SkeletonWidget

    root = project_with_labels(Path(tempfile.mkdtemp()) / "two-flies")
    viewer = napari.Viewer(show=True)
    label = LabelingWidget(viewer)
    viewer.window.add_dock_widget(label, name="Label", area="right")
    skeleton = SkeletonWidget(viewer, confirm=lambda m: False)
    viewer.window.add_dock_widget(skeleton, name="Skeleton", area="right")
    label.open_project(root)
    label.go_to(FRAME)
    skeleton.set_layer(label.layer)
    window = viewer.window._qt_window
    screen = QApplication.primaryScreen().availableGeometry()
    window.setGeometry(screen)  # what a maximised window gets
    settle()
    flies = poses_from_labels(load_labels(DATA / "clip.slp"))
    pts = flies.points[np.searchsorted(flies.frames, FRAME)].reshape(-1, 2)
    centre = (np.nanmin(pts, axis=0) + np.nanmax(pts, axis=0)) / 2
    span = np.nanmax(pts, axis=0) - np.nanmin(pts, axis=0) + 200
    canvas = viewer.window._qt_viewer.canvas.native
    viewer.camera.center = (FRAME, centre[1], centre[0])
    viewer.camera.zoom = min(canvas.width() / span[0], canvas.height() / span[1])
    settle()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(OUT), canvas_only=False)
    print(
        f"screen {screen.width()}x{screen.height()}, window {window.width()}x{window.height()} "
        f"(minimum {window.minimumSizeHint().width()}x{window.minimumSizeHint().height()}), "
        f"Label dock {label.width()}x{label.height()}, Skeleton dock "
        f"{skeleton.width()}x{skeleton.height()}"
    )
    print(OUT, f"{OUT.stat().st_size // 1024} KB")
    viewer.close()


if __name__ == "__main__":
    main()
