"""`napari-leap` command line: one subcommand per step, over the same core as the widgets.

Each subcommand lives in ``napari_leap.commands.<name>`` with ``add_parser``
and ``run``; this module only dispatches, so ``--help`` stays fast (no torch).
User errors (bad paths, wrong formats) end with one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "align": "find, crop and rotate each animal into an egocentric box",
    "train": "train a pose model from a labels file or a project",
    "predict": "predict body parts on videos or labelled frames",
    "evaluate": "compare predictions with ground-truth labels",
    "suggest": "suggest frames worth labelling",
    "demo": "run the whole pipeline on the bundled two-fly clip",
}


def build_parser() -> argparse.ArgumentParser:
    """One subcommand per module in ``commands/``, each adding its own options."""
    parser = argparse.ArgumentParser(
        prog="napari-leap",
        description="LEAP Estimates Animal Poses: align, label, train, predict and evaluate.",
    )
    from napari_leap import __version__

    parser.add_argument("--version", action="version", version=f"napari-leap {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary in COMMANDS.items():
        module = importlib.import_module(f"napari_leap.commands.{name}")
        p = sub.add_parser(name, help=summary, description=summary)
        module.add_parser(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command; a user's error is one line on stderr and exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    try:
        result = args._run(args)
    except KeyboardInterrupt:
        print("napari-leap: interrupted; finished work was kept.", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - user-facing boundary
        from napari_leap.errors import is_user_error, user_message

        if is_user_error(e):
            print(f"napari-leap {args.command}: error: {user_message(e)}", file=sys.stderr)
            return 2
        raise
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
