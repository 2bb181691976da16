"""`napari-leap align VIDEO --animals N --box-size PX --out PATH`: align a video headless.

Writes the alignment folder ``PATH`` (``alignment.json`` + ``arrays.npz``, see
:meth:`napari_leap.align.alignment.Alignment.save`) and the boxes as a zarr
array ``PATH/boxes.zarr`` ``(frames, animals, box, box, channels)`` chunked
per frame (skip it with ``--no-boxes``). Flagged frames are summarised at the end.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def add_parser(parser: argparse.ArgumentParser) -> None:
    """The ``align`` verb's arguments."""
    parser.add_argument("video", metavar="VIDEO", help="video file, image folder, HDF5 or zarr")
    parser.add_argument(
        "--animals",
        "-n",
        type=int,
        default=1,
        metavar="N",
        help="number of animals in every frame (default 1)",
    )
    parser.add_argument(
        "--box-size",
        "-b",
        type=int,
        default=None,
        metavar="PX",
        help="side of the square box in pixels (default: 1.4x the animal length)",
    )
    parser.add_argument(
        "--out",
        "-o",
        required=True,
        metavar="PATH",
        help="alignment folder to write (boxes go to PATH/boxes.zarr)",
    )
    parser.add_argument(
        "--polarity",
        choices=("auto", "light", "dark"),
        default="auto",
        help="light animal on dark background, or dark on light (default auto)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="contrast threshold in grey levels (default: automatic, Otsu)",
    )
    parser.add_argument(
        "--background",
        choices=("auto", "percentile", "none"),
        default="auto",
        help="background model (default auto; 'none' for animals that never move)",
    )
    parser.add_argument("--no-boxes", action="store_true", help="write the transforms only")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def _bar(quiet: bool):
    """A progress callback drawing one tqdm bar per stage."""
    if quiet:
        return lambda event: None, lambda: None
    from tqdm import tqdm

    state = {"bar": None, "stage": None}

    names = {"align": "aligning", "boxes": "writing boxes"}

    def update(event):
        if event.stage not in names:  # background sampling is short; "done" ends a stage
            return
        if event.stage != state["stage"]:
            if state["bar"] is not None:
                state["bar"].close()
            state["stage"] = event.stage
            state["bar"] = tqdm(total=event.total, desc=names[event.stage], unit="frame")
        bar = state["bar"]
        bar.total = event.total
        bar.n = event.done
        bar.refresh()

    def close():
        if state["bar"] is not None:
            state["bar"].close()

    return update, close


def _check_found(alignment, asked: int) -> None:
    """Refuse an alignment with tracks that never found their animal.

    That is more animals asked for than the video holds; warn when most frames
    have fewer animals than asked for.
    """
    from napari_leap.errors import LeapError

    per_frame = alignment.found.sum(axis=1)
    typical = int(np.median(per_frame))
    seen = asked - alignment.animals_never_found
    if seen < asked:
        raise LeapError(
            f"only {seen} of the {asked} animals asked for were found on any frame ({typical} "
            "on most frames), so nothing was written; give --animals the number of animals in "
            "the video, or set --threshold or --polarity if animals are missed."
        )
    if typical < asked:
        print(
            f"warning: on most frames only {typical} of the {asked} animals were found; "
            "check --animals, --threshold and --polarity",
            file=sys.stderr,
        )


def run(args: argparse.Namespace) -> int:
    """Align, save the alignment and its boxes, and summarise the flags; 0 when written."""
    from napari_leap.align.alignment import align, write_boxes
    from napari_leap.errors import LeapError

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise LeapError(f"--out {out} is a file; give a folder for the alignment.")
    update, close = _bar(args.quiet)
    new = [p for p in (out, *out.parents) if not p.exists()]  # removed again if writing fails
    try:
        alignment = align(
            args.video,
            args.animals,
            args.box_size,
            progress=update,
            polarity=args.polarity,
            threshold=args.threshold,
            background=args.background,
        )
        _check_found(alignment, args.animals)
        alignment.save(out)
        if not args.no_boxes:
            write_boxes(alignment, out / "boxes.zarr", progress=update)
    except Exception:
        import shutil

        if new:  # a half-written folder would later be mistaken for an alignment
            shutil.rmtree(new[-1], ignore_errors=True)
        raise
    finally:
        close()
    flagged = alignment.flagged()
    o = alignment.options
    print(
        f"aligned {alignment.n_frames} frames x {alignment.n_animals} animals, box "
        f"{alignment.box_size} px (polarity {o['polarity']}, threshold {o['threshold']:.0f}); "
        f"{len(flagged)} flagged animal-frames"
    )
    reasons: dict[str, int] = {}
    for _, _, r in flagged:
        for name in r.split(","):
            reasons[name] = reasons.get(name, 0) + 1
    if reasons:
        print("flags: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    bad = int(alignment.unreadable.sum())
    if bad:
        first = int(np.flatnonzero(alignment.unreadable)[0])
        print(
            f"warning: {bad} frames could not be decoded (from frame {first}; "
            f"{alignment.read_errors[0] if alignment.read_errors else 'no detail'}); "
            "their animals keep the last known position and their boxes are black",
            file=sys.stderr,
        )
    print(
        f"alignment written to {out}"
        + ("" if args.no_boxes else f", boxes to {out / 'boxes.zarr'}")
    )
    return 0
