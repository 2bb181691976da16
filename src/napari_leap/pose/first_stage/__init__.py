"""Learned alignment's first stage: a network finds every animal and its heading on any background.

Trained from the same labels as the pose model (no video, no background
model): on each labelled frame, downscaled so that the animal's anchor and
heading part lie about ``PART_PX`` pixels apart, a small U-Net learns
confidence maps of every body part (the animal's whole shape, so a neighbour's
part is not taken for its own) and is read for two, the *anchor* (e.g. a fly's
abdomen) and the *heading part* (e.g. its head). On a new frame the anchor
map's local maxima are the animals, each is paired with a heading-part peak
(Hungarian matching on how far their distance is from the labelled one), and
the angle anchor -> heading part is the heading. Identities follow by Hungarian
matching across frames (:func:`napari_leap.align.identity.assign`) and a heading
does not turn round from one frame to the next unless the network insists
(:class:`Tracker`); tracking is online, so prediction runs both stages in one
pass over a video (:mod:`napari_leap.pose.two_stage`). :func:`iter_align_learned`
gives the same as an :class:`~napari_leap.align.alignment.Alignment`, so boxes,
predictions, layers and exports are the same whichever alignment made them.

A box's centre is not the anchor itself but a fixed point of the animal's own
frame (:func:`box_geometry`): the middle of where its labelled parts lie once
head-up, so a snout/tail-base pair still centres the whole mouse.

Modules: ``parts`` (which two body parts), ``geometry`` (the animal's own frame,
the downscaled frame), ``aligner`` (peaks to animals, a whole video), ``tracker``,
``windows`` (on a video, the first stage on windows round the tracks) and
``training`` (the first stage's crops, config and errors; it trains in
:func:`napari_leap.pose.train.iter_train_first_stage`).
"""

from napari_leap.pose.first_stage.aligner import (
    LearnedAligner,
    animal_length,
    iter_align_learned,
    pair_parts,
)
from napari_leap.pose.first_stage.geometry import (
    FIRST_STAGE_DIR,
    box_geometry,
    downscale,
    from_own_frame,
    instance_alignment,
    to_frame,
    to_own_frame,
    to_scaled,
)
from napari_leap.pose.first_stage.parts import LearnedAlignmentError, Parts, choose_parts
from napari_leap.pose.first_stage.tracker import FLIP_AFTER, Tracker
from napari_leap.pose.first_stage.training import (
    first_stage_crops,
    first_stage_errors,
    jitter_for,
    summarise_errors,
)

__all__ = [
    "FIRST_STAGE_DIR",
    "FLIP_AFTER",
    "LearnedAligner",
    "LearnedAlignmentError",
    "Parts",
    "Tracker",
    "animal_length",
    "box_geometry",
    "choose_parts",
    "downscale",
    "first_stage_crops",
    "first_stage_errors",
    "from_own_frame",
    "instance_alignment",
    "iter_align_learned",
    "jitter_for",
    "pair_parts",
    "summarise_errors",
    "to_frame",
    "to_own_frame",
    "to_scaled",
]
