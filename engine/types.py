"""Data types shared by every package, and the one tensor convention.

Tensor convention (stated once, asserted at public boundaries):

* A skeleton **sequence** is ``joints: float32 (T, M, V, 3)``: T frames, M bodies, V = 25 NTU joints,
  xyz in metres in NTU camera axes (x to the sensor's left, i.e. the subject's right when facing the
  sensor; y up; z away from the sensor). An absent body in a frame is all zeros, as in every NTU
  pipeline.
* A **batch** for a skeleton encoder is ``(N, C=3, T, V=25, M)``, as in pyskl / CTR-GCN.
  :func:`to_nctvm` converts sequences to it.
* Keypoints from a pose estimator are ``(V, 3)`` per frame, ``(T, V, 3)`` for a clip, in the
  estimator's own layout until :mod:`engine.skeleton.layouts` maps them to NTU-25.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

NUM_JOINTS = 25  # NTU RGB+D / Kinect v2
NUM_COORDS = 3


@dataclass(frozen=True)
class SkeletonSequence:
    """One skeleton clip in NTU-25 form, whatever file or sensor it came from.

    Attributes:
        joints: float32 ``(T, M, 25, 3)``, metres, NTU camera axes; absent bodies are zeros.
        fps: frames per second of the source.
        source_format: the reader that produced it (``"ntu_skeleton"``, ``"utd_mhad_mat"``, ...).
        source_layout: the joint layout of the source before mapping (``"ntu25"``,
            ``"kinect_v1_20"``, ``"bandai_22"``, ``"mediapipe33"``); tells which joints were measured.
        name: sample name (file stem, or the instance name inside a collection).
        path: the file it was read from, if any.
        label: class name when the file name or a label file carries one.
        label_id: 0-based class index within ``dataset``.
        dataset: the dataset the label refers to (``"ntu120"``, ``"utd_mhad"``, ...).
        confidence: optional float32 ``(T, M, 25)`` per-joint confidence (1 = tracked).
        meta: anything else the source tells (subject, view, camera, trial, style ...).
    """

    joints: np.ndarray
    fps: float
    source_format: str
    source_layout: str = "ntu25"
    name: str = ""
    path: str | None = None
    label: str | None = None
    label_id: int | None = None
    dataset: str | None = None
    confidence: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        j = self.joints
        if not isinstance(j, np.ndarray) or j.dtype != np.float32:
            raise TypeError("SkeletonSequence.joints must be a float32 numpy array")
        if j.ndim != 4 or j.shape[2] != NUM_JOINTS or j.shape[3] != NUM_COORDS or j.shape[0] < 1:
            raise ValueError(f"SkeletonSequence.joints must be (T>=1, M, 25, 3), got {j.shape}")
        if self.confidence is not None and self.confidence.shape != j.shape[:3]:
            raise ValueError(f"confidence must be {j.shape[:3]}, got {self.confidence.shape}")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def num_bodies(self) -> int:
        """Bodies that appear in at least one frame."""
        return int(self.body_present().any(axis=0).sum())

    def body_present(self) -> np.ndarray:
        """bool ``(T, M)``: the body has at least one non-zero joint in that frame."""
        return np.any(self.joints != 0, axis=(2, 3))

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps


def to_nctvm(joints: np.ndarray, num_bodies: int = 2) -> np.ndarray:
    """Sequence(s) ``(T, M, V, C)`` or ``(N, T, M, V, C)`` -> batch ``(N, C, T, V, num_bodies)``.

    Bodies beyond ``num_bodies`` are dropped (readers order bodies by importance), missing ones are
    zero-padded.
    """
    x = np.asarray(joints, dtype=np.float32)
    if x.ndim == 4:
        x = x[None]
    if x.ndim != 5 or x.shape[-1] != NUM_COORDS:
        raise ValueError(f"expected (T, M, V, 3) or (N, T, M, V, 3), got {x.shape}")
    n, t, m, v, c = x.shape
    out = np.zeros((n, c, t, v, num_bodies), dtype=np.float32)
    k = min(m, num_bodies)
    out[..., :k] = x[:, :, :k].transpose(0, 4, 1, 3, 2)
    return out


def from_nctvm(x: np.ndarray) -> np.ndarray:
    """Batch ``(N, C, T, V, M)`` -> sequences ``(N, T, M, V, C)``."""
    if x.ndim != 5:
        raise ValueError(f"expected (N, C, T, V, M), got {x.shape}")
    return np.ascontiguousarray(x.transpose(0, 2, 4, 3, 1))
