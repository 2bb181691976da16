"""DeepLabCut labels: ``CollectedData`` CSV/H5 files and project folders.

DeepLabCut keeps a person's labels as ``labeled-data/<video>/CollectedData_<scorer>.csv``
(and ``.h5``) next to the labelled frames saved as ``img<frame>.png``; the project's
``config.yaml`` lists body parts, individuals and skeleton edges. DLC has no notion of
left/right pairs, so :func:`write_dlc` (``save_labels(labels, folder, format="dlc")``) stores the full skeleton (node order and symmetric
pairs) in ``config.yaml`` under ``napari_leap_skeleton`` (DLC ignores keys it does not
know), and a CSV written on its own gets a ``<name>.skeleton.yaml`` sidecar.
:func:`read_dlc` reads both back, so a round trip keeps the skeleton whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from napari_leap.io.atomic import atomic_path, atomic_write_text
from napari_leap.io.labels.dlc_images import (
    frame_image_names,
    video_and_frames,
    video_folder_name,
)
from napari_leap.io.labels.frames import write_frames
from napari_leap.io.labels.sleap import (
    LabelsError,
    labels_from_poses,
    poses_from_labels,
    skeleton_from_sleap,
)
from napari_leap.model.poses import Poses, default_tracks
from napari_leap.model.skeleton import Skeleton

SKELETON_KEY = "napari_leap_skeleton"


# -- DeepLabCut -----------------------------------------------------------------------------


def _video_named(video_path) -> str | None:
    """The video a sidecar names: a list of images by their folder."""
    if isinstance(video_path, (list, tuple)):
        return str(Path(str(video_path[0])).parent) if video_path else None
    return None if video_path is None else str(video_path)


def _video_frame_count(video, frames=()) -> int | None:
    """The video's length; None where unknown.

    A package's video counts its embedded images, which frame numbers pass (frame 900
    of a package of 2): its length is unknown too.
    """
    try:
        n = int(video.shape[0]) if video.shape is not None else None
    except Exception:  # noqa: BLE001 - an unreachable video has no shape
        return None
    return None if n is None or (len(frames) and int(np.max(frames)) >= n) else n


def sidecar_path(csv_path: str | Path) -> Path:
    """Where a lone CSV keeps its full skeleton (DLC itself has no left/right pairs)."""
    csv_path = Path(csv_path)
    return csv_path.with_name(csv_path.stem + ".skeleton.yaml")


def write_dlc_csv(
    poses: Poses,
    csv_path: str | Path,
    *,
    video_name: str,
    scorer: str,
    tracked: bool,
    n_frames: int | None = None,
    video_path=None,
) -> Path:
    """Write one video's labels as DLC's ``CollectedData`` CSV (and ``.h5`` when pandas can).

    Multi-animal layout (``individuals`` row) when the labels have tracks or several
    animals, DLC's single-animal layout otherwise. Rows name their images as
    :func:`frame_image_names` does. A skeleton sidecar goes beside it.
    """
    import pandas as pd
    import yaml

    csv_path = Path(csv_path)
    names = frame_image_names(video_path, poses.frames, n_frames)
    index = pd.MultiIndex.from_tuples([("labeled-data", video_name, name) for name in names])
    df = dlc_dataframe(poses, index, scorer, multi=tracked or poses.n_animals > 1)
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp)
    try:  # DLC's own trainer reads the .h5; pandas writes it through PyTables
        import tables  # noqa: F401
    except ImportError:
        pass
    else:
        h5 = csv_path.with_suffix(".h5")
        with atomic_path(h5) as tmp:
            df.to_hdf(tmp, key="keypoints", mode="w")
    side = {
        SKELETON_KEY: poses.skeleton.to_dict(),
        "tracked": bool(tracked),
        "tracks": list(poses.tracks),
        "video": _video_named(video_path),
    }
    atomic_write_text(sidecar_path(csv_path), yaml.safe_dump(side, sort_keys=False))
    return csv_path


def dlc_dataframe(poses: Poses, index, scorer: str, *, multi: bool, likelihood: bool = False):
    """DeepLabCut's table of ``poses``: a row per frame named by ``index``, DLC's columns.

    ``scorer`` / ``individuals`` (``multi``: every animal) / ``bodyparts`` / ``coords``
    (``x``, ``y``, and ``likelihood`` from the scores where asked).
    """
    import pandas as pd

    tracks = list(poses.tracks) if multi else list(poses.tracks[:1])
    nodes = list(poses.skeleton.nodes)
    coords = ["x", "y", "likelihood"] if likelihood else ["x", "y"]
    values = poses.points[:, : len(tracks)]
    if likelihood:
        values = np.concatenate([values, poses.scores[:, : len(tracks), :, None]], -1)
    levels = [[scorer], *([tracks] if multi else []), nodes, coords]
    names = ["scorer", *(["individuals"] if multi else []), "bodyparts", "coords"]
    return pd.DataFrame(
        values.reshape(len(poses.frames), -1),
        index=index,
        columns=pd.MultiIndex.from_product(levels, names=names),
    )


def write_dlc(
    labels,
    out_dir: str | Path,
    *,
    scorer: str = "napari-leap",
    images: bool = True,
    frames: dict[int, list[int]] | None = None,
    progress=None,
) -> list[Path]:
    """Write a person's labels as a DeepLabCut project folder; returns the CSVs written.

    ``out_dir/config.yaml`` (body parts, individuals, edges, video_sets and the
    full skeleton), ``out_dir/labeled-data/<video>/CollectedData_<scorer>.csv`` and,
    with ``images``, each labelled frame as ``img<frame>.png`` (what DLC and
    ``sleap_io.load_dlc`` look for). ``frames`` limits the frames per video index.
    """
    import yaml

    out_dir = Path(out_dir)
    skeleton = skeleton_from_sleap(labels.skeletons[0])
    tracked = bool(labels.tracks)
    written: list[Path] = []
    video_sets: dict[str, dict] = {}
    all_tracks: list[str] = []
    for vi, video in enumerate(labels.videos):
        poses = poses_from_labels(labels, vi, user=True, predicted=False)
        if frames is not None and vi in frames:
            poses = poses.select(np.isin(poses.frames, frames[vi]))
        if not len(poses.frames):
            continue
        all_tracks.extend(t for t in poses.tracks if t not in all_tracks)
        name = video_folder_name(video, vi, [p.parent.name for p in written])
        folder = out_dir / "labeled-data" / name
        n_frames = _video_frame_count(video, poses.frames)
        csv = write_dlc_csv(
            poses,
            folder / f"CollectedData_{scorer}.csv",
            video_name=name,
            scorer=scorer,
            tracked=tracked,
            n_frames=n_frames,
            video_path=video.filename,
        )
        if images:
            names = frame_image_names(video.filename, poses.frames, n_frames)
            write_frames(video, poses.frames, folder, names, progress)
        written.append(csv)
        video_sets[str(video.filename)] = {"crop": "0, 0, 0, 0"}
    if not written:
        raise LabelsError("there are no labelled frames to write; label some frames first.")
    config = {
        "Task": skeleton.name,
        "scorer": scorer,
        "date": "",
        "multianimalproject": tracked or len(all_tracks) > 1,
        "identity": tracked,
        "project_path": str(out_dir.resolve()),
        "video_sets": video_sets,
        "skeleton": [list(e) for e in skeleton.edge_names],
        SKELETON_KEY: skeleton.to_dict(),
    }
    if config["multianimalproject"]:
        config.update(
            individuals=all_tracks,
            uniquebodyparts=[],
            multianimalbodyparts=list(skeleton.nodes),
            bodyparts="MULTI!",
        )
    else:
        config["bodyparts"] = list(skeleton.nodes)
    atomic_write_text(out_dir / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    return written


def is_dlc_csv(path: str | Path) -> bool:
    """True for a DLC ``CollectedData`` / prediction CSV (scorer and coords header rows)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = [f.readline().split(",", 1)[0].strip().lower() for _ in range(4)]
    except OSError:
        return False
    return head[0] == "scorer" and "coords" in head and "bodyparts" in head


