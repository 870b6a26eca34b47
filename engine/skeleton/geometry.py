"""Body frames and chirality from NTU-25 joints (numpy only).

The body frame (right, up, forward) of a person gives the facing direction used by view
normalisation, and the chirality check that every reader's left/right mapping is right: in a
right-handed coordinate system, ``cross(right, up)`` points *backwards* for a correctly labelled
body, whatever way the person faces.
"""

from __future__ import annotations

import numpy as np

from engine.skeleton.layouts import NTU25_JOINTS

_J = {name: i for i, name in enumerate(NTU25_JOINTS)}


def _unit(v: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)


def body_right(joints: np.ndarray) -> np.ndarray:
    """The subject's left-to-right direction ``(..., 3)`` from shoulders and hips (not unit)."""
    j = np.asarray(joints, dtype=np.float64)
    return (j[..., _J["shoulder_right"], :] - j[..., _J["shoulder_left"], :]) + (
        j[..., _J["hip_right"], :] - j[..., _J["hip_left"], :]
    )


def body_up(joints: np.ndarray) -> np.ndarray:
    """Spine base to spine shoulder ``(..., 3)`` (not unit)."""
    j = np.asarray(joints, dtype=np.float64)
    return j[..., _J["spine_shoulder"], :] - j[..., _J["spine_base"], :]


def foot_forward(joints: np.ndarray) -> np.ndarray:
    """Where the toes point, ankle to foot summed over both feet ``(..., 3)``: an estimate of the
    facing direction independent of the left/right labels."""
    j = np.asarray(joints, dtype=np.float64)
    return (j[..., _J["foot_left"], :] - j[..., _J["ankle_left"], :]) + (
        j[..., _J["foot_right"], :] - j[..., _J["ankle_right"], :]
    )


def chirality(joints: np.ndarray, forward: np.ndarray | None = None) -> float:
    """Handedness score of one body ``(T, 25, 3)`` or ``(25, 3)``: positive when the subject's left
    and right are labelled correctly in a right-handed frame, negative when mirrored.

    Args:
        joints: one body's joints over frames.
        forward: facing direction per frame ``(T, 3)`` or ``(3,)``; defaults to where the feet point.
    Returns:
        mean over valid frames of ``-cos(cross(right, up), forward)``, in [-1, 1].
    """
    j = np.asarray(joints, dtype=np.float64)
    if j.ndim == 2:
        j = j[None]
    fwd = foot_forward(j) if forward is None else np.broadcast_to(np.asarray(forward, float), j.shape[:1] + (3,))
    valid = np.any(j != 0, axis=(1, 2))
    if not valid.any():
        return 0.0
    back = _unit(np.cross(_unit(body_right(j)), _unit(body_up(j))))
    return float(np.mean(-np.sum(back * _unit(fwd), axis=-1)[valid]))


def facing_yaw(joints: np.ndarray) -> np.ndarray:
    """Yaw angle about y (radians) that turns the shoulder line of each frame onto +x.

    ``joints``: ``(..., 25, 3)``; returns ``(...)``. Rotating by ``R_y(-yaw)`` ... see
    :func:`engine.skeleton.preprocess.rotate_y`.
    """
    r = body_right(joints)
    return np.arctan2(-r[..., 2], r[..., 0])
