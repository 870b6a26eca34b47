"""Acclaim ASF/AMC reader: forward kinematics against the HDM05 reference positions, all 288 clips of
``../shared/data/hdm05_subset`` with their labels, sides and axes, a hand-computed CMU-style pair,
and corrupted copies of a real clip and skeleton."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
import pytest

from engine.assets import class_names
from engine.errors import SkeletonFileError
from engine.io import asf_amc, detect_format, open_skeleton_file
from engine.io.asf_amc import (
    HDM05_CLASS_CODES,
    AMCMotion,
    acclaim_points,
    forward_kinematics,
    open_amc,
    parse_amc,
    parse_asf,
    read_acclaim_points,
    read_amc,
)
from engine.skeleton.asf_layouts import ACCLAIM31, ACCLAIM31_JOINTS
from engine.skeleton.geometry import chirality
from engine.skeleton.layouts import NTU25_JOINTS, get_layout, to_ntu25
from tests.conftest import shared_path

from .checks import chirality_scores, outcome, path_length, truncation_offsets, write_mutant

J = {name: i for i, name in enumerate(NTU25_JOINTS)}
P = {name: i for i, name in enumerate(ACCLAIM31_JOINTS)}
METRES_PER_UNIT = 0.0254 / 0.45  # ":units length 0.45": one unit is 1/0.45 inch
SMALL = "train/4/HDM_bk_hopBothLegs1hops_020_120.amc"  # 56 frames, 45 KB: the mutation subject
SMALL_ASF = "train/4/HDM_bk.asf"


def data(*parts: str) -> Path:
    return shared_path("hdm05_subset", *parts)


def amc_files(root: Path) -> list[Path]:
    # One clip has the upper-case ending ".AMC" (README): match the ending case-insensitively.
    return sorted(p for p in root.rglob("*") if p.suffix.lower() == ".amc")


@pytest.fixture(scope="module")
def labels() -> dict[str, dict[str, str]]:
    with open(data("labels.csv"), newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def clips():
    """relative path -> NTU sequence, every clip of the subset (read once for the module)."""
    root = data()
    return {p.relative_to(root).as_posix(): read_amc(p) for p in amc_files(root)}


def by_class(clips, code: str) -> list:
    return [s for s in clips.values() if s.meta["hdm05_class"] == code]


# --- forward kinematics and the real clips -----------------------------------------------------------


def test_forward_kinematics_equals_the_reference_positions():
    with np.load(data("fk_reference_3clips_m.npz")) as z:
        reference = {key: z[key] for key in z.files}
    names = [str(n) for n in reference["joint_names"]]
    assert tuple(names) == ACCLAIM31_JOINTS
    clips = [k for k in reference if k != "joint_names"]
    assert len(clips) == 3
    for name in clips:
        (path,) = [p for p in amc_files(data()) if p.stem == name]
        points, skeleton, motion = read_acclaim_points(path)
        expected = reference[name]
        assert points.shape == expected.shape == (motion.num_frames, 31, 3)
        assert skeleton.point_names == ACCLAIM31_JOINTS  # breadth-first = the reference's order
        # float32 rounding of the reference (~6e-8 m measured); 1e-5 m allowed.
        assert np.abs(points - expected).max() <= 1e-5, name


def test_all_clips_read_with_their_frames_labels_and_actors(clips, labels):
    assert len(clips) == 288 and set(clips) == set(labels)
    names = class_names("hdm05")
    assert len(names) == len(HDM05_CLASS_CODES) == 11
    for file, row in labels.items():
        s = clips[file]
        k = int(row["class_folder"]) - 1
        assert s.num_frames == int(row["frames"]), file
        assert (s.dataset, s.label_id, s.label) == ("hdm05", k, names[k]), file
        assert s.meta["hdm05_class"] == row["class_name"] == HDM05_CLASS_CODES[k]
        assert (s.meta["actor"], s.meta["take"]) == (row["actor"], int(row["take"]))
        assert Path(s.meta["asf"]) == data(row["asf"])
        assert (s.fps, s.meta["fps_from"], s.meta["first_frame"]) == (120.0, "file name", 1)
        assert s.joints.dtype == np.float32 and s.joints.shape == (s.num_frames, 1, 25, 3)
        assert s.source_format == "asf_amc" and s.source_layout == "acclaim_31"
    assert sum(s.num_frames for s in clips.values()) == 71286


def test_ntu_joints_are_the_named_points_turned_to_face_the_camera():
    points, _, _ = read_acclaim_points(data(SMALL))
    joints = read_amc(data(SMALL)).joints[:, 0]
    turned = points * np.array([-1.0, 1.0, -1.0])  # 180 degrees about y
    for ntu, point in [("spine_base", "root"), ("spine_mid", "upperback"), ("spine_shoulder", "lowerneck"),
                       ("neck", "upperneck"), ("shoulder_left", "lclavicle"), ("elbow_right", "rhumerus"),
                       ("wrist_left", "lradius"), ("hand_right", "rwrist"), ("hand_tip_left", "lfingers"),
                       ("thumb_right", "rthumb"), ("hip_left", "lhipjoint"), ("knee_right", "rfemur"),
                       ("ankle_left", "ltibia"), ("foot_right", "rfoot")]:  # fmt: skip
        np.testing.assert_allclose(joints[:, J[ntu]], turned[:, P[point]], atol=1e-6, err_msg=ntu)
    head_centre = 0.5 * (turned[:, P["upperneck"]] + turned[:, P["head"]])
    np.testing.assert_allclose(joints[:, J["head"]], head_centre, atol=1e-6)


def test_sides_follow_the_motion(clips):
    # README: the kick is with the left leg, the grab with the right hand, in every clip.
    # Measured: the moving side travels at least 1.8 times as far as the other, in every clip.
    def travel(s, joint: str) -> float:
        return path_length(s.joints[:, 0, J[joint]])

    for s in by_class(clips, "kickLFront1Reps"):
        assert travel(s, "foot_left") > 1.5 * travel(s, "foot_right"), s.name
    for s in by_class(clips, "grabHighR"):
        assert travel(s, "hand_right") > 1.5 * travel(s, "hand_left"), s.name
    assert len(by_class(clips, "kickLFront1Reps")) == len(by_class(clips, "grabHighR")) == 29


def test_left_and_right_are_the_subjects_own_in_a_right_handed_frame(clips):
    sequences = list(clips.values())
    scores = chirality_scores(sequences)
    # Measured: every clip positive, lowest 0.39, mean 0.79; both mirror controls turn every sign.
    assert (scores > 0.2).all() and scores.mean() > 0.6
    for mirror in ("swap", "negate_x"):
        assert (chirality_scores(sequences[::7], mirror=mirror) < -0.2).all()


def test_y_is_up(clips):
    margin = np.concatenate(
        [
            s.joints[:, 0, J["head"], 1] - s.joints[:, 0, [J["foot_left"], J["foot_right"]], 1].max(axis=1)
            for s in clips.values()
            if s.meta["hdm05_class"] != "lieDownFloor"
        ]
    )
    # Measured: the head is above both feet in every frame of the standing classes, median 1.50 m.
    assert (margin > 0).all() and np.median(margin) > 1.2


@pytest.mark.parametrize("actor_asf", ["train/1/HDM_bd.asf", "train/1/HDM_bk.asf", "train/1/HDM_dg.asf",
                                       "test/1/HDM_mm.asf", "test/1/HDM_tr.asf"])  # fmt: skip
def test_rest_pose_faces_the_camera_with_the_right_side_at_plus_x(actor_asf):
    skeleton = parse_asf(data(actor_asf))
    rest = AMCMotion("rest.amc", True, np.zeros((1, skeleton.num_columns)), 1)
    raw = acclaim_points(skeleton, rest)
    # Measured over the 5 actors: femur 0.378-0.445 m, humerus 0.259-0.303 m, head top to toes
    # 1.59-1.76 m (README, rounded: 0.38-0.45, 0.26-0.30, 1.58-1.74).
    assert 0.37 <= np.linalg.norm(raw[0, P["lfemur"]] - raw[0, P["lhipjoint"]]) <= 0.46
    assert 0.25 <= np.linalg.norm(raw[0, P["lhumerus"]] - raw[0, P["lclavicle"]]) <= 0.31
    assert 1.55 <= raw[0, P["head"], 1] - raw[0, [P["ltoes"], P["rtoes"]], 1].min() <= 1.80
    j = to_ntu25(raw, ACCLAIM31)[0]
    for part in ("shoulder", "elbow", "wrist", "hand", "hand_tip", "hip", "knee", "ankle", "foot"):
        assert j[J[f"{part}_right"], 0] > j[J[f"{part}_left"], 0] + 0.05, part
    heights = [j[J[n], 1] for n in ("head", "neck", "spine_shoulder", "spine_mid", "spine_base", "knee_left",
                                    "ankle_left")]  # fmt: skip
    assert heights == sorted(heights, reverse=True)
    for side in ("left", "right"):  # the toes point at the camera (-z)
        assert j[J[f"foot_{side}"], 2] < j[J[f"ankle_{side}"], 2] - 0.05
    assert chirality(j, forward=np.array([0.0, 0.0, -1.0])) > 0.9


def test_layout_is_a_rotation_with_every_ntu_joint_measured_but_the_head():
    layout = get_layout("acclaim_31")
    assert layout is ACCLAIM31 and layout.num_joints == 31
    assert np.isclose(np.linalg.det(np.asarray(layout.axes, float)), 1.0)  # a rotation, not a mirror
    assert [NTU25_JOINTS[i] for i in np.flatnonzero(~layout.measured)] == ["head"]
    assert layout.ntu_resynthesis == {}
    assert len(layout.left_right) == 12 and all(
        ACCLAIM31_JOINTS[r] == "r" + ACCLAIM31_JOINTS[lf][1:] for lf, r in layout.left_right
    )


def test_front_door_detects_the_upper_case_ending_and_takes_options(clips):
    path = data("train/9/HDM_bk_sneak2StepsLStart_006_120.AMC")
    assert detect_format(path) == "asf_amc"
    collection = open_skeleton_file(path, fps=30, asf=data("test/1/HDM_tr.asf"))
    s = collection[0]
    assert collection.format == "asf_amc" and len(collection) == 1
    assert (s.fps, s.meta["fps_from"], s.label) == (30.0, "option", "sneak forward")
    assert Path(s.meta["asf"]) == data("test/1/HDM_tr.asf")
    # Another actor's skeleton: same motion, other bone lengths.
    own = clips["train/9/HDM_bk_sneak2StepsLStart_006_120.AMC"].joints
    assert s.joints.shape == own.shape and not np.allclose(s.joints, own, atol=0.01)


def test_zsar_inspect_describes_a_clip():
    from trainer.commands.inspect import describe_file, format_text

    d = describe_file(str(data(SMALL)))
    assert (d["format"], d["frames"], d["fps"], d["label"], d["dataset"]) == (
        "asf_amc", 56, 120.0, "hop on both legs", "hdm05"
    )
    assert d["measured_joints"] == 24 and d["meta"]["actor"] == "bk"
    assert "hop on both legs (hdm05 class 3)" in format_text(d)


def test_a_class_outside_the_subset_reads_without_a_label(tmp_path):
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "HDM_bk.asf").write_bytes(data(SMALL_ASF).read_bytes())
    path = folder / "HDM_bk_walk2StepsLstart_007_120.amc"
    path.write_bytes(data(SMALL).read_bytes())
    s = read_amc(path)
    assert (s.label, s.label_id, s.dataset) == (None, None, None)
    assert s.meta == {"actor": "bk", "take": 7, "hdm05_class": "walk2StepsLstart",
                      "asf": str(folder / "HDM_bk.asf"), "fps_from": "file name", "length_unit": 0.45,
                      "first_frame": 1}  # fmt: skip
    np.testing.assert_array_equal(s.joints, read_amc(data(SMALL)).joints)


def test_line_by_line_path_reads_what_the_fast_path_reads(tmp_path, monkeypatch):
    original = data(SMALL).read_bytes()
    skeleton = parse_asf(data(SMALL_ASF))
    fast = parse_amc(data(SMALL), skeleton)
    lines = original.split(b"\n")
    femur = next(i for i, line in enumerate(lines) if line.startswith(b"rfemur "))
    tibia = femur + 1
    assert lines[tibia].startswith(b"rtibia ")
    swapped = lines[:]
    swapped[tibia], swapped[femur] = lines[femur], lines[tibia]  # bone order differs in frame 1 only
    variants = {  # case: (bytes, read line by line)
        "swapped": (b"\n".join(swapped), True),
        # a form feed is a space to str.split(); the fast path leaves such bytes to the line-by-line one
        "form_feed": (original.replace(b"\nroot ", b"\nroot\x0c", 1), True),
        "lf": (original.replace(b"\r\n", b"\n"), False),
        "tabs_and_blank_lines": (
            original.replace(b" ", b" \t ").replace(b"\r\n2\n", b"\r\n\r\n2\r\n\n"), False
        ),
        "latin1_header": (original.replace(b"\r\n1\n", b"\r\n# \xe9t\xe9\r\n1\n", 1), False),
    }
    slow_reads = []
    line_by_line = asf_amc._slow_frames
    monkeypatch.setattr(asf_amc, "_slow_frames", lambda *a: slow_reads.append(a[0]) or line_by_line(*a))
    for case, (text, slow) in variants.items():
        path = write_mutant(tmp_path, case, "HDM_bk_x_001_120.amc", text)
        motion = parse_amc(path, skeleton)
        np.testing.assert_array_equal(motion.values, fast.values, err_msg=case)
        assert (path in slow_reads) is slow, case


# --- a CMU-style pair, by hand -------------------------------------------------------------------------

# Every CMU bone, in the CMU ASF's own order: direction, length, axis angles (degrees), dofs. The
# rest pose of HDM05 and CMU: y up, facing +z, the subject's left at +x. Like CMU's, the hip joints
# have no dofs and the AMC leaves them out.
CMU_BONES = {
    "lhipjoint": ((1, 0, 0), 2, (0, 0, 0), ""), "lfemur": ((0, -1, 0), 4, (0, 0, 90), "rx ry rz"),
    "ltibia": ((0, -1, 0), 4, (0, 0, 90), "rx"), "lfoot": ((0, 0, 1), 1, (0, 0, 0), "rx rz"),
    "ltoes": ((0, 0, 1), 0.5, (0, 0, 0), "rx"),
    "rhipjoint": ((-1, 0, 0), 2, (0, 0, 0), ""), "rfemur": ((0, -1, 0), 4, (0, 0, -90), "rx ry rz"),
    "rtibia": ((0, -1, 0), 4, (0, 0, -90), "rx"), "rfoot": ((0, 0, 1), 1, (0, 0, 0), "rx rz"),
    "rtoes": ((0, 0, 1), 0.5, (0, 0, 0), "rx"),
    "lowerback": ((0, 1, 0), 3, (0, 0, 0), "rx ry rz"), "upperback": ((0, 1, 0), 1, (0, 0, 0), "rx ry rz"),
    "thorax": ((0, 1, 0), 1, (0, 0, 0), "rx ry rz"), "lowerneck": ((0, 1, 0), 1, (0, 0, 0), "rx ry rz"),
    "upperneck": ((0, 1, 0), 1, (0, 0, 0), "rx ry rz"), "head": ((0, 1, 0), 1, (0, 0, 0), "rx ry rz"),
    "rclavicle": ((-1, 0, 0), 2, (0, 0, -30), "ry rz"), "rhumerus": ((-1, 0, 0), 3, (0, 0, 90), "rx ry rz"),
    "rradius": ((-1, 0, 0), 3, (0, 0, 90), "rx"), "rwrist": ((-1, 0, 0), 1, (0, 0, 90), "ry"),
    "rhand": ((-1, 0, 0), 1, (0, 0, 90), "rx rz"), "rfingers": ((-1, 0, 0), 0.5, (0, 0, 90), "rx"),
    "rthumb": ((-0.6, 0, 0.8), 0.5, (0, 0, 90), "rx rz"),
    "lclavicle": ((1, 0, 0), 2, (0, 0, 30), "ry rz"), "lhumerus": ((1, 0, 0), 3, (0, 0, -90), "rx ry rz"),
    "lradius": ((1, 0, 0), 3, (0, 0, -90), "rx"), "lwrist": ((1, 0, 0), 1, (0, 0, -90), "ry"),
    "lhand": ((1, 0, 0), 1, (0, 0, -90), "rx rz"), "lfingers": ((1, 0, 0), 0.5, (0, 0, -90), "rx"),
    "lthumb": ((0.6, 0, 0.8), 0.5, (0, 0, -90), "rx rz"),
}  # fmt: skip
CMU_HIERARCHY = """root lhipjoint rhipjoint lowerback
lhipjoint lfemur
lfemur ltibia
ltibia lfoot
lfoot ltoes
rhipjoint rfemur
rfemur rtibia
rtibia rfoot
rfoot rtoes
lowerback upperback
upperback thorax
thorax lowerneck lclavicle rclavicle
lowerneck upperneck
upperneck head
lclavicle lhumerus
lhumerus lradius
lradius lwrist
lwrist lhand lthumb
lhand lfingers
rclavicle rhumerus
rhumerus rradius
rradius rwrist
rwrist rhand rthumb
rhand rfingers"""
# Two frames: the rest pose 10 units up; then the root at (1, 2, 3) turned 90 degrees about y, the left
# femur turned 90 degrees about its frame's z (its axis is turned 90 degrees about z: the turn is about
# world z) and the lower back by rx = ry = 90 (Rz Ry Rx: x first).
CMU_FRAMES = [
    {"root": (0, 10, 0, 0, 0, 0)},
    {"root": (1, 2, 3, 0, 90, 0), "lfemur": (0, 0, 90), "lowerback": (90, 90, 0)},
]
# By hand, in file units. Frame 1: straight offsets. Frame 2: G_root = Ry(90): (x, y, z) -> (z, y, -x).
#   lhipjoint = (1,2,3) + Ry90 (2,0,0) = (1,2,1)
#   lfemur:   C L C^T = Rz90 (commuting): (0,-4,0) -> (4,0,0); Ry90 -> (0,0,-4); (1,2,1) + that = (1,2,-3)
#   ltibia:   no dofs turned, same G: (1,2,-3) + (0,0,-4) = (1,2,-7)
#   lowerback: Rx90 (0,3,0) = (0,0,3); Ry90 -> (3,0,0); G_root -> (0,0,-3); (1,2,3) + that = (1,2,0)
#              (in the other order, Rx Ry, it would end at (4,2,3))
#   upperback: G = Ry90 Ry90 Rx90: (0,1,0) -> (0,0,1) -> (0,0,-1); (1,2,0) + that = (1,2,-1)
CMU_EXPECTED = {
    "root": [(0, 10, 0), (1, 2, 3)],
    "lhipjoint": [(2, 10, 0), (1, 2, 1)],
    "lfemur": [(2, 6, 0), (1, 2, -3)],
    "ltibia": [(2, 2, 0), (1, 2, -7)],
    "lowerback": [(0, 13, 0), (1, 2, 0)],
    "upperback": [(0, 14, 0), (1, 2, -1)],
}


def cmu_asf(radians: bool = False) -> str:
    unit = math.pi / 180 if radians else 1.0
    bones = []
    for i, (name, (direction, length, axis, dofs)) in enumerate(CMU_BONES.items(), start=1):
        angles = " ".join(repr(a * unit) for a in axis)
        text = (f"  begin\n     id {i}\n     name {name}\n     direction {' '.join(map(str, direction))}\n"
                f"     length {length}\n     axis {angles}  XYZ\n")  # fmt: skip
        if dofs:
            limits = "\n           ".join(["(-180.0 180.0)"] * len(dofs.split()))
            text += f"    dof {dofs}\n    limits {limits}\n"
        bones.append(text + "  end\n")
    return (
        "# AST/ASF file generated using VICON BodyLanguage\n# ------------------------------------------\n"
        f":version 1.10\n:name VICON\n:units\n  mass 1.0\n  length 0.45\n"
        f"  angle {'rad' if radians else 'deg'}\n"
        ":documentation\n   .ast/.asf automatically generated from VICON data using\n"
        ":root\n   order TX TY TZ RX RY RZ\n   axis XYZ\n   position 0 0 0  \n   orientation 0 0 0 \n"
        ":bonedata\n" + "".join(bones) + ":hierarchy\n  begin\n    "
        + CMU_HIERARCHY.replace("\n", "\n    ") + "\n  end\n"
    )  # fmt: skip


def cmu_amc(radians: bool = False) -> str:
    unit = math.pi / 180 if radians else 1.0
    out = ["#!OML:ASF F:\\VICON\\USERDATA\\INST\\CMU\\07\\07.asf", ":FULLY-SPECIFIED",
           ":RADIANS" if radians else ":DEGREES"]  # fmt: skip
    for number, frame in enumerate(CMU_FRAMES, start=1):
        out.append(str(number))
        tx, ty, tz, *rot = frame["root"]
        out.append(f"root {tx} {ty} {tz} " + " ".join(repr(a * unit) for a in rot))
        for name, (_, _, _, dofs) in CMU_BONES.items():
            if dofs:  # CMU leaves out the bones without dofs
                values = frame.get(name, (0, 0, 0))[: len(dofs.split())]
                out.append(f"{name} " + " ".join(repr(v * unit) for v in values))
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("radians", [False, True], ids=["degrees", "radians"])
def test_cmu_style_pair_by_hand(tmp_path, radians):
    (tmp_path / "07.asf").write_text(cmu_asf(radians))
    (tmp_path / "08.asf").write_text(cmu_asf(radians).replace("length 4\n", "length 5\n"))  # not its skeleton
    path = tmp_path / "07_01.amc"
    path.write_text(cmu_amc(radians))
    points, skeleton, motion = read_acclaim_points(path)
    assert Path(skeleton.path).name == "07.asf" and motion.degrees is not radians
    for name, expected in CMU_EXPECTED.items():
        np.testing.assert_allclose(points[:, P[name]], np.array(expected) * METRES_PER_UNIT, atol=1e-12,
                                   err_msg=name)  # fmt: skip
    s = read_amc(path)
    assert (s.label, s.dataset, s.fps, s.num_frames, s.source_layout) == (None, None, 120.0, 2, "acclaim_31")
    assert s.meta["fps_from"].startswith("default")
    # the rest pose faces the camera (-z), the subject's right at +x
    assert chirality(s.joints[0, 0], forward=np.array([0.0, 0.0, -1.0])) > 0.9


def test_a_skeleton_without_the_hdm05_cmu_bones_reads_raw_but_not_as_ntu(tmp_path):
    (tmp_path / "07.asf").write_text(cmu_asf().replace("lthumb", "lthumb1"))
    path = tmp_path / "07_01.amc"
    path.write_text(cmu_amc().replace("lthumb", "lthumb1"))
    skeleton = parse_asf(tmp_path / "07.asf")
    assert forward_kinematics(skeleton, parse_amc(path, skeleton)).shape == (2, 31, 3)
    lacks = r"07_01\.amc: its skeleton 07\.asf lacks the bones lthumb that the HDM05/CMU mapping"
    with pytest.raises(SkeletonFileError, match=lacks):
        read_amc(path)


def test_fk_matches_the_literal_formula_on_random_angles(tmp_path):
    """``G_b = G_parent C_b L_b C_b^T`` written out with explicit matrices, against the optimised FK."""
    (tmp_path / "07.asf").write_text(cmu_asf())
    skeleton = parse_asf(tmp_path / "07.asf")
    rng = np.random.default_rng(0)
    values = rng.uniform(-180, 180, size=(5, skeleton.num_columns))
    values[:, :3] = rng.normal(size=(5, 3)) * 10
    positions = forward_kinematics(skeleton, AMCMotion("x.amc", True, values, 1))

    def rot(axis: str, degrees: float) -> np.ndarray:
        c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
        return {"x": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
                "y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
                "z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])}[axis]  # fmt: skip

    for t in range(5):
        g = {"root": rot("z", values[t, 5]) @ rot("y", values[t, 4]) @ rot("x", values[t, 3])}
        end = {"root": values[t, :3]}
        for bone in skeleton.bones:
            parent = "root" if bone.parent < 0 else skeleton.bones[bone.parent].name
            ax, ay, az = (math.degrees(a) for a in bone.axis)
            c = rot("z", az) @ rot("y", ay) @ rot("x", ax)
            dof = dict(zip(bone.dofs, values[t, skeleton.columns[bone.name]]))
            local = rot("z", dof.get("rz", 0)) @ rot("y", dof.get("ry", 0)) @ rot("x", dof.get("rx", 0))
            g[bone.name] = g[parent] @ c @ local @ c.T
            end[bone.name] = end[parent] + g[bone.name] @ (np.array(bone.direction) * bone.length)
        expected = np.array([end[n] for n in skeleton.point_names])
        np.testing.assert_allclose(positions[t], expected, atol=1e-9)


# --- corrupted copies ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small() -> tuple[bytes, bytes]:
    return data(SMALL).read_bytes(), data(SMALL_ASF).read_bytes()


def pair(tmp_path: Path, case: str, amc: bytes, asf: bytes | None) -> Path:
    """A mutant clip in its own folder, with the skeleton beside it unless ``asf`` is None."""
    path = write_mutant(tmp_path, case, Path(SMALL).name, amc)
    if asf is not None:
        (path.parent / "HDM_bk.asf").write_bytes(asf)
    return path


def refused(path: Path, match: str) -> SkeletonFileError:
    with pytest.raises(SkeletonFileError) as info:
        read_amc(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message and "\r" not in message, message
    assert match in message, message
    return info.value


def test_named_corruptions_are_refused_in_one_line_naming_the_file(tmp_path, small):
    amc, asf = small
    text = amc.decode("latin-1")
    frame5 = text.index("\r\n5\n")  # frame number lines end in LF, bone lines in CRLF
    cases = {
        "empty": (b"", asf, "file is empty"),
        "header_only": (text[: text.index("\r\n1\n") + 2].encode("latin-1"), asf, "holds zero frames"),
        "too_few": (re.sub(r"\nrtibia [^\r\n]*", "\nrtibia", text, count=1), asf, "'rtibia' has 0 values"),
        "short_line": (text[:frame5] + re.sub(r"(\nrfemur \S+ \S+) \S+", r"\1", text[frame5:], count=1), asf,
                       "'rfemur' has 2 values, its dofs (rx ry rz) need 3"),
        "not_a_number": (text[:frame5] + text[frame5:].replace("\nlradius ", "\nlradius 2x", 1), asf,
                         "is not a number"),
        "nan": (text[:frame5] + re.sub(r"(\nlradius )\S+", r"\1nan", text[frame5:], count=1), asf,
                "nan is not finite"),
        "unknown_bone": (text[:frame5] + text[frame5:].replace("\nlradius ", "\nlradious ", 1), asf,
                         "unknown bone 'lradious'"),
        "bone_twice": (text.replace("\nlradius ", "\nlwrist ", 1), asf, "'lwrist' twice in frame 1"),
        "frame_skipped": (text.replace("\r\n5\n", "\r\n6\n", 1), asf, "frame number 6 after frame 4"),
        "missing_asf": (text, None, "looked for HDM_bk_hopBothLegs1hops_020_120.asf, HDM_bk.asf"),
        "empty_asf": (text, b"", "HDM_bk.asf: file is empty"),
        "asf_unknown_child": (text, asf.replace(b"lfemur ltibia", b"lfemur ltibio"), "unknown bone 'ltibio'"),
        "asf_line_dropped": (text, asf.replace(b"    lhumerus lradius\r\n", b""),
                             "'lradius' is not connected"),
        "asf_two_parents": (text, asf.replace(b"lhand lfingers", b"lhand lfingers lthumb"),
                            "'lthumb' has two parents"),
        "asf_no_end": (text, asf[: asf.rindex(b"end")], "':hierarchy' section has no 'end'"),
        "asf_no_hierarchy": (text, asf[: asf.index(b":hierarchy")], "no ':hierarchy' section"),
        "asf_bad_number": (text, re.sub(rb"length (\d)", rb"length x\1", asf, count=1), "is not a number"),
        "asf_bone_without_end": (text, asf.replace(b"  end\r\n  begin", b"  begin", 1),
                                 "'begin' inside the bone"),
    }  # fmt: skip
    for case, (motion, skeleton, match) in cases.items():
        body = motion if isinstance(motion, bytes) else motion.encode("latin-1")
        error = refused(pair(tmp_path, case, body, skeleton), match)
        if case.startswith(("asf_", "empty_asf")):  # the skeleton's problem names the skeleton file too
            assert str(Path(error.path).parent / "HDM_bk.asf") in str(error), str(error)
    cut = amc.index(b"\n", len(amc) // 2) + 1  # after a whole line: the last frame lacks bones
    truncated = refused(pair(tmp_path, "truncated", amc[:cut], asf), "(truncated file?)")
    assert truncated.where.startswith("line ")


def test_truncated_copies_fail_cleanly(tmp_path, small):
    amc, asf = small
    # A cut inside the very last number leaves a shorter but valid number: a genuinely valid file.
    last_number_starts = amc.rstrip().rfind(b" ") + 1
    for cut in truncation_offsets(len(amc), 30):
        outcome(open_amc, pair(tmp_path, f"cut{cut}", amc[:cut], asf), valid_ok=cut > last_number_starts)


@pytest.mark.parametrize("garbage", [b"x", b"nan", b"\x00\xff\x13\x88", b"7"])
def test_corrupted_bytes_fail_cleanly_or_read_valid_numbers(tmp_path, small, garbage):
    amc, asf = small
    for pos in np.linspace(0, len(amc) - 8, 30).astype(int).tolist():
        start = amc.rfind(b"\n", 0, pos) + 1
        line = amc[start : amc.find(b"\n", pos)]
        in_header = amc.find(b"\n1\n") > pos
        # A digit over a character of a value (not a bone name, not a frame number line) makes another
        # valid number; in the header (comments, keywords) any garbage may be harmless.
        # (A digit over the CR after a value lengthens that value.)
        in_value = chr(amc[pos]) in "0123456789-.e\r" and b" " in line and pos > start + line.index(b" ")
        mutated = amc[:pos] + garbage + amc[pos + len(garbage) :]
        valid_ok = in_header or (garbage == b"7" and in_value)
        outcome(open_amc, pair(tmp_path, f"at{pos}", mutated, asf), valid_ok=valid_ok)


def test_every_dropped_line_after_the_header_is_refused(tmp_path, small):
    amc, asf = small
    lines = amc.split(b"\n")
    first_frame = lines.index(b"1")
    candidates = [k for k in range(first_frame, len(lines)) if lines[k].strip()]
    for k in np.linspace(0, len(candidates) - 1, 40).astype(int):
        index = candidates[k]
        path = pair(tmp_path, f"drop{index}", b"\n".join(lines[:index] + lines[index + 1 :]), asf)
        assert outcome(open_amc, path, valid_ok=False) == "error"
