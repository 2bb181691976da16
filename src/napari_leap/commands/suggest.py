"""`napari-leap suggest VIDEO`: frames worth labelling, one number per line.

``kmeans`` is LEAP's cluster sampling (thumbnails -> PCA -> k-means -> frames from every
cluster); ``uniform`` spreads frames evenly; ``confidence`` picks the frames a model
was least sure about (needs ``--predictions``). ``--exclude`` skips frames already
labelled in a labels file; ``--alignment`` clusters aligned boxes (postures) instead
of whole frames.
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
        choices=("kmeans", "uniform", "confidence"),
        default="kmeans",
        help="kmeans: cluster sampling (default); uniform; confidence: lowest "
        "prediction confidence",
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


def run(args: argparse.Namespace) -> int:
    """Print (and optionally save) the suggested frame numbers; the exit status."""
    from tqdm import tqdm

    from napari_leap.pose.suggest import save_suggestions, suggest_frames

    exclude = _frames_of(args.exclude, user=True).frames if args.exclude else ()
    predictions = _frames_of(args.predictions, user=False) if args.predictions else None
    alignment = None
    if args.alignment:
        from napari_leap.align.alignment import Alignment

        alignment = Alignment.load(args.alignment)
    bars: list = []

    def progress(done: int, total: int) -> None:
        if not bars:  # made on first use, so a failing call prints nothing but its error
            bars.append(tqdm(total=total, desc="reading frames", unit="frame", file=sys.stderr))
        bars[0].update(done - bars[0].n)  # tqdm limits how often it redraws

    try:
        frames = suggest_frames(
            args.video,
            args.n,
            args.method,
            exclude=exclude,
            predictions=predictions,
            alignment=alignment,
            seed=args.seed,
            progress=progress,
        )
    finally:
        for bar in bars:
            bar.close()
    for f in frames:
        print(int(f))
    if args.out:
        save_suggestions(frames, args.out)
    return 0
