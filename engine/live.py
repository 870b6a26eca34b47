"""The Live pipeline without a GUI: frames -> MediaPipe pose -> NTU-25 -> streaming recognizer.

One loop serves the app's Live tab (on a worker thread), ``zsar recognize VIDEO`` and ``zsar bench
pose``, so what the benchmark measures is what the window runs. Frames go to the pose estimator as
they come (never mirrored: docs/live_input.md#mirroring-is-for-display-only); the recognizer gets one NTU-25 frame per
video frame, or None when nobody is found, and answers every ``stride`` frames.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from engine.pose.estimator import PoseResult
from engine.types import Prediction, SkeletonSequence

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


@dataclass(frozen=True)
class LiveFrame:
    """What one video frame gave.

    Attributes:
        index: frame number from the start of the stream.
        timestamp_ms: the frame's time.
        image: the RGB frame as captured (not mirrored), or None when the caller did not keep it.
        pose: MediaPipe's result (landmarks in image and world coordinates), None when nobody is found.
        prediction: the recognizer's answer when one was due on this frame, else None.
        pose_ms / recognize_ms: time spent in pose estimation and in the recognizer on this frame.
    """

    index: int
    timestamp_ms: int
    image: np.ndarray | None
    pose: PoseResult | None
    prediction: Prediction | None
    pose_ms: float
    recognize_ms: float

    @property
    def joints(self) -> np.ndarray | None:
        """NTU-25 joints ``(25, 3)`` of the person, None when nobody is found."""
        return None if self.pose is None else self.pose.ntu


def run_live(frames: Iterable[tuple[np.ndarray, int]], estimator, recognizer=None,
             should_stop: Callable[[], bool] | None = None, keep_images: bool = True) -> Iterator[LiveFrame]:
    """Yield a :class:`LiveFrame` per frame of ``frames`` (``(rgb, timestamp_ms)`` pairs).

    Args:
        frames: a :class:`~engine.pose.sources.VideoFileSource`, a camera, or any such iterable.
        estimator: a :class:`~engine.pose.estimator.PoseEstimator`.
        recognizer: a :class:`~engine.streaming.StreamingRecognizer`, or None for pose only.
        should_stop: checked before each frame; True ends the loop (cooperative cancel).
        keep_images: False drops the frames from the results (benchmarks, headless runs).
    """
    for index, (rgb, ts) in enumerate(frames):
        if should_stop is not None and should_stop():
            return
        t0 = time.perf_counter()
        pose = estimator.estimate(rgb, ts)
        t1 = time.perf_counter()
        prediction = recognizer.push(None if pose is None else pose.ntu) if recognizer is not None else None
        t2 = time.perf_counter()
        yield LiveFrame(index, ts, rgb if keep_images else None, pose, prediction, (t1 - t0) * 1e3, (t2 - t1) * 1e3)


def recording(frames: list[LiveFrame], fps: float, name: str = "recording") -> SkeletonSequence:
    """The NTU-25 skeletons of ``frames`` as a sequence (zeros where nobody was found), for
    :func:`engine.io.write_ntu_skeleton`."""
    joints = np.zeros((len(frames), 1, 25, 3), np.float32)
    confidence = np.zeros((len(frames), 1, 25), np.float32)
    for i, f in enumerate(frames):
        if f.pose is not None:
            joints[i, 0] = f.pose.ntu
            confidence[i, 0] = f.pose.ntu_confidence
    return SkeletonSequence(joints=joints, fps=float(fps), source_format="live", source_layout="mediapipe33",
                            name=name, confidence=confidence)
