"""A kinematic body model for procedural NTU-25 skeletons: bone lengths, a rest pose, and forward
kinematics from joint angles, vectorised over frames.

Everything here is procedural (synthetic): the bone lengths are textbook-plausible values for a
1.75 m adult placed where a Kinect v2 puts its joints, not measurements of anyone.

**Body frame.** Metres; y up; the subject faces -z (towards the sensor), so the subject's right is
+x; the origin is the spine base (the kinematic root). With no view rotation this is exactly the NTU
camera frame up to a translation, so a body built here is correctly handed in NTU axes.

**Channels.** A pose over T frames is a mapping ``name -> (T,) array`` (:data:`CHANNELS`), angles in
degrees. Limb channels are anatomical and mirror-symmetric: ``right_hip_flex`` and
``left_hip_flex`` both mean "thigh forward", ``*_sh_elev`` both mean "arm away from the body", so
one movement written for a side variable works on either side. Channels an action leaves alone
keep their neutral value (:data:`NEUTRAL`: relaxed standing, arms hanging a little away from the
thighs).

Sign conventions (rotation about +x by a positive angle takes +y to +z, i.e. "up goes back, down
goes forward"):

* trunk ``spine_flex`` / ``root_pitch`` / ``neck_flex`` > 0 bend forward; ``spine_lat`` /
  ``root_roll`` > 0 lean towards the subject's right; ``spine_rot`` > 0 turns the chest to the
  subject's right; ``root_yaw`` turns the whole body about y (right-handed, like the view yaw).
* shoulder: ``sh_plane`` (0 = the frontal plane, 90 = straight forward), ``sh_elev`` (0 = hanging,
  90 = horizontal, 180 = overhead; negative with plane 90 = swung backwards), ``sh_rot`` (external
  rotation: with the elbow bent it turns the forearm outwards/upwards), like the ISB shoulder
  angles (plane of elevation, elevation, axial rotation) but with the axial rotation measured from
  the hanging arm (swing-twist), so the plane alone never twists the arm; ``clav_elev`` lifts the
  shoulder.
* ``elbow_flex``, ``wrist_flex`` > 0 bend forward in the limb's own frame.
* ``hip_flex`` > 0 thigh forward, ``hip_abd`` > 0 away from the midline, ``hip_rot`` > 0 external;
  ``knee_flex`` > 0 shin backwards; ``foot_pitch`` is the foot's pitch relative to the floor
  (0 = flat, < 0 = on the toes): the ankle angle is derived from it so feet stay flat by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from engine.skeleton.layouts import NTU25_JOINTS, NTU25_PARENTS

_J = {name: i for i, name in enumerate(NTU25_JOINTS)}
SIDES = ("right", "left")

NOMINAL_HEIGHT = 1.75  # metres; the rest offsets below are for this standing height

# Floor clearance of the two contact points of a foot standing flat (Kinect v2 places the ankle
# joint at the malleoli and the foot joint near the base of the toes); used to put feet on the floor.
ANKLE_CLEARANCE = 0.08
FOOT_CLEARANCE = 0.03


@dataclass(frozen=True)
class BodyProportions:
    """Per-bone-group length factors (1.0 = nominal) on top of the overall height scale.

    Left and right share a factor: people are near enough symmetric that an asymmetric skeleton
    would look like a tracking error.
    """

    torso: float = 1.0
    neck_head: float = 1.0
    shoulder_width: float = 1.0
    upper_arm: float = 1.0
    forearm: float = 1.0
    hand: float = 1.0
    hip_width: float = 1.0
    thigh: float = 1.0
    shin: float = 1.0
    foot: float = 1.0

    @classmethod
    def random(cls, rng: np.random.Generator, spread: float = 0.04) -> BodyProportions:
        """Independent factors ~ N(1, spread), clipped to +-3 spread."""
        names = [f.name for f in fields(cls)]
        values = np.clip(rng.normal(1.0, spread, len(names)), 1 - 3 * spread, 1 + 3 * spread)
        return cls(**{n: float(v) for n, v in zip(names, values)})


# Rest offsets from the parent joint, body frame, nominal height; right side and midline joints.
# Left joints mirror their right twin in x. Lengths: upper arm 0.28, forearm 0.25, thigh 0.42,
# shin 0.40, spine base to spine shoulder 0.49 (Kinect's spine shoulder sits just below the neck).
# The hanging hand's palm faces the thigh, so the thumb is in front of it (-z) and a little inwards.
_REST_RIGHT: dict[str, tuple[tuple[float, float, float], str]] = {
    "spine_mid": ((0.0, 0.27, 0.005), "torso"),
    "spine_shoulder": ((0.0, 0.22, -0.005), "torso"),
    "neck": ((0.0, 0.07, -0.01), "neck_head"),
    "head": ((0.0, 0.13, -0.015), "neck_head"),
    "shoulder_right": ((0.15, -0.03, 0.0), "shoulder_width"),
    "elbow_right": ((0.0, -0.28, 0.0), "upper_arm"),
    "wrist_right": ((0.0, -0.25, 0.0), "forearm"),
    "hand_right": ((0.0, -0.07, 0.0), "hand"),
    "hand_tip_right": ((0.0, -0.075, 0.0), "hand"),
    "thumb_right": ((-0.02, -0.05, -0.045), "hand"),
    "hip_right": ((0.075, -0.04, 0.0), "hip_width"),
    "knee_right": ((0.0, -0.42, 0.0), "thigh"),
    "ankle_right": ((0.0, -0.40, 0.0), "shin"),
    "foot_right": ((0.0, -0.05, -0.10), "foot"),
}


def rest_offsets(height: float = NOMINAL_HEIGHT, proportions: BodyProportions | None = None) -> np.ndarray:
    """Bone vectors from each joint's parent in the rest pose, ``(25, 3)`` float64 (root row zero).

    Args:
        height: standing height in metres; scales every bone.
        proportions: per-group factors on top of the height scale.
    """
    props = proportions or BodyProportions()
    scale = height / NOMINAL_HEIGHT
    out = np.zeros((len(NTU25_JOINTS), 3))
    for name, (vec, group) in _REST_RIGHT.items():
        v = np.asarray(vec) * scale * getattr(props, group)
        out[_J[name]] = v
        if name.endswith("_right"):
            out[_J[name.replace("_right", "_left")]] = v * (-1.0, 1.0, 1.0)
    return out


# Neutral values (degrees); a relaxed standing pose. Channels not listed are 0.
NEUTRAL: dict[str, float] = {}
for _s in SIDES:
    NEUTRAL |= {
        f"{_s}_sh_plane": 15.0,
        f"{_s}_sh_elev": 7.0,
        f"{_s}_elbow_flex": 12.0,
        f"{_s}_hip_flex": 2.0,
        # No hip abduction at rest: an abducted leg narrows its stance as it folds, which would
        # slide planted feet inwards in a squat. The hip joints alone put the ankles ~15 cm apart.
        f"{_s}_knee_flex": 4.0,
    }

_TRUNK = ("root_yaw", "root_pitch", "root_roll", "spine_flex", "spine_lat", "spine_rot", "neck_flex")
_LIMB = (
    "clav_elev", "sh_plane", "sh_elev", "sh_rot", "elbow_flex", "wrist_flex",
    "hip_flex", "hip_abd", "hip_rot", "knee_flex", "foot_pitch",
)  # fmt: skip
CHANNELS: tuple[str, ...] = _TRUNK + tuple(f"{s}_{c}" for s in SIDES for c in _LIMB)


def neutral_pose(num_frames: int) -> dict[str, np.ndarray]:
    """Every channel at its neutral value, ``(T,)`` float64 arrays (safe to modify in place)."""
    return {c: np.full(num_frames, NEUTRAL.get(c, 0.0)) for c in CHANNELS}


def _rot(axis: int, degrees: np.ndarray) -> np.ndarray:
    """Rotations about a coordinate axis, ``(T,) degrees -> (T, 3, 3)``."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    r = np.zeros(a.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]  # the plane the rotation acts in, right-handed
    r[..., axis, axis] = 1.0
    r[..., i, i] = c
    r[..., j, j] = c
    r[..., i, j] = -s
    r[..., j, i] = s
    return r


