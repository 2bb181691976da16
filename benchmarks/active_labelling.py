"""Active labelling vs. evenly spread labels: does labelling where the model is unsure pay?

    python benchmarks/active_labelling.py [--minutes 3] [--round-minutes 1.5]
        [--start 10] [--step 10] [--until 50] [--stride 1] [--device cuda]
    python benchmarks/active_labelling.py --quick            # a 1-2 minute smoke run
    python benchmarks/active_labelling.py --data ../shared/data/centered_pair

The clip's reference labels play the user, who accepts every suggested frame with the
reference points (a perfect correction). Active: ``--start`` labels evenly over frames
0-999, train from scratch (``--minutes``); then rounds of ``--step`` frames suggested by
the model from all frames (``napari_leap.pose.model_suggest``: lowest part peak, left/right
flip disagreement, jumps between neighbouring frames; spread, labelled frames skipped),
fine-tuned from the last model (``--round-minutes``), up to ``--until`` labels; the last
round's labels are also trained from scratch (``--round-minutes`` and ``--minutes``), which
is what fine-tuning saves. Baselines:
the same number of labels evenly over 0-999 and over 0-(n-1), each trained from scratch
for the active loop's total training time. Every model is scored on the same test
frames: reference frames no strategy labelled (``--eval-stride`` thins them), errors in
aligned-box pixels (a rotation plus a shift of the video: video pixels); the uncertainty
is ranked on the aligned boxes too (the temporal measure in box coordinates).

``--data FOLDER``: a video and its ``*predictions*.slp`` (their predicted instances are the
reference), e.g. SLEAP's centered_pair. The aligned boxes of every frame are built once
and cached in ``benchmarks/.cache/`` (not committed). Writes ``active_labelling.json`` and
``active_labelling.png`` next to itself (``--data``: ``active_labelling_NAME.*``; ``--quick``
adds ``_quick``).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CLIP = HERE.parent / "src" / "napari_leap" / "sample_data" / "flies13" / "clip.slp"


def reference_labels(data: str | None):
    """(labels with the reference as user instances, name) of the clip or a --data folder."""
    import sleap_io as sio

    from napari_leap.io.labels import labels_from_poses, poses_from_labels

    if data is None:
        return sio.load_file(str(CLIP)), "clip"
    folder = Path(data)
    slp = sorted(folder.glob("*predictions*.slp")) or sorted(folder.glob("*.slp"))
    if not slp:
        raise SystemExit(f"{folder} has no .slp file")
    labels = sio.load_file(str(slp[0]))
    # predictions hold a few spurious low-score instances (SLEAP's centered_pair: 66 of 1100
    # frames have 3-5 where 2 flies are): the reference is the usual count, best scores first
    counts = [len(lf.instances) for lf in labels]
    n = max(set(counts), key=counts.count)
    for lf in labels:
        lf.instances = sorted(lf.instances, key=lambda i: -float(i.score))[:n]
    video = labels.videos[0].filename
    if not Path(video).exists():  # the video beside the labels
        video = str(sorted(folder.glob("*.mp4"))[0])
    poses = poses_from_labels(labels, 0, user=False, predicted=True)
    return labels_from_poses(poses, [str(video)], predicted=False), folder.name


def boxes(data: str | None):
    """TrainingData of every reference frame's aligned boxes (cached) and the frame count."""
    from napari_leap.model.skeleton import Skeleton
    from napari_leap.pose.dataset import TrainingData, from_labels

    labels, name = reference_labels(data)
    cache = HERE / ".cache" / f"active_boxes_{name}.npz"
    if not cache.exists():
        d = from_labels(labels, say=print)
        cache.parent.mkdir(exist_ok=True)
        np.savez_compressed(
            cache,
            images=d.images,
            points=d.points,
            groups=d.groups,
            skeleton=json.dumps(d.skeleton.to_dict()),
            # the background image is for predicting new videos: not needed on cached boxes
            alignment=json.dumps(
                {k: v for k, v in (d.alignment or {}).items() if k != "background"}
            ),
            description=d.description,
        )
    z = np.load(cache, allow_pickle=False)
    d = TrainingData(
        z["images"],
        z["points"],
        Skeleton.from_dict(json.loads(str(z["skeleton"]))),
        z["groups"],
        json.loads(str(z["alignment"])) or None,
        str(z["description"]),
    )
    return d, name


def frame_of(data) -> np.ndarray:
    return np.asarray(data.groups) % 10**9


def subset_frames(data, frames) -> object:
    return data.subset(np.flatnonzero(np.isin(frame_of(data), list(frames))))


