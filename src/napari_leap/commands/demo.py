"""`napari-leap demo`: the whole pipeline on the bundled two-fly clip.

Creates a project, takes 50 labelled frames spread over the first two thirds of
the clip as the person's labels, aligns both flies, trains a model within a time
budget, predicts all 1500 frames, scores the last third against the reference
labels, and shows everything in napari (or, with ``--headless``, writes a
screenshot and the files).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

N_LABELED = 50


def add_parser(parser: argparse.ArgumentParser) -> None:
    """The ``demo`` verb's options."""
    parser.add_argument(
        "--headless",
        metavar="OUT_DIR",
        type=Path,
        default=None,
        help="no window: write a screenshot and the produced files to OUT_DIR",
    )
    parser.add_argument(
        "--project",
        type=Path,
        default=None,
        help="project folder (default: OUT_DIR/project, or ./napari-leap-demo)",
    )
    parser.add_argument(
        "--train-minutes", type=float, default=4.0, help="training budget in minutes (default 4)"
    )
    parser.add_argument(
        "--arch", default=None, help="network architecture (default: the CPU default)"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="start over: delete the demo project if it exists"
    )


def _say(text: str) -> None:
    print(f"[demo] {text}", file=sys.stderr, flush=True)


def _bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit="frame",
        file=sys.stderr,
        leave=False,
        mininterval=0.5 if sys.stderr.isatty() else 10,
    )


