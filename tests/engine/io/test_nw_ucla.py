"""NW-UCLA ``.json`` reader on the real ``all_sqe`` files (``../shared/data/nw_ucla``): every file,
labels, frame counts, left/right, up, and corrupted copies of a real file."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from engine.errors import SkeletonFileError
from engine.io import detect_format, open_skeleton_file
from engine.io.nw_ucla import open_nw_ucla, read_nw_ucla
from engine.skeleton.layouts import NTU25_JOINTS
from tests.conftest import shared_path

from .checks import chirality_scores, outcome, replace, truncation_offsets, write_mutant

J = {name: i for i, name in enumerate(NTU25_JOINTS)}
SAMPLE = "a01_s01_e00_v01.json"


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with open(shared_path("nw_ucla", "labels.csv"), newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def ucla(rows):
    root = shared_path("nw_ucla")
    return [open_skeleton_file(root / row["file"])[0] for row in rows]


def test_every_file_loads_with_its_frames_and_label(rows, ucla):
    assert len(rows) == len(ucla) == 1484
    for row, s in zip(rows, ucla):
        assert s.joints.shape == (int(row["frames"]), 1, 25, 3), row["file"]
        assert np.isfinite(s.joints).all()
        assert (s.dataset, s.label_id, s.label) == (
            "nw_ucla",
            int(row["label_in_json"]) - 1,
            row["action_name"],
        )
        assert s.meta == {
            "subject": int(row["subject"]),
            "episode": int(row["episode"]),
            "view": int(row["view"]),
        }
        assert (s.source_format, s.source_layout, s.fps) == ("nw_ucla_json", "kinect_v1_20", 30.0)


def test_values_are_the_files_values_in_ntu_order():
    path = shared_path("nw_ucla", "all_sqe", SAMPLE)
    raw = np.array(json.loads(path.read_text())["skeletons"])  # (T, 20, 3), Kinect SDK v1 order
    joints = read_nw_ucla(path).joints[:, 0]
    # SDK v1 order is NTU order with shoulder_center at NTU spine_shoulder (README mapping 3 -> 21)
    for k in range(20):
        ntu = 20 if k == 2 else k
        np.testing.assert_allclose(joints[:, ntu], raw[:, k], atol=1e-6)
    np.testing.assert_allclose(joints[:, J["neck"]], 0.5 * (raw[:, 2] + raw[:, 3]), atol=1e-6)


def test_left_and_right_are_the_subjects_own(ucla):
    scores = chirality_scores(ucla)
    frames = np.array([s.num_frames for s in ucla])
    # Measured: 1479 of 1484 positive, mean 0.53. The 5 negative ones (down to -0.16) all have 12-17
    # frames of noisy tracking; every sequence of 20 frames or more is positive (lowest 0.086).
    assert (scores > 0).mean() >= 0.98
    assert (scores[frames >= 20] > 0).all()
    assert scores.mean() > 0.3
    for mirror in ("swap", "negate_x"):
        flipped = chirality_scores(ucla[::10], mirror=mirror)
        assert (flipped < 0).mean() >= 0.95 and flipped.mean() < -0.3


def test_y_is_up(ucla):
    margin = np.concatenate(
        [
            s.joints[:, 0, J["head"], 1] - s.joints[:, 0, [J["foot_left"], J["foot_right"]], 1].max(axis=1)
            for s in ucla
        ]
    )
    # Measured: the head is above both feet in all but 7 of 58,534 frames (tracking glitches).
    assert (margin > 0).mean() > 0.999
    assert np.median(margin) > 1.2


@pytest.mark.parametrize("label, sign", [("sit down", -1), ("stand up", +1)])
def test_sitting_down_lowers_the_head_and_standing_up_raises_it(ucla, label, sign):
    # Labels checked against motion along +y. Measured: 92.6% of "sit down" end with the head lower
    # than they start (median -0.23 m), 94.6% of "stand up" higher (median +0.32 m); the exceptions
    # are mostly one subject's view-2 clips, which start mid-motion.
    change = np.array(
        [s.joints[-1, 0, J["head"], 1] - s.joints[0, 0, J["head"], 1] for s in ucla if s.label == label]
    )
    assert len(change) > 140
    assert (sign * change > 0).mean() > 0.85
    assert sign * np.median(change) > 0.15


def test_front_door_detects_and_opens_the_json():
    path = shared_path("nw_ucla", "all_sqe", SAMPLE)
    assert detect_format(path) == "nw_ucla_json"
    collection = open_skeleton_file(path)
    assert collection.format == "nw_ucla_json" and collection[0].label == "pick up with one hand"


# --- labels ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_doc() -> dict:
    return json.loads(shared_path("nw_ucla", "all_sqe", SAMPLE).read_text())


def _write_json(tmp_path, case, doc, name=SAMPLE):
    return write_mutant(tmp_path, case, name, json.dumps(doc).encode())


def test_the_file_name_wins_over_the_label_inside(tmp_path, sample_doc):
    s = read_nw_ucla(_write_json(tmp_path, "mismatch", {**sample_doc, "label": 3}))
    assert (s.label_id, s.label) == (0, "pick up with one hand")
    assert s.meta["label_in_file"] == 3 and "disagrees" in s.meta["note"]


def test_label_falls_back_to_file_name_then_to_the_label_inside(tmp_path, sample_doc):
    renamed = read_nw_ucla(_write_json(tmp_path, "renamed", sample_doc, name="my_clip.json"))
    assert renamed.label == "pick up with one hand" and renamed.meta["view"] == 1
    anonymous = {"skeletons": sample_doc["skeletons"], "label": 9}
    s = read_nw_ucla(_write_json(tmp_path, "anonymous", anonymous, name="my_clip.json"))
    assert (s.dataset, s.label_id, s.label) == ("nw_ucla", 8, "throw")
    bare = read_nw_ucla(_write_json(tmp_path, "bare", {"skeletons": sample_doc["skeletons"]}, name="x.json"))
    assert bare.label is None and bare.num_frames == len(sample_doc["skeletons"])


def test_words_like_null_inside_strings_leave_a_file_valid(tmp_path, sample_doc):
    # the reader looks for the literals true/false/null in the bytes to choose its careful path
    s = read_nw_ucla(_write_json(tmp_path, "words", {**sample_doc, "file_name": "true_false_null"}))
    assert s.meta["file_name_in_file"] == "true_false_null" and s.label == "pick up with one hand"


# --- malformed contents ----------------------------------------------------------------------------


def _bad_docs(doc: dict) -> dict[str, tuple[object, str]]:
    """case -> (JSON document, words the error must contain)."""
    sk = doc["skeletons"]

    def frames_with(t, frame):
        return {**doc, "skeletons": sk[:t] + [frame] + sk[t + 1 :]}

    return {
        "missing_skeletons": ({"file_name": doc["file_name"], "label": 1}, "missing key 'skeletons'"),
        "top_level_list": (sk, "top level is a list"),
        "zero_frames": ({**doc, "skeletons": []}, "zero frames"),
        "skeletons_string": ({**doc, "skeletons": "x"}, "expected a list of frames"),
        "frame_19_joints": (frames_with(10, sk[10][:19]), "frame 10 has 19 joints, expected 20"),
        "frame_21_joints": (frames_with(3, sk[3] + [sk[3][0]]), "frame 3 has 21 joints"),
        "all_19_joints": ({**doc, "skeletons": [f[:19] for f in sk]}, "frame 0 has 19 joints"),
        "empty_frame": (frames_with(5, []), "frame 5 has 0 joints"),
        "joint_2_coords": (
            frames_with(7, sk[7][:4] + [sk[7][4][:2]] + sk[7][5:]),
            "frame 7, joint 4 has 2 values",
        ),
        "joint_number": (frames_with(2, sk[2][:1] + [0.5] + sk[2][2:]), "frame 2, joint 1 has a float"),
        "frame_number": (frames_with(4, 1.5), "frame 4 is a float"),
        "string_value": (
            frames_with(6, [["0.1", 0.2, 0.3]] + sk[6][1:]),
            'frame 6, joint 0: "0.1" is not a number',
        ),
        "null_value": (
            frames_with(1, [[None, 0.2, 0.3]] + sk[1][1:]),
            "frame 1, joint 0: null is not a number",
        ),
        "bool_value": (
            frames_with(0, [[0.1, True, 0.3]] + sk[0][1:]),
            "frame 0, joint 0: true is not a number",
        ),
        "huge_float": (frames_with(8, [[1e300, 0, 0]] + sk[8][1:]), "not finite"),
        "huge_integer": (frames_with(8, [[10**400, 0, 0]] + sk[8][1:]), "numbers within range"),
        "nan": (frames_with(9, [[0.1, math.nan, 0.3]] + sk[9][1:]), "not finite"),
        "infinity": (frames_with(9, [[0.1, 0.2, -math.inf]] + sk[9][1:]), "not finite"),
        "label_text": ({**doc, "label": "one"}, "not a class number"),
        "label_range": ({**doc, "label": 11}, "not a class number 1..10"),
        "label_nan": ({**doc, "label": math.nan}, "not a class number"),
        "file_name_number": ({**doc, "file_name": 3}, "expected a string"),
    }


@pytest.mark.filterwarnings("error")  # refused with a SkeletonFileError, not with numpy overflow warnings
def test_malformed_contents_are_refused_with_the_frame_named(tmp_path, sample_doc):
    for case, (doc, words) in _bad_docs(sample_doc).items():
        path = _write_json(tmp_path, case, doc)
        with pytest.raises(SkeletonFileError) as info:
            read_nw_ucla(path)
        assert str(path) in str(info.value) and words in str(info.value), (case, str(info.value))


def test_invalid_json_gives_line_and_column(tmp_path):
    path = write_mutant(tmp_path, "case", SAMPLE, b'{"skeletons": [\n  [[1, 2, 3]],\n  [[1, 2 3]]\n]}')
    with pytest.raises(SkeletonFileError, match=r"line 3, column 10: invalid JSON"):
        read_nw_ucla(path)


@pytest.mark.parametrize("data", [b"", b" ", b"[", b"\xff\xfe\x00\x01", b"[" * 100_000], ids=repr)
def test_non_json_files_are_refused(tmp_path, data):
    path = write_mutant(tmp_path, "case", SAMPLE, data)
    with pytest.raises(SkeletonFileError, match="a01_s01_e00_v01.json"):
        read_nw_ucla(path)


# --- corrupted copies of a real file ---------------------------------------------------------------


def _genuinely_valid(data: bytes) -> bool:
    """An independent, element-by-element statement of what the reader must accept."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    if not isinstance(doc, dict) or not isinstance(doc.get("skeletons"), list) or not doc["skeletons"]:
        return False
    if not isinstance(doc.get("file_name", ""), str):
        return False
    label = doc.get("label", 1)
    if type(label) not in (int, float) or not (
        math.isfinite(label) and label == int(label) and 1 <= label <= 10
    ):
        return False
    for frame in doc["skeletons"]:
        if not isinstance(frame, list) or len(frame) != 20:
            return False
        for joint in frame:
            if not isinstance(joint, list) or len(joint) != 3:
                return False
            if not all(type(v) in (int, float) and math.isfinite(v) for v in joint):
                return False
            if max(abs(v) for v in joint) > 100:  # positions in metres (MAX_ABS_METRES)
                return False
    return True


