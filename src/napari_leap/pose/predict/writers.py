"""Predictions written as SLEAP ``.slp`` (streamed from the chunk store), ``.h5``, ``.csv``, ``.nwb``.

Or as DeepLabCut's table (``dlc``, a ``.csv`` too: named by ``--format``, not by extension).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from napari_leap.io.labels.table import COLUMNS
from napari_leap.pose.predict.jobs import VideoJob
from napari_leap.pose.predict.results import PredictError, PredictResult
from napari_leap.pose.predict.store import ChunkStore

OUTPUT_FORMATS = {"slp": ".slp", "h5": ".h5", "csv": ".csv", "nwb": ".nwb", "dlc": ".csv"}
#: formats written one file per video (``out.0.csv``, ``out.1.csv``... for several)
PER_VIDEO = ("h5", "csv", "dlc")


def output_format(path: Path, fmt: str | None) -> str:
    """The format named by ``fmt``, or by the extension of ``path`` (none: SLEAP labels).

    ``predict M LABELS --out P`` then ``evaluate LABELS P`` is the flow as people write
    it; the file keeps the name it was given, and every command reads it back.
    """
    if fmt is None:
        suffix = path.suffix.lower()
        if not suffix:
            return "slp"
        for name, ext in OUTPUT_FORMATS.items():
            if suffix == ext:
                return name
        raise PredictError(
            f"cannot write predictions as {suffix}; use .slp (or no extension), .h5, .csv or "
            ".nwb (.csv with --format dlc for DeepLabCut's table)."
        )
    if fmt not in OUTPUT_FORMATS:
        raise PredictError(f"unknown format {fmt!r}; use one of {', '.join(OUTPUT_FORMATS)}.")
    if fmt == "dlc" and path.suffix.lower() != ".csv":
        raise PredictError(
            f"DeepLabCut's table is a .csv file; name it {path.with_suffix('.csv').name}."
        )
    return fmt


def write_predictions(
    result: PredictResult,
    out: str | Path,
    fmt: str | None = None,
    *,
    store: ChunkStore | None = None,
    jobs: list[VideoJob] | None = None,
) -> Path:
    """Write ``result`` as ``.slp`` (streamed), SLEAP analysis ``.h5``, ``.csv`` or ``.nwb``.

    ``fmt="dlc"``: DeepLabCut's table. ``.h5`` and ``.csv`` hold one video each: with
    several videos the files are ``<stem>.<n>.h5`` (``n`` = input order).
    """
    out = Path(out)
    fmt = output_format(out, fmt)
    if fmt == "slp":
        chunks = None
        if store is not None and jobs is not None:
            chunks = store.chunks(jobs)
        write_slp(result.poses, result.videos, out, chunks=chunks)
    elif fmt in ("csv", "dlc"):
        from napari_leap.pose.predict.dlc_table import write_dlc_csv

        for p, v, path in zip(
            result.poses, result.videos, _per_video_paths(out, len(result.poses)), strict=True
        ):
            images = _image_paths(v, p.frames)
            if fmt == "csv":
                write_csv(p, path, images=None if images is None else [f.name for f in images])
            else:  # relative to the table, so reading it back finds the images' folder
                rows = None if images is None else [_relative(f, path) for f in images]
                write_dlc_csv(p, path, images=rows)
    elif fmt == "h5":
        from napari_leap.io.labels import labels_from_poses, save_labels

        for p, v, path in zip(
            result.poses, result.videos, _per_video_paths(out, len(result.poses)), strict=True
        ):
            labels = labels_from_poses(p, [v], predicted=True)
            save_labels(labels, path, format="analysis_h5", video=labels.videos[0])
    else:
        from napari_leap.io.labels import save_labels

        try:
            import ndx_pose  # noqa: F401
        except ImportError:
            raise PredictError(
                "NWB export needs the ndx-pose package; install it with "
                "`pip install ndx-pose`, or save as .slp."
            ) from None
        save_labels(result.to_labels(), out)
    return out


def written_text(out: str | Path, n_videos: int, fmt: str | None = None) -> str:
    """The files :func:`write_predictions` wrote, as a user should look for them.

    ``.h5`` and ``.csv`` hold a video each, so several videos give ``out.0.csv``,
    ``out.1.csv``... and no ``out.csv``.
    """
    out = Path(out)
    if not out.suffix and fmt is None:
        return f"{out} (SLEAP labels; named .slp, SLEAP opens it too)"
    if output_format(out, fmt) not in PER_VIDEO or n_videos <= 1:
        return str(out)
    files = _per_video_paths(out, n_videos)
    return f"{', '.join(str(f) for f in files)} (one file per video)"


def _per_video_paths(out: Path, n: int) -> list[Path]:
    if n == 1:
        return [out]
    return [out.with_name(f"{out.stem}.{i}{out.suffix}") for i in range(n)]


def _image_paths(video, frames) -> list[Path] | None:
    """Each frame's image file when ``video`` is a folder or list of images, else None.

    A DeepLabCut user's frames are ``img005.png``, ``img020.png``...: frame 0 of the
    folder is not image 0, so the tables name them.
    """
    from napari_leap.io.video import image_files

    files = image_files(getattr(video, "filename", video))
    return None if files is None else [Path(files[int(f)]) for f in frames]


def _relative(image: Path, table: Path) -> str:
    """``image`` as a path from the table's folder (absolute where none leads there)."""
    import os

    try:
        return Path(os.path.relpath(image.resolve(), table.resolve().parent)).as_posix()
    except ValueError:  # another drive
        return image.resolve().as_posix()


