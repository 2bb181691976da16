"""Learned alignment against background alignment on the bundled two-fly clip (1500 frames).

    python benchmarks/align_learned.py [--minutes 3] [--model DIR] [--pose] [--speed] [--threads 2]
    python benchmarks/align_learned.py --centered-pair [--minutes 3]

Trains a learned-alignment model (both stages, ``train(..., TrainConfig(align="learned"))``) from the
standard 50 labelled frames (spread over frames 0-999, both flies), then aligns all 1500
frames with its first stage and with background alignment, and scores both against the
clip's labels like ``benchmarks/align.py``: heading error (median, 95th percentile),
head/tail flips (> 90 degrees), box centre to thorax (median, p95), identity swaps, and
frames/s of each alignment pass. The first stage's own figures on frames 1000-1499 (never
labelled) are given apart, since the 50 training frames come from 0-999. ``--pose``
also trains a background-aligned pose model with the same budget and scores both
pipelines end to end (prediction of frames 1000-1499 against the labels): the measurement
behind the automatic choice between the two when labels come with a video. ``--model``
reuses a trained learned model instead of training one (``--background-model`` the same
for the background one). ``--speed`` times whole-clip prediction,
interleaved so every way sees the same machine load: the background model given its
alignment (what ``benchmarks/predict.py`` calls end to end), the background model with its
alignment pass, and the learned model in one pass (both stages). Writes
``align_learned.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "src" / "napari_leap" / "sample_data" / "flies13"
CLIP = SAMPLE / "clip.mp4"
TEST = slice(1000, 1500)


def labels_50():
    """The standard protocol's labels: 50 frames spread over 0-999, both flies."""
    import sleap_io as sio

    labels = sio.load_slp(str(SAMPLE / "clip.slp"))
    keep = set(np.linspace(0, 999, 50).round().astype(int).tolist())
    return sio.Labels(
        labeled_frames=[lf for lf in labels.labeled_frames if lf.frame_idx in keep],
        videos=labels.videos,
        skeletons=labels.skeletons,
        tracks=labels.tracks,
    )


#: the shared real data (not in the repository; see the data README), or ``--data``
DATA = Path("/work/shared/data")


def pair_points(labels) -> np.ndarray:
    """(frames, 2, (head, thorax), xy) of ``centered_pair``'s predictions, two per frame."""
    nodes = labels.skeleton.node_names
    head, thorax = nodes.index("head"), nodes.index("thorax")
    pts = np.full((labels.videos[0].shape[0], 2, 2, 2), np.nan)
    for lf in labels.labeled_frames:
        for a, inst in enumerate(sorted(lf.instances, key=lambda i: -i.score)[:2]):
            pts[lf.frame_idx, a] = inst.numpy()[[head, thorax]]
    return pts


def bench_pair(args, report: dict, tmp: Path) -> None:
    """The second two-fly video (384x384, 1100 frames): learned alignment trained on 50 of
    its frames (spread over 0-799; the labels are a model's predictions) against
    background alignment, scored on frames 800-1099 (identities there are not scored: the
    reference's own tracks are fragments)."""
    import sleap_io as sio

    from napari_leap.align.alignment import iter_align
    from napari_leap.pose.first_stage import LearnedAligner, iter_align_learned
    from napari_leap.pose.train import TrainConfig, train

    pair = Path(args.data) / "centered_pair"
    labels = sio.load_slp(str(pair / "centered_pair_predictions.slp"))
    video = pair / "centered_pair_low_quality.mp4"
    labels.videos[0].replace_filename(str(video), open=False)
    keep = set(np.linspace(0, 799, 50).round().astype(int).tolist())
    chosen = [lf for lf in labels.labeled_frames if lf.frame_idx in keep]
    for lf in chosen:  # the model that made these saw a third fly now and then: the best two
        lf.instances = sorted(lf.instances, key=lambda i: -i.score)[:2]
    sub = sio.Labels(
        labeled_frames=chosen,
        videos=labels.videos,
        skeletons=labels.skeletons,
        tracks=labels.tracks,
    )
    model_dir = tmp / "pair_learned"
    train(sub, model_dir, TrainConfig(align="learned", time_limit=60 * args.minutes))
    from napari_leap.pose.trained import TrainedModel

    spec = TrainedModel.load(model_dir, device="cpu").config["alignment"]
    aligner = LearnedAligner(spec, model_dir, device="cpu")
    learned, _ = timed(iter_align_learned(str(video), aligner, int(spec["box_size"])))
    background, _ = timed(iter_align(str(video), 2))
    pts, test = pair_points(labels), slice(800, 1100)
    out = {"spec": spec}
    for name, al in (("learned", learned), ("background", background)):
        f = figures(al, pts, test)
        f.pop("identity_swaps")
        out[name] = f
        print(
            f"centered_pair frames 800-1099, {name:>10}: heading median "
            f"{f['heading_error_median_deg']:.2f} deg, p95 {f['heading_error_p95_deg']:.1f}; "
            f"flips {f['flips']} of {f['labelled_animal_frames']}; centre to thorax median "
            f"{f['centre_error_median_px']:.2f} px, p95 {f['centre_error_p95_px']:.1f}"
        )
    report["centered_pair"] = out


