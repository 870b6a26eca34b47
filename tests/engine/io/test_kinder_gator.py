"""Kinder-Gator ``.csv`` reader on the real release (``../shared/data/kinder_gator``): every file, frame
counts, subjects, side-resolved labels against ``labels.csv``, values, left/right, up, and corrupted
copies of a real file."""

from __future__ import annotations

import csv
import math
import time

import numpy as np
import pytest

from engine.assets import class_names
from engine.errors import SkeletonFileError
from engine.io import detect_format, open_skeleton_file
from engine.io.kinder_gator import (
    SIDE_PAIRS,
    class_for,
    open_kinder_gator,
    parse_name,
    read_kinder_gator,
    side_moved,
    sniff_kinder_gator,
)
from engine.skeleton.layouts import NTU25_JOINTS
from tests.conftest import shared_path

from .checks import chirality_scores, outcome, replace, truncation_offsets, write_mutant

J = {name: i for i, name in enumerate(NTU25_JOINTS)}
SAMPLE = "Adults/POSE-p565_02-Raise-your-other-hand-1469182422458.csv"
SAMPLE_NAME = SAMPLE.split("/")[1]

# The header as the README lists it (written out here, not taken from the reader).
README_JOINTS = (
    "HipCenter Spine ShoulderCenter Head ShoulderLeft ElbowLeft WristLeft HandLeft ShoulderRight ElbowRight "
    "WristRight HandRight HipLeft KneeLeft AnkleLeft FootLeft HipRight KneeRight AnkleRight FootRight"
).split()
README_HEADER = ["Timestamp", *(j + a for j in README_JOINTS for a in "XYZ"), "User-ID", "Action"]


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with open(shared_path("kinder_gator", "labels.csv"), newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def classes_csv() -> list[dict[str, str]]:
    with open(shared_path("kinder_gator", "classes.csv"), newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def loaded(rows):
    """Every file through the front door, and how long reading them took."""
    root = shared_path("kinder_gator")
    start = time.perf_counter()
    sequences = [open_skeleton_file(root / row["file"])[0] for row in rows]
    return sequences, time.perf_counter() - start


@pytest.fixture(scope="module")
def kg(loaded):
    return loaded[0]


def test_every_file_loads_with_its_frames_subject_group_and_order(rows, kg, loaded):
    assert len(rows) == len(kg) == 1159
    for row, s in zip(rows, kg):
        assert s.joints.shape == (int(row["frames"]), 1, 25, 3), row["file"]
        assert s.joints.dtype == np.float32 and np.isfinite(s.joints).all()
        assert (s.source_format, s.source_layout, s.fps) == ("kinder_gator_csv", "kinect_v1_20", 30.0)
        assert s.name == row["file"].split("/")[1][: -len(".csv")]
        m = s.meta
        assert (m["subject"], m["group"]) == (int(row["subject"]), row["group"])
        assert m["order"] == int(row["order"])
        assert m["instruction"] == row["class_text"]
        assert m["start_unix_ms"] == int(row["start_unix_ms"])
        assert len(m["timestamps_ms"]) == s.num_frames and "note" not in m
    # Measured: ~3.5 s for the 1159 files (124 MB of text) on a shared 2-core machine.
    assert loaded[1] < 20


def test_labels_and_sides_agree_with_labels_csv(rows, kg):
    agree = sided = 0
    for row, s in zip(rows, kg):
        side = row["side_moved"] or None
        if side is None:
            assert "side_moved" not in s.meta, row["file"]
        else:
            sided += 1
            agree += s.meta["side_moved"] == side
            if "lean" not in row["class_name"]:
                # path lengths: the same numbers as labels.csv (3 decimals there)
                assert s.meta["side_right_m"] == pytest.approx(float(row["side_right_m"]), abs=6e-4)
                assert s.meta["side_left_m"] == pytest.approx(float(row["side_left_m"]), abs=6e-4)
        expected = class_for(row["class_name"], side)
        assert (s.dataset, s.label) == ("kinder_gator", expected), row["file"]
        assert class_names("kinder_gator")[s.label_id] == expected
    # Measured: all 400 side-resolved clips agree. The lean measures differ from labels.csv's by up to
    # 3 cm (the README does not pin every detail of that measure), the sides do not.
    assert (agree, sided) == (400, 400)


def test_class_list_follows_the_rules(classes_csv, kg):
    names = class_names("kinder_gator")
    assert len(names) == len(classes_csv) == 58 and len(set(names)) == 58
    order = [c["class_name"] for c in classes_csv]
    for k, c in enumerate(classes_csv):
        motion = c["class_name"]
        pair = next((p for p, _, _ in SIDE_PAIRS if motion in p), None)
        assert (pair is not None) == (c["side_moved_filled"] == "1"), motion
        if pair is None:
            assert names[k] == class_for(motion) == c["class_text"].lower().replace("climb and", "climb an")
        else:
            side = "right" if order.index(motion) == min(map(order.index, pair)) else "left"
            assert names[k] == class_for(motion, side)
    assert names[:4] == (
        "raise your right leg and bend the knee",
        "raise your left leg and bend the knee",
        "bow",
        "climb an imaginary ladder",
    )
    assert names[35:37] == (
        "put your hands on your hips and lean to the right",
        "put your hands on your hips and lean to the left",
    )
    assert names[18:22] == (
        "kick a ball with your right leg",
        "kick a ball as far as you can with your right leg",
        "kick a ball as far as you can with your left leg",
        "kick a ball with your left leg",
    )
    # every class has clips: 17-23 each once sides are resolved
    counts = np.bincount([s.label_id for s in kg], minlength=58)
    assert counts.min() >= 17 and counts.sum() == 1159


def test_names_are_parsed_including_the_trailing_hyphen():
    assert parse_name("POSE-p565_53-Throw-a-ball--1469183320067.csv") == {
        "subject": 565,
        "order": 53,
        "motion": "Throw-a-ball",
        "start_unix_ms": 1469183320067,
    }
    assert parse_name("clip.csv") is None and parse_name("POSE-p1_02--17.csv") is None


def test_values_are_the_files_values_in_ntu_order():
    path = shared_path("kinder_gator", SAMPLE)
    raw = np.loadtxt(path, delimiter=",", skiprows=1, usecols=range(61))
    s = read_kinder_gator(path)
    joints = s.joints[:, 0]
    frames = raw[:, 1:].reshape(-1, 20, 3)  # Kinect SDK v1 order = NTU order, shoulder centre at 21
    for k in range(20):
        ntu = 20 if k == 2 else k
        np.testing.assert_allclose(joints[:, ntu], frames[:, k], atol=1e-6)
    np.testing.assert_allclose(joints[:, J["neck"]], 0.5 * (frames[:, 2] + frames[:, 3]), atol=1e-6)
    for tip, hand in (("hand_tip_left", 7), ("thumb_left", 7), ("hand_tip_right", 11), ("thumb_right", 11)):
        np.testing.assert_allclose(joints[:, J[tip]], frames[:, hand], atol=1e-6)
    assert s.meta["timestamps_ms"] == raw[:, 0].tolist()


def test_left_and_right_are_the_subjects_own(kg):
    scores = chirality_scores(kg)
    # Measured: every clip positive.
    assert (scores > 0).all() and scores.mean() > 0.3
    for mirror in ("swap", "negate_x"):
        flipped = chirality_scores(kg[::10], mirror=mirror)
        assert (flipped < 0).all()


def test_y_is_up_in_metres(kg):
    head = np.concatenate([s.joints[:, 0, J["head"], 1] for s in kg])
    feet = np.concatenate([s.joints[:, 0, [J["foot_left"], J["foot_right"]], 1].max(axis=1) for s in kg])
    margin = head - feet
    # README: head minus mean foot is +1.37 m on average (children included)
    assert (margin > 0).mean() > 0.999
    assert 1.0 < np.median(margin) < 1.6


def test_a_raised_hand_is_the_hand_the_label_names(kg):
    # Independent of the path-length rule that chose the label: the labelled hand rises more. Measured:
    # 113 of 120 raise / wave / arm-to-the-side clips.
    hands = {"right": J["hand_right"], "left": J["hand_left"]}
    actions = ("raise your {} hand", "wave your {} hand", "raise your {} arm to the side")
    raised = {action.format(side) for action in actions for side in hands}
    hits = total = 0
    for s in kg:
        if s.label in raised:
            side = "right" if "right" in s.label else "left"
            other = "left" if side == "right" else "right"
            y = s.joints[:, 0, :, 1]
            rise = {k: y[:, j].max() - y[:5, j].mean() for k, j in hands.items()}
            hits += rise[side] > rise[other]
            total += 1
    assert total == 120 and hits / total > 0.9


def test_front_door_detects_and_opens_the_csv():
    path = shared_path("kinder_gator", SAMPLE)
    assert detect_format(path) == "kinder_gator_csv"
    assert sniff_kinder_gator(path)
    collection = open_skeleton_file(path)
    assert collection.format == "kinder_gator_csv" and collection[0].label == "raise your left hand"


def test_sniff_is_specific(tmp_path):
    numbers = write_mutant(tmp_path, "numbers", "a.csv", b"0 0.1 0.2 0.3 1\n")
    other = write_mutant(tmp_path, "other", "b.csv", b"Timestamp,HeadX,HeadY\n1,2,3\n")
    spaced = write_mutant(tmp_path, "spaced", "c.csv", b"\xef\xbb\xbfTimestamp, HipCenterX, HipCenterY\n")
    assert not sniff_kinder_gator(numbers) and not sniff_kinder_gator(other)
    assert sniff_kinder_gator(spaced)


# --- names, sides and small variations -------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_bytes() -> bytes:
    return shared_path("kinder_gator", SAMPLE).read_bytes()


def test_any_name_reads_without_a_label_and_the_folder_gives_the_group(tmp_path, sample_bytes):
    bare = read_kinder_gator(write_mutant(tmp_path, "renamed", "my_clip.csv", sample_bytes))
    assert (bare.label, bare.label_id, bare.dataset) == (None, None, None)
    assert "subject" not in bare.meta and "group" not in bare.meta and bare.num_frames == 128
    (tmp_path / "x").mkdir()
    child = read_kinder_gator(write_mutant(tmp_path / "x", "Children", SAMPLE_NAME, sample_bytes))
    assert child.meta["group"] == "child" and child.label == "raise your left hand"


def test_a_name_disagreeing_with_the_contents_is_noted(tmp_path, sample_bytes):
    name = SAMPLE_NAME.replace("p565", "p566").replace("other-hand", "hand")
    s = read_kinder_gator(write_mutant(tmp_path, "case", name, sample_bytes))
    assert s.label == "raise your left hand" and s.meta["subject"] == 566
    assert "565, Raise-your-other-hand" in s.meta["note"] and "name is used" in s.meta["note"]


def test_crlf_spaces_and_no_trailing_comma_read_the_same(tmp_path, sample_bytes):
    reference = read_kinder_gator(shared_path("kinder_gator", SAMPLE)).joints
    variants = {
        "crlf": sample_bytes.replace(b"\n", b"\r\n"),
        "spaces": sample_bytes.replace(b",", b", "),
        "no_trailing_comma": sample_bytes.replace(b",\n", b"\n"),
        "bom": b"\xef\xbb\xbf" + sample_bytes,
    }
    for case, data in variants.items():
        s = read_kinder_gator(write_mutant(tmp_path, case, SAMPLE_NAME, data))
        np.testing.assert_array_equal(s.joints, reference, err_msg=case)
        assert s.meta["side_moved"] == "left" and "note" not in s.meta, case


def _body(frames: int) -> np.ndarray:
    """A still, upright Kinect v1 body (T, 20, 3): hips 0.2 m apart along +x (the subject's right)."""
    body = np.zeros((20, 3))
    body[:, 2] = 3.0
    body[[12, 13, 14, 15], 0] = -0.1  # left leg
    body[[16, 17, 18, 19], 0] = 0.1  # right leg
    body[[4, 5, 6, 7], 0] = -0.2  # left arm
    body[[8, 9, 10, 11], 0] = 0.2  # right arm
    arm, leg = [0.45, 0.2, 0.0, -0.05], [0.0, -0.4, -0.75, -0.8]
    body[:, 1] = [0.0, 0.2, 0.5, 0.7, *arm, *arm, *leg, *leg]  # hip, spine, shoulder centre, head, ...
    return np.repeat(body[None], frames, axis=0)


def test_side_measures():
    body = _body(40)
    body[:, 11, 1] += 0.3 * np.sin(np.linspace(0, 6, 40))  # right hand waves
    assert side_moved(body, "hand")[0] == "right" and side_moved(body, "foot")[0] is None
    body[:, 15, 2] -= np.linspace(0, 0.5, 40)  # left foot kicks forward
    assert side_moved(body, "foot")[0] == "left"
    leaning = _body(40)
    leaning[20:, 3, 0] -= 0.2  # the head moves to the subject's left (-x) from frame 20
    side, right, left = side_moved(leaning, "lean")
    assert (side, right) == ("left", 0.0) and left == pytest.approx(0.2)
    assert side_moved(_body(1), "hand") == (None, 0.0, 0.0)


def _csv(frames: np.ndarray, motion: str = "Raise-your-hand", pid: int = 7) -> bytes:
    lines = [",".join(README_HEADER) + ","]
    for t, frame in enumerate(frames):
        values = [f"{1000 + 33 * t}", *(f"{v:.6f}" for v in frame.ravel())]
        lines.append(",".join([*values, str(pid), motion, ""]))
    return ("\n".join(lines) + "\n").encode()


def test_a_one_frame_clip_of_a_relative_instruction_has_no_label(tmp_path):
    path = write_mutant(tmp_path, "one", "POSE-p7_01-Raise-your-hand-1.csv", _csv(_body(1)))
    s = read_kinder_gator(path)
    assert s.num_frames == 1 and s.label is None and "side_moved" not in s.meta
    assert "cannot be told" in s.meta["note"] and s.meta["instruction"] == "Raise your hand"
    bow = read_kinder_gator(write_mutant(tmp_path, "bow", "POSE-p7_02-Bow-2.csv", _csv(_body(1), "Bow")))
    assert bow.label == "bow" and "note" not in bow.meta


# --- malformed contents ----------------------------------------------------------------------------


def _bad_files(data: bytes) -> dict[str, tuple[bytes, str]]:
    """case -> (file bytes, words the error must contain)."""
    lines = data.split(b"\n")
    header, first, second = lines[0], lines[1], lines[2]

    def with_line(k: int, line: bytes) -> bytes:
        return b"\n".join(lines[:k] + [line] + lines[k + 1 :])

    def with_field(k: int, column: int, value: bytes) -> bytes:
        fields = lines[k].split(b",")
        return with_line(k, b",".join(fields[:column] + [value] + fields[column + 1 :]))

    fields = second.split(b",")
    return {
        "bad_header": (
            header.replace(b"SpineY", b"SpineW") + b"\n" + first,
            "line 1: header column 6 is 'SpineW', expected 'SpineY'",
        ),
        "short_header": (b"Timestamp,HipCenterX\n" + first, "line 1: header ends after column 2"),
        "long_header": (header + b"Extra,\n" + first, "line 1: header has 64 columns, expected 63 ('Extra'"),
        "not_csv": (b"hello\n", "line 1: header column 1 is 'hello'"),
        "header_only": (header + b"\n", "line 2: holds zero frames"),
        "missing_field": (with_line(2, b",".join(fields[:30] + fields[31:])), "line 3: row has 63 fields"),
        "extra_field": (with_line(2, second + b","), "line 3: row has 65 fields"),
        "blank_row": (with_line(5, b""), "line 6: row has 1 fields"),
        "non_number": (with_field(2, 4, b"abc"), "line 3: 'abc' is not a number (column 5, SpineX)"),
        "empty_number": (with_field(2, 4, b""), "line 3: empty field"),
        "underscore": (with_field(2, 4, b"1_0"), "line 3: '1_0' is not a number"),
        "nan": (with_field(4, 7, b"nan"), "line 5: ShoulderCenterX is nan, not a finite number (column 8)"),
        "inf": (with_field(4, 7, b"-inf"), "line 5: ShoulderCenterX is -inf"),
        "huge": (with_field(3, 7, b"1e39"), "line 4: ShoulderCenterX is 1e+39, beyond float32"),
        "nan_time": (with_field(3, 0, b"NaN"), "line 4: Timestamp is nan"),
        "embedded_cr": (with_line(2, second.replace(b"Raise", b"Ra\rise")), "line 3: carriage return"),
        "latin1": (with_line(2, second.replace(b"Raise", b"R\xe4ise")), "line 3: not a text file"),
        "blank": (b"\n \n\n", "holds only blank lines"),
        "empty": (b"", "file is empty"),
    }


@pytest.mark.filterwarnings("error")  # refused with a SkeletonFileError, not with numpy warnings
def test_malformed_files_are_refused_on_one_line_naming_the_file_and_line(tmp_path, sample_bytes):
    for case, (data, words) in _bad_files(sample_bytes).items():
        path = write_mutant(tmp_path, case, SAMPLE_NAME, data)
        with pytest.raises(SkeletonFileError) as info:
            open_skeleton_file(path, format="kinder_gator_csv")
        message = str(info.value)
        assert str(path) in message and words in message and "\n" not in message, (case, message)


# --- corrupted copies of a real file ---------------------------------------------------------------


def _genuinely_valid(data: bytes) -> bool:
    """An independent, field-by-field statement of what the reader must accept."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) < 2:
        return False
    header = [f.strip() for f in lines[0].split(",")]
    if header not in (README_HEADER, README_HEADER + [""]):
        return False
    for line in lines[1:]:
        fields = line.split(",")
        if len(fields) != len(header) or "\r" in line.rstrip("\r"):
            return False
        for k, text in enumerate(fields[:61]):
            try:
                value = float(text)
            except ValueError:
                return False
            # coordinates: positions in metres (engine.io.base.MAX_ABS_METRES)
            if "_" in text or not math.isfinite(value) or (k > 0 and abs(value) > 100):
                return False
    return True


def _check(tmp_path, case: str, data: bytes) -> str:
    valid = _genuinely_valid(data)
    result = outcome(open_kinder_gator, write_mutant(tmp_path, case, SAMPLE_NAME, data), valid_ok=valid)
    assert result == ("valid" if valid else "error"), f"{case}: a valid file was refused"
    return result


def test_truncated_copies_fail_cleanly_or_keep_the_whole_rows(tmp_path, sample_bytes):
    # A cut right after a row's trailing comma or newline leaves a shorter valid file; any other cut
    # leaves a short last row (or header) and must be refused.
    newlines = [i for i, b in enumerate(sample_bytes) if b == ord("\n")]
    cuts = {*truncation_offsets(len(sample_bytes), 30), newlines[1], newlines[40] + 1, newlines[2] - 1}
    cuts = sorted(cuts)
    results = {cut: _check(tmp_path, f"cut{cut}", sample_bytes[:cut]) for cut in cuts}
    assert results[newlines[1]] == results[newlines[40] + 1] == "valid"
    assert list(results.values()).count("error") >= len(cuts) - 4


@pytest.mark.parametrize("garbage", [b"x", b"7", b"nan", b",", b"\n", b"\x00\xff", b"-", b"e"])
def test_corrupted_bytes_fail_cleanly_or_read_valid_numbers(tmp_path, sample_bytes, garbage):
    # Outcomes follow _genuinely_valid: a digit over a digit is another number, a letter inside the
    # Action name changes nothing that is read; everything else must be refused.
    positions = np.linspace(0, len(sample_bytes) - len(garbage), 40).astype(int)
    for pos in positions:
        _check(tmp_path, f"at{pos}", replace(sample_bytes, int(pos), garbage))
