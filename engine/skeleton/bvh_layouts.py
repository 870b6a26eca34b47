"""BVH skeletons with a known NTU-25 mapping, recognised by their joint names.

A BVH file names its joints but follows no fixed skeleton, so :func:`match_bvh_skeleton` picks the
layout from the names:

* ``bandai_22`` (:mod:`engine.skeleton.layouts`): the Bandai-Namco Research Motion dataset, exactly
  its 22 joint names (``joint_Root``, ``Hips`` ... ``Toes_R``).
* ``bvh_humanoid`` (registered here): the common humanoid naming shared by the CMU mocap BVH
  conversions and Mixamo exports (``Hips``, ``Spine``, ``Neck``, ``Head``, ``LeftArm``,
  ``LeftForeArm``, ``LeftHand``, ``LeftUpLeg``, ``LeftLeg``, ``LeftFoot``, ``LeftToeBase`` and the
  ``Right`` twins), with a namespace prefix such as ``mixamorig:`` ignored and Unity-style aliases
  (``LeftUpperArm``, ``LeftLowerArm``, ``LeftUpperLeg``, ``LeftLowerLeg``, ``LeftToes``) accepted.
  Only these 18 joints are used; extra joints (clavicles, extra spine and neck links, fingers) are
  ignored.

Synthesis rules of ``bvh_humanoid``, written like the Bandai ones: ``Neck`` is the base of the
neck (NTU spine shoulder) and ``Head`` the base of the skull (NTU neck), so the NTU head centre is
extrapolated one neck length above it; the NTU spine mid is halfway between the hips and the neck
base, since the number and placement of spine links differ between rigs (CMU: LowerBack, Spine,
Spine1; Mixamo: Spine, Spine1, Spine2); hands, hand tips and thumbs are the wrist joint (``Hand``).
BVH is a right-handed, y-up frame and ``Left`` is the character's own left, so no axis change.
"""

from __future__ import annotations

import re

from engine.skeleton.layouts import BANDAI22, LAYOUTS, Layout

HUMANOID_JOINTS = (
    "Hips", "Spine", "Neck", "Head",
    "LeftArm", "LeftForeArm", "LeftHand", "RightArm", "RightForeArm", "RightHand",
    "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase",
    "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase",
)  # fmt: skip
# A tree over the joints used (the rig's clavicles and extra spine links are skipped).
HUMANOID_PARENTS = (-1, 0, 1, 2, 2, 4, 5, 2, 7, 8, 0, 10, 11, 12, 0, 14, 15, 16)

# Other spellings of a canonical joint (lower case, after the namespace prefix is removed).
_ALIASES: dict[str, tuple[str, ...]] = {}
for _side in ("Left", "Right"):
    _ALIASES |= {
        f"{_side}Arm": (f"{_side}UpperArm",),
        f"{_side}ForeArm": (f"{_side}LowerArm",),
        f"{_side}UpLeg": (f"{_side}UpperLeg",),
        f"{_side}Leg": (f"{_side}LowerLeg",),
        f"{_side}ToeBase": (f"{_side}Toes", f"{_side}Toe"),
    }

_BVH_HUMANOID_TO_NTU: dict[str, dict[str, float]] = {
    "spine_base": {"Hips": 1.0},
    "spine_mid": {"Hips": 0.5, "Neck": 0.5},
    "spine_shoulder": {"Neck": 1.0},
    "neck": {"Head": 1.0},
    "head": {"Head": 2.0, "Neck": -1.0},
}
for _side in ("Left", "Right"):
    _ntu = _side.lower()
    _BVH_HUMANOID_TO_NTU |= {
        f"shoulder_{_ntu}": {f"{_side}Arm": 1.0},
        f"elbow_{_ntu}": {f"{_side}ForeArm": 1.0},
        f"wrist_{_ntu}": {f"{_side}Hand": 1.0},
        f"hand_{_ntu}": {f"{_side}Hand": 1.0},
        f"hand_tip_{_ntu}": {f"{_side}Hand": 1.0},
        f"thumb_{_ntu}": {f"{_side}Hand": 1.0},
        f"hip_{_ntu}": {f"{_side}UpLeg": 1.0},
        f"knee_{_ntu}": {f"{_side}Leg": 1.0},
        f"ankle_{_ntu}": {f"{_side}Foot": 1.0},
        f"foot_{_ntu}": {f"{_side}ToeBase": 1.0},
    }

BVH_HUMANOID = Layout(
    name="bvh_humanoid",
    joints=HUMANOID_JOINTS,
    parents=HUMANOID_PARENTS,
    left_right=tuple(
        (i, HUMANOID_JOINTS.index(name.replace("Left", "Right")))
        for i, name in enumerate(HUMANOID_JOINTS)
        if name.startswith("Left")
    ),
    to_ntu=_BVH_HUMANOID_TO_NTU,
    ntu_resynthesis={
        "spine_mid": {"spine_base": 0.5, "spine_shoulder": 0.5},
        "head": {"neck": 2.0, "spine_shoulder": -1.0},
        **{
            f"{part}_{side}": {f"wrist_{side}": 1.0}
            for part in ("hand", "hand_tip", "thumb")
            for side in ("left", "right")
        },
    },
    notes="CMU/Mixamo-style BVH names. Spine mid, head, hands, tips and thumbs synthesised.",
)
LAYOUTS.register(BVH_HUMANOID.name)(BVH_HUMANOID)

# "mixamorig:LeftArm", "mixamorig1_LeftArm", "Character1|LeftArm" -> "LeftArm"
_PREFIX = re.compile(r"^(?:.*[:|])|^mixamorig\d*_", re.IGNORECASE)


def _canonical(name: str) -> str:
    return _PREFIX.sub("", name.strip()).lower()


def match_bvh_skeleton(joint_names: list[str] | tuple[str, ...]) -> tuple[str, list[int]] | None:
    """The layout a BVH skeleton can be mapped with, from its joint names.

    Args:
        joint_names: the BVH's ROOT and JOINT names in file order (End Sites excluded).
    Returns:
        ``(layout name, indices)`` where ``indices[k]`` is the position in ``joint_names`` of the
        layout's ``k``-th joint, or ``None`` when no known layout fits.
    """
    names = list(joint_names)
    if set(names) == set(BANDAI22.joints) and len(names) == BANDAI22.num_joints:
        return BANDAI22.name, [names.index(j) for j in BANDAI22.joints]
    position: dict[str, int] = {}
    for i, name in enumerate(names):
        # the first joint of a name wins; rigs do not repeat the canonical names
        position.setdefault(_canonical(name), i)
    indices = []
    for joint in HUMANOID_JOINTS:
        spellings = (joint, *_ALIASES.get(joint, ()))
        found = next((position[s.lower()] for s in spellings if s.lower() in position), None)
        if found is None:
            return None
        indices.append(found)
    if len(set(indices)) != len(indices):
        return None
    return BVH_HUMANOID.name, indices
