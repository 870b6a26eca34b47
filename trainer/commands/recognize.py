"""``zsar recognize INPUT --actions "a; b; c"``: zero-shot recognition of a skeleton file.

Every sequence the file holds (one for most formats, several for a PKU-MMD video with its label
file or a CTR-GCN/AimCLR collection) gets one ranked prediction against the typed action names,
with the bundle's preprocessing and "train as you infer" harmonisation.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from engine.errors import ZsarError
from engine.types import ClassSet


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recognize", help="rank typed action names for each sequence of a skeleton file")
    p.add_argument("input", help="a skeleton file (any supported format) or a video (pose by MediaPipe)")
    p.add_argument("--actions", required=True,
                   help='action names separated by ";" (a "name: description" pair gives a description)')
    p.add_argument("--bundle", help="model bundle (default: $ZSAR_BUNDLE, else assets/models/default.zsar)")
    p.add_argument("--top", type=int, default=5, help="how many ranked names to print per sequence")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--clip-checkpoint", help="local CLIP ViT-B/32 weights, for bundles whose text encoder is CLIP")
    p.add_argument("--pose-model", help="MediaPipe pose .task for a video input (default: zsar pose-model's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _class_set(actions: str) -> ClassSet:
    try:
        return ClassSet.parse(actions)
    except ValueError as exc:
        raise ZsarError(f"--actions: {exc}") from None


def recognize_video(input_path: str, actions: str, bundle_path: str | None = None, top: int = 5,
                    device: str = "auto", text_options: dict[str, Any] | None = None,
                    pose_model: str | None = None) -> dict[str, Any]:
    """The Live pipeline on a video file: one ranked prediction for the whole clip (its frames with a
    person) and the streaming recognizer's windows, as the Live tab shows them."""
    import numpy as np

    from engine.bundle import load_bundle, resolve_bundle
    from engine.live import run_live
    from engine.pose import MediaPipePoseEstimator, VideoFileSource
    from engine.streaming import StreamingRecognizer, text_encoder_for

    class_set = _class_set(actions)
    source = VideoFileSource(input_path)  # bad input fails here, before any model loads
    bundle = load_bundle(resolve_bundle(bundle_path))
    text = text_encoder_for(bundle, **(text_options or {}))
    with source, MediaPipePoseEstimator(pose_model) as estimator, \
            StreamingRecognizer(bundle, class_set, text_encoder=text, device=device, input_fps=source.fps,
                                top_k=top) as rec:
        frames = list(run_live(source, estimator, rec, keep_images=False))
        people = [f.joints for f in frames if f.joints is not None]
        windows = [{"window": list(f.prediction.window), **f.prediction.to_dict()} for f in frames
                   if f.prediction is not None]
        whole = rec.predict_sequence(np.stack(people)[:, None]) if people else None
    entry = {"name": Path(input_path).stem, "frames": len(frames), "label": None, "frames_with_person": len(people)}
    entry |= whole.to_dict() if whole is not None else {"ranked": [], "person": False}
    entry["windows"] = windows
    return {"file": str(input_path), "bundle": bundle.path, "actions": list(class_set.names), "sequences": [entry]}


def recognize_file(input_path: str, actions: str, bundle_path: str | None = None, top: int = 5,
                   device: str = "auto", text_options: dict[str, Any] | None = None) -> dict[str, Any]:
    from engine.bundle import load_bundle, resolve_bundle
    from engine.io import open_skeleton_file
    from engine.streaming import StreamingRecognizer, text_encoder_for

    class_set = _class_set(actions)
    collection = open_skeleton_file(input_path)  # bad input fails here, before any model loads
    bundle = load_bundle(resolve_bundle(bundle_path))
    text = text_encoder_for(bundle, **(text_options or {}))
    results = []
    with StreamingRecognizer(bundle, class_set, text_encoder=text, device=device, top_k=top) as rec:
        for seq in collection:
            p = rec.predict_sequence(seq.joints)
            results.append({"name": seq.name, "frames": seq.num_frames, "label": seq.label, **p.to_dict()})
    return {"file": str(input_path), "bundle": bundle.path, "actions": list(class_set.names), "sequences": results}


def run(args: argparse.Namespace) -> int:
    options = {"checkpoint": args.clip_checkpoint} if args.clip_checkpoint else None
    from engine.live import VIDEO_SUFFIXES

    if Path(args.input).suffix.lower() in VIDEO_SUFFIXES:
        out = recognize_video(args.input, args.actions, args.bundle, args.top, args.device, options, args.pose_model)
    else:
        out = recognize_file(args.input, args.actions, args.bundle, args.top, args.device, options)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{out['file']}  ({len(out['sequences'])} sequence(s), bundle {out['bundle']})")
    for s in out["sequences"]:
        label = f"  [labelled: {s['label']}]" if s["label"] else ""
        print(f"  {s['name']}: {s['frames']} frames{label}")
        if not s["person"]:
            print("    no person in the clip")
            continue
        best = s["ranked"][0]
        print(f"    -> {best['name']} ({best['probability']:.0%}, confident)" if s["confidence"] == "confident"
              else "    -> unsure: " + ", ".join(f"{r['name']} {r['probability']:.0%}" for r in s["ranked"][:3]))
        for r in s["ranked"]:
            print(f"    {r['probability']:6.1%}  {r['name']}")
    return 0
