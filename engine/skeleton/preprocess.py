"""Skeleton preprocessing, vectorised numpy: the three styles a bundle can name.

All functions take one sequence ``joints (T, M, 25, 3)`` (NTU axes, absent bodies all zero) and
:func:`preprocess` returns the encoder input ``(C=3, window, 25, M)``, i.e. one item of the
``(N, C, T, V, M)`` batch convention of :mod:`engine.types`.

Styles (docs/architecture.md#from-ntu-25-to-scores):

* ``"ctr_gcn"``: CTR-GCN / SGN NTU pipeline. Frames with no body are removed; the whole sequence,
  both actors, is translated so that the spine-mid joint of actor 1's first valid frame is the
  origin (absent bodies stay zero); then ``valid_crop_resize``: crop the valid frames with ratio
  ``p`` (a centred crop for a single ``p``, a random ``p ~ U[lo, hi]`` crop of at least
  ``min_crop`` frames for an interval) and resample linearly to ``window`` frames (64 by default).
  Follows ``Uason-Chen/CTR-GCN: data/ntu/seq_transformation.py`` and ``feeders/tools.py``.
* ``"aimclr"``: AimCLR / SMIE 50-frame data. Per frame and body, joints relative to the spine
  shoulder; the valid length resampled to 50 frames (``cv2.resize`` linear = the same half-pixel
  linear interpolation as CTR-GCN's); per body a rotation about y making the shoulder line parallel
  to x. Follows ``Levigty/AimCLR: feeder/preprocess_ntu.py`` including its quirk: the rotation
  angle is per frame but its sign is chosen once per sequence from the summed z of the shoulder
  vector, so a frame whose shoulders point the other way is not fully straightened.
* ``"view"``: our view normalisation for live input, where the camera can be anywhere and tilted.
  CTR-GCN's translation, then one rotation for the whole window built from actor 1's mean body
  frame: spine up onto +y (removes camera pitch/roll) and the shoulder/hip line onto +x (the
  person faces the sensor), optionally a scale to a reference torso length (MediaPipe's metric
  scale comes from a body prior, Kinect's from depth), then linear resampling to ``window``.
  One rotation per window, not per frame, keeps turning and bowing visible to the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.skeleton.geometry import body_right, body_up
from engine.skeleton.layouts import NTU25_JOINTS

SPINE_MID = NTU25_JOINTS.index("spine_mid")
SPINE_SHOULDER = NTU25_JOINTS.index("spine_shoulder")
SHOULDER_LEFT = NTU25_JOINTS.index("shoulder_left")
SHOULDER_RIGHT = NTU25_JOINTS.index("shoulder_right")

STYLES = ("ctr_gcn", "aimclr", "view")


@dataclass(frozen=True)
class PreprocessConfig:
    """How a bundle's skeleton encoder wants its input.

    Attributes:
        style: ``"ctr_gcn"``, ``"aimclr"`` or ``"view"`` (module docstring).
        window: output frames. CTR-GCN uses 64; AimCLR/SMIE data is 50 frames.
        p_interval: crop ratio. One value = centred crop (CTR-GCN test: 0.95); two values = random
            crop ratio drawn in that interval (CTR-GCN train: 0.5, 1.0). Ignored by ``aimclr``.
        min_crop: shortest random crop, in frames (CTR-GCN hard-codes 64).
        num_bodies: M of the output; extra bodies are dropped, missing ones zero.
        torso_length: ``view`` only: scale so actor 1's mean spine-base to spine-shoulder distance
            is this many metres; ``None`` keeps the sensor's scale.
    """

    style: str = "ctr_gcn"
    window: int = 64
    p_interval: tuple[float, ...] = (0.95,)
    min_crop: int = 64
    num_bodies: int = 2
    torso_length: float | None = None

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"unknown preprocessing style {self.style!r} (known: {', '.join(STYLES)})")
        if self.window < 1:
            raise ValueError("window must be at least 1 frame")
        if len(self.p_interval) not in (1, 2) or not all(0 < p <= 1 for p in self.p_interval):
            raise ValueError(f"p_interval must be one or two ratios in (0, 1], got {self.p_interval}")

    @classmethod
    def from_dict(cls, d: dict) -> PreprocessConfig:
        d = dict(d)
        if "p_interval" in d:
            d["p_interval"] = tuple(d["p_interval"])
        return cls(**d)


# --- building blocks ------------------------------------------------------------------------------


def _check(joints: np.ndarray) -> np.ndarray:
    x = np.asarray(joints, dtype=np.float32)
    if x.ndim != 4 or x.shape[2:] != (25, 3):
        raise ValueError(f"expected joints (T, M, 25, 3), got {x.shape}")
    return x


def present(joints: np.ndarray) -> np.ndarray:
    """bool ``(T, M)``: body present in frame (any non-zero coordinate)."""
    return np.any(joints != 0, axis=(2, 3))


def drop_empty_frames(joints: np.ndarray) -> np.ndarray:
    """Remove frames in which no body is present (CTR-GCN ``remove_missing_frames``)."""
    keep = present(joints).any(axis=1)
    return joints[keep] if keep.any() else joints[:0]


def pad_bodies(joints: np.ndarray, num_bodies: int) -> np.ndarray:
    t, m = joints.shape[:2]
    if m == num_bodies:
        return joints
    out = np.zeros((t, num_bodies, 25, 3), dtype=np.float32)
    k = min(m, num_bodies)
    out[:, :k] = joints[:, :k]
    return out


def translate_to_first_frame(joints: np.ndarray, joint: int = SPINE_MID) -> np.ndarray:
    """Subtract ``joint`` of actor 1's first valid frame from every present body-frame."""
    mask = present(joints)
    valid = np.flatnonzero(mask[:, 0])
    if valid.size == 0:
        return joints.copy()
    origin = joints[valid[0], 0, joint]
    return np.where(mask[:, :, None, None], joints - origin, 0.0).astype(np.float32)


