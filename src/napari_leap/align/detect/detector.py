"""Find animals in one frame: blobs and their moments, touching animals split.

Detection runs on a frame downscaled by ``scale`` (fast connected components),
and each blob is refined at full resolution inside its own window (exact
centroid, principal axis and head/tail cue).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from napari_leap.align.detect.background import contrast, to_gray


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
    #: ``(x0, y0, contrast, foreground)`` window it was found in, for splitting merged animals
    roi: tuple = field(default=(), repr=False, compare=False)


def _second_moments(dx, dy):
    sxx, syy, sxy = (dx * dx).mean(), (dy * dy).mean(), (dx * dy).mean()
    axis = 0.5 * np.arctan2(2 * sxy, sxx - syy)
    common = np.sqrt(((sxx - syy) / 2) ** 2 + sxy**2)
    return axis, (sxx + syy) / 2 + common, max((sxx + syy) / 2 - common, 0.0)


def _blob_from_pixels(
    xs: np.ndarray, ys: np.ndarray, w: np.ndarray, merged=False, core: float | None = None
) -> Blob | None:
    """Moments of one animal's pixels.

    The centre and size come from every pixel; the axis from the ``core``
    (contrast above ``core``) when it holds enough of them, so an extended wing or
    tail does not turn the axis.
    """
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
    wf = w.astype(np.float64)
    total = wf.sum()
    weighted = ((wf @ xs) / total, (wf @ ys) / total) if total > 0 else None
    return _blob((cx, cy), axis, (lam1, lam2), weighted, n, merged)


def _blob(centre, axis: float, lams, weighted, n: float, merged: bool = False) -> Blob:
    """A Blob, its head/tail cue from the contrast-weighted centre ``weighted``.

    The cue is how far ``weighted`` lies along the axis from the centre, in units of
    the long semi-axis (0 without it).
    """
    cx, cy = centre
    lam1, lam2 = lams
    cue = 0.0
    if weighted is not None:
        wx, wy = weighted
        cue = ((wx - cx) * np.cos(axis) + (wy - cy) * np.sin(axis)) / max(np.sqrt(lam1), 1e-6)
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
        """How much each pixel of ``gray`` is "more animal" than this video's background."""
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
                blob.roi = (X0, Y0, roi, fg)
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
        weighted = (
            (mw["m10"] / mw["m00"] + X0, mw["m01"] / mw["m00"] + Y0) if mw["m00"] > 0 else None
        )
        return _blob((cx + X0, cy + Y0), axis, (lam1, lam2), weighted, n)

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
        """Split a blob of ``k`` touching animals.

        Raise the threshold until ``k`` bodies separate and give every pixel to the
        nearest body; else k-means seeded by ``previous`` centres.
        """
        import cv2

        X0, Y0, roi, fg = blob.roi
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
