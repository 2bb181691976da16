"""Prediction speed and memory on the bundled two-fly clip (1500 frames, 1024x1024, 2 flies).

Prints, for one model and box size:
  * raw model forward on random tensors (boxes/s and video frames/s), no decoding at all;
  * end to end on the clip: decode + warp + model + peaks + map back + write .slp
    (given the clip's alignment, and also including the alignment pass);
  * their ratio (what the pipeline costs over the raw model);
  * peak memory (RSS sampled every 5 ms in a thread) predicting 1,500 and 15,000 frames
    (the clip looped by a FrameSource wrapper), each in a fresh process;
  * the full-clip check: the .slp reopened by sleap_io has 1500 frames, 2 tracks and both
    flies' 13 body parts on every frame.

Usage:
  python benchmarks/predict.py --model MODEL_DIR [--batch-size 256] [--device cuda]
  python benchmarks/predict.py --train-seconds 150 --train-out DIR   # train a model first
  python benchmarks/predict.py --plot-only     # redraw predict.png from the JSON files
Writes predict.json next to itself (or --json PATH) and predict.png, which draws every
``predict*.json`` beside this script (one row per machine: CPU, and the H100 run if there).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import napari_leap
from napari_leap.io.video import FrameSource, video_source

SAMPLE = Path(napari_leap.__file__).parent / "sample_data" / "flies13"
CLIP = SAMPLE / "clip.mp4"


class RepeatSource(FrameSource):
    """The first ``length`` frames of a video played ``times`` times in a row."""

    def __init__(self, source: FrameSource, times: int, length: int | None = None):
        self.source, self.times, self.path = source, int(times), source.path
        self.length = int(length or len(source))
        self.shape = (self.length * self.times, *source.shape[1:])

    def read(self, index: int) -> np.ndarray:
        return self.source.read(int(index) % self.length)

    def keyframes(self) -> np.ndarray:
        from napari_leap.io.video import keyframe_indices

        first = keyframe_indices(self.source)
        first = np.arange(self.length) if first is None else first[first < self.length]
        return np.concatenate([first + k * self.length for k in range(self.times)])


class PeakRSS:
    """Peak resident memory of this process, sampled on a thread."""

    def __init__(self, every: float = 0.005):
        import psutil

        self.proc, self.every, self.peak = psutil.Process(), every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.every)

    def __enter__(self):
        self.start = self.proc.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def sync(model) -> None:
    import torch

    if model.device.type == "cuda":
        torch.cuda.synchronize()


def raw_forward(model, batch: int, seconds: float = 5.0) -> dict:
    """Boxes/s of the network alone (and with peak finding) on random uint8 boxes."""
    import torch

    h, w = model.config["input_size"]
    c = int(model.config["channels"])
    rng = np.random.default_rng(0)
    x = model.preprocess(rng.integers(0, 256, (batch, h, w, c), dtype=np.uint8))
    out = {}
    for name, fn in (
        ("forward", lambda: model.forward_confmaps(x)),
        ("forward+peaks", lambda: model.peaks(model.forward_confmaps(x))),
    ):
        with torch.inference_mode():
            for _ in range(3):
                fn()
            sync(model)
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                fn()
                n += 1
            sync(model)
            dt = time.perf_counter() - t0
        out[name] = n * batch / dt
    return out


def decode_warp_only(model, job, batch_boxes: int) -> float:
    """Frames/s of the input side alone: decoder threads reading and warping, no model."""
    from concurrent.futures import ThreadPoolExecutor

    from napari_leap.pose import predict as P
    from napari_leap.pose.predict.align import job_affines
    from napari_leap.pose.predict.inputs import Geometry
    from napari_leap.pose.predict.runner import chunk_batches

    geo = Geometry.of(model)
    affines = job_affines(job, geo)
    spans = job.spans(P.CHUNK_SIZE)
    n_decoders = max(2, min(8, (os.cpu_count() or 2) // 2))

    def run(span):
        s, e = span
        for _ in chunk_batches(
            job.source,
            job.frames[s:e],
            affines[s:e],
            geo,
            int(model.config["channels"]),
            batch_boxes // geo.n_animals,
        ):
            pass

    t0 = time.perf_counter()
    with ThreadPoolExecutor(n_decoders) as pool:
        list(pool.map(run, spans))
    return len(job.frames) / (time.perf_counter() - t0)


def clip_alignment(model, cache: Path):
    from napari_leap.align.alignment import Alignment, align

    spec = model.config["alignment"]
    if (cache / "alignment.json").exists():
        return Alignment.load(cache), float("nan")
    t0 = time.perf_counter()
    al = align(CLIP, spec["n_animals"], spec["box_size"], **(spec.get("options") or {}))
    dt = time.perf_counter() - t0
    al.save(cache)
    return al, dt


def looped_job(times: int, alignment, length: int):
    """The clip's first ``length`` frames looped ``times`` times, the alignment tiled to match."""
    from napari_leap.align.alignment import Alignment
    from napari_leap.pose.predict import jobs_from_inputs

    src = RepeatSource(video_source(CLIP), times, length)
    (job,), _ = jobs_from_inputs(src)
    job.alignment = Alignment(
        centers=np.tile(alignment.centers[:length], (times, 1, 1)),
        angles=np.tile(alignment.angles[:length], (times, 1)),
        box_size=alignment.box_size,
        options=alignment.options,
    )
    return job