def figures(alignment, pts, frames=slice(None)) -> dict:
    """``benchmarks/align.py``'s figures over ``frames`` of the clip."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from test_align_clip import clip_figures

    sub = np.full_like(pts, np.nan)
    sub[frames] = pts[frames]
    herr, cerr, idx = clip_figures(alignment, sub)
    return {
        "heading_error_median_deg": float(np.median(herr)),
        "heading_error_p95_deg": float(np.percentile(herr, 95)),
        "flips": int(np.sum(herr > 90)),
        "centre_error_median_px": float(np.median(cerr)),
        "centre_error_p95_px": float(np.percentile(cerr, 95)),
        "identity_swaps": int(sum(len(set(idx[:, a][idx[:, a] >= 0])) - 1 for a in range(2))),
        "labelled_animal_frames": int(len(herr)),
        "flagged_animal_frames": int((alignment.flags[frames] != "").sum()),
    }


def timed(gen):
    from napari_leap.progress import run_to_end

    t0 = time.perf_counter()
    out = run_to_end(gen)
    return out, time.perf_counter() - t0


def pose_error(model_dir, tmp: Path) -> dict:
    """Both stages (or background + pose) on frames 1000-1499 against the clip's labels."""
    from napari_leap.pose.evaluate import evaluate
    from napari_leap.pose.predict import predict

    out = tmp / f"{Path(model_dir).name}.slp"
    t0 = time.perf_counter()
    predict(model_dir, CLIP, frames=f"{TEST.start}:{TEST.stop}", out=out)
    seconds = time.perf_counter() - t0
    res = evaluate(SAMPLE / "clip.slp", out).to_dict()
    overall = res.get("overall", res)
    keep = ("median_px", "mean_px", "p90_px", "map_oks")
    return {**{k: overall[k] for k in keep if k in overall}, "predict_seconds": seconds}


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def speed(learned_dir, background_dir, tmp: Path, repeats: int) -> dict:
    """Frames/s of whole-clip prediction three ways (medians of interleaved repeats)."""
    from napari_leap.align.alignment import align
    from napari_leap.pose.predict import jobs_from_inputs, load_model, predict

    bg = load_model(background_dir, "cpu")
    spec = bg.config["alignment"]
    al = align(str(CLIP), spec["n_animals"], spec["box_size"], **(spec.get("options") or {}))
    learned = load_model(learned_dir, "cpu")

    def given_alignment():
        (job,), _ = jobs_from_inputs(str(CLIP))
        job.alignment = al
        return predict(bg, job, out=tmp / "s1.slp", resume=False)

    ways = {
        "background_given_alignment": given_alignment,
        "background_with_alignment_pass": lambda: predict(
            bg, str(CLIP), out=tmp / "s2.slp", resume=False
        ),
        "learned_one_pass": lambda: predict(learned, str(CLIP), out=tmp / "s3.slp", resume=False),
    }
    predict(learned, str(CLIP), frames="0:64", out=tmp / "warm.slp")  # load, threads, caches
    fps: dict[str, list] = {k: [] for k in ways}
    loads = []
    for _ in range(repeats):
        for name, run in ways.items():
            loads.append(load_average())
            t0 = time.perf_counter()
            result = run()
            fps[name].append(len(result.poses[0].frames) / (time.perf_counter() - t0))
    out = {k: float(np.median(v)) for k, v in fps.items()}
    out["runs"] = fps
    out["learned_vs_given_alignment"] = out["learned_one_pass"] / out["background_given_alignment"]
    out["load_average_before_runs"] = loads
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=3.0, help="training budget per model")
    p.add_argument("--model", help="a trained learned-alignment model folder to reuse")
    p.add_argument("--background-model", help="a trained background-aligned model to reuse")
    p.add_argument("--pose", action="store_true", help="also compare whole pipelines")
    p.add_argument("--speed", action="store_true", help="time whole-clip prediction")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument(
        "--input-scale",
        type=float,
        help="both pose stages at this input scale (like for like), not the planner's choice",
    )
    p.add_argument("--keep", help="copy the trained models into this folder")
    p.add_argument(
        "--centered-pair",
        action="store_true",
        help="only the second two-fly video (DATA/centered_pair)",
    )
    p.add_argument("--data", default=str(DATA), help="folder of the shared real data")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=str(HERE / "align_learned.json"))
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(HERE.parent / "tests"))
    from napari_leap.align.alignment import iter_align
    from napari_leap.pose.first_stage import LearnedAligner, iter_align_learned
    from napari_leap.pose.train import TrainConfig, train
    from napari_leap.pose.trained import TrainedModel
    from test_align_clip import clip_labels

    _, pts = clip_labels()
    report: dict = {
        "threads": args.threads,
        "minutes": args.minutes,
        "input_scale": args.input_scale,
    }
    if args.centered_pair:
        with tempfile.TemporaryDirectory() as tmp:
            bench_pair(args, report, Path(tmp))
        Path(args.json).write_text(json.dumps(report, indent=1, default=float))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = Path(args.model) if args.model else tmp / "learned"
        if not args.model:
            t0 = time.perf_counter()
            train(
                labels_50(),
                model_dir,
                TrainConfig(
                    align="learned", time_limit=60 * args.minutes, input_scale=args.input_scale
                ),
            )
            report["learned_train_seconds"] = time.perf_counter() - t0
        spec = TrainedModel.load(model_dir, device="cpu").config["alignment"]
        report["spec"] = spec
        aligner = LearnedAligner(spec, model_dir, device="cpu")
        learned, dt = timed(iter_align_learned(str(CLIP), aligner, int(spec["box_size"])))
        report["learned"] = {
            "fps": learned.n_frames / dt,
            "all_frames": figures(learned, pts),
            "frames_1000_1499": figures(learned, pts, TEST),
        }
        background, dt = timed(iter_align(str(CLIP), 2))
        report["background"] = {
            "fps": background.n_frames / dt,
            "all_frames": figures(background, pts),
        }
        bg_dir = Path(args.background_model) if args.background_model else tmp / "background"
        if (args.pose or args.speed) and not args.background_model:
            t0 = time.perf_counter()
            train(
                labels_50(),
                bg_dir,
                TrainConfig(
                    align="background", time_limit=60 * args.minutes, input_scale=args.input_scale
                ),
            )
            report["background_train_seconds"] = time.perf_counter() - t0
        if args.pose:
            report["pose_frames_1000_1499"] = {
                "learned": pose_error(model_dir, tmp),
                "background": pose_error(bg_dir, tmp),
            }
        if args.speed:
            report["speed_frames_per_s"] = speed(model_dir, bg_dir, tmp, args.repeats)
        if args.keep:
            import shutil

            for d in (model_dir, tmp / "background"):
                if d.exists() and not str(d).startswith(str(Path(args.keep))):
                    shutil.copytree(d, Path(args.keep) / d.name, dirs_exist_ok=True)
    for name in ("learned", "background"):
        f = report[name]["all_frames"]
        print(
            f"{name:>10}: {report[name]['fps']:.0f} frames/s; heading median "
            f"{f['heading_error_median_deg']:.2f} deg, p95 {f['heading_error_p95_deg']:.1f}; "
            f"flips {f['flips']} of {f['labelled_animal_frames']}; centre to thorax median "
            f"{f['centre_error_median_px']:.2f} px, p95 {f['centre_error_p95_px']:.1f}; "
            f"identity swaps {f['identity_swaps']}; flagged {f['flagged_animal_frames']}"
        )
    t = report["learned"]["frames_1000_1499"]
    print(
        f"learned on frames 1000-1499 only: heading median {t['heading_error_median_deg']:.2f} "
        f"deg, p95 {t['heading_error_p95_deg']:.1f}, flips {t['flips']}, centre median "
        f"{t['centre_error_median_px']:.2f} px"
    )
    for name, r in report.get("pose_frames_1000_1499", {}).items():
        print(
            f"pose, {name} pipeline, frames 1000-1499: median {r['median_px']:.2f} px, "
            f"mean {r['mean_px']:.2f}, p90 {r['p90_px']:.2f}"
        )
    sp = report.get("speed_frames_per_s")
    if sp:
        print(
            f"whole-clip prediction, frames/s: background given its alignment "
            f"{sp['background_given_alignment']:.1f}, background with its alignment pass "
            f"{sp['background_with_alignment_pass']:.1f}, learned in one pass "
            f"{sp['learned_one_pass']:.1f} ({sp['learned_vs_given_alignment']:.2f}x the first); "
            f"load average {min(sp['load_average_before_runs']):.1f}-"
            f"{max(sp['load_average_before_runs']):.1f}"
        )
    Path(args.json).write_text(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
