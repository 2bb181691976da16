"""Which image a DeepLabCut row labels: the frame of the video, or of the folder of images."""

from __future__ import annotations

import math
import re
from pathlib import Path

from napari_leap.io.atomic import atomic_write_text
from napari_leap.io.labels.sleap import LabelsError

_IMAGE_RE = re.compile(r"(\d+)")


def video_and_frames(csv_path: Path, index, video) -> tuple:
    """The labels' video and each row's frame in it.

    The video the project names, where it is, with frames from the image names; else
    the folder of labelled images as a ``sleap_io.Video``, frames their places in it.
    """
    from napari_leap.io.video import is_zarr_folder

    named = Path(video) if video is not None else None
    if named is not None and named.is_dir() and not is_zarr_folder(named):
        return _folder_video(named), _folder_frames(named, index)  # the sidecar names it
    if video is not None and Path(video).exists():
        return video, [_frame_of(idx) for idx in index]
    folder = _image_folder(csv_path, index)
    if folder is not None:
        return _folder_video(folder), _folder_frames(folder, index)
    return "unknown.mp4", [_frame_of(idx) for idx in index]


def _folder_video(folder: Path):
    import sleap_io as sio

    return sio.Video(filename=str(folder), open_backend=False)


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
    # beside the CSV (DLC's labelled-data), from the project's root, or as the row says
    # from the CSV's folder (predict's DeepLabCut table of images elsewhere)
    for candidate in (
        csv_path.parent,
        csv_path.parent.parent.parent / first.parent,
        csv_path.parent / first.parent,
    ):
        if (candidate / first.name).exists():
            return candidate
    return None


def image_width(n_frames: int) -> int:
    """Digits DLC uses in ``img<frame>.png`` (its ``strwidth``)."""
    return max(int(math.ceil(math.log10(max(n_frames, 2)))), 1)


def frame_image_names(video_path, frames, n_frames: int | None = None) -> list[str]:
    """Each frame's image name in a ``labeled-data`` folder.

    A folder of images (DLC's labelled frames without their video) keeps each image's own
    name: frame 0 of reaching's folder is ``img005.png``, and a CSV naming it
    ``img000.png`` would pair its labels with no image, or another's. A video's frames
    are ``img<frame>.png``, as DLC names the frames it extracts.
    """
    from napari_leap.io.video import image_files

    files = image_files(video_path) if video_path is not None else None
    if files is not None:
        return [files[int(f)].name for f in frames]
    width = image_width(n_frames or (int(max(frames)) + 1 if len(frames) else 1))
    return [f"img{int(f):0{width}d}.png" for f in frames]


def video_folder_name(video, index: int, taken: list[str]) -> str:
    """The name of a folder for a video's labelled frames: DLC's ``labeled-data/<video>``.

    The video's name without its suffix (``.pkg.slp`` too), the folder's for a list of
    images, ``video<index>`` without one; ``_<index>`` added when ``taken`` has it.
    """
    filename = video.filename if isinstance(video.filename, str) else None
    if filename is None and video.filename:  # a list of images: their folder's name
        filename = str(Path(str(video.filename[0])).parent)
    filename = filename or f"video{index}"
    name = Path(filename).stem.removesuffix(".pkg") or f"video{index}"
    return name if name not in taken else f"{name}_{index}"


#: a row sleap-io's DLC CSV names by frame number
_SLEAP_IO_ROW = re.compile(r"labeled-data/[^/,]*/img(\d+)\.png")


def name_rows_by_images(labels, csv_path: Path) -> None:
    """Rows of a DLC CSV that sleap-io wrote, named by each frame's own image.

    sleap-io names every row ``img<frame>.png``; labels on a folder of images (DLC's
    labelled frames without their video) need the images' names, as :func:`frame_image_names`.
    """
    from napari_leap.io.video import image_files

    videos = {id(lf.video): lf.video for lf in labels.labeled_frames}
    files = image_files(next(iter(videos.values())).filename) if len(videos) == 1 else None
    if not files:
        return
    lines = Path(csv_path).read_text().splitlines(keepends=True)
    for i, line in enumerate(lines):
        first, comma, rest = line.partition(",")
        match = _SLEAP_IO_ROW.fullmatch(first)
        if match is not None:
            image = files[int(match[1])]
            lines[i] = f"labeled-data/{image.parent.name}/{image.name}{comma}{rest}"
    atomic_write_text(csv_path, "".join(lines))
