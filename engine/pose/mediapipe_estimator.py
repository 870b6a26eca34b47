"""BlazePose through the MediaPipe Tasks API (``PoseLandmarker``), as a :class:`PoseEstimator`.

Follows docs/live_input.md#video-mode: the ``.task`` built from the mediapipe 0.10.21 wheel (see
:mod:`engine.pose.model`) run by mediapipe >= 0.10.30. ``mediapipe`` is imported only when an
estimator is created, so ``import engine.pose`` stays light.

VIDEO mode tracks the person between frames and skips the detector while tracking holds (about
19 ms/frame against 30 ms in IMAGE mode on a 2-core CPU); it needs strictly increasing integer
millisecond timestamps, which :meth:`MediaPipePoseEstimator.estimate` enforces.
"""

from __future__ import annotations

import logging
import os
import weakref

import numpy as np

from engine.pose.estimator import PoseResult, check_frame, import_mediapipe

logger = logging.getLogger(__name__)

RUNNING_MODES = ("video", "image")


def _close_landmarker(landmarker) -> None:
    try:
        landmarker.close()
    except Exception:  # closing twice or at interpreter exit must never raise
        logger.debug("closing the PoseLandmarker failed", exc_info=True)


class MediaPipePoseEstimator:
    """MediaPipe PoseLandmarker: RGB frames in, :class:`PoseResult` out.

    Not thread-safe: use one estimator per thread (the capture worker owns it).

    Args:
        model_path: the pose ``.task``; None provisions it (:func:`engine.pose.model.provision_pose_model`,
            which may download the first time).
        running_mode: ``"video"`` (a stream of frames, tracking between them) or ``"image"``
            (independent photos).
        num_poses: the most people to detect; :meth:`estimate` returns the first,
            :meth:`estimate_all` all of them.
        min_detection_confidence: person-detector score needed to start a pose.
        min_presence_confidence: pose-presence score below which a pose is dropped.
        min_tracking_confidence: below this, VIDEO mode runs the detector again instead of tracking.
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        running_mode: str = "video",
        num_poses: int = 1,
        min_detection_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        if running_mode not in RUNNING_MODES:
            raise ValueError(f"running_mode must be one of {RUNNING_MODES}, got {running_mode!r}")
        if num_poses < 1:
            raise ValueError(f"num_poses must be >= 1, got {num_poses}")
        if model_path is None:
            from engine.pose.model import provision_pose_model

            model_path = provision_pose_model()
        self.model_path = str(model_path)
        self.running_mode = running_mode
        self.num_poses = num_poses

        mp = import_mediapipe()
        from mediapipe.tasks import python as mpt
        from mediapipe.tasks.python import vision

        self._mp = mp
        mode = vision.RunningMode.VIDEO if running_mode == "video" else vision.RunningMode.IMAGE
        options = vision.PoseLandmarkerOptions(
            base_options=mpt.BaseOptions(model_asset_path=self.model_path),
            running_mode=mode,
            num_poses=num_poses,
            min_pose_detection_confidence=min_detection_confidence,
            min_pose_presence_confidence=min_presence_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )
        self._landmarker = vision.PoseLandmarker.create_from_options(options)
        # Closed by close(), or at the latest at interpreter exit, before module teardown: an
        # unclosed PoseLandmarker prints a TypeError from its __del__ at exit (docs/live_input.md#video-mode).
        self._finalizer = weakref.finalize(self, _close_landmarker, self._landmarker)
        self._last_ts: int | None = None

    # -- PoseEstimator ------------------------------------------------------------------------
    def estimate(self, frame_rgb: np.ndarray, timestamp_ms: int) -> PoseResult | None:
        """The first detected person's pose, or None when nobody is found.

        Args:
            frame_rgb: ``uint8 (H, W, 3)`` RGB, not mirrored.
            timestamp_ms: the frame's time. In VIDEO mode a timestamp that does not increase (a
                repeated frame, a clock step back) is bumped to 1 ms after the previous one, as
                MediaPipe requires strictly increasing timestamps.
        """
        poses = self.estimate_all(frame_rgb, timestamp_ms)
        return poses[0] if poses else None

    def estimate_all(self, frame_rgb: np.ndarray, timestamp_ms: int) -> list[PoseResult]:
        """Every detected person's pose (at most ``num_poses``), in MediaPipe's order."""
        if not self._finalizer.alive:
            raise RuntimeError("MediaPipePoseEstimator is closed")
        frame = check_frame(frame_rgb)
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=frame)
        ts = int(timestamp_ms)
        if self.running_mode == "video":
            if self._last_ts is not None and ts <= self._last_ts:
                logger.debug("timestamp %d ms does not increase (last %d ms); using %d ms",
                             ts, self._last_ts, self._last_ts + 1)
                ts = self._last_ts + 1
            self._last_ts = ts
            result = self._landmarker.detect_for_video(image, ts)
        else:
            result = self._landmarker.detect(image)
        pairs = zip(result.pose_landmarks, result.pose_world_landmarks)
        return [_to_pose_result(img, wld, ts) for img, wld in pairs]

    def close(self) -> None:
        """Release the native landmarker (idempotent)."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __enter__(self) -> MediaPipePoseEstimator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else self.running_mode
        return f"MediaPipePoseEstimator({self.model_path!r}, {state}, num_poses={self.num_poses})"


def _to_pose_result(image_landmarks, world_landmarks, timestamp_ms: int) -> PoseResult:
    image = np.array([(p.x, p.y, p.z) for p in image_landmarks], dtype=np.float32)
    world = np.array([(p.x, p.y, p.z) for p in world_landmarks], dtype=np.float32)
    # visibility is an Optional[float] in the Tasks API; a missing value means "unknown" -> 0.
    visibility = np.array([p.visibility if p.visibility is not None else 0.0 for p in image_landmarks],
                          dtype=np.float32)
    return PoseResult.from_landmarks(world, image, visibility, timestamp_ms)
