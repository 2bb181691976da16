"""Find animals in one frame: background, polarity, threshold, blobs and their moments.

The :class:`Detector` is set up once per video from a few sampled frames
(:func:`make_detector`) and then called on every frame. Detection runs on a
frame downscaled by ``scale`` (fast connected components), and each blob is
refined at full resolution inside its own window (exact centroid, principal
axis and head/tail cue). No Qt, no napari.

Head/tail cue: the contrast-weighted centroid of a blob minus its binary
centroid, projected on the principal axis. Bodies (head, thorax) are more
contrasted than wings, legs and tails, so this points towards the head; it
agrees with the thorax->head labels on every sampled frame of the bundled
clip. Temporal smoothing (:mod:`napari_leap.align.identity`) fixes the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    """Per pixel, the ``k``-th smallest (0-based) of the frames: a min/max insertion
    network over ``k + 1`` running images (fast and cache-friendly for small ``k``)."""
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


@dataclass
class Blob:
    """One animal candidate: full-resolution moments of its foreground pixels."""

    center: np.ndarray  # (2,) x, y
    axis: float  # orientation of the major axis, radians in (-pi/2, pi/2]
    cue: float  # > 0: head towards (cos axis, sin axis); in units of the major s.d.
    area: float
    major: float  # s.d. along the major axis (px)
    minor: float
    merged: bool = False


def _second_moments(dx, dy):
    sxx, syy, sxy = (dx * dx).mean(), (dy * dy).mean(), (dx * dy).mean()
    axis = 0.5 * np.arctan2(2 * sxy, sxx - syy)
    common = np.sqrt(((sxx - syy) / 2) ** 2 + sxy**2)
    return axis, (sxx + syy) / 2 + common, max((sxx + syy) / 2 - common, 0.0)


def _blob_from_pixels(
    xs: np.ndarray, ys: np.ndarray, w: np.ndarray, merged=False, core: float | None = None
) -> Blob | None:
    """Moments of one animal's pixels. The centre and size come from every pixel; the
    axis from the ``core`` (contrast above ``core``) when it holds enough of them, so an
    extended wing or tail does not turn the axis."""
    n = len(xs)
    if n < 5:
        return None
    xs = xs.astype(np.float64)
    ys = ys.astype(np.float64)
    cx, cy = xs.mean(), ys.mean()
    dx, dy = xs - cx, ys - cy
    axis, lam1, lam2 = _second_moments(dx, dy)
    if core is not None:
        sel = w > core
        if sel.sum() >= max(5, 0.2 * n):
            cdx, cdy = xs[sel] - xs[sel].mean(), ys[sel] - ys[sel].mean()
            axis = _second_moments(cdx, cdy)[0]
    ux, uy = np.cos(axis), np.sin(axis)
    wf = w.astype(np.float64)
    total = wf.sum()
    if total > 0:
        wx, wy = (wf @ xs) / total, (wf @ ys) / total
        cue = ((wx - cx) * ux + (wy - cy) * uy) / max(np.sqrt(lam1), 1e-6)
    else:
        cue = 0.0
    if axis <= -np.pi / 2:
        axis += np.pi
    return Blob(
        np.array([cx, cy]),
        float(axis),
        float(cue),
        float(n),
        float(np.sqrt(lam1)),
        float(np.sqrt(lam2)),
        merged,
    )


@dataclass
class Detector:
    """Per-video settings and background; ``detect(gray)`` finds the animals of one frame."""

    background: np.ndarray
    polarity: str
    threshold: float
    n_animals: int
    scale: int = 2
    min_area: float = 20.0
    animal_area: float = float("nan")  # median full-resolution area of one animal
    animal_length: float = float("nan")  # median major-axis length (4 s.d.) of one animal
    #: contrast of the animal's core (body without wings, legs, tail) used for its axis
    core_threshold: float | None = None
    options: dict = field(default_factory=dict)

    def __post_init__(self):
        import cv2

        self.background = to_gray(self.background)
        h, w = self.background.shape
        self._small_size = (max(1, w // self.scale), max(1, h // self.scale))
        self._bg_small = cv2.resize(
            self.background, self._small_size, interpolation=cv2.INTER_LINEAR
        )
        self._kernel = np.ones((3, 3), np.uint8)
        self._own_kernel = cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (2 * self.scale + 1, 2 * self.scale + 1)
        )

    # -- one frame ---------------------------------------------------------------------------
    def contrast(self, gray: np.ndarray) -> np.ndarray:
        return contrast(gray, self.background, self.polarity)

    def candidates(self, gray: np.ndarray) -> list[Blob]:
        """Every blob larger than ``min_area``, refined at full resolution.

        Blobs are outlined on the downscaled contrast (external contours: much
        cheaper than labelling), then each is thresholded again at full
        resolution inside its own window, limited to its (dilated) outline so a
        neighbour in the window is left out.
        """
        import cv2

        s = self.scale
        small = (
            cv2.resize(gray, self._small_size, interpolation=cv2.INTER_LINEAR) if s > 1 else gray
        )
        c_small = contrast(small, self._bg_small, self.polarity)
        _, mask = cv2.threshold(c_small, self.threshold, 1, cv2.THRESH_BINARY)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        min_small = max(2.0, self.min_area / (s * s))
        blobs = []
        h, w = gray.shape
        pad = s + 1
        for cnt in contours:
            # pixel count of the outlined region, about: polygon area + half its perimeter + 1
            if cv2.contourArea(cnt) + 0.5 * cv2.arcLength(cnt, True) + 1 < min_small:
                continue
            x0, y0, bw, bh = cv2.boundingRect(cnt)
            X0, Y0 = max(x0 * s - pad, 0), max(y0 * s - pad, 0)
            X1, Y1 = min((x0 + bw) * s + pad, w), min((y0 + bh) * s + pad, h)
            roi = contrast(gray[Y0:Y1, X0:X1], self.background[Y0:Y1, X0:X1], self.polarity)
            own = np.zeros((Y1 - Y0, X1 - X0), np.uint8)
            pts = cnt * s + ((s - 1) // 2 - np.array([X0, Y0]))
            cv2.drawContours(own, [pts.astype(np.int32)], -1, 1, thickness=-1)
            if s > 1:
                own = cv2.dilate(own, self._own_kernel)
            fg = cv2.threshold(roi, self.threshold, 1, cv2.THRESH_BINARY)[1] & own
            fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._kernel)
            blob = self._blob_from_mask(fg, roi, X0, Y0)
            if blob is not None:
                blob._roi = (X0, Y0, roi, fg)  # kept for splitting merged animals
                blobs.append(blob)
        return blobs

    def _blob_from_mask(self, fg, roi, X0, Y0) -> Blob | None:
        """:func:`_blob_from_pixels` from image moments (all in OpenCV, no pixel lists)."""
        import cv2

        m = cv2.moments(fg, True)
        n = m["m00"]
        if n < max(5, self.min_area):
            return None
        cx, cy = m["m10"] / n, m["m01"] / n
        sxx, syy, sxy = m["mu20"] / n, m["mu02"] / n, m["mu11"] / n
        axis = 0.5 * np.arctan2(2 * sxy, sxx - syy)
        common = np.sqrt(((sxx - syy) / 2) ** 2 + sxy**2)
        lam1 = (sxx + syy) / 2 + common
        lam2 = max((sxx + syy) / 2 - common, 0.0)
        if self.core_threshold is not None:
            core = cv2.threshold(roi, self.core_threshold, 1, cv2.THRESH_BINARY)[1] & fg
            mc = cv2.moments(core, True)
            if mc["m00"] >= max(5, 0.2 * n):
                axis = 0.5 * np.arctan2(2 * mc["mu11"], mc["mu20"] - mc["mu02"])
        mw = cv2.moments(roi * fg, False)
        ux, uy = np.cos(axis), np.sin(axis)
        if mw["m00"] > 0:
            wx, wy = mw["m10"] / mw["m00"], mw["m01"] / mw["m00"]
            cue = ((wx - cx) * ux + (wy - cy) * uy) / max(np.sqrt(lam1), 1e-6)
        else:
            cue = 0.0
        if axis <= -np.pi / 2:
            axis += np.pi
        return Blob(
            np.array([cx + X0, cy + Y0]),
            float(axis),
            float(cue),
            float(n),
            float(np.sqrt(lam1)),
            float(np.sqrt(lam2)),
        )

    def detect(self, gray: np.ndarray, previous: np.ndarray | None = None) -> list[Blob]:
        """Up to ``n_animals`` blobs; touching animals split (and marked ``merged``).

        ``previous``: ``(n_animals, 2)`` centres of the last frame (NaN where unknown),
        used to seed the split of touching animals.
        """
        blobs = self.candidates(gray)
        want = self.n_animals
        area1 = self.animal_area if np.isfinite(self.animal_area) else None
        if area1 is not None:
            # drop specks much smaller than an animal while enough real blobs remain
            plausible = [b for b in blobs if b.area >= 0.25 * area1]
            if len(plausible) >= min(want, len(blobs)) or len(plausible) >= want:
                blobs = plausible
        blobs.sort(key=lambda b: -b.area)
        missing = want - len(blobs)
        while missing > 0 and blobs and area1 is not None:
            # split the blob that holds the most animals beyond one
            big = max(blobs, key=lambda b: b.area / area1)
            k = int(min(missing + 1, max(2, round(big.area / area1))))
            if big.area < 1.4 * area1 or big.merged:
                break
            parts = self.split(big, k, previous)
            if len(parts) < 2:
                break
            blobs.remove(big)
            blobs.extend(parts)
            missing = want - len(blobs)
        if len(blobs) > want and previous is None:
            blobs = blobs[:want]
        return blobs

    def split(self, blob: Blob, k: int, previous: np.ndarray | None = None) -> list[Blob]:
        """Split a blob of ``k`` touching animals: raise the threshold until ``k`` bodies
        separate and give every pixel to the nearest body; else k-means seeded by
        ``previous`` centres."""
        import cv2

        X0, Y0, roi, fg = blob._roi
        markers = None
        for factor in (1.4, 1.8, 2.3, 2.9, 3.6):
            t = self.threshold * factor
            if t >= 250:
                break
            core = ((roi > t) & fg.astype(bool)).astype(np.uint8)
            core = cv2.erode(core, self._kernel)
            n, lab, stats, _ = cv2.connectedComponentsWithStats(core, connectivity=8)
            big = [j for j in range(1, n) if stats[j, 4] >= max(self.min_area, 0.05 * blob.area)]
            if len(big) >= k:
                big = sorted(big, key=lambda j: -stats[j, 4])[:k]
                markers = np.zeros_like(lab, dtype=np.int32)
                for m, j in enumerate(big, 1):
                    markers[lab == j] = m
                break
        ys, xs = np.nonzero(fg)
        if markers is not None:
            # nearest marker for every foreground pixel
            inv = (markers == 0).astype(np.uint8)
            _, nearest = cv2.distanceTransformWithLabels(
                inv, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_CCOMP
            )
            # map distance-transform labels to marker ids
            lut = np.zeros(nearest.max() + 1, np.int32)
            mk = markers > 0
            lut[nearest[mk]] = markers[mk]
            assign = lut[nearest[ys, xs]] - 1
        else:
            assign = self._kmeans(xs + X0, ys + Y0, k, previous)
        parts = []
        for m in range(k):
            sel = assign == m
            b = _blob_from_pixels(
                xs[sel] + X0, ys[sel] + Y0, roi[ys[sel], xs[sel]], True, self.core_threshold
            )
            if b is not None and b.area >= self.min_area:
                parts.append(b)
        return parts

    @staticmethod
    def _kmeans(xs, ys, k, previous) -> np.ndarray:
        pts = np.stack([xs, ys], 1).astype(np.float64)
        seeds = None
        if previous is not None:
            prev = np.asarray(previous, float)
            prev = prev[np.all(np.isfinite(prev), axis=1)]
            if len(prev) >= k:
                # the k previous centres nearest to this blob
                c = pts.mean(0)
                seeds = prev[np.argsort(np.linalg.norm(prev - c, axis=1))[:k]].copy()
        if seeds is None:
            rng = np.random.default_rng(0)
            seeds = pts[rng.choice(len(pts), k, replace=False)]
        for _ in range(15):
            d = ((pts[:, None, :] - seeds[None]) ** 2).sum(-1)
            assign = d.argmin(1)
            new = np.array(
                [pts[assign == m].mean(0) if np.any(assign == m) else seeds[m] for m in range(k)]
            )
            if np.allclose(new, seeds, atol=0.05):
                break
            seeds = new
        return assign


def sample_indices(n_frames: int, n: int = 40) -> np.ndarray:
    return np.unique(np.linspace(0, n_frames - 1, min(n, n_frames)).round().astype(int))


def make_detector(
    frames: np.ndarray,
    n_animals: int = 1,
    polarity: str = "auto",
    threshold: float | None = None,
    background: str = "auto",
    scale: int | None = None,
    min_area: float | None = None,
    core_threshold: float | None = None,
    saved_background: np.ndarray | None = None,
    saved_length: float = float("nan"),
) -> Detector:
    """Set up a :class:`Detector` from sampled frames ``(n, height, width[, channels])``.

    Measures the typical animal (area, length) on the samples, so box sizes and
    the splitting of touching animals need no tuning. ``saved_background`` (of an
    earlier alignment, with its animal length) replaces the samples' own
    background where :func:`background_agrees` says it is the same scene.
    """
    if n_animals < 1:
        raise LeapError(f"the number of animals must be at least 1 (got {n_animals}).")
    gray = np.stack([to_gray(f) for f in frames])
    if gray.min() == gray.max():
        raise LeapError(
            f"the sampled frames are blank (every pixel is grey level {int(gray.min())}); "
            "check that the video shows the animals."
        )
    pol = normalize_polarity(polarity)
    if pol == "auto":
        pol = guess_polarity(gray)
    if background not in BACKGROUNDS:
        raise LeapError(
            f"background {background!r} is not known; use one of {', '.join(BACKGROUNDS)}."
        )
    h, w = gray.shape[1:]
    if scale is None:
        scale = 4 if min(h, w) >= 1024 else 2 if min(h, w) >= 256 else 1
    scale = int(max(1, scale))
    method = "percentile" if background == "auto" else background
    bg = estimate_background(gray, pol, method)
    con = np.stack([contrast(g, bg, pol) for g in gray])
    thr = auto_threshold(con) if threshold is None else float(threshold)
    if not 0 < thr < 255:
        raise LeapError(f"threshold {threshold} must be between 0 and 255 (grey levels).")
    saved = saved_background is not None and background_agrees(
        to_gray(saved_background), bg, thr, int(n_animals), saved_length
    )
    if saved:
        bg = to_gray(saved_background)
        if threshold is None:
            thr = auto_threshold(np.stack([contrast(g, bg, pol) for g in gray]))
    det = Detector(
        bg,
        pol,
        thr,
        int(n_animals),
        scale,
        20.0 if min_area is None else float(min_area),
        core_threshold=core_threshold,
    )
    _measure(det, gray)
    if background == "auto" and not saved and not _found_enough(det, gray):
        # animals that never move are part of a percentile background: threshold instead
        flat = estimate_background(gray, pol, "none")
        alt = Detector(
            flat,
            pol,
            thr
            if threshold is not None
            else auto_threshold(np.stack([contrast(g, flat, pol) for g in gray])),
            int(n_animals),
            scale,
            det.min_area,
            core_threshold=core_threshold,
        )
        _measure(alt, gray)
        if _found_enough(alt, gray) or not np.isfinite(det.animal_area):
            alt.options = {"background": "none"}
            det = alt
    det.options.setdefault("background", method)
    return det


def background_agrees(
    saved: np.ndarray, own: np.ndarray, threshold: float, n_animals: int, animal_length: float
) -> bool:
    """True when ``saved`` (an earlier alignment's background) and a video's ``own`` are one
    scene: they differ by more than half the threshold on no more than an animal length
    squared per animal, the patches animals that sat still in either set of samples leave.

    A frame range or a short cut in which the animals never move has them in its own
    background (and finds none); the saved one, from frames where they moved, still
    finds them. Another camera, arena or frame size keeps its own background.
    """
    import cv2

    if saved.shape != own.shape or not np.isfinite(animal_length) or animal_length <= 0:
        return False
    differ = int(np.count_nonzero(cv2.absdiff(saved, own) > threshold / 2))
    return differ <= n_animals * animal_length**2


def _measure(det: Detector, gray: np.ndarray) -> None:
    """Typical animal area and length, and the core threshold: halfway between the
    foreground threshold and Otsu's threshold over the animals' own contrast (bodies
    are more contrasted than wings, legs and tails)."""
    import cv2

    areas, lengths, values = [], [], []
    for g in gray:
        blobs = sorted(det.candidates(g), key=lambda b: -b.area)[: det.n_animals]
        if len(blobs) == det.n_animals:
            areas += [b.area for b in blobs]
            lengths += [4 * b.major for b in blobs]
            for b in blobs:
                roi, fg = b._roi[2], b._roi[3]
                values.append(roi[fg.astype(bool)])
    if values and det.core_threshold is None:
        v = np.ascontiguousarray(np.concatenate(values)).reshape(-1, 1)
        otsu, _ = cv2.threshold(v, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        det.core_threshold = float((det.threshold + max(otsu, det.threshold)) / 2)
    if areas:
        det.animal_area = float(np.median(areas))
        det.animal_length = float(np.median(lengths))
        if det.min_area == 20.0:
            det.min_area = float(max(5.0, min(20.0, 0.1 * det.animal_area)))


def _found_enough(det: Detector, gray: np.ndarray) -> bool:
    if not np.isfinite(det.animal_area):
        return False
    hits = sum(len(det.detect(g)) >= det.n_animals for g in gray)
    return hits >= 0.5 * len(gray)
