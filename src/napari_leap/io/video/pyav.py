"""Video containers decoded with PyAV, frame-exact for any codec, and their keyframes."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from napari_leap.io.video.sources import PerThreadSource, VideoError, check_index


class PyAVSource(PerThreadSource):
    """A video container decoded with PyAV, frame-exact for any codec and GOP layout.

    Frames are addressed by presentation timestamp: an index of every packet's
    pts (demuxed once, no decoding) maps frame ``i`` to its pts. A read seeks to
    the keyframe at or before that pts and decodes forward; sequential reads
    continue the running decoder without seeking. Decoders are cached per
    thread, so dask workers never share one.
    """

    #: decode forward instead of seeking when the target is at most this far ahead
    forward_window = 48

    def __init__(self, path: str | Path, grayscale: bool | None = None):
        import av

        self.path = Path(path)
        try:
            container = av.open(str(self.path))
        except av.error.InvalidDataError as e:
            raise VideoError(
                f"{self.path.name} is not a video that FFmpeg can read ({e.strerror}); "
                "check it is really a video and not truncated (an MP4 cut before its "
                "index cannot be recovered; re-export or re-record it)."
            ) from None
        except av.error.FFmpegError as e:
            raise VideoError(f"cannot open {self.path.name}: {e}") from None
        with container:
            if not container.streams.video:
                raise VideoError(f"{self.path.name} holds no video stream.")
            stream = container.streams.video[0]
            if stream.codec_context is None:  # demuxed, but FFmpeg has no decoder for it
                raise VideoError(
                    f"{self.path.name} uses a video codec FFmpeg cannot decode; re-encode it, "
                    "e.g. `ffmpeg -i in.avi -c:v libx264 -crf 15 out.mp4`."
                )
            self.codec = stream.codec_context.name
            self.fps = float(stream.average_rate) if stream.average_rate else float("nan")
            pts = [p.pts for p in container.demux(stream) if p.pts is not None and p.size > 0]
        if not pts:
            raise VideoError(f"{self.path.name} holds no video frames.")
        self._pts = sorted(pts)
        self._local = threading.local()
        first = self._decode_first()
        if grayscale is None:
            grayscale = _looks_gray(first)
        self.grayscale = bool(grayscale)
        height, width = first.shape[:2]
        self.shape = (len(self._pts), height, width, 1 if self.grayscale else 3)

    def _decode_first(self) -> np.ndarray:
        import av

        try:
            with av.open(str(self.path)) as c:
                for frame in c.decode(video=0):
                    return frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as e:
            raise VideoError(
                f"{self.path.name}: cannot decode its first frame ({e}); the codec may be "
                "unsupported or the file damaged. Re-encode it, e.g. "
                "`ffmpeg -i in.avi -c:v libx264 -crf 15 out.mp4`."
            ) from None
        raise VideoError(f"{self.path.name}: no frame could be decoded.")

    def _decoder(self):
        dec = getattr(self._local, "decoder", None)
        if dec is None:
            import av

            container = av.open(str(self.path))
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            dec = self._local.decoder = {
                "container": container,
                "stream": stream,
                "frames": None,
                "next": None,
            }
        return dec

    def close(self) -> None:
        """Close this thread's decoder (the next read opens a new one)."""
        dec = getattr(self._local, "decoder", None)
        if dec is not None:
            dec["container"].close()
            self._local.decoder = None

    def read(self, index: int) -> np.ndarray:
        """Frame ``index``: continues the running decode when close ahead, else seeks."""
        index = check_index(index, len(self))
        target = self._pts[index]
        dec = self._decoder()
        ahead = None if dec["next"] is None else index - dec["next"]
        if ahead is None or not 0 <= ahead <= self.forward_window:
            dec["container"].seek(target, stream=dec["stream"], backward=True, any_frame=False)
            dec["frames"] = dec["container"].decode(dec["stream"])
        fmt = "gray" if self.grayscale else "rgb24"
        try:
            for frame in dec["frames"]:
                pts = frame.pts
                if pts is None or pts < target:
                    continue
                if pts > target:  # the frame has no exact match (damaged stream)
                    break
                dec["next"] = index + 1
                image = frame.to_ndarray(format=fmt)
                return image[..., None] if self.grayscale else image
        except Exception as e:  # noqa: BLE001 - FFmpeg errors come in several classes
            dec["next"] = None
            raise VideoError(
                f"{self.path.name}: frame {index} cannot be decoded ({e}); the file may be "
                "truncated or damaged."
            ) from None
        dec["next"] = None
        raise VideoError(
            f"{self.path.name}: frame {index} cannot be decoded; the file may be truncated "
            f"(the last frame that decodes is before {index})."
        )


def _looks_gray(rgb: np.ndarray) -> bool:
    """True when a colour-coded frame carries no colour (common for behaviour rigs)."""
    r, g, b = (rgb[..., i].astype(np.int16) for i in range(3))
    return int(max(np.abs(r - g).max(), np.abs(g - b).max())) <= 2


def keyframe_indices(source) -> np.ndarray | None:
    """Frame indices where decoding can start without earlier frames (None: not known).

    Read from the container's packets (no decoding) for PyAV videos; a source
    may also offer ``keyframes()`` itself. Seeking decodes from the keyframe
    before, so chunks and samples that start on keyframes decode nothing twice.
    """
    own = getattr(source, "keyframes", None)
    if callable(own):
        return np.asarray(own(), dtype=np.int64)
    if not isinstance(source, PyAVSource):
        return None
    import av

    try:
        with av.open(str(source.path)) as c:
            stream = c.streams.video[0]
            pts = [
                p.pts for p in c.demux(stream) if p.is_keyframe and p.pts is not None and p.size > 0
            ]
    except av.error.FFmpegError:  # unreadable now: callers fall back to even steps
        return None
    idx = np.searchsorted(source._pts, pts)
    return np.unique(idx[idx < len(source._pts)]).astype(np.int64)
