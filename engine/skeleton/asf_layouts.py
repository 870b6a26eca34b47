"""The 31 points of an Acclaim ASF/AMC skeleton (HDM05, CMU mocap) and their NTU-25 mapping.

Forward kinematics of an Acclaim skeleton (:mod:`engine.io.asf_amc`) gives the root and the END of
each of its 30 bones; a point is named after the bone that ends there (``lfemur`` = left knee,
``ltibia`` = left ankle, ``lhumerus`` = left elbow, ``lradius`` = left wrist, ``lclavicle`` = left
shoulder, ``lhipjoint`` = left hip). HDM05 and the CMU mocap database use the same 30 bone names and
the same tree, written out in :data:`ACCLAIM31_JOINTS` (root first, then breadth-first through the
``:hierarchy`` section, the order of ``fk_reference_3clips_m.npz`` in ``hdm05_subset/``).

The NTU mapping is the one proposed in ``hdm05_subset/README.txt``; every NTU joint but the head is
a copy of one mocap point, and the head centre is the midpoint of the top of the neck and the top of
the head. Axes: the mocap world is right-handed with +y up and the rest pose faces +z with the
subject's left at +x; NTU wants the subject facing the camera (-z) with the right at +x, so a
180 degree turn about y, ``(x, y, z) -> (-x, y, -z)``, a proper rotation. The actors turn freely
during a take: the heading of each clip is left to the ``view`` preprocessing, which normalises it
per window; the reader applies only this fixed axis change.
"""

from __future__ import annotations

from engine.skeleton.layouts import LAYOUTS, Layout

ACCLAIM31_JOINTS = (
    "root", "lhipjoint", "rhipjoint", "lowerback", "lfemur", "rfemur", "upperback", "ltibia", "rtibia",
    "thorax", "lfoot", "rfoot", "lowerneck", "lclavicle", "rclavicle", "ltoes", "rtoes", "upperneck",
    "lhumerus", "rhumerus", "head", "lradius", "rradius", "lwrist", "rwrist", "lhand", "lthumb", "rhand",
    "rthumb", "lfingers", "rfingers",
)  # fmt: skip

# The bone tree of the HDM05 and CMU ASF files (their ":hierarchy" sections): bone -> parent bone.
ACCLAIM_PARENT_BONE = {
    "lhipjoint": "root", "rhipjoint": "root", "lowerback": "root",
    "lfemur": "lhipjoint", "ltibia": "lfemur", "lfoot": "ltibia", "ltoes": "lfoot",
    "rfemur": "rhipjoint", "rtibia": "rfemur", "rfoot": "rtibia", "rtoes": "rfoot",
    "upperback": "lowerback", "thorax": "upperback", "lowerneck": "thorax", "upperneck": "lowerneck",
    "head": "upperneck",
    "lclavicle": "thorax", "lhumerus": "lclavicle", "lradius": "lhumerus", "lwrist": "lradius",
    "lhand": "lwrist", "lfingers": "lhand", "lthumb": "lwrist",
    "rclavicle": "thorax", "rhumerus": "rclavicle", "rradius": "rhumerus", "rwrist": "rradius",
    "rhand": "rwrist", "rfingers": "rhand", "rthumb": "rwrist",
}  # fmt: skip

# A point's parent point is the end of the parent bone (the root for the three bones leaving it).
ACCLAIM31_PARENTS = tuple(
    -1 if name == "root" else ACCLAIM31_JOINTS.index(ACCLAIM_PARENT_BONE[name]) for name in ACCLAIM31_JOINTS
)

# Rest-pose heights above the root (README, HDM05 actors): upperback 0.25 m, thorax 0.37, shoulders
# (clavicle ends) 0.43, lowerneck 0.47, upperneck 0.57, head (top of the skull) 0.67.
_ACCLAIM_TO_NTU: dict[str, dict[str, float]] = {
    "spine_base": {"root": 1.0},  # the pelvis
    # Kinect's spine mid sits halfway up the torso; the end of upperback (0.25 m of the 0.47 m from
    # pelvis to neck base) is the mocap point nearest to it.
    "spine_mid": {"upperback": 1.0},
    # NTU spine shoulder is the base of the neck, just above the shoulder line: the end of lowerneck
    # (0.47 m, shoulders at 0.43). The end of thorax (0.37 m) lies below the shoulders.
    "spine_shoulder": {"lowerneck": 1.0},
    "neck": {"upperneck": 1.0},  # top of the neck, base of the skull
    # NTU's head is the head centre; the "head" bone ends at the top of the skull, ~0.1 m above the
    # top of the neck, so the centre is their midpoint. Both points are measured and the midpoint
    # turns with the head.
    "head": {"upperneck": 0.5, "head": 0.5},
}
for _side in ("left", "right"):
    _s = _side[0]
    _ACCLAIM_TO_NTU |= {
        f"shoulder_{_side}": {f"{_s}clavicle": 1.0},
        f"elbow_{_side}": {f"{_s}humerus": 1.0},
        f"wrist_{_side}": {f"{_s}radius": 1.0},
        # The wrist bone ends ~8 cm past the wrist: the middle of the palm, Kinect's "hand".
        f"hand_{_side}": {f"{_s}wrist": 1.0},
        # The fingers bone ends ~20 cm past the wrist, at the finger tips.
        f"hand_tip_{_side}": {f"{_s}fingers": 1.0},
        f"thumb_{_side}": {f"{_s}thumb": 1.0},
        f"hip_{_side}": {f"{_s}hipjoint": 1.0},
        f"knee_{_side}": {f"{_s}femur": 1.0},
        f"ankle_{_side}": {f"{_s}tibia": 1.0},
        # NTU's foot is the front of the foot: the end of the foot bone is the ball of the foot (the
        # toes bone ends at the toe tip, ~6 cm further).
        f"foot_{_side}": {f"{_s}foot": 1.0},
    }

ACCLAIM31 = Layout(
    name="acclaim_31",
    joints=ACCLAIM31_JOINTS,
    parents=ACCLAIM31_PARENTS,
    left_right=tuple(
        (i, ACCLAIM31_JOINTS.index("r" + name[1:]))
        for i, name in enumerate(ACCLAIM31_JOINTS)
        if name.startswith("l") and "r" + name[1:] in ACCLAIM31_JOINTS
    ),
    to_ntu=_ACCLAIM_TO_NTU,
    # Mocap world (y up, rest pose facing +z, subject's left at +x) to NTU camera axes: 180 degrees
    # about y. det = +1, so left stays left.
    axes=((-1, 0, 0), (0, 1, 0), (0, 0, -1)),
    # Nothing to re-synthesise ("train as you infer"): every NTU joint is a measured mocap point,
    # hand tips and thumbs included, and the head is the midpoint of two measured head points, so
    # it moves with the head as a camera's head centre does. A rule in NTU terms (extrapolating the
    # neck) would throw away the head's own turning and nodding, which the data holds.
    ntu_resynthesis={},
    notes="Acclaim ASF/AMC mocap (HDM05, CMU): 31 FK points (root and bone ends). All NTU joints "
    "measured; the head centre is the midpoint of the top of the neck and the top of the head.",
)
LAYOUTS.register(ACCLAIM31.name)(ACCLAIM31)
