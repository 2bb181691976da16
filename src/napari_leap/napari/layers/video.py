"""Videos and alignment boxes as napari Image layers, and the box-to-video affine."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_leap.napari.layers.style import LayerData


def video_layer_data(
    video, *, name: str | None = None, path: str | Path | None = None
) -> LayerData:
    """An Image layer over a lazy video ``(frames, H, W, C)``; grey videos drop the channel axis."""
    rgb = video.shape[-1] == 3
    data = video if rgb else video[..., 0]
    kwargs = {
        "name": name or (Path(path).stem if path else "video"),
        "rgb": rgb,
        "contrast_limits": [0, 255],
    }
    if path is not None:
        kwargs["metadata"] = {"video_path": str(Path(path).resolve())}
    return data, kwargs, "image"


def layer_video_path(layer) -> Path | None:
    """The video file an Image layer shows, whichever reader opened it.

    napari-leap's reader records it in ``metadata['video_path']``; napari's own
    readers (what File > Open offers first) leave only the layer's public
    ``source.path``.
    """
    from napari.layers import Image

    if not isinstance(layer, Image):
        return None
    metadata = getattr(layer, "metadata", None) or {}
    if metadata.get("labels_frames"):  # a labels file's own frames: napari's source.path
        return None  # is the .pkg.slp, which is no video file
    if metadata.get("video_path"):
        return Path(metadata["video_path"])
    path = getattr(getattr(layer, "source", None), "path", None)
    if path and getattr(layer, "ndim", 0) >= 3 and Path(path).exists():
        return Path(path).resolve()
    return None


def box_affine(alignment, frame: int, animal: int) -> np.ndarray:
    """Napari affine ``(4, 4)`` on ``(frame, y, x)`` that maps video points into a box.

    ``Alignment.affine`` is 2x3 on ``x, y``; napari orders axes ``y, x``, so the
    matrix is permuted. Setting it on the pose layer shows video-coordinate points
    over the box image, and napari maps clicks on the box back to video pixels.
    """
    a = np.asarray(alignment.affine(frame, animal), dtype=np.float64)
    m = np.eye(4)
    m[1, 1], m[1, 2], m[1, 3] = a[1, 1], a[1, 0], a[1, 2]
    m[2, 1], m[2, 2], m[2, 3] = a[0, 1], a[0, 0], a[0, 2]
    return m


def oriented_boxes(centers, headings, box_size: float):
    """Outlines and heading arrows of boxes in video coordinates, as napari data.

    ``centers`` ``(n, 2)`` x, y and ``headings`` ``(n,)`` radians (atan2(dy, dx)) give,
    in napari order: ``(n, 4, 2)`` polygon corners ``y, x`` (the box's top edge is in
    front of the animal) and ``(n, 2, 2)`` vectors ``[[y, x], [dy, dx]]`` from the
    centre towards the head, 0.4 box long. Rows with NaN are left out.
    """
    c = np.asarray(centers, float).reshape(-1, 2)
    h = np.asarray(headings, float).reshape(-1)
    ok = np.all(np.isfinite(c), axis=1) & np.isfinite(h)
    c, h = c[ok], h[ok]
    u = np.stack([np.cos(h), np.sin(h)], -1)  # forward, x y
    v = np.stack([-np.sin(h), np.cos(h)], -1)  # sideways
    r = box_size / 2.0
    corners = np.stack(
        [c + r * (s * u + t * v) for s, t in ((1, -1), (1, 1), (-1, 1), (-1, -1))], 1
    )
    vectors = np.stack([c, 0.4 * box_size * u], 1)
    return corners[..., ::-1].copy(), vectors[..., ::-1].copy()


def alignment_boxes_layer_data(
    alignment, *, name: str = "aligned boxes", video_width: int | None = None, gap: int = 16
) -> LayerData:
    """An Image layer of every animal's box, lazily warped from the video.

    Data ``(frames, box, animals * box[, 3])``: the animals side by side. It stays 3-D
    like the video layer, so both share the frame slider (napari aligns trailing
    axes: a 4-D ``(frames, animals, box, box)`` layer would put its animal axis
    against the video's frame axis). Placed right of the video (``video_width``).
    Metadata: ``alignment`` (the :class:`~napari_leap.align.alignment.Alignment`),
    ``box_size``, ``n_animals`` and ``layout``.
    """
    boxes = alignment.boxes  # (frames, animals, box, box, channels), one frame per chunk
    f, a, b, _, ch = boxes.shape
    tiled = boxes.transpose(0, 2, 1, 3, 4).reshape(f, b, a * b, ch)
    rgb = ch == 3
    data = tiled if rgb else tiled[..., 0]
    width = video_width if video_width is not None else (alignment.frame_shape or (0, 0))[1]
    kwargs = {
        "name": name,
        "rgb": rgb,
        "contrast_limits": [0, 255],
        "translate": (0, 0, int(width) + gap),
        "metadata": {
            "alignment": alignment,
            "box_size": b,
            "n_animals": a,
            "layout": "frame, y, animal * box_size + x",
        },
    }
    return data, kwargs, "image"
