"""``zsar pose-model [--path P]``: provision the MediaPipe pose model into the user's cache and print
its path (a path the user gives, else built from the mediapipe 0.10.21 wheel, else the official
download when online)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pose-model", help="provision the MediaPipe pose model, print its path")
    p.add_argument("--path", help="a pose_landmarker .task file you already have")
    p.add_argument("--no-download", action="store_true", help="never fetch anything from the network")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from engine.pose import provision_pose_model  # lazy: keeps `zsar --help` fast

    path = provision_pose_model(
        path=args.path, allow_download=not args.no_download, log=lambda msg: print(msg, file=sys.stderr)
    )
    print(path)
    return 0
