"""Accuracy of predicted poses against ground truth, measured the way the field reports it.

Errors are Euclidean distances in pixels between matched points. Matching, in order:

* frames by ``(video, frame index)``; videos by full path, then by file name, then
  (for what is left) by their order in each file;
* animals per frame by the assignment (Hungarian, ``scipy.optimize.linear_sum_assignment``)
  that minimises the sum of mean per-node distances over nodes visible in both;
* body parts by name, so a prediction skeleton may order (or lack) nodes differently.

A ground-truth point with no prediction (its animal was not matched, or the node is
missing in the matched prediction) is *counted* in ``n_missing`` and is never averaged
into the error statistics, which would otherwise reward a model for skipping hard points.
It does count as a failure in PCK, whose denominator is ``n_points``.

``to_dict()`` keys:

* ``n_points``: visible ground-truth points in the evaluated frames;
* ``n_missing``: of those, points with no predicted counterpart;
* ``mean_px``, ``median_px``, ``p90_px``, ``p95_px``: statistics of the errors of the
  predicted points (percentiles as ``np.percentile`` computes them, linear interpolation);
* ``pck``: fraction of ``n_points`` with error ``<=`` a threshold (inclusive). Keys
  ``"<t>px"`` for thresholds in pixels (``"1px"``, ``"2px"``, ``"5px"``, ``"10px"``) and
  ``"<f>bl"`` for fractions of the animal's body length (``"0.05bl"``, ``"0.1bl"``,
  ``"0.2bl"``); numbers are written with ``format(x, "g")``;
* ``map_oks``: COCO-style mean average precision over OKS thresholds 0.50:0.05:0.95;
* ``per_node``: node name -> the same keys except ``map_oks``.

Statistics of an empty set are ``None`` in ``to_dict()`` (JSON has no NaN).

OKS follows COCO and SLEAP (``sleap.nn.evals.compute_oks``):
``OKS = mean over visible GT nodes of exp(-d^2 / (2 s^2 k_i^2))`` with ``s^2`` the area of
the bounding box of the visible ground-truth points (plus ``np.spacing(1)``) and
``k_i = 2 sigma_i``. Uniform sigmas are SLEAP's default ``sigma = 0.025`` (``k = 0.05``),
COCO's smallest (eye) sigma: pose models of small animals are judged at eye-level
precision for every node, and numbers stay comparable with SLEAP's reports. Sigmas
estimated from the data follow the COCO keypoint procedure, ``sigma_i^2 = E[d_i^2 / s^2]``,
over the matched points of node ``i``; these make OKS relative to this model's own spread,
so use them to compare nodes, not models. Average precision is computed like COCO: per
OKS threshold, predictions of a frame are taken in order of score and each is greedily
matched to the unmatched ground-truth animal of highest OKS at or above the threshold;
unmatched predictions are false positives (SLEAP drops them; COCO counts them, as do we),
then precision is interpolated at the 101 recall points 0:0.01:1.

Modules: ``result`` (:class:`EvaluationResult`, its table and plot), ``oks`` (OKS and
COCO average precision), ``arrays`` (:func:`evaluate_arrays`: animals matched per frame)
and ``labels`` (:func:`evaluate`: labels files matched by video and frame).
"""

from napari_leap.pose.evaluate.arrays import evaluate_arrays, match_animals
from napari_leap.pose.evaluate.labels import evaluate, match_videos
from napari_leap.pose.evaluate.oks import (
    OKS_THRESHOLDS,
    RECALL_THRESHOLDS,
    UNIFORM_SIGMA,
    average_precision,
    compute_oks,
    instance_area,
)
from napari_leap.pose.evaluate.result import EvaluationResult, pck_key_bl, pck_key_px

__all__ = [
    "OKS_THRESHOLDS",
    "RECALL_THRESHOLDS",
    "UNIFORM_SIGMA",
    "EvaluationResult",
    "average_precision",
    "compute_oks",
    "evaluate",
    "evaluate_arrays",
    "instance_area",
    "match_animals",
    "match_videos",
    "pck_key_bl",
    "pck_key_px",
]
