"""The must-show figures on the real two-fly clip (1500 frames, 1024x1024), against its labels.

Every labelled fly is matched to the nearest aligned animal (centre to thorax); the
heading is compared with the thorax->head direction. Takes about 10 s.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import CLIP, CLIP_LABELS
from napari_leap.align.alignment import align, correct_headings
from napari_leap.align.identity import wrap


def clip_labels():
    import sleap_io

    labels = sleap_io.load_slp(str(CLIP_LABELS))
    nodes = labels.skeleton.node_names
    head, thorax = nodes.index("head"), nodes.index("thorax")
    tracks = [t.name for t in labels.tracks]
    n = 1500
    pts = np.full((n, len(tracks), 2, 2), np.nan)  # frame, track, (head, thorax), xy
    for lf in labels.labeled_frames:
        for inst in lf.instances:
            xy = inst.numpy()
            pts[lf.frame_idx, tracks.index(inst.track.name)] = xy[[head, thorax]]
    return tracks, pts


def clip_figures(alignment, pts):
    """Heading errors (deg), centre errors (px) and matched aligned index per labelled fly."""
    n, k = pts.shape[:2]
    idx = np.full((n, k), -1)
    herr = np.full((n, k), np.nan)
    cerr = np.full((n, k), np.nan)
    for t in range(n):
        for a in range(k):
            head, thorax = pts[t, a]
            if not np.all(np.isfinite(pts[t, a])):
                continue
            d = np.linalg.norm(alignment.centers[t] - thorax, axis=1)
            j = int(np.argmin(d))
            idx[t, a], cerr[t, a] = j, d[j]
            true = np.arctan2(head[1] - thorax[1], head[0] - thorax[0])
            herr[t, a] = np.degrees(abs(wrap(alignment.angles[t, j] - true)))
    ok = idx >= 0
    return herr[ok], cerr[ok], idx


@pytest.fixture(scope="module")
def clip_alignment():
    return align(CLIP, n_animals=2)


def test_real_clip_headings_centres_and_identities(clip_alignment):
    tracks, pts = clip_labels()
    assert tracks == ["female", "male"]
    herr, cerr, idx = clip_figures(clip_alignment, pts)
    assert len(herr) > 2900  # both flies labelled in (nearly) every frame
    print(
        f"median heading error {np.median(herr):.2f} deg, flips {100 * np.mean(herr > 90):.2f}%, "
        f"median centre error {np.median(cerr):.2f} px"
    )
    assert np.median(herr) <= 5.0
    assert np.mean(herr > 90) <= 0.01
    assert np.median(cerr) <= 10.0
    female = idx[:, 0][idx[:, 0] >= 0]
    male = idx[:, 1][idx[:, 1] >= 0]
    assert len(set(female)) == 1 and len(set(male)) == 1  # never swapped
    assert female[0] != male[0]
    assert clip_alignment.options["polarity"] == "light"  # flies are bright on dark
    assert clip_alignment.boxes.shape == (
        1500,
        2,
        clip_alignment.box_size,
        clip_alignment.box_size,
        1,
    )


def test_real_clip_boxes_face_up(clip_alignment):
    """In the box, the labelled head lies above the centre and the thorax near it."""
    _, pts = clip_labels()
    frames = np.arange(0, 1500, 50)
    for t in frames:
        for a in range(2):
            head, thorax = pts[t, a]
            j = int(np.argmin(np.linalg.norm(clip_alignment.centers[t] - thorax, axis=1)))
            hb = clip_alignment.video_to_box(head, t, j)
            c = (clip_alignment.box_size - 1) / 2
            assert hb[1] < c - 10 and abs(hb[0] - c) < 12


def test_labels_check_agrees_on_the_real_clip(clip_alignment):
    _, pts = clip_labels()
    frames = np.arange(0, 1500, 100)
    rows = [(t, pts[t, a, 0], pts[t, a, 1]) for t in frames for a in range(2)]
    f = np.array([r[0] for r in rows])
    report = correct_headings(
        clip_alignment, f, np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
    )
    assert report["checked"] == len(rows) and report["disagreed"] == 0 and report["changed"] == 0


def test_labels_as_poses_correct_a_deliberately_flipped_run(clip_alignment):
    import copy

    from napari_leap.align.alignment import correct_with_poses
    from napari_leap.io.labels import load_labels, poses_from_labels

    poses = poses_from_labels(load_labels(CLIP_LABELS)).select(slice(0, 1500, 150))
    al = copy.deepcopy(clip_alignment)
    al.flip(620, 0)  # a person's mistake: a whole run turned backwards
    _, pts = clip_labels()
    assert np.mean(clip_figures(al, pts)[0] > 90) > 0.1
    report = correct_with_poses(al, poses, front="head", back="thorax")
    assert report["disagreed"] > 0
    herr, _, _ = clip_figures(al, pts)
    assert np.mean(herr > 90) <= 0.01 and np.median(herr) <= 5