@pytest.fixture(scope="module")
def sample_bytes() -> bytes:
    return shared_path("nw_ucla", "all_sqe", SAMPLE).read_bytes()


def _check(tmp_path, case: str, data: bytes) -> str:
    valid = _genuinely_valid(data)
    result = outcome(open_nw_ucla, write_mutant(tmp_path, case, SAMPLE, data), valid_ok=valid)
    assert result == ("valid" if valid else "error"), f"{case}: a valid file was refused"
    return result


def test_truncated_copies_fail_cleanly(tmp_path, sample_bytes):
    for cut in truncation_offsets(len(sample_bytes), 30):
        assert _check(tmp_path, f"cut{cut}", sample_bytes[:cut]) == "error"


@pytest.mark.parametrize(
    "garbage", [b"x", b"7", b"nan", b"NaN", b",", b"]", b"\x00\xff\x13\x88", b"\xc3\x28"]
)
def test_corrupted_bytes_fail_cleanly_or_read_valid_numbers(tmp_path, sample_bytes, garbage):
    # Outcomes follow _genuinely_valid: a digit written over a digit is another valid number, a letter
    # inside the file_name string is a valid name; everything else must be refused.
    positions = np.linspace(0, len(sample_bytes) - len(garbage), 40).astype(int)
    results = [_check(tmp_path, f"at{pos}", replace(sample_bytes, int(pos), garbage)) for pos in positions]
    if garbage != b"7":
        assert results.count("error") >= len(results) // 2


def test_dropped_lines_fail_cleanly_or_read_the_remaining_valid_frames(tmp_path, sample_doc):
    # The release files are one line; a pretty-printed copy (one number a line) has lines to drop.
    # Dropping a whole frame or a "file_name" line can leave genuinely valid JSON; _check knows.
    lines = json.dumps(sample_doc, indent=1).encode().split(b"\n")
    for k in np.linspace(0, len(lines) - 1, 60).astype(int):
        _check(tmp_path, f"drop{k}", b"\n".join(lines[:k] + lines[k + 1 :]))
