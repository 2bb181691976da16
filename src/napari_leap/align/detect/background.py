"""The scene without the animals: grey frames, polarity, background, contrast and threshold."""

from __future__ import annotations

import numpy as np

from napari_leap.errors import LeapError

POLARITIES = ("auto", "light", "dark")
#: user-facing names accepted for the polarity option
POLARITY_ALIASES = {
    "auto": "auto",
    "light": "light",
    "light_on_dark": "light",
    "light on dark": "light",
    "bright": "light",
    "dark": "dark",
    "dark_on_light": "dark",
    "dark on light": "dark",
}
BACKGROUNDS = ("auto", "percentile", "none")


def normalize_polarity(polarity: str | None) -> str:
    """``'auto'``, ``'light'`` or ``'dark'`` from any of the names users type."""
    key = "auto" if polarity is None else str(polarity).strip().lower()
    if key not in POLARITY_ALIASES:
        raise LeapError(
            f"polarity {polarity!r} is not known; use 'auto', 'light' (light animal on dark "
            "background) or 'dark' (dark animal on light background)."
        )
    return POLARITY_ALIASES[key]


def to_gray(frame: np.ndarray) -> np.ndarray:
    """``(height, width[, channels])`` uint8 frame as a contiguous 2-D uint8 image."""
    frame = np.asarray(frame)
    if frame.ndim == 3:
        if frame.shape[2] == 1:
            frame = frame[..., 0]
        else:
            import cv2

            frame = cv2.cvtColor(np.ascontiguousarray(frame[..., :3]), cv2.COLOR_RGB2GRAY)
    if frame.dtype != np.uint8:
        frame = np.clip(frame, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(frame)


def guess_polarity(frames: np.ndarray) -> str:
    """'light' when the bright tail of the frames stands further from their median than the dark tail.

    A behaviour arena is mostly background, so the median grey is the background
    and the animals are in one tail of the histogram: far above the median for
    light animals on a dark background, far below for dark animals on a light one.
    """
    sample = frames[:, ::4, ::4].astype(np.float32)
    med = np.median(sample)
    lo, hi = np.percentile(sample, [0.05, 99.95])
    return "light" if (hi - med) >= (med - lo) else "dark"


def estimate_background(
    frames: np.ndarray, polarity: str, method: str = "percentile"
) -> np.ndarray:
    """Background image from sampled grey frames ``(n, height, width)``.

    ``percentile``: a low percentile (light animals) or a high one (dark animals)
    over the samples, so an animal that sits still for most of the video
    (but not all of it) is still removed, which a median does not do.
    ``none``: a flat image at the median grey (plain thresholding), for animals
    that never move.
    """
    n = len(frames)
    if method == "none" or n < 3:
        return np.full(frames.shape[1:], np.uint8(np.median(frames[:, ::4, ::4])))
    k = max(1, int(round(0.12 * (n - 1))))
    return kth_smallest(frames, k) if polarity == "light" else kth_largest(frames, k)


def kth_smallest(frames, k: int) -> np.ndarray:
    """Per pixel, the ``k``-th smallest (0-based) of the frames.

    A min/max insertion network over ``k + 1`` running images: fast and
    cache-friendly for small ``k``, and the frames may be a generator.
    """
    it = iter(frames)
    first = np.array(next(it))
    best = [np.full_like(first, 255) for _ in range(k + 1)]  # sorted, smallest first
    for x in (first, *it):
        x = np.asarray(x)
        for j in range(k + 1):
            lo = np.minimum(best[j], x)
            x = np.maximum(best[j], x)
            best[j] = lo
    return best[k]


def kth_largest(frames, k: int) -> np.ndarray:
    """Per pixel, the ``k``-th largest (0-based) of the frames (see :func:`kth_smallest`)."""
    return 255 - kth_smallest((255 - np.asarray(f) for f in frames), k)


def contrast(gray: np.ndarray, background: np.ndarray, polarity: str) -> np.ndarray:
    """How much each pixel is 'more animal' than the background (uint8, saturating)."""
    import cv2

    return cv2.subtract(gray, background) if polarity == "light" else cv2.subtract(background, gray)


def auto_threshold(contrasts: np.ndarray) -> float:
    """Otsu's threshold over the contrast of sampled frames, kept above the noise floor."""
    import cv2

    sample = np.ascontiguousarray(contrasts[:, ::2, ::2]).reshape(-1, 1)
    otsu, _ = cv2.threshold(sample, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # noise floor: robust spread of the (mostly background) contrast
    noise = float(np.percentile(sample, 90))
    return float(np.clip(max(otsu, 3.0 * noise, 8.0), 8.0, 200.0))


def background_agrees(
    saved: np.ndarray, own: np.ndarray, threshold: float, n_animals: int, animal_length: float
) -> bool:
    """True when ``saved`` (an earlier alignment's background) and a video's ``own`` are one scene.

    They are when they differ by more than half the threshold on no more than an
    animal length squared per animal, the patches animals that sat still in either
    set of samples leave.

    A frame range or a short cut in which the animals never move has them in its own
    background (and finds none); the saved one, from frames where they moved, still
    finds them. Another camera, arena or frame size keeps its own background.
    """
    import cv2

    if saved.shape != own.shape or not np.isfinite(animal_length) or animal_length <= 0:
        return False
    differ = int(np.count_nonzero(cv2.absdiff(saved, own) > threshold / 2))
    return differ <= n_animals * animal_length**2


def sample_indices(n_frames: int, n: int = 40) -> np.ndarray:
    """Up to ``n`` frame indices spread evenly from the first frame to the last."""
    return np.unique(np.linspace(0, n_frames - 1, min(n, n_frames)).round().astype(int))
