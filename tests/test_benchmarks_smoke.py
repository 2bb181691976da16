"""The benchmark scripts' bookkeeping: protocol helpers, summaries, and the committed figures.

The benchmarks themselves take many minutes; these tests check what turns their runs into
the numbers quoted in benchmarks/README.md, and that the committed JSON still renders.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


acc = load("accuracy_vs_labels")
tte = load("time_to_error")
anylab = load("any_lab_data")
steprate = load("step_rate")
sbs = load("side_by_side")


def test_clip_training_frames_are_spread_over_the_first_two_thirds_only():
    cut = 1000
    for n in (10, 25, 50, 80):
        frames = acc.chosen_frames(n, cut)
        assert len(np.unique(frames)) == n
        assert frames.min() == 0 and frames.max() == cut - 1
        gaps = np.diff(frames)
        assert gaps.max() - gaps.min() <= 1  # evenly spread, not clustered


def test_fly32_split_is_first_80_against_last_20():
    pool, test = acc.fly32_sets()
    assert len(pool) == 80 and len(test) == 20
    assert not np.isin(test.groups, pool.groups).any()


def run(seed, median, p90):
    return {
        "seed": seed,
        "median_px": median,
        "p90_px": p90,
        "mean_px": median + 1,
        "pck": {"0.1bl": 0.5},
        "map_oks": 0.25,
        "train_seconds": 10.0 * (seed + 1),
    }


def test_summary_is_mean_min_max_over_seeds():
    runs = {"10": {"0": run(0, 3.0, 9.0), "1": run(1, 5.0, 11.0)}, "80": {"0": run(0, 1.5, 4.0)}}
    s = acc.summarise(runs)
    assert s["10"]["seeds"] == [0, 1]
    assert s["10"]["median_px"] == {"mean": 4.0, "min": 3.0, "max": 5.0}
    assert s["10"]["train_seconds"]["mean"] == pytest.approx(15.0)
    assert s["80"]["p90_px"] == {"mean": 4.0, "min": 4.0, "max": 4.0}
    table = acc.table(
        {
            "fly32": {
                "runs": {
                    c: {k: {**r, "epochs": 3, "best_epoch": 2} for k, r in v.items()}
                    for c, v in runs.items()
                },
                "summary": s,
            }
        }
    )
    assert "| fly32 | 10 | 2 | 4.00 (3.00-5.00) |" in table


def test_time_to_error_takes_the_first_crossing_and_never_extrapolates():
    curve = [
        {"cpu_seconds": 5.0, "seconds": 10.0, "median_px": 9.0},
        {"cpu_seconds": 9.0, "seconds": 20.0, "median_px": 2.9},
        {"cpu_seconds": 14.0, "seconds": 30.0, "median_px": 3.5},
        {"cpu_seconds": 20.0, "seconds": 40.0, "median_px": 1.9},
    ]
    assert tte.first_reached(curve, 3.0) == 9.0  # CPU seconds by default
    assert tte.first_reached(curve, 3.0, "seconds") == 20.0
    assert tte.first_reached(curve, 2.0) == 20.0
    assert tte.first_reached(curve, 1.0) is None


@pytest.mark.parametrize("module,name", [(acc, "accuracy_vs_labels"), (tte, "time_to_error")])
def test_committed_figures_render(module, name, tmp_path):
    path = BENCH / f"{name}.json"
    if not path.exists():
        pytest.skip(f"{path.name} not generated yet")
    results = json.loads(path.read_text())
    module.plot(results, tmp_path / "figure.png")
    assert (tmp_path / "figure.png").stat().st_size > 10_000
    assert module.table(results).count("\n") >= 2


def test_any_lab_data_fly32_split_is_what_users_have(tmp_path):
    """Crops 0-79 / 80-99 as packages with embedded images, read back as the same crops."""
    from napari_leap.pose.dataset import DataOptions, load_box_h5, load_training_data

    split = anylab.split_fly32(tmp_path, BENCH.parent / "src")
    assert split["counts"] == [80, 0, 20] and split["train"].name.endswith(".pkg.slp")
    crops = load_box_h5(
        BENCH.parent / "src/napari_leap/sample_data/fly32/example_annotation_set.h5"
    )
    for key, rows in (("train", np.arange(80)), ("test", np.arange(80, 100))):
        data = load_training_data(split[key], DataOptions(align=False))
        np.testing.assert_array_equal(data.images, crops.images[rows])
        np.testing.assert_allclose(data.points, crops.points[rows], atol=1e-4)
        assert data.skeleton.symmetries == crops.skeleton.symmetries


def test_any_lab_data_table_says_what_the_user_got():
    results = {
        "a81db77": {
            "minutes": 7,
            "datasets": {
                "reaching": {"counts": [38, 6, 11], "error": "ValueError: all input arrays"},
                "fly32": {
                    "counts": [80, 0, 20],
                    "median_px": 2.5,
                    "p95_px": 9.0,
                    "n_points": 640,
                    "n_missing": 0,
                    "train_seconds": 466.0,
                    "steps": 1500,
                    "steps_counted": False,
                    "input_scale": 1.0,
                    "batch_size": 8,
                    "warnings": ["napari-leap predict: warning: the frames have 3 channel(s)"],
                },
            },
        }
    }
    rows = anylab.table(results).splitlines()
    assert rows[2].startswith("| a81db77 (7 min) | reaching | 38 / 6 / 11 | - |")
    assert rows[2].endswith("| ValueError: all input arrays |")
    assert "| 2.50 | 9.00 | 0 of 640 | 466 | 1500 (epochs' worth) | 1 | 8 |" in rows[3]
    assert "3 channel(s)" in rows[3]


def test_side_by_side_table_renders_the_committed_runs():
    results = json.loads((BENCH / "side_by_side.json").read_text())
    rows = sbs.table(results).splitlines()
    pairs = sum(len(entry["datasets"]) for entry in results.values())
    assert len(rows) == 2 + 2 * pairs  # a row per setting of every data set
    assert all(row.count("|") == 10 for row in rows[2:])
    failed = {
        "x": {"settings": {"a": {}, "b": {}}, "datasets": {"fly32": {"a": {"error": "boom"}}}}
    }
    assert "| x | fly32 | {} | boom |" in sbs.table(failed)


def test_step_rate_fit_recovers_a_linear_cost():
    rows = [
        {"side": s, "batch": b, "wall_s": 0.02 + 3e-6 * b * s * s}
        for s in (64, 128, 256)
        for b in (2, 8)
    ]
    a, b, worst = steprate.fit(rows)
    assert a == pytest.approx(0.02, rel=1e-6) and b == pytest.approx(3e-6, rel=1e-6)
    assert worst < 1e-9


def test_pasted_flies_keep_their_labels_on_their_crops(tmp_path):
    """boxed_or_full.py's frames: each crop where its labels say, in frames of two sizes."""
    import h5py

    from napari_leap.io.labels import load_labels, poses_from_labels
    from napari_leap.io.video import video_source

    boxed = load("boxed_or_full")
    csvs = boxed.write_frames(tmp_path, [(400, 360), (330, 300)])
    poses = poses_from_labels(load_labels(csvs["test"]))
    source = video_source(csvs["test"].parent)
    assert len(poses.frames) == 20 and source.sizes == [(300, 330), (360, 400)]
    with h5py.File(boxed.FLY32 / "example_annotation_set.h5") as f:
        crop, truth = f["images"][80, ..., 0], f["annotations"][80]
    offset = poses.points[0, 0] - truth  # one shift for every part of the fly
    assert np.ptp(offset, axis=0).max() < 1e-2
    x0, y0 = np.round(offset[0]).astype(int)
    assert np.array_equal(source.read(0)[y0 : y0 + 192, x0 : x0 + 192, 0], crop)