def read_dlc(path: str | Path):
    """Read a DLC ``CollectedData`` CSV into ``sleap_io.Labels``.

    With the video ``config.yaml``/the sidecar names, where it exists, frames come from
    the image names (``img0042.png`` is frame 42); without it the folder of labelled
    images is the video and a frame is an image's place there. The skeleton's order,
    edges and symmetric pairs come from the sidecar or ``config.yaml`` when present.
    """
    poses, video, tracked = dlc_poses(path)
    return labels_of_poses([poses], [video], tracked)


def labels_of_poses(poses: list[Poses], videos: list, tracked: bool):
    """Labels of DLC files' poses: tracks kept only where the project tells animals apart.

    A table with likelihoods (a network's, as DeepLabCut and ``predict --format dlc``
    write) holds predictions; one without, a person's labels.
    """
    predicted = any(np.isfinite(p.scores).any() for p in poses)
    labels = labels_from_poses(poses, videos, predicted=predicted)
    if not tracked:
        for lf in labels.labeled_frames:
            for inst in lf.instances:
                inst.track = None
        labels.tracks.clear()
    return labels


def dlc_poses(path: str | Path) -> tuple[Poses, Any, bool]:
    """A DLC labels file's poses, the video they are on, and whether its animals are tracked."""
    import pandas as pd

    path = Path(path)
    if path.suffix.lower() in (".h5", ".hdf5"):
        try:
            df = pd.read_hdf(path)
        except ImportError:
            raise LabelsError(
                f"reading DeepLabCut's {path.name} needs the 'tables' package; open the "
                "CollectedData CSV beside it, or `pip install tables`."
            ) from None
    else:
        try:
            df = _read_dlc_csv(path)
        except Exception as e:  # noqa: BLE001 - pandas raises many kinds for a foreign file
            raise LabelsError(f"{path.name} is not a DeepLabCut labels CSV ({e}).") from None
    levels = list(df.columns.names)
    multi = "individuals" in levels
    bodyparts = list(dict.fromkeys(df.columns.get_level_values("bodyparts")))
    tracks = (
        list(dict.fromkeys(df.columns.get_level_values("individuals")))
        if multi
        else default_tracks(1)
    )
    extra = dlc_metadata(path)
    skeleton = extra.get("skeleton") or Skeleton(
        nodes=bodyparts, edges=extra.get("edges", []), name=extra.get("task") or "skeleton"
    )
    missing = [b for b in bodyparts if b not in skeleton.nodes]
    if missing:
        raise LabelsError(
            f"{path.name} has body parts {missing} that its skeleton file lacks; "
            "remove the stale config.yaml/sidecar or fix it."
        )
    video, rows = video_and_frames(path, df.index, extra.get("video"))
    order = np.argsort(rows, kind="stable")
    frames = np.asarray(rows, dtype=np.int64)[order]
    points = np.full((len(frames), len(tracks), len(skeleton), 2), np.nan)
    scores = np.full(points.shape[:3], np.nan)
    for a, track in enumerate(tracks):
        for node in bodyparts:
            k = skeleton.index(node)
            key = (track, node) if multi else (node,)
            sub = df.xs(
                key,
                axis=1,
                level=["individuals", "bodyparts"] if multi else ["bodyparts"],
                drop_level=True,
            )
            sub = sub.droplevel([lvl for lvl in sub.columns.names if lvl != "coords"], axis=1)
            points[:, a, k, 0] = np.asarray(sub["x"], dtype=np.float64)[order]
            points[:, a, k, 1] = np.asarray(sub["y"], dtype=np.float64)[order]
            if "likelihood" in sub.columns:
                scores[:, a, k] = np.asarray(sub["likelihood"], dtype=np.float64)[order]
    poses = Poses(
        frames=frames,
        points=points,
        scores=scores,
        tracks=tracks,
        skeleton=skeleton,
    )
    return poses, video, bool(extra.get("tracked", multi))


