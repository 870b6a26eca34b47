"""PKU-MMD part I skeleton ``.txt`` reader: label files found in the release layouts, instances,
bad label lines, and corrupted copies. No faithful public PKU-MMD sample exists, so the files are
built in ``tmp_path`` from the real NTU sample's joints (same Kinect v2 joints, same units)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.errors import SkeletonFileError
from engine.io import FORMATS, detect_format, open_skeleton_file
from engine.io.ntu_skeleton import read_ntu_skeleton
from engine.io.pku_mmd import find_label_file, sniff_pku_mmd

from .checks import read_everything, replace, write_mutant

NAME = "0002-L.txt"
LABELS = "8,1,30,1\n11,31,70,2\n14,60,103,1\n"  # drink water; falling; handshaking (two people)


@pytest.fixture(scope="module")
def frames(ntu_sample) -> np.ndarray:
    """(103, 2, 25, 3): the real body, and a second person in frames 50-103 (1-based)."""
    body = read_ntu_skeleton(ntu_sample).joints[:, 0]
    out = np.zeros((103, 2, 25, 3), dtype=np.float32)
    out[:, 0] = body
    out[49:, 1] = body[49:] + np.float32([0.8, 0.0, 0.2])
    return out


def pku_text(frames: np.ndarray) -> str:
    rows = frames.reshape(len(frames), 150).tolist()
    return "".join(" ".join(repr(v) for v in row) + "\n" for row in rows)


@pytest.fixture
def release(tmp_path, frames) -> Path:
    """The two archives extracted as ``Skeleton/PKU_Skeleton_Renew`` and ``Label/Train_Label_PKU_final``."""
    skeleton = tmp_path / "Skeleton" / "PKU_Skeleton_Renew" / NAME
    label = tmp_path / "Label" / "Train_Label_PKU_final" / NAME
    skeleton.parent.mkdir(parents=True)
    label.parent.mkdir(parents=True)
    skeleton.write_text(pku_text(frames))
    label.write_text(LABELS)
    return skeleton


def test_instances_from_the_release_layout(release, frames):
    assert detect_format(release) == "pku_mmd"
    collection = open_skeleton_file(release)
    assert len(collection) == 3
    first, second, third = collection
    assert (first.name, first.label, first.label_id, first.dataset) == (
        "0002-L_001",
        "drink water",
        7,
        "pku51",
    )
    assert first.joints.shape == (30, 1, 25, 3)  # no second person in frames 1-30: M = 1
    np.testing.assert_array_equal(first.joints[:, 0], frames[0:30, 0])
    assert second.label == "falling" and second.joints.shape == (40, 2, 25, 3)
    np.testing.assert_array_equal(second.joints, frames[30:70])
    assert third.label == "handshaking" and third.num_bodies == 2
    np.testing.assert_array_equal(third.joints, frames[59:103])
    assert (
        second.meta["start_frame"] == 31 and second.meta["end_frame"] == 70 and second.meta["confidence"] == 2
    )
    assert second.meta["video"] == "0002-L" and second.meta["view"] == "L" and second.meta["instance"] == 2
    assert (first.fps, first.source_format, first.source_layout) == (30.0, "pku_mmd", "ntu25")


def test_other_layouts_and_options(tmp_path, frames):
    # skeleton/ beside label/ (MAMP's pku_raw/v1), and a Label/ folder beside the files.
    for layout in (("skeleton", "label"), ("PKU_Skeleton_Renew", "Train_Label_PKU_final")):
        skeleton = tmp_path / layout[0] / NAME
        skeleton.parent.mkdir()
        skeleton.write_text(pku_text(frames))
        (tmp_path / layout[1]).mkdir()
        (tmp_path / layout[1] / NAME).write_text("1,1,10,1\n")
        assert find_label_file(skeleton) == tmp_path / layout[1] / NAME
        assert [s.label for s in open_skeleton_file(skeleton)] == ["bow"]
    lone = tmp_path / "elsewhere" / "lone" / NAME
    lone.parent.mkdir(parents=True)
    lone.write_text(pku_text(frames))
    (whole,) = open_skeleton_file(lone)  # no label file: the whole video
    assert whole.name == "0002-L" and whole.label is None and whole.joints.shape == (103, 2, 25, 3)
    np.testing.assert_array_equal(whole.joints, frames)
    (lone.parent / "Label").mkdir()
    (lone.parent / "Label" / NAME).write_text("51,5,9,1\n")
    assert [s.label for s in open_skeleton_file(lone)] == ["writing"]
    assert len(open_skeleton_file(lone, label_file=False)) == 1
    elsewhere = tmp_path / "mine.csv"
    elsewhere.write_text("2,1,2,1\n3,2,3,1\n")
    assert [s.label for s in open_skeleton_file(lone, label_file=elsewhere)] == [
        "brushing hair",
        "brushing teeth",
    ]


@pytest.mark.parametrize(
    "labels, fragments",
    [
        ("8,1,30\n", ("line 1", "4 comma-separated fields")),
        ("8,1,30,1\n8,0,30,1\n", ("line 2", "0-30")),
        ("8,1,30,1\n\n8,90,104,1\n", ("line 3", "103 frames")),
        ("8,40,30,1\n", ("line 1", "40-30")),
        ("52,1,30,1\n", ("line 1", "class 52")),
        ("0,1,30,1\n", ("line 1", "class 0")),
        ("8,1,x,1\n", ("line 1", "end_frame", "'x'")),
        ("8,1,3.5,1\n", ("line 1", "end_frame")),
        ("\n\n", ("no action instances",)),
    ],
    ids=[
        "three_fields",
        "frame_zero",
        "past_end",
        "reversed",
        "class_52",
        "class_0",
        "word",
        "float",
        "empty",
    ],
)
def test_bad_label_lines_name_the_label_file(release, labels, fragments):
    label = release.parent.parent.parent / "Label" / "Train_Label_PKU_final" / NAME
    label.write_text(labels)
    with pytest.raises(SkeletonFileError) as info:
        read_everything(FORMATS.get("pku_mmd").open, release)
    message = str(info.value)
    assert str(label) in message
    for fragment in fragments:
        assert fragment in message, message


def test_missing_explicit_label_file(release, tmp_path):
    with pytest.raises(SkeletonFileError, match="no such file"):
        open_skeleton_file(release, label_file=tmp_path / "nope.txt")


def assert_file_error(path: Path, *fragments: str) -> None:
    with pytest.raises(SkeletonFileError) as info:
        read_everything(FORMATS.get("pku_mmd").open, path)
    assert str(path) in str(info.value)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_malformed_skeleton_files(tmp_path, frames):
    text = pku_text(frames)
    lines = text.splitlines(keepends=True)
    data = text.encode()
    cases = {
        "149_numbers": (
            "".join(lines[:4]) + lines[4].rsplit(" ", 1)[0] + "\n" + "".join(lines[5:]),
            ("line 5", "found 149"),
        ),
        "nan": (text.replace(lines[6].split()[3], "nan", 1), ("line 7", "joint 2 of body 1", "nan")),
        "inf_body2": (
            "".join(lines[:60])
            + " ".join(lines[60].split()[:100] + ["inf"] + lines[60].split()[101:])
            + "\n",
            ("line 61", "body 2", "inf"),
        ),
        "word": (text.replace(lines[2].split()[0], "abc", 1), ("line 3", "'abc' is not a number")),
        "lost_point": (
            text.replace(lines[8].split()[2], lines[8].split()[2].replace(".", ""), 1),
            ("line 9", "z of joint 1 of body 1", "metres"),
        ),
        "blank_inside": ("".join(lines[:10]) + "\n" + "".join(lines[10:]), ("line 11", "blank line")),
        "blank_only": ("\n \n", ("blank",)),
        "binary": (replace(data, 500, b"\xff").decode("latin1"), ("line 1", "not ASCII")),
    }
    for case, (mutant, fragments) in cases.items():
        path = write_mutant(tmp_path, case, NAME, mutant.encode("latin1"))
        assert detect_format(path) == "pku_mmd"  # by suffix: the only .txt format
        assert_file_error(path, *fragments)


def test_truncated_copies(release, frames, tmp_path):
    """With the label file's last instance ending on the last frame, every cut that loses a line is
    an error. (A cut inside the very last number leaves a shorter number: the format has no frame
    count or terminator to tell, so that case is not asserted.)"""
    data = release.read_bytes()
    label = release.parent.parent.parent / "Label" / "Train_Label_PKU_final" / NAME
    last_line_start = data.rstrip(b"\n").rfind(b"\n") + 1
    offsets = sorted(set(np.linspace(1, last_line_start + 500, 20).astype(int).tolist()))
    for k, offset in enumerate(offsets):
        folder = tmp_path / f"cut{k}"
        (folder / "Label" / "Train_Label_PKU_final").mkdir(parents=True)
        (folder / "Label" / "Train_Label_PKU_final" / NAME).write_bytes(label.read_bytes())
        (folder / "Skeleton" / "PKU_Skeleton_Renew").mkdir(parents=True)
        path = folder / "Skeleton" / "PKU_Skeleton_Renew" / NAME
        path.write_bytes(data[:offset])
        with pytest.raises(SkeletonFileError) as info:
            read_everything(FORMATS.get("pku_mmd").open, path)
        assert str(folder) in str(info.value)


def test_sniff(tmp_path, frames, release):
    assert sniff_pku_mmd(release)
    padded = tmp_path / "padded.txt"
    padded.write_text("\n\n" + pku_text(frames[:3]))
    assert sniff_pku_mmd(padded)
    for name, content in {
        "short.txt": "1 2 3\n",
        "empty.txt": "",
        "words.txt": "a " * 150,
        "bin.txt": "\xff",
    }.items():
        path = tmp_path / name
        path.write_bytes(content.encode("latin1"))
        assert not sniff_pku_mmd(path), name
    assert not sniff_pku_mmd(tmp_path / "missing.txt")