def memory_run(args) -> None:
    """Child process: predict ``--memory`` frames and print one JSON line of memory figures."""
    from napari_leap.align.alignment import Alignment
    from napari_leap.pose.predict import load_model, predict

    model = load_model(args.model, args.device)
    al = Alignment.load(args.alignment)
    job = looped_job(int(args.memory) // args.frames, al, args.frames)
    with tempfile.TemporaryDirectory() as tmp, PeakRSS() as rss:
        t0 = time.perf_counter()
        result = predict(model, job, out=Path(tmp) / "p.slp", batch_size=args.batch_size)
        dt = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "frames": int(len(result.poses[0].frames)),
                "seconds": dt,
                "start_rss_mb": rss.start / 2**20,
                "peak_rss_mb": rss.peak / 2**20,
            }
        )
    )


def check_full_clip(path: Path, n_nodes: int) -> dict:
    import sleap_io as sio

    from napari_leap.io.labels import poses_from_labels

    labels = sio.load_slp(str(path))
    poses = poses_from_labels(labels)
    complete = np.isfinite(poses.points).all(axis=(1, 2, 3))
    return {
        "frames_in_slp": len(labels.labeled_frames),
        "tracks": [t.name for t in labels.tracks],
        "frames_with_both_flies_all_parts": int(complete.sum()),
        "nodes": n_nodes,
    }


def accuracy_vs_reference(path: Path) -> dict:
    """Error against clip.slp (proofread model output; most frames were seen in training)."""
    from napari_leap.pose.evaluate import evaluate

    res = evaluate(SAMPLE / "clip.slp", path).to_dict()
    keep = ("mean_px", "median_px", "p90_px", "map_oks")
    overall = res.get("overall", res)
    return {k: overall[k] for k in keep if k in overall}


