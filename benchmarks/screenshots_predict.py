"""Screenshot of the Predict dock over the real two-fly clip for the README.

Run under a display, with a model trained on the clip:
    xvfb-run -a python benchmarks/screenshots_predict.py MODEL_DIR [--frame 1200]
Predicts the whole clip through the dock (as a user would: Predict, wait, then look at a
frame of the last third, which no label came from) and writes docs/images/predict.png.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from screenshots_labeling import DATA, OUT, settle, shrink


def main() -> None:
    import warnings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--frame", type=int, default=1200)
    parser.add_argument("--tail", type=int, default=20)
    args = parser.parse_args()

    warnings.filterwarnings("ignore", message=".*PyQt5 backend")  # no toast over the picture
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_leap.napari.widgets.predict import PredictWidget

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 900)
    viewer.open(str(DATA / "clip.mp4"), plugin="napari-leap")
    dock = PredictWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Predict", area="right")
    dock.model_edit.setText(str(Path(args.model).resolve()))
    dock.tail_spin.setValue(args.tail)
    t0 = time.monotonic()
    dock.start()
    while dock.running:
        QApplication.processEvents()
        time.sleep(0.02)
    print(f"predicted {dock.progress_bar.maximum()} frames in {time.monotonic() - t0:.1f} s")
    if dock.result is None:
        raise SystemExit(f"prediction failed: {dock.status.text()}")

    qt = viewer.window._qt_viewer  # the canvas gets the room the layer docks had
    qt.dockLayerControls.setVisible(False)
    qt.dockLayerList.setVisible(False)
    settle()
    pts = dock.result.poses[0].points  # (frames, animals, nodes, 2) x,y in video pixels
    frame_pts = pts[int(np.searchsorted(dock.result.poses[0].frames, args.frame))].reshape(-1, 2)
    lo, hi = np.nanmin(frame_pts, axis=0), np.nanmax(frame_pts, axis=0)
    centre, span = (lo + hi) / 2, hi - lo + 160
    viewer.dims.set_point(0, args.frame)
    width, height = qt.canvas.native.width(), qt.canvas.native.height()
    viewer.camera.center = (centre[1], centre[0])
    viewer.camera.zoom = min(width / span[0], height / span[1])
    settle()
    OUT.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(OUT / "predict.png"), canvas_only=False)
    shrink(OUT / "predict.png")
    print(OUT / "predict.png", f"{(OUT / 'predict.png').stat().st_size // 1024} KB")
    viewer.close()


if __name__ == "__main__":
    main()
