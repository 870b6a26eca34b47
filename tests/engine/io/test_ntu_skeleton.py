"""NTU RGB+D ``.skeleton`` reader and writer: the real sample's values, exact write/read round trips,
SGN body denoising on built multi-body files, and corrupted copies of the real file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.errors import SkeletonFileError
from engine.io import FORMATS, detect_format, open_skeleton_file, write_ntu_skeleton
from engine.io.ntu_skeleton import read_ntu_skeleton
from engine.types import SkeletonSequence

from .checks import read_everything, replace, write_mutant

SAMPLE_NAME = "S001C001P001R001A001.skeleton"


@pytest.fixture(scope="module")
def sample(ntu_sample) -> SkeletonSequence:
    return read_ntu_skeleton(ntu_sample)


# --- the real sample ---------------------------------------------------------------------------------


def test_real_sample_values(sample, ntu_sample):
    s = sample
    assert s.joints.shape == (103, 1, 25, 3) and s.joints.dtype == np.float32
    assert s.num_bodies == 1 and s.body_present().all()
    # Numbers read off the file: line 5 (frame 1, joint 1) and the last five lines (frame 103,
    # joints 21 and 25).
    np.testing.assert_array_equal(s.joints[0, 0, 0], np.float32([0.2181153, 0.1725972, 3.785547]))
    np.testing.assert_array_equal(s.joints[-1, 0, 20], np.float32([0.2752823, 0.6484736, 3.64733]))
    np.testing.assert_array_equal(s.joints[-1, 0, 24], np.float32([0.1140334, 0.7601054, 3.444]))
    # Frame 1: joints 6 and 7 are "inferred" (trackingState 1), joint 1 tracked (2).
    assert s.confidence[0, 0, 5] == 0.5 and s.confidence[0, 0, 6] == 0.5 and s.confidence[0, 0, 0] == 1.0
    assert set(np.unique(s.confidence)) <= {0.0, 0.5, 1.0}
    assert (s.label, s.label_id, s.dataset) == ("drink water", 0, "ntu60")
    assert s.meta["subject"] == 1 and s.meta["camera"] == 1 and s.meta["setup"] == 1
    assert (s.fps, s.source_format, s.source_layout) == (30.0, "ntu_skeleton", "ntu25")
    assert s.name == "S001C001P001R001A001" and s.path == str(ntu_sample)
    assert not s.meta["denoised"]


def test_real_sample_through_the_front_door(ntu_sample, sample):
    assert detect_format(ntu_sample) == "ntu_skeleton"
    collection = open_skeleton_file(ntu_sample)
    assert len(collection) == 1 and collection.format == "ntu_skeleton"
    np.testing.assert_array_equal(collection[0].joints, sample.joints)


def test_crlf_and_trailing_blank_lines_read_the_same(ntu_sample, sample, tmp_path):
    data = ntu_sample.read_bytes()
    for case, mutant in {
        "crlf": data.replace(b"\n", b"\r\n"),
        "blank_tail": data + b"\n\n  \n",
        "no_final_newline": data[:-1],
    }.items():
        s = read_ntu_skeleton(write_mutant(tmp_path, case, SAMPLE_NAME, mutant))
        assert np.array_equal(s.joints, sample.joints), case
        assert np.array_equal(s.confidence, sample.confidence), case


# --- writer round trips ------------------------------------------------------------------------------


def assert_bit_identical(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32
    assert np.array_equal(a.view(np.uint32), b.view(np.uint32))


def test_round_trip_of_the_real_sample_is_exact(sample, tmp_path):
    path = tmp_path / SAMPLE_NAME
    write_ntu_skeleton(sample, path)
    back = read_ntu_skeleton(path)
    assert_bit_identical(back.joints, sample.joints)
    np.testing.assert_array_equal(back.confidence, sample.confidence)
    assert (back.label, back.num_frames) == (sample.label, 103)
    assert back.meta["recording"] and not back.meta["denoised"]


def test_round_trip_two_bodies_with_missing_frames_is_exact(sample, tmp_path):
    t = 40
    rng = np.random.default_rng(7)
    joints = np.zeros((t, 2, 25, 3), dtype=np.float32)
    joints[:, 0] = sample.joints[:t, 0]
    joints[:, 1] = sample.joints[:t, 0] + np.float32([0.9, 0.0, 0.3])
    joints[:, 1] += rng.normal(0, 0.01, (t, 25, 3)).astype(np.float32)  # full-precision float32s
    joints[10:15, 1] = 0  # body 2 leaves for 5 frames
    joints[20:23] = 0  # nobody in 3 frames
    joints[30:, 0] = 0  # body 1 leaves; body 2 stays
    joints[35:, 1, 3] = 0  # a joint exactly at the origin while the body is present
    joints[0, 0, 0] = [-0.0, 1e-30, 99.99999]  # sign of zero, tiny and large values
    confidence = rng.choice(np.float32([0.0, 0.5, 1.0]), size=(t, 2, 25))
    seq = SkeletonSequence(joints=joints, fps=30.0, source_format="live", confidence=confidence)
    path = tmp_path / "recording.skeleton"
    write_ntu_skeleton(seq, path)
    back = read_ntu_skeleton(path)
    assert_bit_identical(back.joints, joints)
    np.testing.assert_array_equal(back.confidence, np.where(seq.body_present()[..., None], confidence, 0))
    assert back.label is None and back.num_bodies == 2


def test_short_second_body_of_a_recording_survives(sample, tmp_path):
    """A person seen for 5 frames would be noise to SGN's length rule; in a recording it is kept."""
    joints = np.zeros((30, 2, 25, 3), dtype=np.float32)
    joints[:, 0] = sample.joints[:30, 0]
    joints[3:8, 1] = sample.joints[3:8, 0] + np.float32([1.0, 0, 0])
    path = tmp_path / "short.skeleton"
    write_ntu_skeleton(SkeletonSequence(joints=joints, fps=30.0, source_format="live"), path)
    assert_bit_identical(read_ntu_skeleton(path).joints, joints)
    # Forcing the denoising shows the rule that would otherwise have applied.
    assert read_ntu_skeleton(path, denoise=True).joints.shape == (30, 1, 25, 3)


