"""The headless ``zsar`` subcommands and their shared error handling.

``app.cli`` adds the GUI subcommands (``demo``, ``app``) to the parser built here, so the console
script has one parser while ``trainer`` never imports Qt. Each subcommand lives in
``trainer/commands/<name>.py`` and exposes ``add_parser(subparsers)``; the parser it adds carries
the function to run as ``func``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from engine import __version__
from engine.errors import ZsarError
from trainer.commands import bench, evaluate, export, inspect, pose_model, recognize, train

COMMANDS = (inspect, recognize, train, evaluate, export, bench, pose_model)


def build_parser(extra: Sequence[Callable[[argparse._SubParsersAction], None]] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zsar",
        description="zsar-studio: zero-shot skeleton-based action recognition.",
    )
    parser.add_argument("--version", action="version", version=f"zsar-studio {__version__}")
    parser.add_argument("--verbose", "-v", action="store_true", help="log progress and details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in extra:
        add(sub)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse and run; a :class:`ZsarError` becomes one line on stderr and exit status 1."""
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except ZsarError as exc:
        print(f"zsar: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("zsar: interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