def test_label_drift_finds_where_a_label_lies_from_the_tip_it_marks():
    drift = load("label_drift")
    yy, xx = np.mgrid[:120, :120]
    image = 255 * np.exp(-((xx - 60.0) ** 2 + (yy - 50.0) ** 2) / (2 * 4.0**2))
    template = drift._patch(image, (60.0, 50.0), drift.HALF)
    found, score = drift._match(image, template, (63.0, 56.0))  # clicked 3 px right, 6 down
    assert np.allclose(found, (60.0, 50.0), atol=0.3) and score > 0.99


def test_label_drift_counts_each_parts_points_within_the_goal(tmp_path):
    import sleap_io as sio

    drift = load("label_drift")
    skeleton = sio.Skeleton(["Finger1", "Hand", "Joystick1", "Joystick2", "Tongue"])
    video = sio.Video(filename="frames.mp4")
    truth = np.array([[10, 10], [20, 20], [30, 30], [40, 40], [np.nan, np.nan]], float)

    def labels(shifts, frames=(0, 1)):
        lfs = [
            sio.LabeledFrame(video, f, [sio.Instance.from_numpy(truth + s, skeleton)])
            for f, s in zip(frames, shifts, strict=True)
        ]
        return sio.Labels(lfs, videos=[video], skeletons=[skeleton])

    test, pred = tmp_path / "test.slp", tmp_path / "pred.slp"
    sio.save_slp(labels([0.0, 0.0]), str(test))
    sio.save_slp(labels([np.array([3.0, 4.0])], frames=(0,)), str(pred))  # frame 1 not found
    r = drift.prediction_figures(test, pred)
    assert r["per_part_within_goal"]["Hand"] == "1 of 2"  # 5 px off, and one missed
    assert r["per_part_within_goal"]["Tongue"] == "0 of 0"
    assert r["median_px"] == np.inf  # half of the 8 labelled points were not found