def rot_x(degrees: np.ndarray) -> np.ndarray:
    return _rot(0, np.asarray(degrees, dtype=np.float64))


def rot_y(degrees: np.ndarray) -> np.ndarray:
    return _rot(1, np.asarray(degrees, dtype=np.float64))


def rot_z(degrees: np.ndarray) -> np.ndarray:
    return _rot(2, np.asarray(degrees, dtype=np.float64))


def _topological_order(parents: tuple[int, ...]) -> list[int]:
    order: list[int] = []
    placed: set[int] = set()
    while len(order) < len(parents):
        for j, p in enumerate(parents):
            if j not in placed and (p < 0 or p in placed):
                order.append(j)
                placed.add(j)
    return order


_ORDER = _topological_order(NTU25_PARENTS)


def _local_rotations(pose: Mapping[str, np.ndarray]) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Per-joint local rotations (propagate to descendants) and bone-only rotations (clavicles)."""
    p = pose
    half = 0.5  # the trunk bends at two joints (spine mid and spine shoulder), half at each
    trunk = rot_y(-half * p["spine_rot"]) @ rot_x(-half * p["spine_flex"]) @ rot_z(-half * p["spine_lat"])
    local = {
        _J["spine_base"]: rot_y(p["root_yaw"]) @ rot_x(-p["root_pitch"]) @ rot_z(-p["root_roll"]),
        _J["spine_mid"]: trunk,
        _J["spine_shoulder"]: trunk,
        _J["neck"]: rot_x(-p["neck_flex"]),
    }
    bone: dict[int, np.ndarray] = {}
    for side, sign in (("right", 1.0), ("left", -1.0)):
        # Mirroring a rotation in x negates its y and z angles: that is all `sign` does, and why
        # the same anatomical value moves either side the mirror-image way.
        def c(name: str, side: str = side) -> np.ndarray:
            return p[f"{side}_{name}"]

        bone[_J[f"shoulder_{side}"]] = rot_z(sign * c("clav_elev"))
        # Swing then twist: elevate about the horizontal axis set by the plane, R_y(p) R_z(e)
        # R_y(-p), then rotate about the arm. Unlike plain Euler angles, the plane then cannot
        # twist a hanging arm, so "elbow flexion" bends the forearm forward whatever the plane.
        plane = sign * c("sh_plane")
        local[_J[f"shoulder_{side}"]] = (
            rot_y(plane) @ rot_z(sign * c("sh_elev")) @ rot_y(-plane - sign * c("sh_rot"))
        )
        local[_J[f"elbow_{side}"]] = rot_x(c("elbow_flex"))
        local[_J[f"wrist_{side}"]] = rot_x(c("wrist_flex"))
        local[_J[f"hip_{side}"]] = (
            rot_x(c("hip_flex")) @ rot_z(sign * c("hip_abd")) @ rot_y(-sign * c("hip_rot"))
        )
        local[_J[f"knee_{side}"]] = rot_x(-c("knee_flex"))
        # Foot pitch relative to the floor = -root_pitch + hip_flex - knee_flex + ankle.
        ankle = c("foot_pitch") + p["root_pitch"] - c("hip_flex") + c("knee_flex")
        local[_J[f"ankle_{side}"]] = rot_x(ankle)
    return local, bone


def forward_kinematics(pose: Mapping[str, np.ndarray], offsets: np.ndarray) -> np.ndarray:
    """Joint positions of a pose, ``(T, 25, 3)`` float64, body frame, spine base at the origin.

    Args:
        pose: every name in :data:`CHANNELS` -> ``(T,)`` degrees (see :func:`neutral_pose`).
        offsets: ``(25, 3)`` rest bone vectors from :func:`rest_offsets`.
    """
    missing = set(CHANNELS) - set(pose)
    if missing:
        raise KeyError(f"pose lacks channels {sorted(missing)}")
    num_frames = len(pose["root_yaw"])
    local, bone = _local_rotations(pose)
    eye = np.broadcast_to(np.eye(3), (num_frames, 3, 3))
    glob: list[np.ndarray | None] = [None] * len(NTU25_JOINTS)
    pos = np.zeros((num_frames, len(NTU25_JOINTS), 3))
    for j in _ORDER:
        parent = NTU25_PARENTS[j]
        if parent < 0:
            glob[j] = local.get(j, eye)
            continue
        offset = offsets[j]
        if j in bone:
            offset = bone[j] @ offset  # (T, 3)
        pos[:, j] = pos[:, parent] + (glob[parent] @ offset[..., None])[..., 0]
        glob[j] = glob[parent] @ local[j] if j in local else glob[parent]
    return pos
