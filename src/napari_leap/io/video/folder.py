"""Folders of images as videos: one frame per file, in natural sort order."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from napari_leap.io.video.sources import (
    IMAGE_SUFFIXES,
    FrameSource,
    VideoError,
    check_index,
    pad_to,
    to_uint8,
)


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def folder_images(path: str | Path) -> list[Path]:
    """The image files of a folder in natural sort order: the folder's frames, in order."""
    files = sorted(
        (p for p in Path(path).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
        key=lambda p: _natural_key(p.name),
    )
    if not files:
        raise VideoError(f"{path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
    return files


def in_sequence(files: list[Path]) -> bool:
    """Whether ``files`` are a recording's consecutive frames (``frame0001``, ``frame0002``...).

    Frames extracted for labelling (DeepLabCut's ``img005.png``, ``img020.png``) skip
    numbers: seconds or minutes apart, they are not a video whose animals can be
    followed from one image to the next.
    """
    numbers = [[int(n) for n in re.findall(r"\d+", f.stem)] for f in files]
    if len(files) < 2 or not all(numbers) or len({len(n) for n in numbers}) > 1:
        return False
    steps = np.diff(np.array(numbers), axis=0)  # any number that counts up: frame_0001_cam1
    return bool((steps == 1).all(0).any())


class ImageFolderSource(FrameSource):
    """A folder of images, one frame per file in natural sort order (img2 after img1).

    Images of several sizes (a DeepLabCut folder mixing a rig's crops) are padded with
    black at the bottom and right to the largest, as training pads them, so every
    image keeps its own pixel coordinates. ``files``: the frames as a labels file lists
    them (a SLEAP or COCO file's images), in its order, instead of the folder's.
    """

    def __init__(self, path: str | Path, files: list[Path] | None = None):
        self.path = Path(path)
        if files is not None:
            lost = [f for f in files if not Path(f).is_file()]
            if lost:
                raise VideoError(
                    f"{len(lost)} of the labels' {len(files)} images are missing, e.g. "
                    f"{lost[0]}; put them back or re-link the images in the labels file."
                )
        self.files = files = [Path(f) for f in files] if files else folder_images(self.path)
        first = self._imread(files[0])
        sizes = {image_size(f) for f in files}
        #: (height, width) of each size the images come in, when more than one
        self.sizes = sorted(sizes) if len(sizes) > 1 else None
        h, w = (max(s[i] for s in sizes) for i in range(2))
        self.shape = (len(files), h, w, first.shape[2])

    @staticmethod
    def _imread(path: Path) -> np.ndarray:
        import cv2

        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise VideoError(f"{path.name} cannot be read as an image.")
        if image.dtype != np.uint8:
            image = to_uint8(image)
        if image.ndim == 2:
            return image[..., None]
        if image.shape[2] == 4:
            image = image[..., :3]
        return image[..., ::-1].copy()  # BGR -> RGB

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as ``(height, width, channels)`` uint8."""
        image = self._imread(self.files[check_index(index, len(self))])
        channels = self.shape[3]
        if image.shape[2] != channels:
            image = (
                image.mean(axis=2, keepdims=True).astype(np.uint8)
                if channels == 1
                else (np.repeat(image, 3, axis=2))
            )
        return pad_to(image, self.shape[1:3])


def image_size(path: Path) -> tuple[int, int]:
    """(height, width) of an image, read from the file header where PIL is available."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            return im.size[1], im.size[0]
    except ImportError:  # pragma: no cover - PIL ships with napari
        return ImageFolderSource._imread(path).shape[:2]