def write_csv(poses, path: str | Path, images: list[str] | None = None) -> Path:
    """One row per frame, animal and body part: ``frame,animal,node,x,y,confidence``.

    ``images``: each frame's image file name, written as an ``image`` column after
    ``frame`` (frames read from a folder of images). Numbers are written with Python's
    shortest round-trip repr (reading them back gives the same floats); missing points
    have empty x, y, confidence.
    """
    from napari_leap.io.atomic import atomic_path

    path = Path(path)
    nodes = poses.skeleton.nodes

    def num(v: float) -> str:
        return repr(float(v)) if np.isfinite(v) else ""

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        f.write(",".join(["frame", *(["image"] if images else []), *COLUMNS]) + "\n")
        for i, frame in enumerate(poses.frames):
            head = f"{int(frame)},{_csv_field(images[i])}" if images else f"{int(frame)}"
            rows = []
            for a, animal in enumerate(poses.tracks):
                for k, node in enumerate(nodes):
                    x, y = poses.points[i, a, k]
                    rows.append(
                        f"{head},{animal},{node},{num(x)},{num(y)},{num(poses.scores[i, a, k])}\n"
                    )
            f.writelines(rows)
    return path


def _csv_field(text: str) -> str:
    """``text`` quoted when a comma, quote or line break would split it."""
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


_FRAME_DTYPE = [
    ("frame_id", "u8"),
    ("video", "u4"),
    ("frame_idx", "u8"),
    ("instance_id_start", "u8"),
    ("instance_id_end", "u8"),
]
_INSTANCE_DTYPE = [
    ("instance_id", "i8"),
    ("instance_type", "u1"),
    ("frame_id", "u8"),
    ("skeleton", "u4"),
    ("track", "i4"),
    ("from_predicted", "i8"),
    ("score", "f4"),
    ("point_id_start", "u8"),
    ("point_id_end", "u8"),
    ("tracking_score", "f4"),
]
_PRED_POINT_DTYPE = [("x", "f8"), ("y", "f8"), ("visible", "?"), ("complete", "?"), ("score", "f8")]


def _video_file_ids(videos) -> list[int]:
    """The id SLEAP files give each video in their frame table (as sleap-io's writer does)."""
    ids = []
    for i, video in enumerate(videos):
        vid = i
        dataset = getattr(getattr(video, "backend", None), "dataset", None)
        if dataset:
            group = str(dataset).split("/")[0]
            if group.startswith("video") and group[5:].isdigit():
                vid = int(group[5:])
        ids.append(vid)
    return ids


