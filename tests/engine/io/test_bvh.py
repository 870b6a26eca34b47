"""BVH reader: forward kinematics against the Bandai-Namco ``.npz`` made from the same takes, the
conventions on hand-written files, name-based layouts, line-numbered errors, and corrupted copies of
a real file (``../shared/data/bandai_namco_motion/bvh_samples``)."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from engine.errors import SkeletonFileError
from engine.io import detect_format, open_skeleton_file
from engine.io.bandai_npz import open_bandai_npz
from engine.io.bvh import forward_kinematics, open_bvh, parse_bvh, read_bvh
from engine.skeleton.layouts import BANDAI22_JOINTS, NTU25_JOINTS
from tests.conftest import shared_path

from .checks import chirality_scores, outcome, replace, truncation_offsets, write_mutant

J = {name: i for i, name in enumerate(NTU25_JOINTS)}
SAMPLES = (
    "dataset-1_bow_happy_001", "dataset-1_kick_normal_001", "dataset-2_raise-up-right-hand_active_001",
    "dataset-2_run_feminine_001", "dataset-2_walk_masculine_001", "dataset-2_wave-left-hand_normal_001",
)  # fmt: skip
SMALL = "dataset-2_raise-up-right-hand_active_001.bvh"  # 69 KB, 50 frames: the mutation subject


def sample(name: str):
    return shared_path("bandai_namco_motion", "bvh_samples", name if name.endswith(".bvh") else f"{name}.bvh")


@pytest.fixture(scope="module")
def npz_takes() -> dict[str, tuple[np.ndarray, object]]:
    """sample name -> (its int16 millimetre positions, its sequence from the npz reader), found by
    name in ``dataset{1,2}_labels.csv``."""
    out = {}
    for part in ("1", "2"):
        npz_path = shared_path("bandai_namco_motion", f"dataset{part}_positions_mm.npz")
        with open(shared_path("bandai_namco_motion", f"dataset{part}_labels.csv"), newline="") as f:
            rows = {row["name"]: row for row in csv.DictReader(f)}
        wanted = [n for n in SAMPLES if n in rows]
        collection = open_bandai_npz(npz_path)
        with np.load(npz_path) as z:
            mm = z["positions_mm"]
        for name in wanted:
            row = rows[name]
            start, frames = int(row["seq_start"]), int(row["frames"])
            out[name] = (mm[start : start + frames], collection[int(row["index"])])
    assert set(out) == set(SAMPLES)
    return out


@pytest.mark.parametrize("name", SAMPLES)
def test_forward_kinematics_reproduces_the_npz(npz_takes, name):
    motion = parse_bvh(sample(name))
    mm, _ = npz_takes[name]
    rows = [i for i, joint in enumerate(motion.joints) if not joint.end_site]
    assert [motion.joints[i].name for i in rows] == list(BANDAI22_JOINTS)
    positions_mm = forward_kinematics(motion)[:, rows] * 10.0  # the files are centimetres
    assert positions_mm.shape == mm.shape
    # The npz is the same FK rounded to int16 mm (README: equal to < 0.001 mm before rounding).
    assert np.abs(positions_mm - mm).max() <= 0.501
    assert (np.round(positions_mm) == mm).mean() > 0.999


@pytest.mark.parametrize("name", SAMPLES)
def test_ntu_sequence_matches_the_npz_reader(npz_takes, name):
    s = read_bvh(sample(name))
    _, reference = npz_takes[name]
    assert (s.label, s.label_id, s.dataset) == (reference.label, reference.label_id, reference.dataset)
    assert (s.fps, s.source_layout, s.meta["units"], s.meta["style"]) == (
        30.0,
        "bandai_22",
        "cm",
        reference.meta["style"],
    )
    assert s.joints.shape == reference.joints.shape
    # int16 rounding of 0.5 mm, amplified up to 5x in the extrapolated head (3 Head - 2 Neck)
    np.testing.assert_allclose(s.joints, reference.joints, atol=0.0026)
    measured = [J[n] for n in ("spine_base", "shoulder_left", "wrist_right", "knee_left", "foot_right")]
    np.testing.assert_allclose(s.joints[:, :, measured], reference.joints[:, :, measured], atol=0.00051)


def test_bandai_bvh_left_and_right(npz_takes):
    sequences = [read_bvh(sample(n)) for n in SAMPLES]
    assert (chirality_scores(sequences) > 0.3).all()
    assert (chirality_scores(sequences, mirror="swap") < -0.3).all()
    wave = read_bvh(sample("dataset-2_wave-left-hand_normal_001")).joints[:, 0]
    # README: Hand_L rises from ~0.86 m to ~1.75 m while Hand_R stays still
    assert wave[:, J["hand_left"], 1].max() > wave[:, J["head"], 1].max() + 0.05
    assert np.ptp(wave[:, J["hand_right"], 1]) < 0.1


def test_front_door_detects_and_opens_the_bvh():
    path = sample(SMALL)
    assert detect_format(path) == "bvh"
    collection = open_skeleton_file(path)
    assert collection.format == "bvh" and collection[0].label == "raise up right hand"
    scaled = open_skeleton_file(path, units="mm")[0]
    np.testing.assert_allclose(scaled.joints, collection[0].joints / 10, atol=1e-6)


# --- conventions, on hand-written files -----------------------------------------------------------

TINY = """HIERARCHY
ROOT Hips
{
\tOFFSET 0 0 0
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
\tJOINT Chest
\t{
\t\tOFFSET 0 10 0
\t\tCHANNELS 3 Zrotation Xrotation Yrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0 5 0
\t\t}
\t}
}
MOTION
Frames: 2
Frame Time: 0.04
1 2 3 0 0 0 0 0 0
1 2 3 90 0 0 0 0 0
"""


def _write(tmp_path, text: str, name: str = "clip.bvh", case: str = "case"):
    return write_mutant(tmp_path, case, name, text.encode())


def test_a_rotation_turns_the_children_about_the_parent(tmp_path):
    motion = parse_bvh(_write(tmp_path, TINY))
    assert motion.fps == 25.0 and motion.num_frames == 2
    assert [j.name for j in motion.joints] == ["Hips", "Chest", "End Site"]
    p = forward_kinematics(motion)
    np.testing.assert_allclose(p[0], [[1, 2, 3], [1, 12, 3], [1, 17, 3]], atol=1e-9)
    # Zrotation +90 turns +y onto -x (right-handed)
    np.testing.assert_allclose(p[1], [[1, 2, 3], [-9, 2, 3], [-14, 2, 3]], atol=1e-9)


def test_rotations_compose_in_the_channel_order_of_the_file(tmp_path):
    rng = np.random.default_rng(0)
    orders = [
        "Zrotation Xrotation Yrotation",
        "Xrotation Yrotation Zrotation",
        "Yrotation Zrotation Xrotation",
    ]
    offsets = rng.normal(size=(3, 3)) * 10
    text = "HIERARCHY\nROOT a\n{\nOFFSET 0 0 0\nCHANNELS 6 Xposition Yposition Zposition " + orders[0] + "\n"
    text += f"JOINT b\n{{\nOFFSET {' '.join(map(str, offsets[1]))}\nCHANNELS 3 {orders[1]}\n"
    text += f"JOINT c {{\nOFFSET {' '.join(map(str, offsets[2]))}\nCHANNELS 3 {orders[2]}\n"
    text += "End Site { OFFSET 0 0 1 }\n}\n}\n}\nMOTION\nFrames: 4\nFrame Time: 0.0333333\n"
    values = rng.uniform(-180, 180, size=(4, 12))
    text += "\n".join(" ".join(f"{v:.6f}" for v in row) for row in values) + "\n"
    p = forward_kinematics(parse_bvh(_write(tmp_path, text)))

    def euler(order, angles):  # scipy: upper-case axes are intrinsic, i.e. R = R1 @ R2 @ R3
        return Rotation.from_euler("".join(c[0] for c in order.split()), angles, degrees=True).as_matrix()

    for t, row in enumerate(values):
        r0 = euler(orders[0], row[3:6])
        r1 = r0 @ euler(orders[1], row[6:9])
        r2 = r1 @ euler(orders[2], row[9:12])
        p1 = row[:3] + r0 @ offsets[1]
        p2 = p1 + r1 @ offsets[2]
        np.testing.assert_allclose(p[t], [row[:3], p1, p2, p2 + r2 @ [0, 0, 1]], atol=1e-8)


def test_position_channels_replace_only_their_axes_of_the_offset(tmp_path):
    text = TINY.replace("CHANNELS 3 Zrotation Xrotation Yrotation", "CHANNELS 2 Yposition Zrotation")
    text = text.replace("1 2 3 0 0 0 0 0 0\n1 2 3 90 0 0 0 0 0", "0 0 0 0 0 0 7 0\n0 0 0 0 0 0 7 90")
    p = forward_kinematics(parse_bvh(_write(tmp_path, text)))
    np.testing.assert_allclose(p[:, 1], [[0, 7, 0], [0, 7, 0]], atol=1e-9)  # x, z from OFFSET (0, _, 0)
    np.testing.assert_allclose(p[1, 2], [-5, 7, 0], atol=1e-9)


def test_layout_variations_parse_alike(tmp_path):
    reference = forward_kinematics(parse_bvh(_write(tmp_path, TINY, case="ref")))
    variants = {
        "crlf": TINY.replace("\n", "\r\n"),
        "braces_inline": TINY.replace("ROOT Hips\n{", "ROOT Hips {").replace(
            "JOINT Chest\n\t{", "JOINT Chest {"
        ),
        "spaces": TINY.replace("\t", "  ").replace("Frames: 2", "Frames:\t2"),
        "bom_and_blank_lines": "\ufeff" + TINY.replace("MOTION\n", "MOTION\n\n") + "\n\n",
    }
    for case, text in variants.items():
        np.testing.assert_allclose(
            forward_kinematics(parse_bvh(_write(tmp_path, text, case=case))), reference
        )


# --- name-based layouts ------------------------------------------------------------------------------

MIXAMO = {
    "Chest": "Spine1", "Shoulder_{s}": "{S}Shoulder", "UpperArm_{s}": "{S}Arm", "LowerArm_{s}": "{S}ForeArm",
    "Hand_{s}": "{S}Hand", "UpperLeg_{s}": "{S}UpLeg", "LowerLeg_{s}": "{S}Leg", "Foot_{s}": "{S}Foot",
    "Toes_{s}": "{S}ToeBase",
}  # fmt: skip


def _renamed(text: str, rename) -> str:
    return re.sub(
        r"^(\s*(?:ROOT|JOINT) )(\S+)", lambda m: m.group(1) + rename(m.group(2)), text, flags=re.MULTILINE
    )


def test_cmu_mixamo_names_map_through_the_humanoid_layout(tmp_path):
    path = sample("dataset-2_wave-left-hand_normal_001")
    table = {}
    for bandai, other in MIXAMO.items():
        for s, side in (("L", "Left"), ("R", "Right")):
            table[bandai.format(s=s)] = other.format(S=side)
    text = _renamed(path.read_text(), lambda n: "mixamorig:" + table.get(n, n))
    mixamo = read_bvh(_write(tmp_path, text, name=path.name))
    bandai = read_bvh(path)
    assert mixamo.source_layout == "bvh_humanoid" and mixamo.label == "wave left hand"
    same = [J[n] for n in NTU25_JOINTS if n not in ("spine_mid", "head")]
    np.testing.assert_allclose(mixamo.joints[:, :, same], bandai.joints[:, :, same], atol=1e-6)
    assert chirality_scores([mixamo])[0] > 0.3
    gap = np.linalg.norm(mixamo.joints[:, 0, J["head"]] - mixamo.joints[:, 0, J["neck"]], axis=-1)
    assert 0.05 < gap.mean() < 0.15


def test_a_skeleton_with_unknown_names_is_refused_with_its_names(tmp_path):
    text = _renamed(sample(SMALL).read_text(), lambda n: f"bone_{n[::-1]}")
    path = _write(tmp_path, text)
    with pytest.raises(
        SkeletonFileError,
        match=r"BVH skeleton with joints \[bone_tooR_tnioj, bone_spiH, .*\] has "
        r"no NTU-25 mapping",
    ):
        read_bvh(path)


# --- malformed input: every case names the file and the line -------------------------------------

MALFORMED = {
    "not_bvh": ("hello\n", "expected 'HIERARCHY'", 1),
    "no_root": ("HIERARCHY\nJOINT a\n", "expected 'ROOT'", 2),
    "bad_keyword": (TINY.replace("\tOFFSET 0 10 0", "\tOFSET 0 10 0"), "unknown keyword 'OFSET'", 8),
    "missing_close": (
        TINY.replace("\t\t}\n\t}\n", "\t\t}\n"),
        "unbalanced braces: 'Hips' (line 2) is not closed",
        14,
    ),
    "extra_close": (TINY.replace("}\nMOTION", "}\n}\nMOTION"), "'}' with no open block", 16),
    "no_brace": (
        TINY.replace("\t{\n\t\tOFFSET 0 10", "\t\tOFFSET 0 10"),
        "expected '{' after JOINT Chest",
        7,
    ),
    "nameless": (TINY.replace("JOINT Chest", "JOINT"), "JOINT has no name", 6),
    "duplicate": (
        TINY.replace("JOINT Chest", "JOINT Hips"),
        "joint name 'Hips' is used twice (first at line 2)",
        6,
    ),
    "offset_count": (TINY.replace("OFFSET 0 10 0", "OFFSET 0 10"), "OFFSET needs 3 numbers, found 2", 8),
    "offset_text": (TINY.replace("OFFSET 0 10 0", "OFFSET 0 1O 0"), "not numbers", 8),
    "offset_nan": (TINY.replace("OFFSET 0 10 0", "OFFSET 0 nan 0"), "is not finite", 8),
    "no_offset": (TINY.replace("\t\t\tOFFSET 0 5 0\n", ""), "End Site has no OFFSET", 12),
    "no_channels": (
        TINY.replace("\t\tCHANNELS 3 Zrotation Xrotation Yrotation\n", ""),
        "joint 'Chest' has no CHANNELS",
        13,
    ),
    "channel_count": (TINY.replace("CHANNELS 3 Z", "CHANNELS 4 Z"), "CHANNELS says 4 but names 3", 9),
    "channel_name": (
        TINY.replace("Xrotation Yrotation\n\t\tEnd", "Xrotation Wrotation\n\t\tEnd"),
        "unknown channel 'Wrotation'",
        9,
    ),
    "channel_twice": (
        TINY.replace("Zrotation Xrotation Yrotation\n\t\tEnd", "Zrotation Zrotation Yrotation\n\t\tEnd"),
        "a channel is repeated",
        9,
    ),
    "end_site_channels": (
        TINY.replace("OFFSET 0 5 0", "OFFSET 0 5 0\nCHANNELS 1 Xrotation"),
        "an End Site cannot have CHANNELS",
        13,
    ),
    "two_roots": (TINY.replace("MOTION", "ROOT b\n{\n}\nMOTION"), "a second ROOT", 16),
    "no_motion": (TINY[: TINY.index("MOTION")], "no MOTION section", 15),
    "motion_keyword": (TINY.replace("MOTION", "MOTON"), "unexpected 'MOTON' after the skeleton", 16),
    "no_frames_line": (
        TINY.replace("Frames: 2\n", ""),
        "expected 'Frames: ...', found 'Frame Time: 0.04'",
        17,
    ),
    "frames_text": (TINY.replace("Frames: 2", "Frames: two"), "'two' is not a frame count", 17),
    "zero_frames": (TINY[: TINY.index("1 2 3")].replace("Frames: 2", "Frames: 0"), "holds zero frames", 17),
    "frame_time": (TINY.replace("0.04", "0"), "Frame Time: '0' is not a positive number", 18),
    "truncated": (
        TINY.replace("Frames: 2", "Frames: 3"),
        "truncated: 'Frames: 3' but only 2 frame lines",
        21,
    ),
    "extra_frames": (TINY.replace("Frames: 2", "Frames: 1"), "'Frames: 1' (line 17) but 2 frame lines", 20),
    "short_line": (
        TINY.replace("90 0 0 0 0 0", "90 0 0 0 0"),
        "has 8 numbers, the skeleton's CHANNELS need 9",
        20,
    ),
    "long_line": (TINY.replace("1 2 3 0 0 0 0 0 0", "1 2 3 0 0 0 0 0 0 0"), "has 10 numbers", 19),
    "not_a_number": (TINY.replace("90 0 0", "90 O 0"), "'O' is not a number", 20),
    "nan": (TINY.replace("90 0 0", "90 nan 0"), "value nan (column 5) is not finite", 20),
    "inf": (TINY.replace("1 2 3 0", "1 2 -inf 0"), "value -inf (column 3) is not finite", 19),
    "binary": (TINY.replace("90", "9\udcff"), "not a text file", 20),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_files_are_refused_with_the_line(tmp_path, case):
    text, words, line = MALFORMED[case]
    path = tmp_path / "clip.bvh"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(SkeletonFileError) as info:
        parse_bvh(path)
    assert str(path) in str(info.value) and words in info.value.reason, str(info.value)
    assert info.value.where == f"line {line}", str(info.value)


@pytest.mark.filterwarnings("error")  # refused with a SkeletonFileError, not with numpy overflow warnings
@pytest.mark.parametrize("value", ["1e300", "1e40"])
def test_values_too_large_for_float32_are_refused(tmp_path, value):
    text = sample(SMALL).read_text()
    first_frame = text.index("\n", text.index("Frame Time")) + 1
    hips_x = first_frame + len(" ".join(text[first_frame:].split(" ", 6)[:6])) + 1  # 7th number
    mutated = text[:hips_x] + value + " " + text[hips_x:].split(" ", 1)[1]
    with pytest.raises(SkeletonFileError, match="beyond float32 range"):
        read_bvh(_write(tmp_path, mutated, name=SMALL), units="m")


@pytest.mark.parametrize("data", [b"", b"\n\n", b"HIERARCHY"], ids=repr)
def test_empty_and_tiny_files_are_refused(tmp_path, data):
    with pytest.raises(SkeletonFileError, match="clip.bvh"):
        open_bvh(write_mutant(tmp_path, "case", "clip.bvh", data))


# --- corrupted copies of a real file ---------------------------------------------------------------


@pytest.fixture(scope="module")
def small_bytes() -> bytes:
    return sample(SMALL).read_bytes()


def test_truncated_copies_fail_cleanly(tmp_path, small_bytes):
    # A cut inside the very last number leaves a shorter but valid number: a genuinely valid file.
    last_number_starts = small_bytes.rstrip().rfind(b" ") + 1
    for cut in truncation_offsets(len(small_bytes), 40):
        path = write_mutant(tmp_path, f"cut{cut}", SMALL, small_bytes[:cut])
        outcome(open_bvh, path, valid_ok=cut > last_number_starts)


@pytest.mark.parametrize("garbage", [b"x", b"Q", b"nan", b"\x00\xff\x13\x88", b"7"])
def test_corrupted_bytes_fail_cleanly_or_read_valid_numbers(tmp_path, small_bytes, garbage):
    # Only a digit written over a number's character in an OFFSET, Frame Time or frame line can make
    # another valid file (other numbers); letters, "nan" and binary bytes must always be refused.
    positions = np.linspace(0, len(small_bytes) - 8, 48).astype(int).tolist()
    for pos in positions:
        line = small_bytes[small_bytes.rfind(b"\n", 0, pos) + 1 : small_bytes.find(b"\n", pos)].strip()
        in_number = chr(small_bytes[pos]) in "0123456789-.e" and not line.startswith((b"CHANNELS", b"Frames"))
        path = write_mutant(tmp_path, f"at{pos}", SMALL, replace(small_bytes, pos, garbage))
        outcome(open_bvh, path, valid_ok=garbage == b"7" and in_number)


def test_every_dropped_line_is_refused(tmp_path, small_bytes):
    lines = small_bytes.split(b"\n")
    candidates = [k for k, line in enumerate(lines) if line.strip()]
    for k in np.linspace(0, len(candidates) - 1, 80).astype(int):
        index = candidates[k]
        path = write_mutant(tmp_path, f"drop{index}", SMALL, b"\n".join(lines[:index] + lines[index + 1 :]))
        assert outcome(open_bvh, path, valid_ok=False) == "error"


def test_joint_and_channel_count_changes_are_refused(tmp_path, small_bytes):
    text = small_bytes.decode()
    first_frame = text.index("\n", text.index("Frame Time")) + 1
    cases = {
        "extra_value": text[:first_frame] + "0.5 " + text[first_frame:],
        "missing_value": text[:first_frame] + text[text.index(" ", first_frame) + 1 :],
        "extra_joint": text.replace(
            "\t\tJOINT UpperLeg_L",
            "\t\tJOINT Tail\n\t\t{\n\t\t\tOFFSET 0 0 0\n\t\t\t"
            "CHANNELS 1 Xrotation\n\t\t\tEnd Site\n\t\t\t{\n\t\t\t\tOFFSET 0 0 1\n\t\t\t}\n"
            "\t\t}\n\t\tJOINT UpperLeg_L",
            1,
        ),
        "fewer_channels": text.replace(
            "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation",
            "CHANNELS 3 Zrotation Xrotation Yrotation",
            1,
        ),
    }
    for case, mutated in cases.items():
        path = write_mutant(tmp_path, case, SMALL, mutated.encode())
        with pytest.raises(SkeletonFileError, match=r"numbers, the skeleton's CHANNELS need"):
            open_bvh(path)
