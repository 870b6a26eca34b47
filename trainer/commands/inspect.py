"""``zsar inspect FILE [--json]``: what a skeleton file holds."""

from __future__ import annotations

import argparse
import json
from typing import Any

from engine.io import FORMATS, open_skeleton_file
from engine.skeleton.layouts import get_layout
from engine.types import SkeletonSequence


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="show what a skeleton file holds: format, frames, bodies, joints, fps, label")
    p.add_argument("file", help="any supported skeleton file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--all", action="store_true", help="list every sequence of a multi-sequence file")
    p.set_defaults(func=run)


def describe_sequence(seq: SkeletonSequence) -> dict[str, Any]:
    layout = get_layout(seq.source_layout)
    return {
        "name": seq.name,
        "frames": seq.num_frames,
        "bodies": seq.num_bodies,
        "joints": int(seq.joints.shape[2]),
        "fps": seq.fps,
        "duration_s": round(seq.duration_s, 3),
        "label": seq.label,
        "label_id": seq.label_id,
        "dataset": seq.dataset,
        "source_layout": seq.source_layout,
        "source_joints": layout.num_joints,
        "measured_joints": int(layout.measured.sum()),
        "meta": {k: v for k, v in seq.meta.items() if isinstance(v, (str, int, float, bool))},
    }


def describe_file(path: str, list_all: bool = False, limit: int = 10) -> dict[str, Any]:
    collection = open_skeleton_file(path)
    shown = len(collection) if list_all else min(len(collection), limit)
    items = [describe_sequence(collection[i]) for i in range(shown)]
    out: dict[str, Any] = {
        "file": path,
        "format": collection.format,
        "format_description": FORMATS.get(collection.format).description,
        "sequences": len(collection),
    }
    if len(collection) == 1:
        out.update(items[0])
    else:
        out["items"] = items
    return out


def _label_text(d: dict[str, Any]) -> str:
    if d.get("label") is None:
        return "-"
    return f"{d['label']} ({d['dataset']} class {d['label_id']})"


def format_text(d: dict[str, Any]) -> str:
    lines = [f"file      {d['file']}", f"format    {d['format']} ({d['format_description']})"]
    if d["sequences"] == 1:
        lines += [
            f"frames    {d['frames']}",
            f"bodies    {d['bodies']}",
            f"joints    {d['joints']} (NTU-25, from {d['source_layout']}: "
            f"{d['measured_joints']} measured, {d['joints'] - d['measured_joints']} synthesised)",
            f"fps       {d['fps']:g}",
            f"duration  {d['duration_s']:.2f} s",
            f"label     {_label_text(d)}",
        ]
        return "\n".join(lines)
    lines.append(f"sequences {d['sequences']}")
    lines.append(f"{'#':>5}  {'name':<40} {'frames':>6} {'bodies':>6} {'fps':>5}  label")
    for i, item in enumerate(d["items"]):
        lines.append(
            f"{i:>5}  {item['name'][:40]:<40} {item['frames']:>6} {item['bodies']:>6} {item['fps']:>5g}  "
            f"{_label_text(item)}"
        )
    if len(d["items"]) < d["sequences"]:
        lines.append(f"  ... {d['sequences'] - len(d['items'])} more (--all lists them)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    d = describe_file(args.file, list_all=args.all)
    print(json.dumps(d, indent=2) if args.json else format_text(d))
    return 0
