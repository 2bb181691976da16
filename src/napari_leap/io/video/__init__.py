"""Frame-exact lazy video: containers, image folders, HDF5 and zarr as dask arrays."""

from napari_leap.io.video.arrays import ArraySource
from napari_leap.io.video.folder import ImageFolderSource, folder_images
from napari_leap.io.video.pyav import PyAVSource, keyframe_indices
from napari_leap.io.video.reading import (
    ArrayReader,
    as_dask,
    frame_reader,
    image_files,
    is_zarr_folder,
    open_video,
    seekable_source,
    source_of,
    video_source,
)
from napari_leap.io.video.sources import (
    HDF5_SUFFIXES,
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    ZARR_SUFFIXES,
    FrameSource,
    PerThreadSource,
    VideoError,
    pad_to,
    same_video,
)

__all__ = [
    "HDF5_SUFFIXES",
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "ZARR_SUFFIXES",
    "ArrayReader",
    "ArraySource",
    "FrameSource",
    "ImageFolderSource",
    "PerThreadSource",
    "PyAVSource",
    "VideoError",
    "as_dask",
    "folder_images",
    "frame_reader",
    "image_files",
    "is_zarr_folder",
    "keyframe_indices",
    "open_video",
    "pad_to",
    "same_video",
    "seekable_source",
    "source_of",
    "video_source",
]