def _read_dlc_csv(path: Path):
    import pandas as pd

    with open(path, encoding="utf-8") as f:
        first = [f.readline().split(",", 1)[0].strip() for _ in range(4)]
    n_header = 4 if first[1] == "individuals" else 3
    with open(path, encoding="utf-8") as f:
        for _ in range(n_header):
            f.readline()
        body = f.readline().split(",")
    # newer DLC: three index columns (labeled-data, video, image); older: one path column
    n_index = 3 if body and body[0] == "labeled-data" else 1
    df = pd.read_csv(path, header=list(range(n_header)), index_col=list(range(n_index)))
    if n_index == 3:
        df.index = ["/".join(map(str, t)) for t in df.index]
    return df


def dlc_metadata(csv_path: Path) -> dict:
    """Skeleton, tracks flag and video from the sidecar, else from the project's config.yaml."""
    import yaml

    out: dict = {}
    side = sidecar_path(csv_path)
    if side.exists():
        data = yaml.safe_load(side.read_text()) or {}
        if SKELETON_KEY in data:
            out["skeleton"] = Skeleton.from_dict(data[SKELETON_KEY])
        out["tracked"] = data.get("tracked", True)
        out["video"] = data.get("video")
        return out
    for folder in [csv_path.parent, *csv_path.resolve().parents][:4]:
        config = folder / "config.yaml"
        if not config.is_file():
            continue
        cfg = yaml.safe_load(config.read_text()) or {}
        if not isinstance(cfg, dict) or "bodyparts" not in cfg and SKELETON_KEY not in cfg:
            continue
        if SKELETON_KEY in cfg:
            out["skeleton"] = Skeleton.from_dict(cfg[SKELETON_KEY])
        else:
            parts = cfg.get("multianimalbodyparts") or cfg.get("bodyparts")
            if isinstance(parts, list):
                edges = [
                    tuple(e)
                    for e in cfg.get("skeleton") or []
                    if len(e) == 2 and e[0] in parts and e[1] in parts
                ]
                out["skeleton"] = Skeleton(
                    nodes=parts, edges=edges, name=str(cfg.get("Task") or "skeleton")
                )
        out["tracked"] = bool(cfg.get("identity")) or bool(cfg.get("multianimalproject"))
        stem = csv_path.parent.name
        for video in cfg.get("video_sets") or {}:
            if Path(video).stem == stem and Path(video).exists():
                out["video"] = str(video)
        break
    return out


def is_dlc_file(path: Path) -> bool:
    """True for DeepLabCut's own files: a ``CollectedData`` CSV or the pandas HDF5 beside it."""
    suffix = path.suffix.lower()
    if not path.is_file():
        return False
    if suffix == ".csv":
        return is_dlc_csv(path)
    return suffix in (".h5", ".hdf5") and _is_pandas_hdf(path)


def _is_pandas_hdf(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return any("pandas_type" in f[k].attrs for k in f)
    except (OSError, KeyError):
        return False
