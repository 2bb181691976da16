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