def build_project(root: Path, fresh: bool):
    """The demo project: the clip, its skeleton with left/right pairs, 50 labelled frames."""
    from napari_leap.io.labels import (
        labels_from_poses,
        load_labels,
        poses_from_labels,
        skeleton_from_sleap,
    )
    from napari_leap.io.project import MANIFEST, Project
    from napari_leap.model.skeleton import propose_symmetries
    from napari_leap.napari.sample_data import CLIP, CLIP_LABELS

    if fresh and root.exists():
        shutil.rmtree(root)
    if (root / MANIFEST).exists():
        _say(f"reusing the project in {root} (use --fresh to start over)")
        return Project.open(root)
    reference = load_labels(CLIP_LABELS)
    skeleton = skeleton_from_sleap(reference.skeletons[0])
    skeleton.symmetries = propose_symmetries(skeleton.nodes)
    project = Project.create(root, skeleton, videos=[CLIP])
    poses = poses_from_labels(reference)
    n_frames = int(poses.frames.max()) + 1
    chosen = np.linspace(0, 2 * n_frames // 3 - 1, N_LABELED).round().astype(int)
    keep = np.isin(poses.frames, chosen)
    project.labels = labels_from_poses(poses.select(keep), project.sleap_video(0), predicted=False)
    project.save()
    _say(
        f"project {root}: {N_LABELED} labelled frames (frames {chosen[0]}..{chosen[-1]}), "
        f"skeleton of {len(skeleton)} body parts, pairs {skeleton.symmetry_names}"
    )
    return project


def run_pipeline(project, train_minutes: float, arch: str | None) -> dict:
    """Align, train, predict and evaluate; skips a step whose result the project already holds."""
    from napari_leap.align.alignment import Alignment, iter_align
    from napari_leap.io.labels import load_labels
    from napari_leap.napari.sample_data import CLIP_LABELS
    from napari_leap.pose.evaluate import evaluate
    from napari_leap.pose.predict import iter_predict
    from napari_leap.pose.train import EpochEnd, Message, TrainConfig, iter_train
    from napari_leap.progress import run_to_end

    figures: dict = {}
    align_path = project.alignment_path(0)
    if align_path.exists():
        alignment = Alignment.load(align_path)
    else:
        t = time.perf_counter()
        gen = iter_align(project.video_path(0), n_animals=2)
        bar = _bar(1, "align")
        alignment = run_to_end(gen, lambda e: _advance(bar, e))
        bar.close()
        alignment.save(align_path)
        project.set_alignment(0, align_path)
        project.save()
        figures["align_seconds"] = round(time.perf_counter() - t, 1)
        _say(
            f"aligned 2 flies in {figures['align_seconds']} s, box {alignment.box_size} px, "
            f"{len(alignment.flagged())} flagged animal-frames"
        )

    model_dir = project.models_dir / "demo"
    if not (model_dir / "best.pt").exists():
        t = time.perf_counter()
        kwargs = {"time_limit": train_minutes * 60, "resume": (model_dir / "last.pt").exists()}
        if arch:
            kwargs["arch"] = arch
        for event in iter_train(project.root, model_dir, TrainConfig(**kwargs)):
            if isinstance(event, Message):
                _say(event.text)
            elif isinstance(event, EpochEnd):
                _say(
                    f"epoch {event.epoch}: train loss {event.train_loss:.5f}, "
                    f"validation error {event.val_error_px:.2f} px"
                )
        project.add_model(model_dir)
        project.save()
        figures["train_seconds"] = round(time.perf_counter() - t, 1)

    predictions = project.predictions_path
    t = time.perf_counter()
    bar = _bar(1, "predict")
    for event in iter_predict(model_dir, [project], out=predictions):  # written to predictions
        _advance(bar, event)
    bar.close()
    figures["predict_seconds"] = round(time.perf_counter() - t, 1)
    project.predictions = None  # re-read from disk on next use

    # score the last third, which no label came from
    reference = load_labels(CLIP_LABELS)
    n = len(reference.labeled_frames)
    held_out = [lf for lf in reference.labeled_frames if lf.frame_idx >= 2 * n // 3]
    reference.labeled_frames = held_out
    result = evaluate(reference, load_labels(predictions)).to_dict()
    figures["held_out_frames"] = len(held_out)
    figures["held_out_median_px"] = round(result["median_px"], 2)
    figures["held_out_p90_px"] = round(result["p90_px"], 2)
    figures["held_out_missing"] = result["n_missing"]
    _say(
        f"last third ({len(held_out)} frames, never labelled): median error "
        f"{figures['held_out_median_px']} px, 90th percentile {figures['held_out_p90_px']} px"
    )
    return figures


def _advance(bar, event) -> None:
    """Move a tqdm bar to a progress event's ``done``/``total``."""
    done, total = getattr(event, "done", None), getattr(event, "total", None)
    if done is not None and total:
        if bar.total != total:  # a new stage: restart the bar
            bar.reset(total=total)
        bar.update(done - bar.n)  # update() honours mininterval; refresh() would not


def show(project, alignment_frame: int = 750, headless_dir: Path | None = None):
    """Open napari with the video, labels, predictions, tracks and the plugin's docks."""
    import napari

    from napari_leap.io.labels import poses_from_labels
    from napari_leap.io.video import open_video
    from napari_leap.napari import layers

    viewer = napari.Viewer(title="napari-leap demo", show=headless_dir is None)
    viewer.window.resize(1500, 950)
    viewer.add_layer(
        _layer(
            layers.video_layer_data(open_video(project.video_path(0)), path=project.video_path(0))
        )
    )
    user = poses_from_labels(project.labels)
    predicted = poses_from_labels(project.predictions)
    for poses, name in ((user, "labels"), (predicted, "predictions")):
        data, kwargs, _ = (
            layers.points_layer_data(poses, name=name, video=project.video_path(0))
            if name == "labels"
            else layers.points_layer_data(None, poses, name=name, video=project.video_path(0))
        )
        points = viewer.add_points(data, **kwargs)
        edges = layers.edges_layer_data(
            points.data, points.features, points.metadata, name=f"{name} skeleton"
        )
        viewer.add_layer(_layer(edges))
    for node in ("head", "abdomen"):
        viewer.add_layer(_layer(layers.tracks_layer_data(predicted, node)))
    for name in ("Label", "Train", "Predict"):
        viewer.window.add_plugin_dock_widget("napari-leap", name, tabify=True)
    viewer.layers.selection.active = points
    viewer.dims.set_current_step(0, alignment_frame)
    centres = predicted.points[np.searchsorted(predicted.frames, alignment_frame)]
    centre = np.nanmean(centres.reshape(-1, 2), axis=0)
    if np.isfinite(centre).all():
        viewer.camera.center = (float(centre[1]), float(centre[0]))
        viewer.camera.zoom = 2.5
    if headless_dir is not None:
        shot = headless_dir / "demo.png"
        viewer.screenshot(str(shot), canvas_only=False)
        _say(f"screenshot: {shot}")
        viewer.close()
        return None
    napari.run()
    return viewer


def _layer(layer_data):
    from napari.layers import Layer

    data, kwargs, kind = layer_data
    return Layer.create(data, kwargs, kind)


def run(args) -> int:
    """Build the demo project, run the pipeline on it and show (or screenshot) the result."""
    out = args.headless
    root = args.project or (out / "project" if out else Path("napari-leap-demo"))
    project = build_project(root.resolve(), args.fresh)
    figures = run_pipeline(project, args.train_minutes, args.arch)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "figures.json").write_text(json.dumps(figures, indent=2))
    show(project, headless_dir=out)
    if out is not None:
        _say(f"done: {out}/demo.png, {out}/figures.json, project in {root}")
    return 0