def resize_time(joints: np.ndarray, window: int) -> np.ndarray:
    """Linear resampling of ``(T, ...)`` to ``(window, ...)`` with half-pixel centres.

    The same sampling as ``F.interpolate(mode="bilinear", align_corners=False)`` on the time axis
    (CTR-GCN) and ``cv2.resize(..., INTER_LINEAR)`` (AimCLR): source position
    ``(i + 0.5) * T / window - 0.5``, clamped to the first and last frame.
    """
    t = joints.shape[0]
    if t == window:
        return joints.astype(np.float32, copy=True)
    src = (np.arange(window, dtype=np.float64) + 0.5) * (t / window) - 0.5
    src = np.clip(src, 0.0, t - 1)
    i0 = np.floor(src).astype(np.int64)
    i1 = np.minimum(i0 + 1, t - 1)
    w = (src - i0).astype(np.float32).reshape((-1,) + (1,) * (joints.ndim - 1))
    return (joints[i0] * (1.0 - w) + joints[i1] * w).astype(np.float32)


def crop_bounds(
    valid: int, p_interval: tuple[float, ...], min_crop: int, rng: np.random.Generator | None
) -> tuple[int, int]:
    """Start and end frame of CTR-GCN's ``valid_crop_resize`` crop of ``valid`` frames."""
    if len(p_interval) == 1:
        bias = int((1 - p_interval[0]) * valid / 2)
        start, end = bias, valid - bias
        return (start, end) if end > start else (0, valid)
    rng = rng or np.random.default_rng()
    p = rng.random() * (p_interval[1] - p_interval[0]) + p_interval[0]
    length = min(max(int(np.floor(valid * p)), min_crop), valid)
    start = int(rng.integers(0, valid - length + 1))
    return start, start + length