def per_frame_images(data, frames: np.ndarray) -> np.ndarray:
    """(F, A, H, W, C) boxes of ``frames`` (every frame has the same animals)."""
    f = frame_of(data)
    rows = [np.flatnonzero(f == fr) for fr in frames]
    a = min(len(r) for r in rows)
    return np.stack([data.images[r[:a]] for r in rows])


def fit(train_set, minutes: float, device, init_from=None, seed: int = 0):
    """A model trained (or fine-tuned from ``init_from``) for ``minutes``; (model, folder, s)."""
    from napari_leap.pose.train import TrainConfig, train

    folder = Path(tempfile.mkdtemp(prefix="active-")) / "model"
    t0 = time.monotonic()
    config = TrainConfig(time_limit=minutes * 60, device=device, seed=seed, init_from=init_from)
    model = train(train_set, folder, config)
    return model, folder, time.monotonic() - t0


def errors(model, test_set) -> np.ndarray:
    """(N, K) distances (px) of the model's points from the reference, NaN where unlabelled."""
    pts = np.concatenate(
        [model.predict_images(test_set.images[i : i + 64])[0] for i in range(0, len(test_set), 64)]
    )
    return np.linalg.norm(pts - test_set.points, axis=-1)


def stats(err: np.ndarray) -> dict:
    err = err[np.isfinite(err)]
    return {
        "median_px": round(float(np.median(err)), 3),
        "p90_px": round(float(np.percentile(err, 90)), 3),
        "n_points": int(err.size),
    }


def active(data, test_set, args) -> tuple[list[dict], float]:
    """The active loop's rounds and its total training seconds."""
    from napari_leap.pose.model_suggest import images_measures
    from napari_leap.pose.uncertainty import rank_frames

    n_total = int(frame_of(data).max()) + 1
    labelled = [int(f) for f in np.linspace(0, min(999, n_total - 1), args.start).round()]
    candidates = ranked_frames = np.arange(0, n_total, args.stride)
    if args.stride > 1:  # the neighbours too, for the temporal measure
        near = np.concatenate([candidates - 1, candidates, candidates + 1])
        candidates = np.unique(near[(near >= 0) & (near < n_total)])
    model, folder, seconds = fit(subset_frames(data, labelled), args.minutes, args.device)
    rounds = [{"labels": len(labelled), "train_s": round(seconds, 1), "rank_s": 0.0}]
    rounds[-1]["errors"] = errors(model, test_set)
    print(f"active {len(labelled)} labels: {stats(rounds[-1]['errors'])}", flush=True)
    total = seconds
    while len(labelled) < args.until:
        t0 = time.monotonic()
        images = per_frame_images(data, candidates)
        frames, _, _, found = images_measures(model, images, frames=candidates)
        ranked = np.isin(frames, ranked_frames)
        found = {k: v[ranked] for k, v in found.items()}
        n = min(args.step, args.until - len(labelled))
        picks = rank_frames(frames[ranked], found, n, data.skeleton.nodes, exclude=labelled)
        rank_s = time.monotonic() - t0
        labelled += [s.frame for s in picks]
        old = folder
        model, folder, seconds = fit(
            subset_frames(data, labelled), args.round_minutes, args.device, init_from=str(old)
        )
        shutil.rmtree(old.parent, ignore_errors=True)
        total += seconds
        entry = {
            "labels": len(labelled),
            "picked": [s.frame for s in picks],
            "reasons": [s.reason for s in picks],
            "rank_s": round(rank_s, 1),
            "train_s": round(seconds, 1),
            "errors": errors(model, test_set),
        }
        rounds.append(entry)
        print(f"active {len(labelled)} labels: {stats(entry['errors'])} {picks[:2]}", flush=True)
    shutil.rmtree(folder.parent, ignore_errors=True)
    rounds[-1]["frames"] = sorted(labelled)
    return rounds, total


def from_scratch(data, test_set, frames, args) -> list[dict]:
    """The last round's labels trained from scratch, for the fine-tune's time and budget."""
    out = []
    for minutes in sorted({args.round_minutes, args.minutes}):
        model, folder, seconds = fit(subset_frames(data, frames), minutes, args.device)
        shutil.rmtree(folder.parent, ignore_errors=True)
        entry = {"labels": len(frames), "minutes": minutes, "train_s": round(seconds, 1)}
        out.append({**entry, "errors": errors(model, test_set)})
        print(f"from scratch {len(frames)} labels, {minutes} min: {stats(out[-1]['errors'])}")
    return out