def test_second_slot_alone_keeps_its_slot(sample, tmp_path):
    joints = np.zeros((12, 2, 25, 3), dtype=np.float32)
    joints[:, 1] = sample.joints[:12, 0]
    path = tmp_path / "slot2.skeleton"
    write_ntu_skeleton(SkeletonSequence(joints=joints, fps=30.0, source_format="live"), path)
    assert_bit_identical(read_ntu_skeleton(path).joints, joints)


def test_writer_refuses_what_the_format_cannot_hold(sample, tmp_path):
    bad = sample.joints.copy()
    bad[3, 0, 4, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        write_ntu_skeleton(SkeletonSequence(joints=bad, fps=30.0, source_format="x"), tmp_path / "a.skeleton")
    far = sample.joints * 1000  # millimetres
    with pytest.raises(ValueError, match="beyond 100 m"):
        write_ntu_skeleton(SkeletonSequence(joints=far, fps=30.0, source_format="x"), tmp_path / "c.skeleton")
    empty = np.zeros((5, 1, 25, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="no body"):
        write_ntu_skeleton(
            SkeletonSequence(joints=empty, fps=30.0, source_format="x"), tmp_path / "b.skeleton"
        )
    assert not list(tmp_path.iterdir())  # nothing half-written


# --- denoising (SGN rules) on built multi-body files --------------------------------------------------


def write_bodies(path: Path, num_frames: int, bodies: dict[str, tuple[range, np.ndarray]]) -> Path:
    """An NTU file with bodies ``id -> (frames, xyz (len(frames), 25, 3))``, in dict order per frame."""
    per_frame: list[list[tuple[str, np.ndarray]]] = [[] for _ in range(num_frames)]
    for body_id, (frames, xyz) in bodies.items():
        for k, f in enumerate(frames):
            per_frame[f].append((body_id, xyz[k]))
    lines = [str(num_frames)]
    for frame in per_frame:
        lines.append(str(len(frame)))
        for body_id, xyz in frame:
            lines += [f"{body_id} 0 1 1 1 1 0 0.01 0.02 2", "25"]
            lines += [f"{x!r} {y!r} {z!r} 250 200 1000 500 0.1 0.2 0.3 0.9 2" for x, y, z in xyz.tolist()]
    path.write_text("\n".join(lines) + "\n")
    return path


def moving(base: np.ndarray, frames: range, amplitude: float, offset=(0.0, 0.0, 0.0)) -> np.ndarray:
    """The real body, shifted and swaying sideways by ``amplitude`` metres (sets its motion)."""
    n = len(frames)
    xyz = base[np.arange(n) % len(base)].copy() + np.float32(offset)
    xyz[:, :, 0] += amplitude * np.sin(np.linspace(0, 6 * np.pi, n, dtype=np.float32))[:, None]
    return xyz.astype(np.float32)


ID = {name: str(72057594037927936 + k) for k, name in enumerate(["A", "N1", "N2", "B", "A2", "C", "D"])}


def test_denoising_keeps_the_two_actors(sample, tmp_path):
    base = sample.joints[:, 0]
    lying = base[:, :, [1, 0, 2]]  # x and y swapped: wider than tall in every frame
    bodies = {
        ID["A"]: (range(60), moving(base, range(60), 0.5)),  # most motion: actor 1
        ID["N1"]: (range(10, 21), moving(base, range(10, 21), 2.0, (2, 0, 0))),  # 11 frames: noise
        ID["N2"]: (range(100), moving(lying, range(100), 0.8, (-2, 0, 0))),  # spread: noise
        ID["B"]: (range(100), moving(base, range(100), 0.3, (1, 0, 0))),  # actor 2
        ID["A2"]: (range(62, 100), moving(base, range(62, 100), 0.05)),  # actor 1 re-found, new ID
        ID["C"]: (range(5, 95), moving(base, range(5, 95), 0.01, (-1, 0, 0))),  # third person
    }
    path = write_bodies(tmp_path / "S001C001P001R001A050.skeleton", 105, bodies)  # frames 100-104 empty
    s = read_ntu_skeleton(path)
    assert s.joints.shape == (105, 2, 25, 3) and s.meta["denoised"]
    assert s.meta["actor_body_ids"] == [[ID["A"], ID["A2"]], [ID["B"]]]
    np.testing.assert_array_equal(s.joints[0:60, 0], bodies[ID["A"]][1])
    np.testing.assert_array_equal(s.joints[60:62, 0], 0)  # between the two IDs of actor 1
    np.testing.assert_array_equal(s.joints[62:100, 0], bodies[ID["A2"]][1])
    np.testing.assert_array_equal(s.joints[0:100, 1], bodies[ID["B"]][1])
    np.testing.assert_array_equal(s.joints[100:], 0)
    assert s.label == "punching/slapping other person"
    # Frames 100-104 hold no kept body (frames 60-61 still hold actor 2).
    assert read_ntu_skeleton(path, drop_empty_frames=True).num_frames == 100
    everything = read_ntu_skeleton(path, denoise=False)
    assert everything.joints.shape == (105, 6, 25, 3)  # every ID in its own slot, first-appearance order
    assert everything.meta["body_ids"] == [ID[k] for k in ("A", "N2", "B", "C", "N1", "A2")]
    np.testing.assert_array_equal(everything.joints[10:21, 4], bodies[ID["N1"]][1])


@pytest.mark.parametrize("length, kept", [(11, False), (12, True)])
def test_length_rule_threshold(sample, tmp_path, length, kept):
    """SGN drops a body seen in <= 11 frames, however much it moves."""
    base = sample.joints[:, 0]
    bodies = {
        ID["A"]: (range(60), moving(base, range(60), 0.1)),
        ID["N1"]: (range(20, 20 + length), moving(base, range(length), 0.5, (1, 0, 0))),
    }
    s = read_ntu_skeleton(write_bodies(tmp_path / "len.skeleton", 60, bodies))
    expected = [[ID["N1"]], [ID["A"]]] if kept else [[ID["A"]]]
    assert s.meta["actor_body_ids"] == expected


def test_spread_rule_lowers_the_motion_of_partly_noisy_bodies(sample, tmp_path):
    """D sways most, but only in frames where it is wider than tall (< 69.754% of them): SGN
    recomputes its motion over the valid frames, so B, not D, becomes actor 1."""
    base = sample.joints[:, 0]
    d = moving(base, range(60), 0.0)
    d[:30] = moving(base[:, :, [1, 0, 2]], range(30), 1.5)  # 50% noisy frames, with big motion
    bodies = {
        ID["D"]: (range(60), d),
        ID["B"]: (range(60), moving(base, range(60), 0.3, (1, 0, 0))),
    }
    s = read_ntu_skeleton(write_bodies(tmp_path / "two.skeleton", 60, bodies))
    assert s.meta["actor_body_ids"] == [[ID["B"]], [ID["D"]]]


def test_all_bodies_short_are_kept_not_dropped(sample, tmp_path):
    base = sample.joints[:, 0]
    bodies = {
        ID["A"]: (range(8), moving(base, range(8), 0.1)),
        ID["B"]: (range(2, 10), moving(base, range(2, 10), 0.4, (1, 0, 0))),
    }
    s = read_ntu_skeleton(write_bodies(tmp_path / "short.skeleton", 10, bodies))
    assert s.meta["actor_body_ids"] == [[ID["B"]], [ID["A"]]]  # more motion first


def test_one_body_id_is_never_denoised(sample, tmp_path):
    """SGN denoises only files with several body IDs: a lone 5-frame body stays."""
    bodies = {ID["A"]: (range(2, 7), moving(sample.joints[:, 0], range(2, 7), 0.0))}
    s = read_ntu_skeleton(write_bodies(tmp_path / "one.skeleton", 9, bodies))
    assert s.joints.shape == (9, 1, 25, 3) and not s.meta["denoised"]


# --- malformed files -------------------------------------------------------------------------------


def assert_file_error(path: Path, *fragments: str) -> SkeletonFileError:
    """Reading fails with a SkeletonFileError naming the file (and the fragments); nothing else.
    The reader is called directly, without the front door's catch-all."""
    with pytest.raises(SkeletonFileError) as info:
        read_everything(FORMATS.get("ntu_skeleton").open, path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return info.value


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("", ("empty",)),
        ("  \n\n", ("blank",)),
        ("0\n", ("line 1", "no frames")),
        ("-3\n", ("line 1", "negative")),
        ("abc\n", ("line 1", "frame count")),
        ("3\n0\n0\n0\n", ("no body in any",)),
        ("2\n0\n", ("line 3", "ends early")),
        ("1\n-1\n", ("line 2", "negative")),
        ("1\n1\n", ("line 3", "ends early", "info line")),
        ("1\n1\n123 0 0 0 0 0 0 0 0 2\n24\n", ("line 4", "expected 25 joints", "found 24")),
        ("1\n1\nabc 0 0 0 0 0 0 0 0 2\n25\n", ("line 3", "bodyID")),
        ("1\n1\n123 0 0 0 0 0 0 0 0 2\n25\n" + "0 0 0 0 0 0 0 0 0 0 0 2\n" * 25, ("(0, 0, 0)",)),
        (
            "1\n1\n123 0 0 0 0 0 0 0 2\n25\n" + "0 1 2 0 0 0 0 0 0 0 0 2\n" * 25,
            ("line 3", "expected 9 numbers"),
        ),
        (
            "1\n1\n123 0 0 0 0 0 0 0 0 2\n25\n" + "0 1 2 0 0 0 0 0 0 0 0 2\n" * 24,
            ("ends early", "24 of its 25"),
        ),
    ],
    ids=[
        "empty",
        "blank",
        "zero_frames",
        "negative_frames",
        "word",
        "all_frames_empty",
        "short",
        "negative_bodies",
        "no_info",
        "24_joints",
        "bad_id",
        "zero_body",
        "short_info",
        "24_joint_lines",
    ],
)
def test_malformed_small_files(tmp_path, text, fragments):
    path = tmp_path / "x.skeleton"
    path.write_text(text)
    assert_file_error(path, *fragments)


@pytest.fixture(scope="module")
def sample_bytes(ntu_sample) -> bytes:
    return ntu_sample.read_bytes()


def line_starts(data: bytes) -> list[int]:
    return [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A and i + 1 < len(data)]


def test_precise_messages_on_the_real_file(tmp_path, sample_bytes):
    lines = sample_bytes.split(b"\n")
    cases = {
        # line 17 = joint 13 of the body in frame 1; 7 of its 12 numbers left
        "seven_numbers": (
            17,
            b" ".join(lines[16].split()[:7]),
            ("line 17", "expected 12 numbers", "joint 13", "frame 1", "found 7"),
        ),
        "word": (
            5,
            lines[4].replace(b"0.2181153", b"0.21x1153"),
            ("line 5", "'0.21x1153' is not a number", "joint 1"),
        ),
        "nan": (6, lines[5].replace(b"0.4326636", b"nan"), ("line 6", "y is nan", "joint 2", "not a finite")),
        "inf_colour": (6, lines[5].replace(b"1041.918", b"-inf"), ("line 6", "colorX is -inf")),
        "state_3": (7, lines[6][:-1] + b"3", ("line 7", "trackingState must be 0, 1 or 2", "found '3'")),
        "joints_24": (4, b"24", ("line 4", "expected 25 joints", "found 24")),
        "frames_102": (1, b"102", ("unexpected text after the last of the 102 frames",)),
        "frames_104": (1, b"104", ("ends early", "body count of frame 104")),
        "info_nan": (3, lines[2].replace(b"0.02764709", b"nan"), ("line 3", "leanX is nan")),
        "lost_point": (
            5,
            lines[4].replace(b"3.785547", b"3785547"),
            ("line 5", "z is 3.78555e+06", "metres"),
        ),
        "exponent": (5, lines[4].replace(b"3.785547", b"3.78e547"), ("line 5", "z is inf")),
        "float32_overflow": (5, lines[4].replace(b"3.785547", b"3.78e54"), ("line 5", "z is 3.78e+54")),
    }
    for case, (line_no, new_line, fragments) in cases.items():
        mutated = b"\n".join(lines[: line_no - 1] + [new_line] + lines[line_no:])
        assert_file_error(write_mutant(tmp_path, case, SAMPLE_NAME, mutated), *fragments)


def test_truncated_copies_of_the_real_file_all_fail(tmp_path, sample_bytes):
    size = len(sample_bytes)
    offsets = set(np.linspace(1, size - 2, 30).astype(int).tolist())
    starts = line_starts(sample_bytes)
    offsets |= {starts[k] for k in (1, 2, 3, 4, 30, 500, len(starts) - 1)}  # just after a line end
    offsets |= {starts[k] - 1 for k in (2, 3, 4, 31, 700)}  # just before a line end
    offsets |= {starts[4] + 3, starts[900] + 5, starts[-1] + 10}  # inside a number
    offsets |= {2, size - 2}  # inside the frame count; the last number of the file
    for k, offset in enumerate(sorted(offsets)):
        assert_file_error(write_mutant(tmp_path, f"cut{k}_{offset}", SAMPLE_NAME, sample_bytes[:offset]))
    # Only the final newline may go: the file is then complete.
    s = read_ntu_skeleton(write_mutant(tmp_path, "no_newline", SAMPLE_NAME, sample_bytes[:-1]))
    assert s.num_frames == 103


def test_corrupted_bytes_in_the_real_file_all_fail(tmp_path, sample_bytes):
    size = len(sample_bytes)
    positions = np.linspace(0, size - 1, 24).astype(int).tolist()
    starts = line_starts(sample_bytes)
    positions += [
        starts[1],
        starts[2],
        starts[2] + 5,
        starts[3],
        starts[4] - 1,
        size - 1,
    ]  # counts, ID, newline
    garbage = [b"x", b"#", b"nan", b"inf", b"\x00", b"\xff\xfe", b"Q"]
    for k, position in enumerate(positions):
        new = garbage[k % len(garbage)]
        mutated = replace(sample_bytes, min(position, size - len(new)), new)
        assert mutated != sample_bytes
        assert_file_error(write_mutant(tmp_path, f"bytes{k}_{position}", SAMPLE_NAME, mutated))


def test_dropped_or_repeated_lines_in_the_real_file_all_fail(tmp_path, sample_bytes):
    lines = sample_bytes.rstrip(b"\n").split(b"\n")
    picks = sorted(
        {
            0,
            1,
            2,
            3,
            4,
            16,
            28,
            29,
            30,
            31,
            len(lines) - 1,
            *np.linspace(0, len(lines) - 1, 15).astype(int).tolist(),
        }
    )
    for k in picks:
        dropped = b"\n".join(lines[:k] + lines[k + 1 :]) + b"\n"
        assert_file_error(write_mutant(tmp_path, f"drop{k}", SAMPLE_NAME, dropped))
    for k in (1, 3, 10, len(lines) - 1):
        repeated = b"\n".join(lines[: k + 1] + lines[k:]) + b"\n"
        assert_file_error(write_mutant(tmp_path, f"repeat{k}", SAMPLE_NAME, repeated))


def test_duplicate_body_id_in_one_frame(tmp_path, sample_bytes):
    lines = sample_bytes.rstrip(b"\n").split(b"\n")
    body = lines[2:29]  # info line, "25", 25 joints of frame 1
    mutated = b"\n".join([lines[0], b"2"] + body + body + lines[29:]) + b"\n"
    assert_file_error(write_mutant(tmp_path, "dup", SAMPLE_NAME, mutated), "appears twice in frame 1")
