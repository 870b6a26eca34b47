"""Joint layouts as data, and their mappings to NTU RGB+D 25 joints.

Every source layout is converted to NTU-25 at the edge (docs/architecture.md#from-a-source-to-ntu-25) by a linear
map: each
NTU joint is a weighted sum of source joints. A joint the source measures is a copy (weight 1); a
joint it lacks is *synthesised* by a documented rule, also a weighted sum (a midpoint, an
interpolation along the spine, or an extrapolated finger), so the whole mapping is one
``(25, V_src)`` matrix applied to every frame at once.

"Train as you infer": each layout also states its synthesis rules in NTU terms
(:attr:`Layout.ntu_resynthesis`), so input from a richer source can be brought to the state a
model's training data was in (:func:`harmonise`): a model trained on Kinect v1, whose hand tips
were copies of the hands, sees MediaPipe input whose hand tips are replaced by copies of the hands.

Sources of the rules: docs/live_input.md#from-mediapipe-33-to-ntu-25 (MediaPipe-33), the READMEs of the UTD-MHAD,
NW-UCLA and Bandai-Namco data (Kinect v1, mocap), Microsoft's Kinect v2 ``JointType`` order (NTU).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from engine.registry import Registry

# ---------------------------------------------------------------------------------------------
# NTU RGB+D 25 (Kinect v2 JointType order, 0-based)
# ---------------------------------------------------------------------------------------------
NTU25_JOINTS = (
    "spine_base", "spine_mid", "neck", "head",
    "shoulder_left", "elbow_left", "wrist_left", "hand_left",
    "shoulder_right", "elbow_right", "wrist_right", "hand_right",
    "hip_left", "knee_left", "ankle_left", "foot_left",
    "hip_right", "knee_right", "ankle_right", "foot_right",
    "spine_shoulder", "hand_tip_left", "thumb_left", "hand_tip_right", "thumb_right",
)  # fmt: skip

# Kinect v2 hierarchy: parent of each joint (spine_base is the root).
NTU25_PARENTS = (-1, 0, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 1, 7, 6, 11, 10)


@dataclass(frozen=True)
class Layout:
    """A joint layout and, for non-NTU layouts, its mapping to NTU-25.

    Attributes:
        name: registry key.
        joints: joint names in the source's index order.
        parents: parent index of each joint (-1 for the root): a tree over the bones.
        left_right: pairs of (left, right) joint indices, the subject's own sides.
        to_ntu: NTU joint name -> {source joint name: weight}; the weights of a row sum to 1 except
            for extrapolations (still affine: they sum to 1 too). Empty for NTU-25 itself.
        axes: 3x3 matrix taking source axes to NTU camera axes (a proper rotation, never a mirror,
            so left stays left).
        ntu_resynthesis: for NTU joints this layout synthesises, the same rule written in NTU
            joints, when one exists: NTU joint -> {NTU joint: weight}.
        notes: why the synthesis rules are what they are.
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    left_right: tuple[tuple[int, int], ...]
    to_ntu: dict[str, dict[str, float]] = field(default_factory=dict)
    axes: tuple[tuple[float, float, float], ...] = ((1, 0, 0), (0, 1, 0), (0, 0, 1))
    ntu_resynthesis: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: str = ""

    def __post_init__(self) -> None:
        if len(self.parents) != len(self.joints):
            raise ValueError(f"{self.name}: {len(self.parents)} parents for {len(self.joints)} joints")
        for ntu_joint, rule in self.to_ntu.items():
            if ntu_joint not in NTU25_JOINTS:
                raise ValueError(f"{self.name}: unknown NTU joint {ntu_joint!r}")
            unknown = set(rule) - set(self.joints)
            if unknown:
                raise ValueError(f"{self.name}: {ntu_joint} uses unknown joints {sorted(unknown)}")
            if abs(sum(rule.values()) - 1.0) > 1e-6:
                raise ValueError(f"{self.name}: weights for {ntu_joint} do not sum to 1 (not affine)")
        if self.to_ntu and set(self.to_ntu) != set(NTU25_JOINTS):
            missing = sorted(set(NTU25_JOINTS) - set(self.to_ntu))
            raise ValueError(f"{self.name}: no rule for NTU joints {missing}")

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @cached_property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) pairs."""
        return tuple((p, c) for c, p in enumerate(self.parents) if p >= 0)

    def index(self, joint: str) -> int:
        return self.joints.index(joint)

    @cached_property
    def mapping_matrix(self) -> np.ndarray:
        """float32 ``(25, V_src)``: NTU joints = matrix @ source joints (after :attr:`axes`)."""
        if not self.to_ntu:
            return np.eye(len(NTU25_JOINTS), dtype=np.float32)
        w = np.zeros((len(NTU25_JOINTS), self.num_joints), dtype=np.float32)
        for ntu_joint, rule in self.to_ntu.items():
            for src, weight in rule.items():
                w[NTU25_JOINTS.index(ntu_joint), self.index(src)] += weight
        return w

    @cached_property
    def measured(self) -> np.ndarray:
        """bool ``(25,)``: the source measures this NTU joint (a plain copy of its own joint), as
        opposed to synthesising it (a weighted rule, or a copy of a neighbour such as a hand tip
        copied from the hand)."""
        if not self.to_ntu:
            return np.ones(len(NTU25_JOINTS), dtype=bool)
        w = self.mapping_matrix
        copy = (np.count_nonzero(w, axis=1) == 1) & np.isclose(w.max(axis=1), 1.0)
        resynthesised = np.isin(np.arange(len(NTU25_JOINTS)),
                                [NTU25_JOINTS.index(j) for j in self.ntu_resynthesis])
        return copy & ~resynthesised

    @cached_property
    def resynthesis_matrix(self) -> np.ndarray:
        """float32 ``(25, 25)`` applying :attr:`ntu_resynthesis` to NTU joints (identity elsewhere)."""
        r = np.eye(len(NTU25_JOINTS), dtype=np.float32)
        for ntu_joint, rule in self.ntu_resynthesis.items():
            row = NTU25_JOINTS.index(ntu_joint)
            r[row] = 0.0
            for src, weight in rule.items():
                r[row, NTU25_JOINTS.index(src)] += weight
        return r


LAYOUTS: Registry[Layout] = Registry("joint layout")


def _register(layout: Layout) -> Layout:
    LAYOUTS.register(layout.name)(layout)
    return layout


def get_layout(name: str) -> Layout:
    return LAYOUTS.get(name)


def _pairs(joints: tuple[str, ...], left: str, right: str) -> tuple[tuple[int, int], ...]:
    """Left/right index pairs of joints whose names differ only by ``left``/``right``."""
    pairs = []
    for i, name in enumerate(joints):
        if left in name:
            twin = name.replace(left, right)
            if twin in joints:
                pairs.append((i, joints.index(twin)))
    return tuple(pairs)


NTU25 = _register(
    Layout(
        name="ntu25",
        joints=NTU25_JOINTS,
        parents=NTU25_PARENTS,
        left_right=_pairs(NTU25_JOINTS, "left", "right"),
        notes="NTU RGB+D 60/120 and PKU-MMD: Kinect v2, all 25 joints measured.",
    )
)


def _copy(joint: str) -> dict[str, float]:
    return {joint: 1.0}


def _mid(a: str, b: str) -> dict[str, float]:
    return {a: 0.5, b: 0.5}


# ---------------------------------------------------------------------------------------------
# MediaPipe BlazePose 33 (live input), docs/live_input.md#from-mediapipe-33-to-ntu-25
# ---------------------------------------------------------------------------------------------
MP33_JOINTS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip
# A tree over MediaPipe's POSE_CONNECTIONS, rooted at the left hip (the graph itself has cycles).
MP33_PARENTS = (
    11, 0, 1, 2, 0, 4, 5, 3, 6, 0, 0,   # face hangs off the nose, nose off the left shoulder
    23, 24, 11, 12, 13, 14, 15, 16, 15, 16, 15, 16,
    -1, 23, 23, 24, 25, 26, 27, 28, 27, 28,
)  # fmt: skip

# The rules of docs/live_input.md#from-mediapipe-33-to-ntu-25. Hand = palm centre, halfway between the wrist and the
# knuckle midpoint k; hand tip = k + 0.8 (k - wrist), an extrapolated finger (MediaPipe has no
# finger tips); spine mid halfway up the torso; neck between the shoulder line and the mouth.
_MP_TO_NTU: dict[str, dict[str, float]] = {
    "spine_base": _mid("left_hip", "right_hip"),
    "spine_mid": {"left_hip": 0.25, "right_hip": 0.25, "left_shoulder": 0.25, "right_shoulder": 0.25},
    "neck": {"left_shoulder": 0.25, "right_shoulder": 0.25, "mouth_left": 0.25, "mouth_right": 0.25},
    "head": _mid("left_ear", "right_ear"),  # head centre; the nose is ~10 cm in front of it
    "spine_shoulder": _mid("left_shoulder", "right_shoulder"),
}
for _side in ("left", "right"):
    _MP_TO_NTU |= {
        f"shoulder_{_side}": _copy(f"{_side}_shoulder"),
        f"elbow_{_side}": _copy(f"{_side}_elbow"),
        f"wrist_{_side}": _copy(f"{_side}_wrist"),
        f"hand_{_side}": {f"{_side}_wrist": 0.5, f"{_side}_pinky": 0.25, f"{_side}_index": 0.25},
        f"hand_tip_{_side}": {f"{_side}_pinky": 0.9, f"{_side}_index": 0.9, f"{_side}_wrist": -0.8},
        f"thumb_{_side}": _copy(f"{_side}_thumb"),  # the thumb IP joint, not the tip
        f"hip_{_side}": _copy(f"{_side}_hip"),
        f"knee_{_side}": _copy(f"{_side}_knee"),
        f"ankle_{_side}": _copy(f"{_side}_ankle"),
        f"foot_{_side}": _copy(f"{_side}_foot_index"),
    }

MEDIAPIPE33 = _register(
    Layout(
        name="mediapipe33",
        joints=MP33_JOINTS,
        parents=MP33_PARENTS,
        left_right=_pairs(MP33_JOINTS, "left", "right"),
        to_ntu=_MP_TO_NTU,
        # World landmarks: x image-right, y down, z away. NTU: x sensor-left, y up, z away. A 180
        # degree turn about the optical axis, a proper rotation, so the subject's left stays left.
        axes=((-1, 0, 0), (0, -1, 0), (0, 0, 1)),
        notes="Synthesised: spine base/mid/shoulder, neck, head, hands, hand tips (9 of 25).",
    )
)

# ---------------------------------------------------------------------------------------------
# Kinect v1 20 joints (NW-UCLA in SDK order; UTD-MHAD in its own order)
# ---------------------------------------------------------------------------------------------
KINECT_V1_JOINTS = (
    "hip_center", "spine", "shoulder_center", "head",
    "shoulder_left", "elbow_left", "wrist_left", "hand_left",
    "shoulder_right", "elbow_right", "wrist_right", "hand_right",
    "hip_left", "knee_left", "ankle_left", "foot_left",
    "hip_right", "knee_right", "ankle_right", "foot_right",
)  # fmt: skip
KINECT_V1_PARENTS = (-1, 0, 1, 2, 2, 4, 5, 6, 2, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18)

# Kinect v1 has no neck, hand tips or thumbs (data READMEs): the neck is the midpoint of the
# shoulder centre and the head; tips and thumbs are copies of the hand.
_KINECT_TO_NTU: dict[str, dict[str, float]] = {
    "spine_base": _copy("hip_center"),
    "spine_mid": _copy("spine"),
    "neck": _mid("shoulder_center", "head"),
    "head": _copy("head"),
    "spine_shoulder": _copy("shoulder_center"),
}
for _side in ("left", "right"):
    for _part in ("shoulder", "elbow", "wrist", "hand", "hip", "knee", "ankle", "foot"):
        _KINECT_TO_NTU[f"{_part}_{_side}"] = _copy(f"{_part}_{_side}")
    _KINECT_TO_NTU[f"hand_tip_{_side}"] = _copy(f"hand_{_side}")
    _KINECT_TO_NTU[f"thumb_{_side}"] = _copy(f"hand_{_side}")

_KINECT_RESYNTH = {
    "neck": _mid("spine_shoulder", "head"),
    "hand_tip_left": _copy("hand_left"),
    "thumb_left": _copy("hand_left"),
    "hand_tip_right": _copy("hand_right"),
    "thumb_right": _copy("hand_right"),
}

KINECT_V1 = _register(
    Layout(
        name="kinect_v1_20",
        joints=KINECT_V1_JOINTS,
        parents=KINECT_V1_PARENTS,
        left_right=_pairs(KINECT_V1_JOINTS, "left", "right"),
        to_ntu=_KINECT_TO_NTU,
        ntu_resynthesis=_KINECT_RESYNTH,
        notes="Kinect v1 camera space = NTU axes (subject's right at larger x). Neck, hand tips and "
        "thumbs synthesised.",
    )
)

# UTD-MHAD stores the same 20 joints in another order (utd_mhad/README.txt, Skeleton_joint_order.txt).
UTD_MHAD_ORDER = (
    "head", "shoulder_center", "spine", "hip_center",
    "shoulder_left", "elbow_left", "wrist_left", "hand_left",
    "shoulder_right", "elbow_right", "wrist_right", "hand_right",
    "hip_left", "knee_left", "ankle_left", "foot_left",
    "hip_right", "knee_right", "ankle_right", "foot_right",
)  # fmt: skip
_UTD_PERM = [KINECT_V1_JOINTS.index(j) for j in UTD_MHAD_ORDER]
KINECT_V1_UTD = _register(
    Layout(
        name="kinect_v1_20_utd",
        joints=UTD_MHAD_ORDER,
        parents=tuple(
            -1 if KINECT_V1_PARENTS[k] < 0 else UTD_MHAD_ORDER.index(KINECT_V1_JOINTS[KINECT_V1_PARENTS[k]])
            for k in _UTD_PERM
        ),
        left_right=_pairs(UTD_MHAD_ORDER, "left", "right"),
        to_ntu=_KINECT_TO_NTU,
        ntu_resynthesis=_KINECT_RESYNTH,
        notes="Kinect v1 joints in UTD-MHAD's file order; same rules as kinect_v1_20.",
    )
)

# ---------------------------------------------------------------------------------------------
# Bandai-Namco mocap, 22 joints (BVH hierarchy; bandai_namco_motion/README.txt)
# ---------------------------------------------------------------------------------------------
BANDAI22_JOINTS = (
    "joint_Root", "Hips", "Spine", "Chest", "Neck", "Head",
    "Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L",
    "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R",
    "UpperLeg_L", "LowerLeg_L", "Foot_L", "Toes_L",
    "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R",
)  # fmt: skip
BANDAI22_PARENTS = (-1, 0, 1, 2, 3, 4, 3, 6, 7, 8, 3, 10, 11, 12, 1, 14, 15, 16, 1, 18, 19, 20)

# The BVH "Neck" joint is the base of the neck, ~3 cm above the shoulder joints (NTU
# spine_shoulder), and "Head" the base of the head, ~6.5 cm higher (NTU neck). NTU's head is the
# head centre, ~12 cm above its neck (docs/live_input.md#from-mediapipe-33-to-ntu-25): extrapolate along the neck,
# head = head_base + 2 (head_base - neck_base). "Hand" is the wrist: NTU hand, tip and thumb copy it
# (the BVH has no finger joints).
_BANDAI_TO_NTU: dict[str, dict[str, float]] = {
    "spine_base": _copy("Hips"),
    "spine_mid": _copy("Spine"),
    "spine_shoulder": _copy("Neck"),
    "neck": _copy("Head"),
    "head": {"Head": 3.0, "Neck": -2.0},
}
for _side, _s in (("left", "L"), ("right", "R")):
    _BANDAI_TO_NTU |= {
        f"shoulder_{_side}": _copy(f"UpperArm_{_s}"),
        f"elbow_{_side}": _copy(f"LowerArm_{_s}"),
        f"wrist_{_side}": _copy(f"Hand_{_s}"),
        f"hand_{_side}": _copy(f"Hand_{_s}"),
        f"hand_tip_{_side}": _copy(f"Hand_{_s}"),
        f"thumb_{_side}": _copy(f"Hand_{_s}"),
        f"hip_{_side}": _copy(f"UpperLeg_{_s}"),
        f"knee_{_side}": _copy(f"LowerLeg_{_s}"),
        f"ankle_{_side}": _copy(f"Foot_{_s}"),
        f"foot_{_side}": _copy(f"Toes_{_s}"),
    }

BANDAI22 = _register(
    Layout(
        name="bandai_22",
        joints=BANDAI22_JOINTS,
        parents=BANDAI22_PARENTS,
        left_right=_pairs(BANDAI22_JOINTS, "_L", "_R"),
        to_ntu=_BANDAI_TO_NTU,
        ntu_resynthesis={
            "head": {"neck": 3.0, "spine_shoulder": -2.0},
            **{f"{part}_{side}": _copy(f"wrist_{side}") for part in ("hand", "hand_tip", "thumb")
               for side in ("left", "right")},
        },
        notes="Mocap world frame, y up. Head extrapolated along the neck; hands, tips and thumbs "
        "are the wrist.",
    )
)


def to_ntu25(keypoints: np.ndarray, layout: str | Layout) -> np.ndarray:
    """Map keypoints ``(..., V_src, 3)`` in a source layout to NTU-25 ``(..., 25, 3)``, float32.

    All-zero source bodies (absent) stay all zero.
    """
    lay = get_layout(layout) if isinstance(layout, str) else layout
    x = np.asarray(keypoints, dtype=np.float32)
    if x.shape[-2:] != (lay.num_joints, 3):
        raise ValueError(f"{lay.name} keypoints must be (..., {lay.num_joints}, 3), got {x.shape}")
    axes = np.asarray(lay.axes, dtype=np.float32)
    # (..., V, 3) -> (..., 25, 3): joint mixing on the left, axis change on the right. Plain matmul:
    # einsum(optimize=True) spends longer planning than computing on one clip.
    out = (lay.mapping_matrix @ x) @ axes.T
    absent = ~np.any(x != 0, axis=(-2, -1))
    out[absent] = 0.0
    return out.astype(np.float32, copy=False)


def harmonise(joints: np.ndarray, like: str | Layout) -> np.ndarray:
    """Re-synthesise NTU joints ``(..., 25, 3)`` the way layout ``like`` synthesises them.

    Used so that live input matches the state of a model's training data ("train as you infer").
    """
    lay = get_layout(like) if isinstance(like, str) else like
    x = np.asarray(joints, dtype=np.float32)
    if not lay.ntu_resynthesis:
        return x
    return (lay.resynthesis_matrix @ x).astype(np.float32, copy=False)
