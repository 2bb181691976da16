"""`napari-leap evaluate GROUND_TRUTH PREDICTIONS`: how far predictions are from the labels.

Prints a table per body part (or, with ``--json``, exactly one JSON object on stdout,
keys as documented in ``napari_leap.pose.evaluate``) and optionally writes a PNG plot.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(parser: argparse.ArgumentParser) -> None:
    """The ``evaluate`` verb's arguments."""
    parser.add_argument(
        "ground_truth", metavar="GROUND_TRUTH", help="labels file with the true poses"
    )
    parser.add_argument(
        "predictions", metavar="PREDICTIONS", help="labels file with the predicted poses"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object instead of a table"
    )
    parser.add_argument(
        "--plot", metavar="PATH", help="write a PNG of errors per body part and PCK"
    )
    parser.add_argument(
        "--sigmas",
        choices=("uniform", "data"),
        default="uniform",
        help="OKS per-node sigmas: uniform 0.025 as SLEAP (default), or estimated from the errors",
    )
    parser.add_argument(
        "--body-length-nodes",
        nargs=2,
        metavar=("NODE_A", "NODE_B"),
        help="two body parts whose distance is the body length for PCK (default: head/abdomen-like)",
    )


def run(args: argparse.Namespace) -> int:
    """Score predictions against ground truth and print the report; the exit status."""
    from napari_leap.pose.evaluate import evaluate

    result = evaluate(
        args.ground_truth,
        args.predictions,
        node_sigmas=args.sigmas,
        body_length_nodes=args.body_length_nodes,
    )
    if args.plot:
        result.plot(args.plot)
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), allow_nan=False) + "\n")
    else:
        print(result.format_table())
        if args.plot:
            print(f"plot written to {args.plot}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run this command alone (same error handling as the ``napari-leap`` dispatcher)."""
    parser = argparse.ArgumentParser(prog="napari-leap evaluate", description=__doc__)
    add_parser(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except Exception as e:  # noqa: BLE001 - user-facing boundary
        from napari_leap.errors import is_user_error

        if is_user_error(e):
            print(f"napari-leap evaluate: error: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
