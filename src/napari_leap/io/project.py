"""The project folder: a readable manifest, labels in SLEAP format, alignments and models.

Layout::

    my_project/
      napari-leap.yaml     videos, skeleton, settings, alignments, models (human-readable)
      labels.slp           a person's labels, video coordinates (SLEAP/movement open it)
      predictions.slp      model predictions, same videos
      alignments/<n>/      one Alignment per video (see napari_leap.align)
      models/<name>/       trained models (weights, config, history)

Every file is replaced atomically, the manifest last, so an interrupted save
leaves the previous project whole.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from napari_leap.errors import LeapError
from napari_leap.io.atomic import atomic_write_text
from napari_leap.io.video import same_video
from napari_leap.model.skeleton import Skeleton

MANIFEST = "napari-leap.yaml"
FORMAT_VERSION = 1


class ProjectError(LeapError):
    """A project folder that cannot be opened or saved as asked."""


@dataclass
class Project:
    """A project folder in memory; labels and predictions load on first use."""

    root: Path
    skeleton: Skeleton
    videos: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    alignments: dict[str, str] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    name: str = ""
    _labels: object = field(default=None, repr=False)
    _predictions: object = field(default=None, repr=False)

    # -- create / open -------------------------------------------------------------------
    @classmethod
    def create(cls, root: str | Path, skeleton: Skeleton, videos=(), settings=None) -> Project:
        """A new project at ``root`` (refused where one exists: opening is the way back in)."""
        root = Path(root)
        if (root / MANIFEST).exists():
            raise ProjectError(f"{root} is a project already; open it instead of creating it.")
        project = cls(root=root, skeleton=skeleton, settings=dict(settings or {}), name=root.name)
        for v in videos:
            project.add_video(v)
        project.save()
        return project

    @classmethod
    def open(cls, root: str | Path) -> Project:
        """The project at ``root``; a damaged manifest is one sentence, not a traceback."""
        import yaml

        root = Path(root)
        manifest = root / MANIFEST
        if not root.exists():
            raise FileNotFoundError(f"{root} does not exist; check the path.")
        if not manifest.exists():
            raise ProjectError(f"{root} is not a napari-leap project (no {MANIFEST} in it).")
        try:
            data = yaml.safe_load(manifest.read_text())
            skeleton = Skeleton.from_dict(data["skeleton"])
        except Exception as e:  # noqa: BLE001
            mark = getattr(e, "problem_mark", None)  # YAML errors span lines; keep one
            problem = getattr(e, "problem", None)
            why = (
                f"{problem} at line {mark.line + 1}"
                if mark is not None and problem
                else " ".join(f"{type(e).__name__}: {e}".split())
            )
            raise ProjectError(
                f"{manifest} is damaged ({why}); restore it from a backup."
            ) from None
        return cls(
            root=root,
            skeleton=skeleton,
            videos=list(data.get("videos", [])),
            settings=dict(data.get("settings") or {}),
            alignments=dict(data.get("alignments") or {}),
            models=list(data.get("models") or []),
            name=data.get("name", root.name),
        )

    # -- paths ---------------------------------------------------------------------------
    @property
    def labels_path(self) -> Path:
        """The person's labels file."""
        return self.root / "labels.slp"

    @property
    def predictions_path(self) -> Path:
        """The model predictions file."""
        return self.root / "predictions.slp"

    @property
    def models_dir(self) -> Path:
        """Where trained models go."""
        return self.root / "models"

    def alignment_path(self, video: int) -> Path:
        """The alignment folder of project video ``video`` (recorded, or the default place)."""
        rel = self.alignments.get(str(video))
        return self.root / (rel or f"alignments/{video}")

    def video_path(self, video: int) -> Path:
        """Project video ``video`` as an absolute path."""
        return self.model_path(self.videos[video])  # stored the same way as models

    def _stored_path(self, path: str | Path) -> str:
        """Relative to the project when the video lives inside it, so the folder can move."""
        path = Path(path).resolve()
        try:
            return path.relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)

    # -- content -------------------------------------------------------------------------
    def add_video(self, path: str | Path) -> int:
        """The index of ``path`` in the project, added when it is new."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist; check the path.")
        stored = self._stored_path(path)
        if stored in self.videos:
            return self.videos.index(stored)
        self.videos.append(stored)
        return len(self.videos) - 1

    def new_model_dir(self, arch: str) -> Path:
        """A fresh folder name in the project's models/ for a model about to be trained."""
        import time

        return self.models_dir / f"{arch}-{time.strftime('%Y%m%d-%H%M%S')}"

    def record_model(self, model_dir: str | Path) -> None:
        """List a trained model in the manifest on disk.

        The Label and Predict docks use the newest; what other docks or processes
        recorded meanwhile stays.
        """
        self.add_model(model_dir)
        self.save()

    def add_model(self, model_dir: str | Path) -> None:
        """Record a model folder in memory (saved with the manifest)."""
        stored = self._stored_path(model_dir)
        if stored not in self.models:
            self.models.append(stored)

    def model_path(self, stored: str) -> Path:
        """A stored path (relative to the project when inside it) as an absolute path."""
        p = Path(stored)
        return p if p.is_absolute() else (self.root / p).resolve()

    def newest_model(self) -> Path | None:
        """The most recently trained model recorded in the project, or None.

        Also one recorded by another dock or process since it was opened: what
        predicting defaults to.
        """
        finished = [
            c
            for c in (self.model_path(m) for m in self._models_on_disk())
            if (c / "config.json").is_file()
        ]
        return max(finished, key=lambda c: (c / "config.json").stat().st_mtime, default=None)

    def _models_on_disk(self) -> list[str]:
        """The project's models and those the manifest on disk lists (recorded elsewhere)."""
        import yaml

        try:
            data = yaml.safe_load((self.root / MANIFEST).read_text()) or {}
        except (OSError, yaml.YAMLError):
            data = {}
        saved = [m for m in data.get("models") or [] if isinstance(m, str)]
        return saved + [m for m in self.models if m not in saved]

    def set_alignment(self, video: int, path: str | Path) -> None:
        """Record where project video ``video``'s alignment lives."""
        self.alignments[str(video)] = self._stored_path(path)

    @property
    def labels(self):
        """The person's labels (``sleap_io.Labels``), loaded on first use."""
        if self._labels is None:
            self._labels = self._load_or_new(self.labels_path)
        return self._labels

    @labels.setter
    def labels(self, value) -> None:
        self._labels = value

    @property
    def predictions(self):
        """The model predictions (``sleap_io.Labels``), loaded on first use."""
        if self._predictions is None:
            self._predictions = self._load_or_new(self.predictions_path)
        return self._predictions

    @predictions.setter
    def predictions(self, value) -> None:
        self._predictions = value

    def _load_or_new(self, path: Path):
        import sleap_io as sio

        from napari_leap.io.labels import load_labels, skeleton_to_sleap

        if path.exists():
            labels = load_labels(path)
            nodes = list(labels.skeletons[0].node_names)
            if nodes != list(self.skeleton.nodes):

                def few(names):
                    return ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")

                raise ProjectError(
                    f"{path.name} has {len(nodes)} body parts ({few(nodes)}) but the project's "
                    f"skeleton has {len(self.skeleton)} ({few(self.skeleton.nodes)}); put the matching "
                    f"skeleton in {MANIFEST} or restore the labels from a backup."
                )
            self._relink_videos(labels)
            return labels
        return sio.Labels(
            skeletons=[skeleton_to_sleap(self.skeleton)],
            videos=[self.sleap_video(i) for i in range(len(self.videos))],
        )

    def sleap_video(self, index: int):
        """A ``sleap_io.Video`` of project video ``index`` (not opened: it may be elsewhere now)."""
        import sleap_io as sio

        return sio.Video(filename=str(self.video_path(index)), open_backend=False)

    def _relink_videos(self, labels) -> None:
        """Point the labels' videos at the manifest's paths (the project may have moved)."""
        for i, video in enumerate(labels.videos):
            if i < len(self.videos):
                video.replace_filename(str(self.video_path(i)), open=False)

    def video_index(self, video) -> int:
        """Index in the project of a ``sleap_io.Video`` (by path)."""
        for i in range(len(self.videos)):
            if same_video(self.video_path(i), video.filename):
                return i
        raise ProjectError(f"{video.filename} is not a video of this project; add it first.")

    # -- save ----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The manifest's content."""
        return {
            "format_version": FORMAT_VERSION,
            "name": self.name or self.root.name,
            "videos": list(self.videos),
            "skeleton": self.skeleton.to_dict(),
            "settings": dict(self.settings),
            "alignments": dict(self.alignments),
            "models": list(self.models),
        }

    def save(self) -> None:
        """Write labels, predictions (when loaded) and the manifest, each atomically."""
        import yaml

        from napari_leap.io.labels import save_labels

        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise PermissionError(f"{self.root} is read-only; save the project somewhere writable.")
        if self._labels is not None:
            save_labels(self._labels, self.labels_path)
        if self._predictions is not None:
            save_labels(self._predictions, self.predictions_path)
        self.models = self._models_on_disk()  # a model another dock recorded meanwhile stays
        atomic_write_text(self.root / MANIFEST, yaml.safe_dump(self.to_dict(), sort_keys=False))

    # -- one video's labels (what the Label dock shows and saves) -------------------------
    def video_poses(self, video: int, *, predicted: bool = False):
        """A person's labels (or the predictions) of one project video as ``Poses``; None if none."""
        from napari_leap.io.labels import poses_from_labels, video_index

        labels = self.predictions if predicted else self.labels
        found = video_index(labels, self.video_path(video))
        if found is None:
            return None
        poses = poses_from_labels(labels, found, user=not predicted, predicted=predicted)
        return poses if len(poses.frames) else None

    def set_video_labels(self, video: int, labels, skeleton: Skeleton) -> None:
        """Replace one video's labels and predictions with ``labels`` (of that video only).

        ``labels`` holds both kinds of instance: a person's go to the labels, the
        rest to the predictions. Other videos keep theirs, under ``skeleton`` (the
        project's from now on) when their body parts are the same. Written on :meth:`save`.
        """
        import sleap_io as sio

        shown = labels.videos[0]
        person: list = []
        guessed: list = []
        for lf in labels.labeled_frames:
            for kept, chosen in (
                (person, [i for i in lf.instances if type(i) is sio.Instance]),
                (guessed, [i for i in lf.instances if type(i) is not sio.Instance]),
            ):
                if chosen:
                    kept.append(
                        sio.LabeledFrame(video=shown, frame_idx=lf.frame_idx, instances=chosen)
                    )
        self.labels = self._with_other_videos(video, labels, person, skeleton, predicted=False)
        self.predictions = self._with_other_videos(video, labels, guessed, skeleton, predicted=True)
        self.skeleton = skeleton

    def _with_other_videos(
        self, video: int, labels, frames: list, skeleton: Skeleton, *, predicted: bool
    ):
        """New labels of ``frames`` (of video ``video``) plus the other videos' as they were."""
        import sleap_io as sio

        from napari_leap.io.labels import labels_from_poses

        out = sio.Labels(
            labeled_frames=frames,
            videos=[labels.videos[0]],
            skeletons=labels.skeletons,
            tracks=list(labels.tracks),
        )
        for i in range(len(self.videos)):
            if i == video:
                continue
            poses = self.video_poses(i, predicted=predicted)
            if poses is not None and poses.skeleton.nodes == skeleton.nodes:
                poses.skeleton = skeleton
                labels_from_poses(poses, [self.sleap_video(i)], predicted=predicted, labels=out)
        return out
