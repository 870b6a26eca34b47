"""MSRC-12 readers on the real files (``../shared/data/msrc12``): every recording of the compact npz
against ``sequences.csv`` and ``tags.csv``, the three original release files against the npz, left/right
and up, and corrupted copies of both formats."""

from __future__ import annotations

import csv
import pickle
import re
import zipfile
from collections import Counter

import numpy as np
import pytest

from engine.assets import class_names
from engine.errors import SkeletonFileError
from engine.io import FORMATS, detect_format, open_skeleton_file
from engine.io.msrc12 import (
    nearest_frames,
    open_msrc12_csv,
    open_msrc12_npz,
    parse_msrc12_name,
    read_msrc12_csv,
    sniff_msrc12_csv,
    sniff_msrc12_npz,
    ticks_to_us,
)
from engine.skeleton.layouts import NTU25_JOINTS
from tests.conftest import shared_path

from .checks import chirality_scores, outcome, path_length, replace, truncation_offsets, write_mutant

J = {name: i for i, name in enumerate(NTU25_JOINTS)}
NPZ = "msrc12_joints_mm.npz"
EMPTY = "P1_1_12A_p19"
# name -> (leading zero frames dropped, zero frames kept, tags), README "raw_samples/"
RAW = {"P1_1_3A_p28": (20, 8, 11), "P2_1_2A_p12": (20, 0, 10), "P3_2_8_p29": (64, 0, 10)}
HALF_MM = 0.0005 + 1e-6  # rounding to whole millimetres, plus float32 slack


