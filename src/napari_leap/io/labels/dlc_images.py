"""Which image a DeepLabCut row labels: the frame of the video, or of the folder of images."""

from __future__ import annotations

import re
from pathlib import Path

from napari_leap.io.labels.sleap import LabelsError

_IMAGE_RE = re.compile(r"(\d+)")


def video_and_frames(csv_path: Path, index, video) -> tuple:
    """The labels' video and each row's frame in it.

    The video the project names, where it is, with frames from the image names; else
    the folder of labelled images as a ``sleap_io.Video``, frames their places in it.
    """
    if video is not None and Path(video).exists():
        return video, [_frame_of(idx) for idx in index]
    folder = _image_folder(csv_path, index)
    if folder is not None:
        import sleap_io as sio

        video = sio.Video(filename=str(folder), open_backend=False)
        return video, _folder_frames(folder, index)
    return "unknown.mp4", [_frame_of(idx) for idx in index]


def _folder_frames(folder: Path, index) -> list[int]:
    """Each labelled image's place among its folder's images: its frame in the folder as a video.

    Without the video, the folder of labelled images is the video (as in sleap-io), and
    DLC keeps only some frames there: ``img0042.png`` may be the folder's third image.
    """
    from napari_leap.io.video import folder_images

    place = {p.name: i for i, p in enumerate(folder_images(folder))}
    names = [Path(str(idx).replace("\\", "/")).name for idx in index]
    lost = [n for n in names if n not in place]
    if lost:
        raise LabelsError(
            f"{len(lost)} labelled image(s) are not in {folder}, e.g. {lost[0]}; put them back "
            "or remove their rows from the CSV."
        )
    return [place[n] for n in names]


def _frame_of(image_path) -> int:
    numbers = _IMAGE_RE.findall(Path(str(image_path)).stem)
    if not numbers:
        raise LabelsError(
            f"cannot tell the frame number of image {image_path!r}; DLC names "
            "labelled frames img<frame>.png."
        )
    return int(numbers[-1])


def _image_folder(csv_path: Path, index) -> Path | None:
    first = Path(str(index[0])) if len(index) else None
    if first is None:
        return None
    for candidate in (csv_path.parent, csv_path.parent.parent.parent / first.parent):
        if (candidate / first.name).exists():
            return candidate
    return None
