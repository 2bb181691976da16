"""`napari-leap train LABELS_OR_PROJECT --out MODEL_DIR`: train a pose model with a progress bar."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace


def add_parser(parser: argparse.ArgumentParser) -> None:
    """The ``train`` verb's arguments."""
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
    _add_run_arguments(parser)


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the run starts: over again (``--resume``) or from another model's weights."""
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run in MODEL_DIR"
    )
    parser.add_argument(
        "--init-from",
        metavar="MODEL",
        default=None,
        help="fine-tune: start from this model's weights (its network, input scale and "
        "alignment are kept; the optimiser starts afresh)",
    )


def run(args) -> int:
    """Train with a progress bar on stderr; prints the model folder on stdout."""
    from napari_leap.pose.train import TrainConfig, check_config, iter_train

    start = time.monotonic()
    config = TrainConfig(
        arch=args.arch,
        epochs=args.epochs,
        time_limit=args.time_limit * 60 if args.time_limit is not None else None,
        input_scale=args.input_scale,
        align=args.align,
        anchor=args.anchor,
        heading_part=args.heading_part,
        box_size=args.box_size,
        batch_size=args.batch_size,
        seed=args.seed,
        device=args.device,
        resume=args.resume,
        init_from=args.init_from,
    )
    check_config(config, args.out)
    if args.init_from is not None:  # a wrong folder is refused before the labels are read
        from napari_leap.pose.train.finetune import model_config

        model_config(args.init_from)
    # the budget counts from the start of the command (imports included)
    limit = args.time_limit * 60 - (time.monotonic() - start) if args.time_limit else None
    config = replace(config, time_limit=limit)
    gen = iter_train(args.source, args.out, config, val_data=args.val)
    bar = _Bar()
    try:
        while True:
            try:
                event = next(gen)
            except StopIteration as done:
                model = done.value
                break
            bar.show(event)
    finally:
        bar.close()
        gen.close()
    print(model.model_dir)
    return 0


#: why a run ended, as the CLI says it
WHY = {
    "epochs": "all epochs done",
    "early_stopping": "validation stopped improving",
    "time_limit": "time limit reached",
    "stopped": "stopped",
}


class _Bar:
    """A tqdm bar per training stage, and the trainer's messages on stderr."""

    def __init__(self):
        self.bar = None

    def show(self, event) -> None:
        """Print or draw one training event."""
        from napari_leap.pose.train import BatchEnd, EpochEnd, Message, TrainFinished, TrainStarted

        if isinstance(event, Message):
            warning = "warning: " if event.warning else ""
            print(f"napari-leap train: {warning}{event.text}", file=sys.stderr)
        elif isinstance(event, TrainStarted):
            self.start(event)
        elif isinstance(event, BatchEnd) and self.bar is not None:
            self.bar.set_postfix_str(f"batch {event.batch}/{event.n_batches} loss {event.loss:.2e}")
        elif isinstance(event, EpochEnd) and self.bar is not None:
            self.bar.total = max(event.epochs, event.epoch)  # a budget's epochs are an estimate
            self.bar.update(1)
            self.bar.set_postfix_str(
                f"val error {event.val_error_px:.2f} px (median "
                f"{event.val_error_median_px:.2f}){' *' if event.best else ''}"
            )
        elif isinstance(event, TrainFinished):
            self.close()
            print(
                f"napari-leap train: {WHY[event.reason]}; best epoch {event.best_epoch} "
                f"(validation error {event.best_val_error_px:.2f} px mean)",
                file=sys.stderr,
            )

    def start(self, event) -> None:
        """A new stage: the alignment stage's bar ends, the pose stage's starts."""
        from tqdm import tqdm

        self.close()
        print(
            f"napari-leap train: {event.stage} stage, "
            f"{event.arch} on {event.device}, {event.n_train} training / "
            f"{event.n_val} validation images of {event.input_size[1]}x{event.input_size[0]} "
            f"at scale {event.input_scale:g}",
            file=sys.stderr,
        )
        self.bar = tqdm(
            total=event.epochs,
            initial=event.start_epoch,
            unit="epoch",
            file=sys.stderr,
            dynamic_ncols=True,
        )

    def close(self) -> None:
        """Close the bar of the stage running, if any."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