def _table(name: str) -> list[dict[str, str]]:
    with open(shared_path("msrc12", name), newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return _table("sequences.csv")


@pytest.fixture(scope="module")
def tag_rows() -> list[dict[str, str]]:
    return _table("tags.csv")


@pytest.fixture(scope="module")
def collection():
    return open_skeleton_file(shared_path("msrc12", NPZ))


@pytest.fixture(scope="module")
def msrc(collection) -> dict:
    """name -> every non-empty recording, read through the front door."""
    return {s.name: s for s in collection}


def _one_line(exc: SkeletonFileError, path) -> str:
    message = str(exc)
    assert str(path) in message and "\n" not in message, message
    return message


# --- the compact npz ----------------------------------------------------------------------------------------


def test_every_recording_is_listed_with_its_frames_label_person_and_modality(rows, collection, msrc):
    assert len(rows) == 593 and collection.info["sequences_in_file"] == 593
    assert len(collection) == len(msrc) == 592
    assert collection.info["skipped"] == {EMPTY: "holds zero frames"}
    assert collection.info["frames_total"] == 710_063
    names = class_names("msrc12")
    for row in rows:
        if row["sequence"] == EMPTY:
            assert row["frames"] == "0" and EMPTY not in msrc
            continue
        s = msrc[row["sequence"]]
        assert s.joints.shape == (int(row["frames"]), 1, 25, 3), s.name
        assert s.joints.dtype == np.float32 and np.isfinite(s.joints).all()
        gid = int(row["gesture_id"])
        # the class list is the release's tag names in lower case
        assert (s.dataset, s.label_id, s.label) == ("msrc12", gid - 1, row["gesture_name"].lower())
        assert names[gid - 1] == s.label
        m = s.meta
        got = (m["person"], m["gesture_id"], m["instruction_code"], m["modality"], m["modality_name"])
        want = (int(row["person"]), gid, row["instruction_code"], row["modality"], row["modality_name"])
        assert got == want, s.name
        assert m["dropped_leading_zero_frames"] == int(row["dropped_leading_zero_frames"])
        assert m["zero_frames_kept"] == int(row["zero_frames_kept"])
        assert m["t_us"].dtype == np.int64 and len(m["t_us"]) == s.num_frames
        assert (m["t_us"][0], m["t_us"][-1]) == (int(row["t_first_us"]), int(row["t_last_us"]))
        assert (s.source_format, s.source_layout, s.fps, s.path) == (
            "msrc12_npz", "kinect_v1_20", 30.0, str(shared_path("msrc12", NPZ)))  # fmt: skip
    assert Counter(s.meta["modality"] for s in msrc.values()) == {
        "C1": 119, "C2": 119, "C3": 118, "C4": 117, "C5": 119}  # fmt: skip  (C5 120 with the empty one)


def test_tags_are_the_frame_indices_of_tags_csv(rows, tag_rows, msrc):
    assert len(tag_rows) == 6243
    expected: dict[str, list[int]] = {}
    for row in tag_rows:
        if row["frame_index"] != "-1":
            expected.setdefault(row["sequence"], []).append(int(row["frame_index"]))
    assert sum(map(len, expected.values())) == 6233  # the 10 tags of the empty recording are -1
    for name, s in msrc.items():
        assert s.meta["tags"] == expected.get(name, []), name
        assert len(s.meta["tags"]) == len(s.meta["tag_t_us"])
        assert all(0 <= k < s.num_frames for k in s.meta["tags"])
    assert sum(len(s.meta["tags"]) for s in msrc.values()) == 6233
    assert sum(int(r["tags"]) for r in rows) == 6243


def test_tag_times_and_nearest_frames_follow_the_matlab_loader(tag_rows, msrc):
    ticks = np.array([int(r["xqpc_tick"]) for r in tag_rows])
    np.testing.assert_array_equal(ticks_to_us(ticks), [int(r["tag_time_us"]) for r in tag_rows])
    by_name: dict[str, list[dict[str, str]]] = {}
    for row in tag_rows:
        by_name.setdefault(row["sequence"], []).append(row)
    for name, s in msrc.items():
        chosen = by_name.get(name, [])
        tag_us = np.array([int(r["tag_time_us"]) for r in chosen], dtype=np.int64)
        frames = [int(r["frame_index"]) for r in chosen]
        np.testing.assert_array_equal(nearest_frames(s.meta["t_us"], tag_us), frames)
        np.testing.assert_array_equal(s.meta["tag_t_us"], tag_us)


def test_untracked_frames_are_absent_bodies_and_every_recording_starts_tracked(msrc):
    kept = {name: s.meta["zero_frames_kept"] for name, s in msrc.items() if s.meta["zero_frames_kept"]}
    assert len(kept) == 65 and sum(kept.values()) == 9593  # README: 9,593 frames in 65 sequences
    for name, s in msrc.items():
        present = s.body_present()[:, 0]
        assert present[0], name  # leading empty frames were dropped
        assert (~present).sum() == s.meta["zero_frames_kept"]
        assert not s.joints[~present].any()  # "absent" is exactly zero, synthesised joints included


def test_the_empty_recording_can_be_kept_and_then_refuses_to_load():
    path = shared_path("msrc12", NPZ)
    collection = open_msrc12_npz(path, skip_empty=False)
    assert len(collection) == 593 and "skipped" not in collection.info
    with zipfile.ZipFile(path) as zf:
        order = [n[:-4] for n in zf.namelist() if not n.endswith("__t_us.npy")]
    index = order.index(EMPTY)
    with pytest.raises(SkeletonFileError, match="holds zero frames") as info:
        collection[index]
    assert info.value.where == EMPTY and _one_line(info.value, path)
    assert collection[index + 1].name == order[index + 1]


def test_names_alone_tell_label_person_and_modality(rows):
    for row in rows:
        parsed = parse_msrc12_name(row["source_csv"])
        assert parsed is not None, row["sequence"]
        assert (parsed.gesture_id, parsed.person, parsed.instruction_code, parsed.modality) == (
            int(row["gesture_id"]), int(row["person"]), row["instruction_code"], row["modality"])  # fmt: skip
        assert parse_msrc12_name(row["source_tagstream"]) == parsed
    assert parse_msrc12_name("p2_1_2A_p12.tagstream").instruction_code == "P2_1A"
    for other in ("P1_1_13_p01", "S001C001P001R001A001", "P1_1_3B_p28", "a01_s01_e00_v01"):
        assert parse_msrc12_name(other) is None


def test_without_the_side_files_labels_come_from_the_names(tmp_path, msrc):
    alone = tmp_path / NPZ
    alone.symlink_to(shared_path("msrc12", NPZ))  # no sequences.csv / tags.csv beside it
    collection = open_msrc12_npz(alone)
    assert collection.info["labels_from"] == "file names" and collection.info["tags_from"] is None
    assert len(collection) == 592
    for i in range(0, 592, 37):
        s = collection[i]
        full = msrc[s.name]
        assert (s.label, s.label_id, s.dataset) == (full.label, full.label_id, full.dataset)
        for key in ("person", "gesture_id", "instruction_code", "modality", "modality_name"):
            assert s.meta[key] == full.meta[key], (s.name, key)
        assert "tags" not in s.meta and "dropped_leading_zero_frames" not in s.meta
        np.testing.assert_array_equal(s.joints, full.joints)


def test_items_are_lazy_fresh_and_picklable(collection):
    first, again = collection[5], collection[5]
    assert first is not again and np.array_equal(first.joints, again.joints)
    assert collection[-1].name == collection[len(collection) - 1].name
    copy = pickle.loads(pickle.dumps(collection))  # DataLoader workers get a copy without the open zip
    np.testing.assert_array_equal(copy[5].joints, first.joints)


# --- axes, sides --------------------------------------------------------------------------------------------


def _tracked(s) -> np.ndarray:
    j = s.joints[:, 0]
    return j[np.any(j != 0, axis=(1, 2))]


def test_left_and_right_are_the_subjects_own(msrc):
    sequences = list(msrc.values())
    scores = chirality_scores(sequences)
    # Measured: 590 of 592 positive (the two others -0.09 and -0.01), mean 0.53.
    assert (scores > 0).mean() >= 0.99 and scores.mean() > 0.4
    for mirror in ("swap", "negate_x"):
        flipped = chirality_scores(sequences[::10], mirror=mirror)
        assert (flipped < 0).mean() >= 0.95 and flipped.mean() < -0.4
    # README: ShoulderRight.x - ShoulderLeft.x > 0 in every recording, median +0.32 m
    tracked = [_tracked(s) for s in sequences]
    width = np.array([np.median(j[:, J["shoulder_right"], 0] - j[:, J["shoulder_left"], 0]) for j in tracked])
    assert (width > 0).all() and 0.25 < np.median(width) < 0.4


@pytest.mark.parametrize(
    "label, moving, other, at_least",
    [("push right", "hand_right", "hand_left", 44), ("throw", "hand_right", "hand_left", 49),
     ("change weapon", "hand_right", "hand_left", 43), ("kick", "foot_right", "foot_left", 48)],
)  # fmt: skip
def test_right_sided_gestures_move_the_ntu_right_limb_more(msrc, label, moving, other, at_least):
    # README "HOW VERIFIED": 44/50, 49/50, 43/48 and 48/49 recordings, over tracked frames only
    chosen = [_tracked(s) for s in msrc.values() if s.label == label]
    more = [path_length(j[:, J[moving]]) > path_length(j[:, J[other]]) for j in chosen]
    assert sum(more) >= at_least and sum(more) > 0.85 * len(chosen)


def test_y_is_up_in_metres(msrc):
    tracked = [_tracked(s) for s in msrc.values()]
    margin = np.concatenate(
        [j[:, J["head"], 1] - j[:, [J["foot_left"], J["foot_right"]], 1].max(axis=1) for j in tracked]
    )
    # Measured: the head above both feet in all but ~12 of 700,470 tracked frames, median 1.57 m.
    assert (margin > 0).mean() > 0.9999
    assert 1.4 < np.median(margin) < 1.7
    depth = np.median([np.median(j[:, J["spine_base"], 2]) for j in tracked])
    assert 2.0 < depth < 3.5  # README: hip centre ~2.87 m from the sensor


# --- the original release files -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RAW))
def test_release_files_read_as_the_npz(msrc, name):
    path = shared_path("msrc12", "raw_samples", f"{name}.csv")
    assert detect_format(path) == "msrc12_csv" and sniff_msrc12_csv(path)
    s = open_skeleton_file(path)[0]
    npz = msrc[name]
    dropped, kept, tags = RAW[name]
    assert (s.name, s.source_format, s.source_layout, s.fps) == (name, "msrc12_csv", "kinect_v1_20", 30.0)
    assert (s.label, s.label_id, s.dataset) == (npz.label, npz.label_id, "msrc12")
    assert s.joints.shape == npz.joints.shape
    np.testing.assert_allclose(s.joints, npz.joints, rtol=0, atol=HALF_MM)
    np.testing.assert_array_equal(s.body_present(), npz.body_present())
    np.testing.assert_array_equal(s.meta["t_us"], npz.meta["t_us"])
    assert (s.meta["dropped_leading_zero_frames"], s.meta["zero_frames_kept"], len(s.meta["tags"])) == (
        dropped, kept, tags)  # fmt: skip
    assert s.meta["dropped_leading_zero_frames"] == npz.meta["dropped_leading_zero_frames"]
    assert s.meta["tags"] == npz.meta["tags"] and s.meta["tag_t_us"] == npz.meta["tag_t_us"]
    for key in ("person", "gesture_id", "instruction_code", "modality", "modality_name"):
        assert s.meta[key] == npz.meta[key]
    assert s.meta["tagstream"].lower().endswith(f"{name.lower()}.tagstream")


def test_release_values_are_the_files_values_in_ntu_order():
    path = shared_path("msrc12", "raw_samples", "P3_2_8_p29.csv")
    raw = np.loadtxt(path)  # independent parse: 81 columns
    raw = raw[np.any(np.abs(raw[:, 1:]) > 1e-10, axis=1).argmax() :]
    xyz = raw[:, 1:].reshape(-1, 20, 4)[..., :3]
    joints = read_msrc12_csv(path).joints[:, 0]
    for k in range(20):  # SDK v1 order is NTU order with ShoulderCenter at NTU spine_shoulder
        ntu = 20 if k == 2 else k
        np.testing.assert_allclose(joints[:, ntu], xyz[:, k], atol=1e-6)


# --- front door ---------------------------------------------------------------------------------------------


def test_front_door_picks_the_msrc_npz_and_the_other_npz_readers_leave_it(tmp_path):
    path = shared_path("msrc12", NPZ)
    assert detect_format(path) == "msrc12_npz" and sniff_msrc12_npz(path)
    for other in ("bandai_npz", "ctrgcn_npz"):
        assert not FORMATS.get(other).sniff(path), other
    ctrgcn = tmp_path / "ctrgcn_like.npz"
    np.savez(ctrgcn, x_train=np.zeros((2, 4, 150)), y_train=np.zeros((2, 60)))
    bandai = tmp_path / "bandai_like.npz"
    np.savez(bandai, positions_mm=np.zeros((4, 22, 3), np.int16), seq_start=np.zeros(1), seq_len=np.ones(1))
    not_zip = tmp_path / "text.npz"
    not_zip.write_text("hello")
    for p in (ctrgcn, bandai, not_zip):
        assert not sniff_msrc12_npz(p), p.name


def test_csv_sniff_is_specific(tmp_path):
    kinder = tmp_path / "kinder.csv"
    kinder.write_text("Timestamp, HipCenterX, HipCenterY, HipCenterZ\n1, 0.1, 0.2, 0.3\n")
    short = tmp_path / "short.csv"
    short.write_text("112719757074 " + " ".join(["0"] * 79) + "\r\n")
    decimal_time = tmp_path / "decimal_time.csv"
    decimal_time.write_text("1.5 " + " ".join(["0"] * 80) + "\r\n")
    one_line_no_end = tmp_path / "no_end.csv"
    one_line_no_end.write_text("1 " + " ".join(["0"] * 80))
    for p in (kinder, short, decimal_time, one_line_no_end):
        assert not sniff_msrc12_csv(p), p.name


def test_kinder_gator_files_are_not_claimed():
    files = sorted(shared_path("kinder_gator").rglob("*.csv"))[:200]
    assert files and not any(sniff_msrc12_csv(p) for p in files)


# --- corrupted release files --------------------------------------------------------------------------------

SAMPLE = "P1_1_3A_p28"


@pytest.fixture(scope="module")
def sample_bytes() -> tuple[bytes, bytes]:
    folder = shared_path("msrc12", "raw_samples")
    return (folder / f"{SAMPLE}.csv").read_bytes(), (folder / f"{SAMPLE}.tagstream").read_bytes()


def _genuinely_valid(data: bytes) -> bool:
    """An independent statement of what the csv reader must accept."""
    try:
        lines = data.decode("ascii").split("\n")
    except UnicodeDecodeError:
        return False
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return False
    tracked = False
    for line in lines:
        tokens = line.split()
        if len(tokens) != 81 or not re.fullmatch(r"[+-]?\d+", tokens[0]):
            return False
        try:
            values = [float(t) for t in tokens[1:]]
        except ValueError:
            return False
        if not all(np.isfinite(values)):
            return False
        if max(abs(v) for i, v in enumerate(values) if i % 4 != 3) > 100:  # x y z in metres, not state
            return False
        tracked = tracked or any(abs(v) > 1e-10 for v in values)
    return tracked


def _check(tmp_path, case: str, data: bytes) -> str:
    valid = _genuinely_valid(data)
    result = outcome(open_msrc12_csv, write_mutant(tmp_path, case, f"{SAMPLE}.csv", data), valid_ok=valid)
    assert result == ("valid" if valid else "error"), f"{case}: a valid file was refused"
    return result


def test_truncated_copies_fail_cleanly_or_keep_the_whole_rows(tmp_path, sample_bytes):
    data, _ = sample_bytes
    results = [_check(tmp_path, f"cut{cut}", data[:cut]) for cut in truncation_offsets(len(data), 16)]
    assert results.count("error") >= len(results) // 2
    # a cut inside a row always leaves it short of numbers
    row_starts = [m.end() for m in re.finditer(rb"\n", data)][::100]
    for start in row_starts[:5]:
        path = write_mutant(tmp_path, f"mid{start}", f"{SAMPLE}.csv", data[: start + 150])
        with pytest.raises(SkeletonFileError, match=r"line \d+: expected 81 numbers") as info:
            read_msrc12_csv(path)
        _one_line(info.value, path)


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _bad_rows(data: bytes) -> dict[str, tuple[bytes, str]]:
    lines = _lines(data)
    row = lines[99].rstrip(b"\r").split(b" ")

    def with_row(new: list[bytes]) -> bytes:
        return b"\n".join(lines[:99] + [b" ".join(new) + b"\r"] + lines[100:])

    zeros = b"\n".join(lines[0].split(b" ")[0] + b" " + b" ".join([b"0"] * 80) + b"\r" for _ in range(5))
    return {
        "missing_numbers": (with_row(row[:-3]), "line 100: expected 81 numbers in a frame row (time, then"),
        "extra_number": (with_row(row + [b"0"]), "line 100: expected 81 numbers"),
        "not_a_number": (with_row(row[:5] + [b"abc"] + row[6:]), "line 100: 'abc' is not a number (field 6"),
        "comma": (with_row(row[:5] + [row[5] + b","] + row[6:]), "line 100:"),
        "nan": (with_row(row[:7] + [b"nan"] + row[8:]), "line 100: value nan in field 8 is not finite"),
        "decimal_time": (with_row([row[0] + b".5"] + row[1:]), "line 100: time"),
        "blank_line_inside": (b"\n".join(lines[:50] + [b""] + lines[50:]), "line 51: expected 81 numbers"),
        "non_ascii": (data[:5000] + b"\xe9" + data[5001:], "not ASCII"),
        "all_rows_empty": (zeros, "holds zero frames: all 5 rows are empty"),
        "only_blank_lines": (b"\r\n\r\n", "only blank lines"),
    }


def test_malformed_rows_are_refused_on_one_line_naming_the_row(tmp_path, sample_bytes):
    data, _ = sample_bytes
    for case, (contents, words) in _bad_rows(data).items():
        path = write_mutant(tmp_path, case, f"{SAMPLE}.csv", contents)
        with pytest.raises(SkeletonFileError) as info:
            open_skeleton_file(path, format="msrc12_csv")
        assert words in _one_line(info.value, path), (case, str(info.value))


def test_an_empty_file_is_refused(tmp_path):
    path = write_mutant(tmp_path, "empty", f"{SAMPLE}.csv", b"")
    with pytest.raises(SkeletonFileError, match="file is empty") as info:
        open_skeleton_file(path)
    _one_line(info.value, path)


@pytest.mark.parametrize("garbage", [b"x", b"7", b" ", b"\x00\xff"])
def test_corrupted_bytes_fail_cleanly_or_read_valid_numbers(tmp_path, sample_bytes, garbage):
    data, _ = sample_bytes
    positions = np.linspace(0, len(data) - len(garbage), 16).astype(int)
    for pos in positions:
        _check(tmp_path, f"at{pos}", replace(data, int(pos), garbage))


def test_a_broken_tagstream_is_named(tmp_path, sample_bytes):
    data, tags = sample_bytes
    cases = {
        "no_header": (b"\n".join(_lines(tags)[1:]), "line 1: first line is"),
        "bad_tick": (tags.replace(b"5622185733292;", b"56221x5733292;"), "line 3: "),
        "no_gesture": (tags.replace(b";G3  Push right", b";Push right", 1), "line 2: "),
    }
    for case, (contents, words) in cases.items():
        csv_path = write_mutant(tmp_path, case, f"{SAMPLE}.csv", data)
        tag_path = csv_path.with_suffix(".tagstream")
        tag_path.write_bytes(contents)
        with pytest.raises(SkeletonFileError) as info:
            read_msrc12_csv(csv_path)
        assert words in _one_line(info.value, tag_path), (case, str(info.value))
    # without any tagstream the recording still reads, without tags
    alone = write_mutant(tmp_path, "alone", f"{SAMPLE}.csv", data)
    s = read_msrc12_csv(alone)
    assert "tags" not in s.meta and s.label == "push right"


# --- damaged npz --------------------------------------------------------------------------------------------

SMALL = ("P1_1_3A_p28", "P2_1_2A_p12", "P3_2_8_p29")


@pytest.fixture(scope="module")
def small_arrays() -> dict[str, np.ndarray]:
    with np.load(shared_path("msrc12", NPZ)) as z:
        return {k: z[k] for n in SMALL for k in (n, f"{n}__t_us")}


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory, small_arrays):
    path = tmp_path_factory.mktemp("small") / NPZ
    np.savez_compressed(path, **small_arrays)
    return path


