"""`napari-leap train LABELS_OR_PROJECT --out MODEL_DIR`: train a pose model with a progress bar."""

from __future__ import annotations

import argparse
import sys
import time


def add_parser(parser: argparse.ArgumentParser) -> None:
    from napari_leap.pose.models import ARCHITECTURES

    parser.add_argument(
        "source",
        metavar="LABELS_OR_PROJECT",
        help="labels file (.slp, .pkg.slp, DLC, LEAP .mat, NWB, COCO), box .h5 or project folder",
    )
    parser.add_argument("--out", required=True, metavar="MODEL_DIR", help="folder for the model")
    parser.add_argument(
        "--arch",
        default="unet",
        choices=list(ARCHITECTURES),
        help="network (default: unet, fast on CPU and GPU)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="maximum epochs (default: until --time-limit is spent; without one, 2,500 steps)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="MINUTES",
        help="budget for the whole command, alignment included: input scale and batch are chosen "
        "to fill it, the learning rate decays over it, and the best model is kept",
    )
    parser.add_argument(
        "--val",
        metavar="VAL_LABELS",
        default=None,
        help="validation labels (any LABELS kind) instead of a split of LABELS_OR_PROJECT",
    )
    parser.add_argument(
        "--input-scale",
        type=float,
        default=None,
        metavar="S",
        help="image scale fed to the network (default: chosen per architecture)",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--align",
        nargs="?",
        const="background",
        default=None,
        choices=("background", "learned", "none"),
        help="how animals get into egocentric boxes: background (subtraction on the whole "
        "video; the default of a bare --align), learned (a first-stage network trained from "
        "the same labels: any background, no video needed) or none (full frames); "
        "default: chosen from the labels, and said why",
    )
    group.add_argument(
        "--no-align", dest="align", action="store_const", const="none", help="= --align none"
    )
    parser.add_argument(
        "--anchor",
        metavar="PART",
        help="learned alignment: the body part each animal is found by (default: from the "
        "names, e.g. thorax)",
    )
    parser.add_argument(
        "--heading-part",
        metavar="PART",
        help="learned alignment: the part the animal faces towards (default: e.g. head)",
    )
    parser.add_argument(
        "--box-size", type=int, default=None, help="box side in pixels when aligning"
    )
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--device", default=None, help="cpu, cuda, mps (default: the fastest present)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run in MODEL_DIR"
    )


def run(args) -> int:
    from tqdm import tqdm

    from napari_leap.errors import LeapError
    from napari_leap.pose.train import (
        BatchEnd,
        EpochEnd,
        Message,
        TrainFinished,
        TrainStarted,
        iter_train,
    )

    start = time.monotonic()
    if args.time_limit is not None and args.time_limit <= 0:
        raise LeapError("--time-limit must be a positive number of minutes.")
    if args.epochs is not None and args.epochs < 1:
        raise LeapError("--epochs must be at least 1.")
    if args.input_scale is not None and not 0 < args.input_scale <= 4:
        raise LeapError("--input-scale must be between 0 and 4 (e.g. 0.5).")
    from napari_leap.io.atomic import ensure_writable

    ensure_writable(args.out)  # a read-only or full disk is found before any work
    # the budget counts from the start of the command (imports included)
    limit = args.time_limit * 60 - (time.monotonic() - start) if args.time_limit else None
    gen = iter_train(
        args.source,
        args.out,
        arch=args.arch,
        epochs=args.epochs,
        time_limit=limit,
        val_data=args.val,
        input_scale=args.input_scale,
        align=args.align,
        anchor=args.anchor,
        heading_part=args.heading_part,
        box_size=args.box_size,
        batch_size=args.batch_size,
        seed=args.seed,
        device=args.device,
        resume=args.resume,
    )
    bar = None
    try:
        while True:
            try:
                event = next(gen)
            except StopIteration as done:
                model = done.value
                break
            if isinstance(event, Message):
                print(f"napari-leap train: {event.text}", file=sys.stderr)
            elif isinstance(event, TrainStarted):
                if bar is not None:  # the alignment stage ended; the pose stage starts
                    bar.close()
                print(
                    f"napari-leap train: {event.stage} stage, "
                    f"{event.arch} on {event.device}, {event.n_train} training / "
                    f"{event.n_val} validation images of {event.input_size[1]}x{event.input_size[0]} "
                    f"at scale {event.input_scale:g}",
                    file=sys.stderr,
                )
                bar = tqdm(
                    total=event.epochs,
                    initial=event.start_epoch,
                    unit="epoch",
                    file=sys.stderr,
                    dynamic_ncols=True,
                )
            elif isinstance(event, BatchEnd) and bar is not None:
                bar.set_postfix_str(f"batch {event.batch}/{event.n_batches} loss {event.loss:.2e}")
            elif isinstance(event, EpochEnd) and bar is not None:
                bar.total = max(event.epochs, event.epoch)  # a budget's epochs are an estimate
                bar.update(1)
                bar.set_postfix_str(
                    f"val error {event.val_error_px:.2f} px (median "
                    f"{event.val_error_median_px:.2f}){' *' if event.best else ''}"
                )
            elif isinstance(event, TrainFinished):
                if bar is not None:
                    bar.close()
                why = {
                    "epochs": "all epochs done",
                    "early_stopping": "validation stopped improving",
                    "time_limit": "time limit reached",
                    "stopped": "stopped",
                }[event.reason]
                bar = None
                print(
                    f"napari-leap train: {why}; best epoch {event.best_epoch} "
                    f"(validation error {event.best_val_error_px:.2f} px mean)",
                    file=sys.stderr,
                )
    finally:
        if bar is not None:
            bar.close()
        gen.close()
    print(model.model_dir)
    return 0