def rotate_y_aimclr(joints: np.ndarray) -> np.ndarray:
    """AimCLR ``parallel_skeleton`` for one body ``(T, 25, 3)``: per-frame rotation about y turning
    the horizontal shoulder vector onto +x, with one sign for the whole sequence (see module doc)."""
    vec = joints[:, SHOULDER_RIGHT] - joints[:, SHOULDER_LEFT]
    vec = vec.astype(np.float64)
    vec[:, 1] = 0.0
    norm = np.sqrt(np.sum(vec**2, axis=1))
    theta = np.arccos(np.clip(vec[:, 0] / (norm + 1e-4), -1.0, 1.0))
    if np.sum(vec[:, 2]) >= 0:
        theta = -theta
    c, s = np.cos(theta), np.sin(theta)
    rot = np.zeros((len(theta), 3, 3))
    rot[:, 0, 0], rot[:, 0, 2] = c, -s
    rot[:, 1, 1] = 1.0
    rot[:, 2, 0], rot[:, 2, 2] = s, c
    return np.einsum("tij,tvj->tvi", rot, joints).astype(np.float32)


def view_rotation(joints: np.ndarray) -> np.ndarray:
    """3x3 rotation taking actor 1's mean body frame to (right=+x, up=+y, back=+z).

    Returns the identity when actor 1 is absent or degenerate.
    """
    body = joints[:, 0]
    valid = present(joints)[:, 0]
    if not valid.any():
        return np.eye(3)
    up = body_up(body[valid]).mean(axis=0)
    right = body_right(body[valid]).mean(axis=0)
    if np.linalg.norm(up) < 1e-6:
        return np.eye(3)
    up = up / np.linalg.norm(up)
    right = right - up * np.dot(right, up)  # Gram-Schmidt: right orthogonal to up
    if np.linalg.norm(right) < 1e-6:
        return np.eye(3)
    right = right / np.linalg.norm(right)
    back = np.cross(right, up)  # right-handed: det = +1, so never a mirror
    return np.stack([right, up, back])


def torso_scale(joints: np.ndarray, torso_length: float) -> float:
    body = joints[:, 0]
    valid = present(joints)[:, 0]
    if not valid.any():
        return 1.0
    length = float(np.linalg.norm(body_up(body[valid]), axis=1).mean())
    return torso_length / length if length > 1e-6 else 1.0


# --- the three styles -----------------------------------------------------------------------------


def preprocess(
    joints: np.ndarray, config: PreprocessConfig = PreprocessConfig(), rng: np.random.Generator | None = None
) -> np.ndarray:
    """One sequence ``(T, M, 25, 3)`` -> encoder input ``(3, window, 25, num_bodies)`` float32.

    Args:
        joints: NTU-25 joints, absent bodies zero.
        config: the style and its parameters.
        rng: random generator for training-time random crops (``p_interval`` with two values).
    """
    x = pad_bodies(drop_empty_frames(_check(joints)), config.num_bodies)
    if x.shape[0] == 0:
        return np.zeros((3, config.window, 25, config.num_bodies), dtype=np.float32)
    mask = present(x)[:, :, None, None]

    if config.style == "aimclr":
        x = np.where(mask, x - x[:, :, SPINE_SHOULDER : SPINE_SHOULDER + 1], 0.0).astype(np.float32)
        x = resize_time(x, config.window)
        for m in range(x.shape[1]):
            x[:, m] = rotate_y_aimclr(x[:, m])
    else:
        x = translate_to_first_frame(x)
        if config.style == "view":
            rot = view_rotation(x)
            if config.torso_length:
                rot = rot * torso_scale(x, config.torso_length)
            # x @ rot.T is einsum("ij,tmvj->tmvi"): matmul is 10x faster on these small arrays
            x = np.where(mask, x @ rot.T, 0.0).astype(np.float32)
        start, end = crop_bounds(x.shape[0], config.p_interval, config.min_crop, rng)
        x = resize_time(x[start:end], config.window)
    return np.ascontiguousarray(x.transpose(3, 0, 2, 1))


def preprocess_many(
    sequences: list[np.ndarray], config: PreprocessConfig = PreprocessConfig(), rng: np.random.Generator | None = None
) -> np.ndarray:
    """Several sequences -> a batch ``(N, 3, window, 25, num_bodies)``."""
    out = np.empty((len(sequences), 3, config.window, 25, config.num_bodies), dtype=np.float32)
    for i, joints in enumerate(sequences):
        out[i] = preprocess(joints, config, rng)
    return out