def _bad_archives(a: dict[str, np.ndarray]) -> dict[str, tuple[dict, str, str]]:
    """case -> (arrays, words in the error, the error's ``where``)."""
    n = SMALL[0]
    t = f"{n}__t_us"
    no_times = {k: v for k, v in a.items() if k != t}
    orphan = {k: v for k, v in a.items() if k != n}
    nan = a[n].astype(np.float32)
    nan[30, 4, 1] = np.nan
    return {
        "joints_19": ({**a, n: a[n][:, :19]}, "array has shape", n),
        "joints_2d": ({**a, n: a[n][:, :, 0]}, "expected (frames, 20, 3)", n),
        "text_joints": ({**a, n: a[n].astype(str)}, "expected millimetres as numbers", n),
        "object_joints": ({**a, n: a[n].astype(object)}, "expected millimetres as numbers", n),
        "no_times": (no_times, "no frame times", n),
        "orphan_times": (orphan, "frame times without joints", t),
        "short_times": ({**a, t: a[t][:-1]}, "holds 918 times for 919 frames", t),
        "float_times": ({**a, t: a[t].astype(np.float64)}, "expected integer microseconds", t),
        "nan_joints": ({**a, n: nan}, "is not finite", n),
    }


def test_malformed_members_are_refused_naming_the_array(tmp_path, small_arrays):
    for case, (contents, words, where) in _bad_archives(small_arrays).items():
        path = tmp_path / f"{case}.npz"
        np.savez(path, **contents)
        with pytest.raises(SkeletonFileError) as info:
            collection = open_msrc12_npz(path)
            [collection[i] for i in range(len(collection))]
        assert words in _one_line(info.value, path), (case, str(info.value))
        assert info.value.where.startswith(where), (case, info.value.where)


