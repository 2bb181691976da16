"""The project behind the Label dock: open it into layers, create one, save into it.

Which instances are a person's and which predictions, and how the other videos'
labels stay, is :meth:`napari_leap.io.project.Project.set_video_labels`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from napari_leap.errors import LeapError
from napari_leap.model.poses import default_tracks
from napari_leap.napari import layers


class ProjectMixin:
    """Open, create and (auto)save the project the labels live in."""

    def open_project(self, root, video_index: int = 0) -> None:
        """Open a project folder: its video, labels and predictions, suggestions and skeleton."""
        from napari_leap.io.project import Project
        from napari_leap.io.video import open_video

        project = root if isinstance(root, Project) else Project.open(root)
        if not project.videos:
            raise LeapError(f"{project.root} has no video yet; add one to the project first.")
        _ = (project.labels, project.predictions)  # read (and check) them before changing anything
        if self.layer is not None:
            self.autosave()
            self._detach()
            self.layer = None
        self.project, self.video_index = project, video_index
        path = project.video_path(video_index)
        data, kwargs, _ = layers.video_layer_data(open_video(path), path=path)
        image = self.viewer.add_image(data, **kwargs)
        points, kwargs = _project_layer(project, video_index)
        layer = self.viewer.add_points(points, ndim=3, **kwargs)
        if self.viewer.dims.ndim == 3:
            self.viewer.dims.axis_labels = ("frame", "y", "x")
        self.suggestions = sorted(
            int(f) for f in _video_setting(project, "suggestions", video_index)
        )
        reasons = project.settings.get("suggestion_reasons", {}).get(str(video_index), {})
        self.suggestion_reasons = {int(f): str(why) for f, why in reasons.items()}
        invisible = _video_setting(project, "not_visible", video_index)
        self._manifest_seen = None
        self._follow_project_model()
        self.attach(layer, image)
        if project.labels_path.exists():
            self.last_saved = project.labels_path.stat().st_mtime
        self.invisible = {(int(f), int(a), str(n)) for f, a, n in invisible}
        self._after_change()
        self.status.setText(f"project {project.root}")

    def new_project(self, root, video_path=None) -> None:
        """Create a project from the video shown and the pose layer's skeleton, then label into it."""
        from napari_leap.io.project import Project

        if self.layer is None:
            raise LeapError("make a labels layer first (Skeleton widget: New labels layer).")
        if self.image is None:
            self.image = self._find_image()
        video_path = (
            video_path
            or self.layer.metadata.get("video")
            or (layers.layer_video_path(self.image) if self.image is not None else None)
        )
        if not video_path:
            raise LeapError("open the video first (drag it into napari), then create the project.")
        project = Project.create(
            root,
            self.skeleton,
            videos=[video_path],
            settings={"tracks": self.tracks, "tracked": bool(self.layer.metadata.get("tracked"))},
        )
        self.project, self.video_index = project, 0
        self.layer.name = layer_name(project)  # the name it gets each time the project opens
        if self.edges is not None:
            self.edges.name = f"{self.layer.name} edges"
            self.edges.metadata["edges_of"] = self.layer.name
        self.layer.metadata = {
            **self.layer.metadata,
            "video": str(Path(video_path).resolve()),
            "project": str(project.root.resolve()),
        }
        self._dirty = True
        self.save()
        self.status.setText(f"project {project.root}")

    def save(self) -> None:
        """Write the layer's labels and predictions into the project (atomic files)."""
        if self.project is None or self.layer is None:
            return
        project, md = self.project, {**self.layer.metadata}
        video = project.sleap_video(self.video_index)
        mine = layers.layer_to_labels(
            np.asarray(self.layer.data), self.layer.features, md, video=video
        )
        project.set_video_labels(self.video_index, mine, self.skeleton)
        settings = dict(project.settings)
        settings["tracks"] = self.tracks
        settings["tracked"] = bool(md.get("tracked", True))
        settings.setdefault("suggestions", {})[str(self.video_index)] = [
            int(f) for f in self.suggestions
        ]
        settings.setdefault("suggestion_reasons", {})[str(self.video_index)] = {
            str(f): self.suggestion_reasons[f]
            for f in self.suggestions
            if self.suggestion_reasons.get(f)
        }
        settings.setdefault("not_visible", {})[str(self.video_index)] = sorted(
            list(t) for t in self.invisible
        )
        project.settings = settings
        project.save()
        self._dirty = False
        self.last_saved = time.time()
        self._show_status()

    def autosave(self) -> None:
        """Save when something changed since the last save; errors are shown, never raised."""
        if not self._dirty or self.project is None or self.layer is None:
            return
        try:
            self.save()
        except Exception as e:  # noqa: BLE001 - the GUI must stay usable; the labels stay in the layer
            self._error(
                f"autosave failed ({e}); your labels are still in the layer, "
                "free space or fix permissions and they will be saved."
            )

    def hideEvent(self, event) -> None:
        """The window is closing or the dock was hidden: save what is unsaved."""
        self.autosave()
        super().hideEvent(event)


def layer_name(project) -> str:
    """The pose layer's name for a project (the same each time it opens)."""
    return f"{project.name or project.root.name} labels"


def _video_setting(project, key: str, video: int) -> list:
    return project.settings.get(key, {}).get(str(video), [])


def _project_layer(project, video: int) -> tuple:
    """(data, kwargs) of one project video's pose layer, on the project's skeleton and animals."""
    skeleton, path = project.skeleton, project.video_path(video)
    user = project.video_poses(video)
    pred = project.video_poses(video, predicted=True)
    tracks = (
        project.settings.get("tracks")
        or layers.merged_tracks(user.tracks if user else [], pred.tracks if pred else [])
        or default_tracks(1)
    )
    user = _no_poses(skeleton, tracks) if user is None else _retarget(user, skeleton, tracks)
    data, kwargs, _ = layers.points_layer_data(
        user,
        _retarget(pred, skeleton, tracks),
        name=layer_name(project),
        video=path,
        tracked=bool(project.settings.get("tracked", len(tracks) > 1)),
    )
    kwargs["metadata"]["project"] = str(project.root.resolve())  # for the Train/Predict docks
    return data, kwargs


def _retarget(poses, skeleton, tracks: list[str]):
    """``poses`` on ``skeleton``'s body parts (by name) and ``tracks``' animals; None stays None."""
    from napari_leap.model.poses import Poses

    if poses is None:
        return None
    poses = layers.align_tracks(poses, tracks)
    out = np.full((len(poses.frames), len(tracks), len(skeleton), 2), np.nan)
    scores = np.full(out.shape[:3], np.nan)
    for k, n in enumerate(skeleton.nodes):
        if n in poses.skeleton.nodes:
            out[:, :, k] = poses.points[:, :, poses.skeleton.index(n)]
            scores[:, :, k] = poses.scores[:, :, poses.skeleton.index(n)]
    return Poses(poses.frames, out, scores, tracks, skeleton)


def _no_poses(skeleton, tracks: list[str]):
    from napari_leap.model.poses import Poses

    return Poses(
        np.zeros(0, np.int64),
        np.zeros((0, len(tracks), len(skeleton), 2)),
        np.zeros((0, len(tracks), len(skeleton))),
        tracks,
        skeleton,
    )
