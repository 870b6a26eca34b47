"""The ``zsar`` console script: the headless subcommands of :mod:`trainer.cli` plus the GUI ones
(``demo``, ``app``).

Qt is imported only when a GUI subcommand runs, so ``zsar inspect`` and friends start fast and work
without a display.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from trainer.cli import build_parser, run


def _window_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--pose-model", help="MediaPipe pose .task (default: the one zsar pose-model provisioned)")
    p.add_argument("--quit-after", type=float, help="close the window after this many seconds (scripts, CI)")
    p.add_argument("--screenshots", help="save a PNG of each tab into this folder shortly before --quit-after")


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the desktop app with the default model: the camera if there is one, "
                                    "else procedural demo clips")
    p.add_argument("--headless", action="store_true", help="the terminal demo instead of the window")
    p.add_argument("--seed", type=int, default=0, help="subject variation of the procedural clips (--headless)")
    p.add_argument("--out", help="folder for the headless demo's recordings (default: a temporary folder)")
    _window_options(p)
    p.set_defaults(func=_run_demo)


def _add_app(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("app", help="the desktop app")
    p.add_argument("--bundle", help="model bundle (default: the embedded default bundle)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--camera", type=int, help="start the Live tab on this camera index")
    source.add_argument("--video", help="start the Live tab on this video file")
    source.add_argument("--file", help="open this skeleton file in the Files tab")
    _window_options(p)
    p.set_defaults(func=_run_app)


def _run_demo(args: argparse.Namespace) -> int:
    from app.main import has_display, run_app

    if args.headless or not has_display():
        from app.headless_demo import run_headless_demo

        if not args.headless:
            print("zsar demo: no display (DISPLAY is unset): the terminal demo follows; "
                  "run under a desktop session or xvfb-run for the window\n")
        return run_headless_demo(seed=args.seed, out_dir=args.out)
    return run_app(demo=True, quit_after=args.quit_after, screenshots=args.screenshots, device=args.device,
                   pose_model=args.pose_model)


def _run_app(args: argparse.Namespace) -> int:
    from app.main import run_app

    return run_app(bundle=args.bundle, camera=args.camera, video=args.video, file=args.file,
                   quit_after=args.quit_after, screenshots=args.screenshots, device=args.device,
                   pose_model=args.pose_model)


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(extra=[_add_demo, _add_app]), argv)


if __name__ == "__main__":
    sys.exit(main())
