"""Find animals in one frame: background, polarity, threshold, blobs and their moments.

The :class:`Detector` is set up once per video from a few sampled frames
(:func:`make_detector`, settings in a :class:`DetectorConfig`) and then called
on every frame. No Qt, no napari.

Head/tail cue: the contrast-weighted centroid of a blob minus its binary
centroid, projected on the principal axis. Bodies (head, thorax) are more
contrasted than wings, legs and tails, so this points towards the head; it
agrees with the thorax->head labels on every sampled frame of the bundled
clip. Temporal smoothing (:mod:`napari_leap.align.identity`) fixes the rest.
"""

from napari_leap.align.detect.background import (
    BACKGROUNDS,
    POLARITIES,
    POLARITY_ALIASES,
    auto_threshold,
    background_agrees,
    contrast,
    estimate_background,
    guess_polarity,
    normalize_polarity,
    sample_indices,
    to_gray,
)
from napari_leap.align.detect.detector import Blob, Detector
from napari_leap.align.detect.setup import DetectorConfig, make_detector

__all__ = [
    "BACKGROUNDS",
    "POLARITIES",
    "POLARITY_ALIASES",
    "Blob",
    "Detector",
    "DetectorConfig",
    "auto_threshold",
    "background_agrees",
    "contrast",
    "estimate_background",
    "guess_polarity",
    "make_detector",
    "normalize_polarity",
    "sample_indices",
    "to_gray",
]
