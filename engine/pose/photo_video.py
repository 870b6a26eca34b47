"""A video made of real photo frames: a photo of a person, slowly panned and zoomed, written with
OpenCV. It stands in for a camera in tests and benchmarks (no camera, no video download here); the
default photo is scikit-image's astronaut (Eileen Collins, NASA, public domain; it ships in the
scikit-image wheel), the one MediaPipe was measured on (docs/live_input.md#the-pose-model).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from engine.pose.estimator import import_cv2


def astronaut() -> np.ndarray:
    """scikit-image's astronaut photo, ``uint8 (512, 512, 3)`` RGB."""
    try:
        from skimage import data
    except ImportError as exc:
        from engine.errors import ZsarError

        raise ZsarError("the astronaut photo needs scikit-image (pip install scikit-image), "
                        "or pass a video of your own") from exc
    return data.astronaut()


def write_photo_video(path: str | os.PathLike, frames: int = 90, fps: float = 30.0,
                      photo: np.ndarray | None = None, size: tuple[int, int] = (480, 480)) -> Path:
    """Write ``frames`` frames of ``photo`` (default: the astronaut) drifting a few pixels and zooming a
    few percent, as an MJPG ``.avi`` (OpenCV writes it on every platform).

    Returns:
        the path written.
    """
    cv2 = import_cv2()
    rgb = astronaut() if photo is None else np.asarray(photo, np.uint8)
    h, w = rgb.shape[:2]
    out_w, out_h = size
    p = Path(path)
    writer = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"MJPG"), float(fps), (out_w, out_h))
    if not writer.isOpened():
        from engine.errors import ZsarError

        raise ZsarError(f"{p}: OpenCV cannot write an MJPG video here")
    try:
        for i in range(frames):
            phase = 2 * math.pi * i / max(frames, 1)
            zoom = 1.0 + 0.04 * math.sin(phase)
            dx, dy = 6 * math.sin(phase), 4 * math.cos(phase)
            m = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, zoom)
            m[:, 2] += (dx + (out_w - w) / 2, dy + (out_h - h) / 2)
            frame = cv2.warpAffine(rgb, m, (out_w, out_h), borderMode=cv2.BORDER_REFLECT)
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return p
