"""Frame sources for pose estimation: a video file or a camera, as iterators of ``(frame_rgb, timestamp_ms)``.

Frames are ``uint8 (H, W, 3)`` **RGB** (OpenCV decodes BGR; converted here) and never mirrored:
a selfie view is for display only (docs/live_input.md#mirroring-is-for-display-only). Timestamps are integer
milliseconds, increasing, ready for :meth:`engine.pose.PoseEstimator.estimate` in VIDEO mode:
from the frame index and the file's frame rate for a video, from a monotonic clock for a camera.

OpenCV comes with mediapipe (``opencv-contrib-python``); it is imported when a source is opened.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engine.errors import ZsarError
from engine.pose.estimator import import_cv2

logger = logging.getLogger(__name__)

FALLBACK_FPS = 30.0  # when a container does not state its frame rate
MAX_FAILED_READS = 30  # consecutive camera read failures (~1 s at 30 fps) before giving up


class SourceError(ZsarError, RuntimeError):
    """A video file or camera that cannot be opened or read; the message is for the user."""


class VideoFileSource:
    """Frames of a video file.

    Args:
        path: any file OpenCV's FFmpeg backend decodes (``.mp4``, ``.avi``, ``.mkv``, ...).

    Attributes:
        fps: frames per second the file states (``FALLBACK_FPS`` when it states none).
        frame_count: frames the container claims (may be approximate; 0 when unknown).
        width, height: frame size in pixels.

    Raises:
        SourceError: the file does not exist or cannot be decoded.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"{self.path}: no such video file")
        self._cv2 = import_cv2()
        self._cap = self._open()
        fps = float(self._cap.get(self._cv2.CAP_PROP_FPS) or 0.0)
        if not (math.isfinite(fps) and 0.0 < fps < 1000.0):
            logger.warning("%s states no usable frame rate (%r); assuming %.0f fps",
                           self.path, fps, FALLBACK_FPS)
            fps = FALLBACK_FPS
        self.fps = fps
        self.frame_count = max(int(self._cap.get(self._cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
        self.width = int(self._cap.get(self._cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(self._cv2.CAP_PROP_FRAME_HEIGHT))
        self._fresh = True

    def _open(self):
        cap = self._cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{self.path}: cannot open as a video (not a video, or a codec OpenCV lacks)")
        return cap

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        """Yield ``(frame_rgb, timestamp_ms)`` from the first frame; iterating again starts over."""
        if self._cap is None or not self._fresh:
            self.close()
            self._cap = self._open()
        self._fresh = False
        cap, cv2 = self._cap, self._cv2
        index = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), round(index * 1000.0 / self.fps)
            index += 1
        if index == 0:
            raise SourceError(f"{self.path}: no decodable frames")

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> VideoFileSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VideoFileSource({str(self.path)!r}, {self.width}x{self.height}, {self.fps:g} fps)"


class CameraSource:
    """Live frames from a camera (webcam), until :meth:`close` or the camera stops.

    Args:
        index: OpenCV camera index (0 = the first camera).
        width, height, fps: requested capture format; the camera may choose another (see the
            attributes after opening).

    Raises:
        SourceError: no camera at ``index``, or it is busy.
    """

    def __init__(self, index: int = 0, width: int | None = None, height: int | None = None,
                 fps: float | None = None) -> None:
        self.index = int(index)
        self._cv2 = cv2 = import_cv2()
        self._cap = cv2.VideoCapture(self.index)
        if not self._cap.isOpened():
            self._cap.release()
            self._cap = None
            raise SourceError(f"camera {self.index}: not found, or in use by another program")
        for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, width), (cv2.CAP_PROP_FRAME_HEIGHT, height),
                            (cv2.CAP_PROP_FPS, fps)):
            if value is not None:
                self._cap.set(prop, float(value))
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0) or FALLBACK_FPS
        self._stop = threading.Event()
        self._lock = threading.Lock()  # release() must not run during read() on another thread

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        """Yield ``(frame_rgb, timestamp_ms)``; timestamps are ms since iteration started.

        Raises:
            SourceError: the camera delivers no frame for ``MAX_FAILED_READS`` reads in a row.
        """
        cv2 = self._cv2
        t0 = time.monotonic()
        failures = 0
        while not self._stop.is_set():
            with self._lock:
                if self._cap is None:
                    return
                ok, bgr = self._cap.read()
            if not ok or bgr is None:
                failures += 1
                if failures >= MAX_FAILED_READS:
                    raise SourceError(f"camera {self.index}: stopped delivering frames")
                time.sleep(0.01)
                continue
            failures = 0
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), int((time.monotonic() - t0) * 1000.0)

    def close(self) -> None:
        """Stop iteration and release the camera; safe to call from another thread."""
        self._stop.set()
        with self._lock:
            if self._cap is not None:
                self._cap.release()
                self._cap = None

    def __enter__(self) -> CameraSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CameraSource({self.index}, {self.width}x{self.height}, {self.fps:g} fps)"