def write_slp(
    poses_list,
    videos,
    path: str | Path,
    chunks: Iterable[tuple[int, np.ndarray, np.ndarray, np.ndarray]] | None = None,
) -> Path:
    """Write predictions as a SLEAP ``.slp`` file, frame table streamed chunk by chunk.

    sleap-io writes everything but the frames (skeleton, videos, tracks,
    metadata); the frame, instance and point tables are then appended in the
    exact layout of sleap-io's own writer, so the file reads back with
    ``sleap_io.load_slp`` while memory stays flat in the number of frames.
    Animals with no point on a frame are left out, as in
    :func:`napari_leap.io.labels.labels_from_poses`.
    """
    import h5py
    import sleap_io as sio

    from napari_leap.io.atomic import atomic_path
    from napari_leap.io.labels import skeleton_to_sleap

    path = Path(path)
    skeleton = poses_list[0].skeleton
    names = list(poses_list[0].tracks)
    labels = sio.Labels(
        videos=list(videos),
        skeletons=[skeleton_to_sleap(skeleton)],
        tracks=[sio.Track(name=n) for n in names],
    )
    if chunks is None:
        chunks = ((vi, p.frames, p.points, p.scores) for vi, p in enumerate(poses_list))
    file_ids = _video_file_ids(labels.videos)
    k = len(skeleton.nodes)
    with atomic_path(path) as tmp:
        named = tmp.with_name(tmp.name + ".slp")
        try:
            sio.save_slp(
                labels, str(named), embed=False, restore_original_videos=False, verbose=False
            )
            with h5py.File(named, "a") as f:
                tables = {}
                for name, dtype in (
                    ("frames", _FRAME_DTYPE),
                    ("instances", _INSTANCE_DTYPE),
                    ("pred_points", _PRED_POINT_DTYPE),
                ):
                    if name in f:
                        del f[name]
                    tables[name] = f.create_dataset(
                        name, shape=(0,), maxshape=(None,), dtype=np.dtype(dtype), chunks=(4096,)
                    )
                n_frames = n_inst = n_pts = 0
                for vi, frames, points, scores in chunks:
                    fr, ins, pp = _slp_rows(
                        file_ids[vi], frames, points, scores, k, n_frames, n_inst, n_pts
                    )
                    for name, rows in (("frames", fr), ("instances", ins), ("pred_points", pp)):
                        ds = tables[name]
                        ds.resize((ds.shape[0] + len(rows),))
                        ds[ds.shape[0] - len(rows) :] = rows
                    n_frames += len(fr)
                    n_inst += len(ins)
                    n_pts += len(pp)
            named.replace(tmp)
        finally:
            named.unlink(missing_ok=True)
    return path


def _slp_rows(video_id: int, frames, points, scores, k: int, f0: int, i0: int, p0: int):
    """Frame, instance and predicted-point rows for one chunk (vectorised, no objects)."""
    present = np.isfinite(points).all(-1).any(-1)  # (n, A): animal has a point on the frame
    keep_frame = present.any(1)
    frames, points, scores, present = (
        frames[keep_frame],
        points[keep_frame],
        scores[keep_frame],
        present[keep_frame],
    )
    n, a_count = present.shape
    per_frame = present.sum(1)
    starts = i0 + np.concatenate([[0], np.cumsum(per_frame)[:-1]]).astype(np.int64)
    fr = np.zeros(n, dtype=_FRAME_DTYPE)
    fr["frame_id"] = f0 + np.arange(n)
    fr["video"] = video_id
    fr["frame_idx"] = frames
    fr["instance_id_start"] = starts
    fr["instance_id_end"] = starts + per_frame
    fi, ai = np.nonzero(present)  # row-major: by frame, then animal (track order)
    m = len(fi)
    ins = np.zeros(m, dtype=_INSTANCE_DTYPE)
    ins["instance_id"] = i0 + np.arange(m)
    ins["instance_type"] = 1  # predicted
    ins["frame_id"] = f0 + fi
    ins["skeleton"] = 0
    ins["track"] = ai
    ins["from_predicted"] = -1
    sc = scores[fi, ai]  # (m, K)
    finite = np.isfinite(sc)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(finite.any(1), np.nansum(sc, 1) / np.maximum(finite.sum(1), 1), 0.0)
    ins["score"] = mean
    ins["point_id_start"] = p0 + np.arange(m) * k
    ins["point_id_end"] = p0 + (np.arange(m) + 1) * k
    ins["tracking_score"] = 0.0
    pts = points[fi, ai].reshape(-1, 2)
    pp = np.zeros(m * k, dtype=_PRED_POINT_DTYPE)
    pp["x"], pp["y"] = pts[:, 0], pts[:, 1]
    pp["visible"] = np.isfinite(pts).all(1)
    pp["complete"] = False
    pp["score"] = np.nan_to_num(sc.reshape(-1), nan=0.0)
    return fr, ins, pp
