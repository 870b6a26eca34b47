"""The ``zsar`` console script: the headless subcommands of :mod:`trainer.cli` plus the GUI ones.

Qt is imported only when a GUI subcommand runs, so ``zsar inspect`` and friends start fast and work
without a display.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from trainer.cli import build_parser, run


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the demo on built-in procedural clips")
    p.add_argument("--headless", action="store_true", default=True,
                   help="draw in the terminal (the only mode until the desktop app ships)")
    p.add_argument("--seed", type=int, default=0, help="subject variation of the procedural clips")
    p.add_argument("--out", help="folder for the demo recordings (default: a temporary folder)")
    p.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from app.headless_demo import run_headless_demo

    return run_headless_demo(seed=args.seed, out_dir=args.out)


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(extra=[_add_demo]), argv)


if __name__ == "__main__":
    sys.exit(main())
