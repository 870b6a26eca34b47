"""A tiny hand-built NTU-25 figure for unit tests of the skeleton maths (not a data source)."""

from __future__ import annotations

import numpy as np

# A standing person facing the sensor (-z), subject's right at +x, y up, metres.
REST = np.array(
    [
        [0.00, 0.00, 0.00], [0.00, 0.25, 0.00], [0.00, 0.60, 0.00], [0.00, 0.72, 0.00],
        [-0.18, 0.50, 0.00], [-0.22, 0.22, 0.00], [-0.24, -0.02, 0.00], [-0.24, -0.08, 0.00],
        [0.18, 0.50, 0.00], [0.22, 0.22, 0.00], [0.24, -0.02, 0.00], [0.24, -0.08, 0.00],
        [-0.09, -0.02, 0.00], [-0.10, -0.44, 0.00], [-0.10, -0.84, 0.00], [-0.10, -0.88, -0.12],
        [0.09, -0.02, 0.00], [0.10, -0.44, 0.00], [0.10, -0.84, 0.00], [0.10, -0.88, -0.12],
        [0.00, 0.50, 0.00], [-0.24, -0.16, 0.00], [-0.21, -0.06, -0.03], [0.24, -0.16, 0.00],
        [0.21, -0.06, -0.03],
    ],
    dtype=np.float32,
)  # fmt: skip


def waving_clip(frames: int = 40, bodies: int = 1, seed: int = 0) -> np.ndarray:
    """``(T, M, 25, 3)``: the rest figure 3 m from the sensor, right hand waving, slight sway."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, frames, dtype=np.float32)
    x = np.repeat(REST[None], frames, axis=0).copy()
    lift = 0.5 + 0.1 * np.sin(3 * t)  # right forearm up and waving
    x[:, 10, 1] = x[:, 9, 1] + lift * 0.5
    x[:, 11, 1] = x[:, 10, 1] + 0.06
    x[:, 23, 1] = x[:, 11, 1] + 0.08
    x[:, 10, 0] += 0.1 * np.sin(3 * t)
    x += np.stack([0.05 * np.sin(t), 0 * t, 0 * t], axis=1)[:, None, :]
    x += np.array([0.0, 0.0, 3.0], dtype=np.float32)
    x += rng.normal(0, 0.003, x.shape).astype(np.float32)
    out = np.zeros((frames, bodies, 25, 3), dtype=np.float32)
    out[:, 0] = x
    if bodies > 1:
        out[:, 1] = x + np.array([0.8, 0.0, 0.3], dtype=np.float32)
    return out


def rot_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def transform(joints: np.ndarray, rot: np.ndarray, shift=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Rigidly move present bodies; absent ones stay zero."""
    mask = np.any(joints != 0, axis=(2, 3))[:, :, None, None]
    moved = np.einsum("ij,tmvj->tmvi", rot, joints) + np.asarray(shift)
    return np.where(mask, moved, 0.0).astype(np.float32)