def plot(reports: dict[str, dict], path: Path) -> None:
    """One row per machine: the pipeline's stages in frames/s, and peak memory at N and 10 N frames."""
    from matplotlib.figure import Figure

    stages = (
        ("raw model forward", lambda r: r["raw_frames_per_s"]["forward"]),
        ("raw forward + peaks", lambda r: r["raw_frames_per_s"]["forward+peaks"]),
        ("decode + warp alone", lambda r: r["decode_warp_only_frames_per_s"]),
        ("end to end (aligned)", lambda r: r["end_to_end_frames_per_s"]),
        ("end to end incl. alignment", lambda r: r["end_to_end_with_alignment_frames_per_s"]),
    )
    colours = ("tab:blue", "tab:blue", "tab:gray", "tab:green", "tab:olive")
    fig = Figure(figsize=(11, 2.9 * len(reports)), dpi=100)
    axes = np.array(fig.subplots(len(reports), 2, squeeze=False, width_ratios=(2.2, 1)))
    for row, r in enumerate(reports.values()):
        ax = axes[row, 0]
        values = [get(r) for _, get in stages]
        y = np.arange(len(stages))[::-1]
        ax.barh(y, values, color=colours)
        ax.set_yticks(y, [label for label, _ in stages])
        ax.set_xscale("log")
        for yi, v in zip(y, values, strict=True):
            ax.annotate(
                f"{v:,.0f}", (v, yi), xytext=(4, -3), textcoords="offset points", fontsize=8
            )
        ax.set_xlim(right=max(values) * 6)
        cost = 100 * r["pipeline_cost_over_raw_model"]
        where = r.get("gpu") or f"CPU, {r['cpu_count']} cores"
        ax.set_title(
            f"{where}; box {r['box_size']} px -> net {r['net_input'][0]} px, "
            f"batch {r['batch_boxes']} boxes, 2 flies/frame\n"
            f"video frames/s (log); pipeline cost over raw forward+peaks: {cost:.0f} %",
            fontsize=9,
        )
        ax.set_xlabel("frames/s (1024x1024 frames, 2 boxes each)")
        ax.grid(axis="x", alpha=0.3)
        ax = axes[row, 1]
        mem = r["memory"]
        sizes = sorted(mem, key=int)
        peaks = [mem[k]["peak_rss_mb"] for k in sizes]
        ax.bar([f"{int(k):,} frames" for k in sizes], peaks, color="tab:purple")
        for i, v in enumerate(peaks):
            ax.annotate(
                f"{v:.0f} MiB",
                (i, v),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
        ax.set_ylim(0, max(peaks) * 1.25)
        ax.set_ylabel("peak RSS (MiB)")
        ax.set_title(f"memory: ratio {r['peak_rss_ratio_10x_frames']:.3f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)


def plot_all(json_path: Path) -> Path:
    """predict.png from this run's JSON and any other machine's ``predict_*.json`` beside it."""
    here = json_path.parent
    files = [json_path] + sorted(p for p in here.glob("predict_*.json") if p != json_path)
    reports = {}
    for f in files:
        r = json.loads(f.read_text())
        if isinstance(r.get("memory"), dict) and "decode_warp_only_frames_per_s" in r:
            reports["CPU" if r["device"] == "cpu" else r["device"].upper()] = r
    out = json_path.with_suffix(".png")
    plot(reports, out)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model")
    parser.add_argument("--train-seconds", type=float)
    parser.add_argument("--train-out", default="benchmarks/out/predict_model")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device")
    parser.add_argument("--json", default=str(Path(__file__).with_suffix(".json")))
    parser.add_argument("--keep", help="copy the full-clip .slp here")
    parser.add_argument(
        "--frames",
        type=int,
        default=1500,
        help="clip frames to use (1500: all; fewer for a quick CPU run)",
    )
    parser.add_argument("--plot-only", action="store_true", help="only redraw the PNG")
    parser.add_argument("--memory", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--alignment", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.plot_only:
        print(plot_all(Path(args.json)))
        return 0
    if args.memory:
        memory_run(args)
        return 0

    from napari_leap.pose.predict import load_model, predict

    report: dict = {}
    if args.train_seconds:
        from napari_leap.pose.train import TrainConfig, train

        t0 = time.perf_counter()
        train(
            SAMPLE / "clip.slp",
            args.train_out,
            TrainConfig(
                epochs=1000, box_size=192, time_limit=args.train_seconds, device=args.device
            ),
        )
        report["train_seconds"] = time.perf_counter() - t0
        args.model = args.train_out
    model = load_model(args.model, args.device)
    n_animals = model.config["alignment"]["n_animals"]
    report.update(
        device=str(model.device),
        model=str(args.model),
        batch_boxes=args.batch_size,
        box_size=model.config["alignment"]["box_size"],
        net_input=[round(s * model.config["input_scale"]) for s in model.config["input_size"]],
    )
    if model.device.type == "cuda":
        import torch

        report["gpu"] = torch.cuda.get_device_name()
    report["cpu_count"] = os.cpu_count()

    raw = raw_forward(model, args.batch_size)
    report["raw_boxes_per_s"] = raw
    report["raw_frames_per_s"] = {k: v / n_animals for k, v in raw.items()}

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        al, align_s = clip_alignment(model, tmp / "alignment")
        report["align_frames_per_s"] = 1500 / align_s
        # warm-up (decoder threads, cuDNN autotune) on a short range, then the timed runs
        n = args.frames
        predict(
            model, looped_job(1, al, min(n, 128)), out=tmp / "warm.slp", batch_size=args.batch_size
        )
        job = looped_job(1, al, n)
        report["decode_warp_only_frames_per_s"] = decode_warp_only(model, job, args.batch_size)
        t0 = time.perf_counter()
        result = predict(model, job, out=tmp / "clip.slp", batch_size=args.batch_size)
        e2e = time.perf_counter() - t0
        t0 = time.perf_counter()
        predict(
            model, CLIP, out=tmp / "clip_aligning.slp", batch_size=args.batch_size, frames=f"0:{n}"
        )
        e2e_align = time.perf_counter() - t0
        report["frames"] = n
        report["end_to_end_frames_per_s"] = n / e2e
        report["end_to_end_boxes_per_s"] = n * n_animals / e2e
        report["end_to_end_with_alignment_frames_per_s"] = n / e2e_align
        raw_fps = report["raw_frames_per_s"]["forward+peaks"]
        report["pipeline_cost_over_raw_model"] = raw_fps / report["end_to_end_frames_per_s"] - 1
        report["full_clip"] = check_full_clip(tmp / "clip.slp", len(model.skeleton))
        report["full_clip"]["predicted_frames"] = int(len(result.poses[0].frames))
        try:
            report["error_vs_clip_slp_px"] = accuracy_vs_reference(tmp / "clip.slp")
        except Exception as e:  # noqa: BLE001 - evaluation is a bonus here, not the benchmark
            report["error_vs_clip_slp_px"] = f"not computed: {e}"
        if args.keep:
            import shutil

            shutil.copy(tmp / "clip.slp", args.keep)

        mem = {}
        sizes = (n, 10 * n)
        for size in sizes:
            cmd = [
                sys.executable,
                __file__,
                "--model",
                str(args.model),
                "--memory",
                str(size),
                "--alignment",
                str(tmp / "alignment"),
                "--batch-size",
                str(args.batch_size),
                "--frames",
                str(n),
            ]
            if args.device:
                cmd += ["--device", args.device]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            mem[size] = json.loads(out.strip().splitlines()[-1])
        report["memory"] = mem
        report["peak_rss_ratio_10x_frames"] = (
            mem[sizes[1]]["peak_rss_mb"] / mem[sizes[0]]["peak_rss_mb"]
        )
        report["end_to_end_frames_per_s_10x_frames"] = sizes[1] / mem[sizes[1]]["seconds"]

    print(
        f"device: {report['device']} {report.get('gpu', '')}; box {report['box_size']} px "
        f"(network input {report['net_input']}), batch {args.batch_size} boxes, {n_animals} flies"
    )
    print(
        f"raw model forward:        {raw['forward']:9.0f} boxes/s = "
        f"{report['raw_frames_per_s']['forward']:8.0f} frames/s"
    )
    print(
        f"raw forward + peaks:      {raw['forward+peaks']:9.0f} boxes/s = {raw_fps:8.0f} frames/s"
    )
    print(
        f"end to end (aligned):     {report['end_to_end_boxes_per_s']:9.0f} boxes/s = "
        f"{report['end_to_end_frames_per_s']:8.0f} frames/s "
        f"({sizes[1]} frames: {report['end_to_end_frames_per_s_10x_frames']:.0f} frames/s)"
    )
    print(
        f"end to end incl. align:   {report['end_to_end_with_alignment_frames_per_s']:8.0f} frames/s "
        f"(alignment alone {report['align_frames_per_s']:.0f} frames/s)"
    )
    print(f"decode + warp alone:      {report['decode_warp_only_frames_per_s']:8.0f} frames/s")
    print(
        f"pipeline cost over raw model (forward+peaks): "
        f"{100 * report['pipeline_cost_over_raw_model']:.1f}%"
    )
    print(
        f"peak RSS: {sizes[0]} frames {mem[sizes[0]]['peak_rss_mb']:.0f} MB, {sizes[1]} frames "
        f"{mem[sizes[1]]['peak_rss_mb']:.0f} MB (ratio {report['peak_rss_ratio_10x_frames']:.3f})"
    )
    fc = report["full_clip"]
    print(
        f"full clip .slp: {fc['frames_in_slp']} frames, tracks {fc['tracks']}, "
        f"{fc['frames_with_both_flies_all_parts']} frames with both flies' {fc['nodes']} parts"
    )
    print(f"error vs clip.slp: {report['error_vs_clip_slp_px']}")
    Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    print(plot_all(Path(args.json)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
