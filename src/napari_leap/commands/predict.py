"""`napari-leap predict MODEL_DIR INPUT... --out PATH`: body parts on videos or labelled frames.

Each INPUT is a video (all frames, or ``--frames A:B``) or a labels file (its
labelled frames, embedded-image ``.pkg.slp`` included; the output then lines
up with it video for video and frame for frame). Finished chunks are kept in
``PATH.partial/``, so running the same command again after an interruption
resumes where it stopped. ``--scheduler``/``--local-cluster`` spread chunks
over a dask.distributed cluster; the output is the same as a local run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(parser: argparse.ArgumentParser) -> None:
    """The ``predict`` verb's arguments."""
    parser.add_argument("model_dir", metavar="MODEL_DIR", help="trained model folder")
    parser.add_argument(
        "inputs",
        metavar="INPUT",
        nargs="+",
        help="videos, image folders or labels files (.slp, .pkg.slp, ...)",
    )
    parser.add_argument(
        "--out",
        "-o",
        required=True,
        metavar="PATH",
        help="output file (.slp, .h5 SLEAP analysis, .csv or .nwb; .csv with --format dlc)",
    )
    parser.add_argument(
        "--format",
        choices=("slp", "h5", "csv", "nwb", "dlc"),
        help="output format (default: from the --out extension); dlc: DeepLabCut's table, "
        "as its analyze_videos writes it",
    )
    parser.add_argument("--frames", metavar="A:B", help="frame range of each video (end excluded)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=64,
        metavar="N",
        help="images (boxes) per forward pass (default 64)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=128,
        metavar="N",
        help="frames per checkpointed chunk and per cluster task (default 128)",
    )
    parser.add_argument("--device", help="torch device, e.g. cuda:1 or cpu (default: GPU if any)")
    parser.add_argument(
        "--flip-average",
        action="store_true",
        help="average each image's confidence maps with its left/right flip's: twice the "
        "time, lower error (fly32: 2.14 -> 2.04 px median); models trained with flips only",
    )
    parser.add_argument(
        "--restart",
        action="store_true",
        help="ignore finished chunks of an earlier run and start over",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="dask.distributed scheduler address, e.g. tcp://10.0.0.1:8786",
    )
    group.add_argument(
        "--local-cluster",
        type=int,
        metavar="N",
        help="start a local dask cluster with N worker processes",
    )


def run(args: argparse.Namespace) -> int:
    """Predict the inputs with progress bars; the exit status (2 when nothing useful came out)."""
    from tqdm import tqdm

    from napari_leap.errors import LeapError
    from napari_leap.pose.predict import iter_predict
    from napari_leap.pose.predict.writers import written_text

    for name, value in (("--batch-size", args.batch_size), ("--chunk-size", args.chunk_size)):
        if value < 1:
            raise LeapError(f"{name} must be at least 1 (got {value}).")
    out = Path(args.out)
    if out.is_dir():
        raise IsADirectoryError(
            f"--out {out} is a folder; give a file name such as {out}/predictions.slp."
        )
    client, cluster = _client(args)
    bars: dict[str, tqdm] = {}
    try:
        gen = iter_predict(
            args.model_dir,
            args.inputs,
            frames=args.frames,
            out=out,
            batch_size=args.batch_size,
            chunk_size=args.chunk_size,
            resume=not args.restart,
            device=args.device,
            client=client,
            format=args.format,
            flip_average=args.flip_average,
            warn=lambda text: tqdm.write(f"napari-leap predict: warning: {text}", file=sys.stderr),
        )
        while True:
            try:
                ev = next(gen)
            except StopIteration as fin:
                result = fin.value
                break
            bar = bars.get(ev.phase)
            if bar is None:
                for other in bars.values():
                    other.close()
                # starts at the first event's count, so resumed chunks do not inflate the rate
                bar = bars[ev.phase] = tqdm(
                    total=ev.total,
                    initial=ev.done,
                    desc=ev.phase,
                    unit="frame",
                    file=sys.stderr,
                    dynamic_ncols=True,
                )
            bar.update(ev.done - bar.n)
    finally:
        for bar in bars.values():
            bar.close()
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    n = sum(len(p.frames) for p in result.poses)
    empty = result.frames_without_animals
    print(
        f"predicted {n} frames of {len(result.poses)} video(s) "
        f"({result.computed_chunks} chunks computed, {result.reused_chunks} resumed); "
        f"wrote {written_text(result.path, len(result.poses), args.format)}"
    )
    if empty:
        print(
            f"warning: no animal was found on {empty} of the {n} frames; "
            "they hold no instances in the output",
            file=sys.stderr,
        )
    return 0


def _client(args):
    """A dask client for ``--scheduler``/``--local-cluster`` (and the cluster to close), or None."""
    if not args.scheduler and not args.local_cluster:
        return None, None
    from distributed import Client, LocalCluster

    from napari_leap.errors import LeapError

    if args.scheduler:
        try:
            return Client(args.scheduler, timeout="20s"), None
        except OSError as e:
            raise LeapError(
                f"cannot reach the dask scheduler at {args.scheduler} ({e}); "
                "check the address and that the scheduler runs."
            ) from None
    if args.local_cluster < 1:
        raise LeapError(f"--local-cluster needs at least 1 worker (got {args.local_cluster}).")
    cluster = LocalCluster(
        n_workers=args.local_cluster, threads_per_worker=1, processes=True, dashboard_address=None
    )
    return Client(cluster), cluster
