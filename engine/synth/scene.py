"""Put a procedural body on the floor and in front of the sensor, in NTU camera axes.

Forward kinematics (:mod:`engine.synth.body`) gives joints relative to the spine base. This module
adds what makes the motion physically plausible and the geometry sensor-like:

1. **Floor contact.** Each frame the body is lifted so that its lowest foot contact point (ankle
   or toe, minus its clearance) touches the floor, so a squat lowers the hips instead of lifting
   the feet; an action may add a ``lift`` (a jump's flight) on top.
2. **No foot sliding.** Horizontally the body moves so that the supporting foot stays put: the
   root's horizontal velocity is minus the supporting feet's velocity relative to the root,
   weighted by which foot is lower. A kick pivots about the standing foot, sitting down moves the
   hips back over fixed feet.
3. **View.** Yaw about the vertical axis through the point between the feet, then the subject is
   put ``distance`` metres from a sensor ``sensor_height`` above the floor and tilted down by
   ``camera_pitch_deg``.

Nothing here is measured data; it is the procedural generator's scene model.
"""

from __future__ import annotations

import numpy as np

from engine.skeleton.layouts import NTU25_JOINTS
from engine.synth.body import ANKLE_CLEARANCE, FOOT_CLEARANCE, rot_x, rot_y
from engine.synth.subject import SubjectParams

_J = {name: i for i, name in enumerate(NTU25_JOINTS)}
_ANKLES = [_J["ankle_left"], _J["ankle_right"]]
_FEET = [_J["foot_left"], _J["foot_right"]]

# A foot is "the supporting one" smoothly: the weight moves across over ~1 cm of height difference,
# so that the pinned point does not jump when both feet are on the floor.
_SUPPORT_SOFTNESS = 0.01


def ground(
    joints: np.ndarray,
    scale: float,
    lift: np.ndarray | None = None,
    right_support: np.ndarray | None = None,
) -> np.ndarray:
    """Body-frame joints ``(T, 25, 3)`` -> world joints with the floor at y = 0 and feet that do
    not slide; origin between the feet of the first frame.

    Args:
        joints: forward-kinematics output, spine base at the origin.
        scale: the subject's size factor (height / nominal); scales the foot clearances.
        lift: optional ``(T,)`` metres added to y after grounding (flight phases).
        right_support: optional ``(T,)`` share of the weight on the right foot (the left carries
            the rest); by default the lower foot carries the body.
    """
    x = joints.copy()
    ankle, foot = x[:, _ANKLES], x[:, _FEET]  # (T, 2, 3), order: left, right
    contact = np.minimum(ankle[..., 1] - ANKLE_CLEARANCE * scale, foot[..., 1] - FOOT_CLEARANCE * scale)
    lowest = contact.min(axis=1)  # (T,)

    # Supporting weight per foot: the lower one carries the body (a soft-min over the two feet).
    z = -(contact - lowest[:, None]) / _SUPPORT_SOFTNESS
    w = np.exp(z)
    w /= w.sum(axis=1, keepdims=True)
    if right_support is not None:
        w = np.stack([1.0 - right_support, right_support], axis=1)
    mid_foot = 0.5 * (ankle + foot)[..., [0, 2]]  # (T, 2, 2) horizontal xz of each mid-foot
    step = np.diff(mid_foot, axis=0)  # (T-1, 2, 2)
    w_mid = 0.5 * (w[1:] + w[:-1])  # weight of the interval between frames
    root_xz = -np.concatenate([np.zeros((1, 2)), np.cumsum((w_mid[..., None] * step).sum(axis=1), axis=0)])

    x[..., 1] -= lowest[:, None]
    if lift is not None:
        x[..., 1] += lift[:, None]
    x[..., [0, 2]] += root_xz[:, None, :]
    # Origin on the floor between the feet of the first frame, so the view yaw turns the body in place.
    start = 0.5 * (x[0, _ANKLES] + x[0, _FEET]).mean(axis=0)
    x[..., 0] -= start[0]
    x[..., 2] -= start[2]
    return x


def to_camera(world: np.ndarray, subject: SubjectParams) -> np.ndarray:
    """World joints (floor y = 0, subject facing -z at the origin) -> NTU camera coordinates.

    Args:
        world: ``(T, 25, 3)`` from :func:`ground`.
        subject: view yaw, distance, lateral offset, sensor height and pitch.
    """
    yaw = rot_y(np.float64(subject.view_yaw_deg))
    placed = world @ yaw.T + np.array([subject.lateral_offset, -subject.sensor_height, subject.distance])
    # A sensor tilted down by `pitch` has its z axis R_x(pitch) z in the level frame; camera
    # coordinates are the level-frame coordinates expressed in its axes, R_x(pitch)^T p.
    tilt = rot_x(np.float64(subject.camera_pitch_deg))
    return placed @ tilt