def test_small_archive_reads_like_the_real_one(small_npz, msrc):
    assert detect_format(small_npz) == "msrc12_npz"
    collection = open_skeleton_file(small_npz)
    assert [s.name for s in collection] == list(SMALL)
    for s in collection:
        np.testing.assert_array_equal(s.joints, msrc[s.name].joints)
        assert s.label == msrc[s.name].label and "tags" not in s.meta


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04", b"hello" * 100], ids=repr)
def test_non_npz_files_are_refused(tmp_path, data):
    path = write_mutant(tmp_path, "case", NPZ, data)
    with pytest.raises(SkeletonFileError, match=NPZ) as info:
        open_msrc12_npz(path)
    _one_line(info.value, path)


def test_truncated_archives_fail_cleanly(tmp_path, small_npz):
    data = small_npz.read_bytes()
    for cut in truncation_offsets(len(data), 20):
        path = write_mutant(tmp_path, f"cut{cut}", NPZ, data[:cut])
        assert outcome(open_msrc12_npz, path, valid_ok=False) == "error"
    # the real archive cut in half loses its zip directory: refused at open, on one line
    real = shared_path("msrc12", NPZ)
    with open(real, "rb") as f:
        half = f.read(real.stat().st_size // 2)
    path = write_mutant(tmp_path, "real_half", NPZ, half)
    with pytest.raises(SkeletonFileError, match="not a readable .npz archive") as info:
        open_skeleton_file(path, format="msrc12_npz")
    _one_line(info.value, path)


@pytest.mark.parametrize("garbage", [b"x", b"\x00\xff\x13\x88\xfe\x7f"])
def test_corrupted_bytes_fail_cleanly_or_change_nothing(tmp_path, small_npz, msrc, garbage):
    # Members are deflated and CRC-checked; zip bytes nobody checks (times, attributes) may change freely.
    data = small_npz.read_bytes()
    results = []
    for pos in np.linspace(0, len(data) - len(garbage), 40).astype(int):
        path = write_mutant(tmp_path, f"at{pos}", NPZ, replace(data, int(pos), garbage))
        results.append(outcome(open_msrc12_npz, path, valid_ok=True))
        if results[-1] == "valid":
            for s in open_msrc12_npz(path):
                np.testing.assert_array_equal(s.joints, msrc[s.name].joints)
    assert results.count("error") >= len(results) // 2


def test_a_damaged_member_fails_on_its_own_item_not_on_open(tmp_path, small_npz):
    data = small_npz.read_bytes()
    with zipfile.ZipFile(small_npz) as zf:
        info = zf.getinfo(f"{SMALL[2]}.npy")
    middle = info.header_offset + 100 + info.compress_size // 2  # deflated data, past the .npy header
    path = write_mutant(tmp_path, "case", NPZ, replace(data, middle, b"\x00" * 64))
    collection = open_msrc12_npz(path)
    assert len(collection) == 3 and collection[0].name == SMALL[0]
    with pytest.raises(SkeletonFileError, match=SMALL[2]) as exc:
        collection[2]
    _one_line(exc.value, path)


def test_broken_side_files_are_named(tmp_path, small_npz):
    npz = tmp_path / NPZ
    npz.symlink_to(small_npz)
    header = "sequence,instruction_code,modality,gesture_id,person\n"
    (tmp_path / "sequences.csv").write_text(header + "P1_1_3A_p28,P1_1A,C4,three,28\n")
    with pytest.raises(SkeletonFileError, match="line 2: gesture_id 'three' is not an integer") as info:
        open_msrc12_npz(npz)
    _one_line(info.value, tmp_path / "sequences.csv")
    (tmp_path / "sequences.csv").write_text("sequence,person\nP1_1_3A_p28,28\n")
    with pytest.raises(SkeletonFileError, match="missing columns"):
        open_msrc12_npz(npz)
