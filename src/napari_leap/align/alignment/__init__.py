"""Align a video: every animal found, its identity kept, cropped and rotated head-up.

``align(video, n_animals, box_size)`` streams the video once and returns an
:class:`Alignment`; ``iter_align`` is the same as a generator of
:class:`AlignProgress` events (``return`` value: the Alignment) for a napari
``thread_worker`` or a tqdm bar; closing it stops the work. Box conventions:
:mod:`~napari_leap.align.alignment.geometry`.

Modules: ``options`` (options, flags, checks), ``readers`` (frames in),
``stream`` (the pass), ``store`` (the Alignment contract), ``files`` (its
folder), ``geometry`` (box transforms), ``heading`` (correction from labels),
``boxes`` (writing them).

Flags (comma-separated in ``Alignment.flags``, "" when fine): ``unreadable``,
``lost``, ``merged`` (touching animals, split), ``identity_uncertain`` (after
an encounter, two identity assignments fit about equally), ``heading_jump``
(> 90 degrees from the previous frame), ``cue_disagrees`` (the chosen heading
goes against a confident image cue), ``labels_disagree`` (a labelled frame
pointed the other way, see :func:`correct_headings`).
"""

from napari_leap.align.alignment.boxes import iter_write_boxes, write_boxes
from napari_leap.align.alignment.files import FORMAT_VERSION
from napari_leap.align.alignment.heading import correct_headings, correct_with_poses
from napari_leap.align.alignment.options import (
    DEFAULT_OPTIONS,
    FLAG_REASONS,
    AlignProgress,
    check_box_size,
    check_n_animals,
    default_box_size,
    resolve_options,
)
from napari_leap.align.alignment.readers import MAX_BAD_RUN, prefetch, sample_frames
from napari_leap.align.alignment.store import Alignment, Measures
from napari_leap.align.alignment.stream import align, detect_frame, iter_align, setup_detector

__all__ = [
    "DEFAULT_OPTIONS",
    "FLAG_REASONS",
    "FORMAT_VERSION",
    "MAX_BAD_RUN",
    "AlignProgress",
    "Alignment",
    "Measures",
    "align",
    "check_box_size",
    "check_n_animals",
    "correct_headings",
    "correct_with_poses",
    "default_box_size",
    "detect_frame",
    "iter_align",
    "iter_write_boxes",
    "prefetch",
    "resolve_options",
    "sample_frames",
    "setup_detector",
    "write_boxes",
]
