"""``zsar bench pose``: the Live pipeline's speed on a video, as the Live tab runs it (engine.live):
decode, MediaPipe pose (VIDEO mode), NTU-25 mapping and the streaming recognizer answering every
``stride`` frames. Prints pose latency, recognition latency and end-to-end frames per second.

Without ``--video`` it times a video of real photo frames (scikit-image's astronaut, see
:mod:`engine.pose.photo_video`). Without ``--bundle`` it uses the default bundle.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def add_parser(bench_sub: argparse._SubParsersAction) -> None:
    p = bench_sub.add_parser("pose", help="Live pipeline speed on a video: pose latency, end-to-end fps")
    p.add_argument("--video", help="a video file (default: a video of the astronaut photo)")
    p.add_argument("--frames", type=int, default=300, help="frames to time (the video loops if shorter)")
    p.add_argument("--stride", type=int, default=8, help="frames between recognitions")
    p.add_argument("--bundle", help="model bundle (default: the embedded default bundle)")
    p.add_argument("--pose-model", help="MediaPipe pose .task (default: zsar pose-model's)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _looped(source, frames: int):
    """``frames`` frames of the source, starting over at its end, with increasing timestamps."""
    n, offset, last = 0, 0, 0
    while n < frames:
        got = False
        for rgb, ts in source:
            got = True
            last = offset + ts
            yield rgb, last
            n += 1
            if n >= frames:
                return
        if not got:
            return
        offset = last + round(1000 / source.fps)


def _stats(ms: list[float]) -> dict[str, float | None]:
    if not ms:
        return {"median_ms": None, "p90_ms": None}
    a = np.asarray(ms)
    return {"median_ms": round(float(np.median(a)), 2), "p90_ms": round(float(np.percentile(a, 90)), 2)}


def bench_pose(video: str | None = None, frames: int = 300, stride: int = 8, bundle_path: str | None = None,
               pose_model: str | None = None, device: str = "cpu") -> dict[str, Any]:
    from engine.bundle import StreamingConfig, load_bundle, resolve_bundle
    from engine.live import run_live
    from engine.pose import MediaPipePoseEstimator, VideoFileSource
    from engine.pose.photo_video import write_photo_video
    from engine.streaming import StreamingRecognizer, text_encoder_for
    from engine.types import ClassSet

    bundle = load_bundle(resolve_bundle(bundle_path))
    with tempfile.TemporaryDirectory(prefix="zsar-bench-pose-") as tmp:
        path = video or str(write_photo_video(Path(tmp) / "astronaut.avi", frames=120))
        with VideoFileSource(path) as source, MediaPipePoseEstimator(pose_model) as estimator:
            streaming = StreamingConfig(**{**bundle.streaming.to_dict(), "stride": stride, "fps": source.fps})
            classes = ClassSet.from_dataset("everyday_actions")
            with StreamingRecognizer(bundle, classes, text_encoder=text_encoder_for(bundle), device=device,
                                     input_fps=source.fps, streaming=streaming) as rec:
                warm = list(run_live(_looped(source, 10), estimator, rec, keep_images=False))
                t0 = time.perf_counter()
                done = list(run_live(_looped(source, frames), estimator, rec, keep_images=False))
                wall = time.perf_counter() - t0
            size = f"{source.width}x{source.height}"
    recognised = [f.recognize_ms for f in done if f.prediction is not None]
    return {
        "video": video or "astronaut photo video (generated)", "size": size, "frames": len(done),
        "warmup_frames": len(warm), "frames_with_person": sum(f.pose is not None for f in done),
        "stride": stride, "bundle": bundle.path, "encoder": bundle.encoder_name, "method": bundle.method_name,
        "pose": _stats([f.pose_ms for f in done]), "recognition": _stats(recognised),
        "recognitions": len(recognised), "end_to_end_fps": round(len(done) / wall, 2) if wall > 0 else None,
        "decode_and_other_ms_per_frame": round(1000 * wall / max(len(done), 1)
                                               - float(np.mean([f.pose_ms + f.recognize_ms for f in done])), 2),
    }


def run(args: argparse.Namespace) -> int:
    r = bench_pose(args.video, args.frames, args.stride, args.bundle, args.pose_model, args.device)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"Live pipeline on {r['video']} ({r['size']}), {r['frames']} frames, recognition every {r['stride']}")
    print(f"  person found in {r['frames_with_person']}/{r['frames']} frames")
    print(f"  pose (MediaPipe VIDEO mode + NTU-25): median {r['pose']['median_ms']} ms, p90 {r['pose']['p90_ms']} ms")
    print(f"  recognition ({r['recognitions']} windows, {r['encoder']} + {r['method']}): "
          f"median {r['recognition']['median_ms']} ms, p90 {r['recognition']['p90_ms']} ms")
    print(f"  decode and the rest: {r['decode_and_other_ms_per_frame']} ms a frame")
    print(f"  end to end: {r['end_to_end_fps']} frames per second")
    return 0
