"""Training clips from what the readers return: one clip per sequence, at one frame rate, except for
recordings that hold many instances (MSRC-12's continuous streams with instant tags).

Every dataset clip is brought to :data:`RATE` frames per second first, so that a window of frames
means the same duration in every dataset, in the live recognizer and in training (HDM05 and CMU
mocap are 120 Hz; the Kinect datasets ~30 Hz).

MSRC-12 (Fothergill et al., CHI 2012) tags each gesture instance with one instant, "when the gesture
should be detected", not with a start and an end. Averaged over the 6,233 tags, the body's motion
(summed joint speed relative to the hip) rises about 1.5 s before the tag and falls about 0.5 s after
it; the earliest gesture (bow) moves from ~2 s before, the latest (kick) until ~0.7 s after. A clip is
therefore the frames from :data:`MSRC12_BEFORE_S` before the tag to :data:`MSRC12_AFTER_S` after it
(2.3 s, 70 frames at 30 fps; consecutive tags are a median 3.1 s apart, so clips rarely overlap). The
whole streams stay available to continuous recognition through the reader.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from engine.skeleton.preprocess import resize_time
from engine.types import SkeletonSequence

RATE = 30.0  # frames per second of every training clip
_RATE_TOLERANCE = 0.1  # Kinect v1 streams jitter around 30 Hz: only resample a clearly different rate
MSRC12_BEFORE_S = 1.67
MSRC12_AFTER_S = 0.67
MIN_PRESENT_FRAMES = 10  # a cut clip with fewer tracked frames holds no gesture (tracker lost the body)


def at_rate(joints: np.ndarray, fps: float, rate: float = RATE) -> np.ndarray:
    """``joints (T, ...)`` recorded at ``fps`` resampled linearly to ``rate`` (unchanged when close)."""
    if abs(fps - rate) <= _RATE_TOLERANCE * rate:
        return joints
    frames = max(2, int(round(len(joints) * rate / fps)))
    return resize_time(joints, frames)


def instances(dataset: str, seq: SkeletonSequence) -> Iterator[tuple[str, np.ndarray]]:
    """``(name, joints)`` of each training clip ``seq`` holds, at :data:`RATE`."""
    joints = at_rate(seq.joints, seq.fps)
    if dataset != "msrc12":
        yield seq.name, joints
        return
    scale = RATE / seq.fps if abs(seq.fps - RATE) > _RATE_TOLERANCE * RATE else 1.0
    before, after = int(round(MSRC12_BEFORE_S * RATE)), int(round(MSRC12_AFTER_S * RATE))
    present = np.any(joints != 0, axis=(1, 2, 3))
    for k, tag in enumerate(seq.meta.get("tags", ())):
        t = int(round(tag * scale))
        lo, hi = max(0, t - before), min(len(joints), t + after)
        if present[lo:hi].sum() >= MIN_PRESENT_FRAMES:
            yield f"{seq.name}#{k}", joints[lo:hi]
