"""Pose estimation: video frames in, NTU-25 skeletons out (no Qt; MediaPipe and OpenCV load lazily).

* :mod:`engine.pose.model`: provisioning the MediaPipe pose model into the user's cache.
* :mod:`engine.pose.estimator`: the :class:`PoseEstimator` protocol and :class:`PoseResult`.
* :mod:`engine.pose.mediapipe_estimator`: BlazePose through the MediaPipe Tasks API.
* :mod:`engine.pose.sources`: video-file and camera frame iterators (OpenCV).

Importing this package imports neither ``mediapipe`` nor ``cv2``.
"""

from engine.pose.estimator import PoseEstimator, PoseResult, ntu_confidence
from engine.pose.mediapipe_estimator import MediaPipePoseEstimator
from engine.pose.model import (
    InvalidPoseModel,
    PoseModelError,
    PoseModelUnavailable,
    cached_model_path,
    pose_model_status,
    provision_pose_model,
)
from engine.pose.sources import CameraSource, SourceError, VideoFileSource

__all__ = [
    "CameraSource",
    "InvalidPoseModel",
    "MediaPipePoseEstimator",
    "PoseEstimator",
    "PoseModelError",
    "PoseModelUnavailable",
    "PoseResult",
    "SourceError",
    "VideoFileSource",
    "cached_model_path",
    "ntu_confidence",
    "pose_model_status",
    "provision_pose_model",
]