def baseline(data, test_set, n: int, last: int, minutes: float, device) -> dict:
    frames = [int(f) for f in np.linspace(0, last, n).round()]
    model, folder, seconds = fit(subset_frames(data, frames), minutes, device)
    shutil.rmtree(folder.parent, ignore_errors=True)
    err = errors(model, test_set)
    return {"labels": n, "span": [0, last], "train_s": round(seconds, 1), **stats(err)}


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    r = result["active"]
    ax.plot([e["labels"] for e in r], [e["median_px"] for e in r], "o-", label="active: median")
    ax.plot([e["labels"] for e in r], [e["p90_px"] for e in r], "o--", label="active: p90")
    for key, mark in (("even_0_999", "s"), ("even_all", "^")):
        b = result[key]
        ax.plot(b["labels"], b["median_px"], mark, label=f"{key}: median")
        ax.plot(b["labels"], b["p90_px"], mark, mfc="none", label=f"{key}: p90")
    for r, mark in zip(result["active_from_scratch"], ("x", "+"), strict=False):
        ax.plot(
            r["labels"],
            r["median_px"],
            mark,
            ms=9,
            label=f"active labels, scratch {r['minutes']} min",
        )
    ax.set_xlabel("labelled frames")
    ax.set_ylabel("error on untouched frames (px)")
    ax.set_title(f"active labelling, {result['data']}" + (" (smoke)" if result["quick"] else ""))
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="folder with a video and its predictions .slp")
    p.add_argument("--minutes", type=float, default=3.0, help="first training (from scratch)")
    p.add_argument("--round-minutes", type=float, default=1.5, help="each fine-tune")
    p.add_argument("--start", type=int, default=10)
    p.add_argument("--step", type=int, default=10)
    p.add_argument("--until", type=int, default=50)
    p.add_argument("--stride", type=int, default=1, help="rank every N-th frame")
    p.add_argument("--eval-stride", type=int, default=1, help="score every N-th test frame")
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--quick", action="store_true", help="smoke run: ~1-2 minutes")
    args = p.parse_args()
    if args.quick:
        args.minutes, args.round_minutes, args.stride, args.eval_stride = 0.25, 0.1, 10, 25
        args.step = 20
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.monotonic()
    data, name = boxes(args.data)
    n_total = int(frame_of(data).max()) + 1
    touched = set(np.linspace(0, min(999, n_total - 1), args.until).round().astype(int))
    touched |= set(np.linspace(0, n_total - 1, args.until).round().astype(int))
    # test frames: none a baseline labels; the active loop's own picks are dropped after it
    test_all = np.array([f for f in range(n_total) if f not in touched])[:: args.eval_stride]
    all_set = subset_frames(data, test_all)
    rounds, total = active(data, all_set, args)
    scratch = from_scratch(data, all_set, rounds[-1]["frames"], args)
    keep = ~np.isin(frame_of(all_set), rounds[-1]["frames"])
    for r in rounds + scratch:
        r.update(stats(r.pop("errors")[keep]))
    test_set = all_set.subset(np.flatnonzero(keep))
    test = np.unique(frame_of(test_set))
    minutes = total / 60
    result = {
        "data": name,
        "quick": args.quick,
        "settings": {k: v for k, v in vars(args).items() if k != "quick"},
        "test_frames": len(test),
        "active": rounds,
        # the last round's fine-tune (from the previous model, --round-minutes) against the
        # same labels trained from scratch for --round-minutes and for --minutes
        "active_from_scratch": scratch,
        "even_0_999": baseline(
            data, test_set, args.until, min(999, n_total - 1), minutes, args.device
        ),
        "even_all": baseline(data, test_set, args.until, n_total - 1, minutes, args.device),
        "machine": platform.platform(),
        "torch_threads": torch.get_num_threads(),
        "seconds": None,
    }
    result["seconds"] = round(time.monotonic() - t0, 1)
    suffix = ("" if name == "clip" else f"_{name}") + ("_quick" if args.quick else "")
    out = HERE / f"active_labelling{suffix}.json"
    out.write_text(json.dumps(result, indent=2))
    plot(result, out.with_suffix(".png"))
    last = rounds[-1]
    print(
        f"{name}: {args.until} labels, test {len(test)} frames. active median {last['median_px']}"
        f" p90 {last['p90_px']} px; even 0-999 {result['even_0_999']['median_px']} / "
        f"{result['even_0_999']['p90_px']}; even all {result['even_all']['median_px']} / "
        f"{result['even_all']['p90_px']} ({result['seconds']} s in all) -> {out.name}"
    )
    for r in scratch:
        print(
            f"last fine-tune {last['train_s']} s: {last['median_px']} px median; from scratch "
            f"{r['train_s']} s: {r['median_px']} px"
        )


if __name__ == "__main__":
    main()
