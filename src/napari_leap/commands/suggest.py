"""`napari-leap suggest VIDEO`: frames worth labelling, one number per line.

``kmeans`` is LEAP's cluster sampling (thumbnails -> PCA -> k-means -> frames from every
cluster); ``uniform`` spreads frames evenly; ``confidence`` picks the frames a model
was least sure about (needs ``--predictions``); ``model`` (the default with ``--model``)
runs a trained model, with and without a left/right flip, and picks the frames where it
is unsure (lowest body-part peak, flip disagreement, jumps between neighbouring frames),
spread over the video; ``--why`` prints each frame's reason. ``--exclude`` skips frames
already labelled in a labels file; ``--alignment`` clusters aligned boxes (postures)
instead of whole frames (and, with ``--model``, spares the model aligning the video).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from napari_leap.model.poses import Poses


def add_parser(parser: argparse.ArgumentParser) -> None:
    """The ``suggest`` verb's arguments."""
    parser.add_argument(
        "video", metavar="VIDEO", help="video file, image folder or HDF5/zarr frames"
    )
    parser.add_argument("--n", type=int, default=20, help="how many frames (default 20)")
    parser.add_argument(
        "--method",
        choices=("kmeans", "uniform", "confidence", "model"),
        default=None,
        help="kmeans: cluster sampling (default without --model); uniform; confidence: lowest "
        "confidence in --predictions; model: where --model is unsure (default with --model)",
    )
    parser.add_argument("--model", metavar="FOLDER", help="a trained model folder")
    parser.add_argument(
        "--frames",
        metavar="A:B",
        help="with --model: rank only frames A to B (end excluded, as predict)",
    )
    parser.add_argument(
        "--stride", type=int, default=1, help="with --model: rank every N-th frame (long videos)"
    )
    parser.add_argument(
        "--why", action="store_true", help="print each frame's reason after its number"
    )
    parser.add_argument("--out", metavar="FILE", help="also write the frame numbers to FILE")
    parser.add_argument("--exclude", metavar="LABELS", help="skip frames labelled in this file")
    parser.add_argument(
        "--predictions", metavar="LABELS", help="predictions file (for --method confidence)"
    )
    parser.add_argument("--alignment", metavar="FOLDER", help="cluster this alignment's boxes")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def _frames_of(path: str, user: bool) -> Poses:
    from napari_leap.io.labels import load_labels, poses_from_labels

    labels = load_labels(path)
    return poses_from_labels(labels, 0, user=user, predicted=not user)


def _method(args: argparse.Namespace) -> str:
    from napari_leap.errors import LeapError

    method = args.method or ("model" if args.model else "kmeans")
    if method == "model" and not args.model:
        raise LeapError("--method model needs --model FOLDER (a trained model).")
    return method


def run(args: argparse.Namespace) -> int:
    """Print (and optionally save) the suggested frame numbers; the exit status."""
    from tqdm import tqdm

    from napari_leap.errors import LeapError
    from napari_leap.pose.suggest import save_suggestions, suggest_with_reasons

    method = _method(args)
    exclude = _frames_of(args.exclude, user=True).frames if args.exclude else ()
    predictions = _frames_of(args.predictions, user=False) if args.predictions else None
    alignment = None
    if args.alignment:
        from napari_leap.align.alignment import Alignment

        alignment = Alignment.load(args.alignment)
    bars: list = []

    what = "predicting frames" if method == "model" else "reading frames"

    def progress(done: int, total: int) -> None:
        if not bars:  # made on first use, so a failing call prints nothing but its error
            bars.append(tqdm(total=total, desc=what, unit="frame", file=sys.stderr))
        bars[0].update(done - bars[0].n)  # tqdm limits how often it redraws

    try:
        picks = suggest_with_reasons(
            args.video,
            args.n,
            method,
            exclude=exclude,
            predictions=predictions,
            alignment=alignment,
            seed=args.seed,
            progress=progress,
            model=args.model,
            frames=args.frames,
            stride=args.stride,
        )
    finally:
        for bar in bars:
            bar.close()
    if method == "model" and not picks:  # a model that ran must have found something
        raise LeapError("the model ranked no frame; check that it fits this video.")
    for s in picks:
        print(f"{s.frame}\t{s.reason}" if args.why else s.frame)
    if args.out:
        save_suggestions([s.frame for s in picks], args.out)
    return 0
