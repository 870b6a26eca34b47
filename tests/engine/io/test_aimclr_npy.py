"""AimCLR / st-gcn ``.npy`` + label ``.pkl`` reader: labels from names, the safe unpickler (a
malicious pickle must be refused without running), SMIE ``.npy`` labels, and broken files. Files are
built in ``tmp_path`` from the real NTU sample's joints in AimCLR's ``(N, 3, T, 25, M)`` layout."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from engine.errors import SkeletonFileError
from engine.io import FORMATS, aimclr_npy, detect_format, open_skeleton_file
from engine.io.ntu_skeleton import read_ntu_skeleton

from .checks import read_everything

NAMES = ["S001C001P001R001A001", "S002C003P004R001A055", "S018C001P008R001A061"]


@pytest.fixture(scope="module")
def body(ntu_sample) -> np.ndarray:
    return read_ntu_skeleton(ntu_sample).joints[:, 0]  # (103, 25, 3)


@pytest.fixture(scope="module")
def data(body) -> np.ndarray:
    """(3, 3, 50, 25, 2): one body for 50 frames; two bodies for 40 then padding; one for 30."""
    seq = np.zeros((3, 50, 2, 25, 3), dtype=np.float32)  # (N, T, M, V, C)
    seq[0, :, 0] = body[:50]
    seq[1, :40, 0] = body[20:60]
    seq[1, :40, 1] = body[60:100] + np.float32([0.6, 0, 0])
    seq[2, :30, 0] = body[:30] * 0.9
    return np.ascontiguousarray(seq.transpose(0, 4, 1, 3, 2))  # -> (N, C, T, V, M)


@pytest.fixture
def split(tmp_path, data) -> Path:
    path = tmp_path / "train_position.npy"
    np.save(path, data)
    with open(tmp_path / "train_label.pkl", "wb") as f:
        pickle.dump((NAMES, [0, 54, 60]), f)
    return path


def test_items_with_sibling_labels(split, data, body):
    assert detect_format(split) == "aimclr_npy"
    c = open_skeleton_file(split)
    assert len(c) == 3 and c.info["frames"] == 50 and c.info["label_file"].endswith("train_label.pkl")
    first, second, third = c
    assert first.joints.shape == (50, 1, 25, 3)
    np.testing.assert_array_equal(first.joints[:, 0], body[:50])
    assert (first.name, first.label, first.label_id, first.dataset) == (NAMES[0], "drink water", 0, "ntu120")
    assert first.meta["subject"] == 1 and first.meta["camera"] == 1
    assert second.joints.shape == (40, 2, 25, 3)  # padding trimmed
    np.testing.assert_array_equal(second.joints[:, 1], body[60:100] + np.float32([0.6, 0, 0]))
    assert (second.label_id, second.meta["setup"], second.meta["camera"]) == (54, 2, 3)
    assert third.label == "put on headphone" and third.joints.shape == (30, 1, 25, 3)
    assert (first.fps, first.source_format, first.source_layout) == (30.0, "aimclr_npy", "ntu25")


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_labels_and_names_unpickle(tmp_path, data, protocol):
    path = tmp_path / "val_position.npy"
    np.save(path, data)
    labels = np.array([3, 5, 7], dtype=np.int64)
    with open(tmp_path / "val_label.pkl", "wb") as f:
        pickle.dump((np.array(NAMES[:2] + ["S003C001P001R001A008"]), labels), f, protocol=protocol)
    c = open_skeleton_file(path)
    assert [s.label_id for s in c] == [3, 5, 7] and c[0].dataset == "ntu60"
    with open(tmp_path / "val_label.pkl", "wb") as f:
        pickle.dump((NAMES, [np.int64(1), np.int32(2), 3]), f, protocol=protocol)
    assert [s.label_id for s in open_skeleton_file(path)] == [1, 2, 3]


def test_without_labels_and_with_other_label_files(tmp_path, data):
    path = tmp_path / "seen_train_data.npy"
    np.save(path, data)
    c = open_skeleton_file(path)  # no label file: not an error
    assert [s.label_id for s in c] == [None, None, None] and c[1].name == "seen_train_data_00001"
    np.save(tmp_path / "seen_train_label.npy", np.array([4, 2, 9]))  # SMIE split folders
    c = open_skeleton_file(path)
    assert [s.label_id for s in c] == [4, 2, 9] and c[0].label is None and c[0].dataset is None
    elsewhere = tmp_path / "labels.pkl"
    with open(elsewhere, "wb") as f:
        pickle.dump((["F0002V001C003L001", "F0002V002C051L002", "F0364V003C001L019"], [2, 50, 0]), f)
    c = open_skeleton_file(path, label_file=elsewhere)  # AimCLR's PKU-MMD instance names
    assert [s.label for s in c] == ["brushing teeth", "writing", "bow"] and c[0].dataset == "pku51"
    assert c[2].meta["video"] == "0364-R" and c[2].meta["instance"] == 19


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Evaluates:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


def test_malicious_pickles_are_refused_without_running(tmp_path, data):
    path = tmp_path / "train_position.npy"
    np.save(path, data)
    marker = tmp_path / "pwned"
    payloads = {
        "os_system": pickle.dumps((NAMES, _RunsCode(marker))),
        "os_system_p0": pickle.dumps(_RunsCode(marker), protocol=0),
        "eval": pickle.dumps((NAMES, [_Evaluates()])),
        "handmade": b"csubprocess\ncheck_output\n(S'ls'\ntR.",
    }
    expected_global = {
        "os_system": "system",
        "os_system_p0": "system",
        "eval": "builtins.eval",
        "handmade": "subprocess.check_output",
    }
    for case, payload in payloads.items():
        label = tmp_path / f"{case}.pkl"
        label.write_bytes(payload)
        with pytest.raises(SkeletonFileError) as info:
            open_skeleton_file(path, label_file=label)
        message = str(info.value)
        assert str(label) in message and "refuses to unpickle" in message and expected_global[case] in message
        assert "label files may only hold names and numbers" in message
    assert not marker.exists()


def test_damaged_numpy_pickles_fail_cleanly(tmp_path):
    """Random byte flips in pickles that hold numpy arrays and scalars: the result is a
    SkeletonFileError or a checked (names, labels) pair, never another exception."""
    rng = np.random.default_rng(3)
    label = tmp_path / "labels.pkl"
    outcomes = {"error": 0, "read": 0}
    for protocol in (2, 4, 5):
        good = pickle.dumps((np.array(NAMES), np.array([0, 54, 60])), protocol=protocol)
        for _ in range(150):
            damaged = bytearray(good)
            for position in rng.integers(0, len(good), size=rng.integers(1, 3)):
                damaged[position] = rng.integers(0, 256)
            label.write_bytes(bytes(damaged))
            try:
                names, labels = aimclr_npy.load_label_pickle(label)
            except SkeletonFileError as exc:
                assert str(label) in str(exc)
                outcomes["error"] += 1
                continue
            assert all(isinstance(n, str) for n in names) and labels.dtype == np.int64
            outcomes["read"] += 1
    assert outcomes["error"] > 100


def assert_file_error(path: Path, *fragments: str, **options) -> None:
    """Reading everything fails with a SkeletonFileError naming the file; the reader is called
    directly, without the front door's catch-all."""
    with pytest.raises(SkeletonFileError) as info:
        read_everything(lambda p: FORMATS.get("aimclr_npy").open(p, **options), path)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_broken_label_files(split):
    label = split.with_name("train_label.pkl")
    good = label.read_bytes()
    cases = {
        "truncated": good[: len(good) // 2],
        "not_a_pair": pickle.dumps({"names": NAMES}),
        "lengths": pickle.dumps((NAMES, [0, 1])),
        "count": pickle.dumps((NAMES[:2], [0, 1])),
        "words": pickle.dumps((NAMES, ["a", "b", "c"])),
        "negative": pickle.dumps((NAMES, [0, -1, 2])),
        "not_names": pickle.dumps(([1, 2, 3], [0, 1, 2])),
        "garbage": b"\x00\x01not a pickle",
    }
    for case, content in cases.items():
        label.write_bytes(content)
        message = assert_file_error(split)
        assert str(label) in message, (case, message)


def test_broken_data_files(tmp_path, data):
    np.save(tmp_path / "good.npy", data)
    good = (tmp_path / "good.npy").read_bytes()
    nan = data.copy()
    nan[2, 1, 7, 4, 0] = np.nan
    zero = data.copy()
    zero[1] = 0
    cases = {
        "nan": (nan, ("item 2", "y of joint 5 of body 1 in frame 8", "not finite")),
        "zeros": (zero, ("item 1", "no body")),
        "far": (data * 1000, ("item 0", "not a position in metres")),
        "24_joints": (data[:, :, :, :24], ("shape",)),
        "4d": (data[:, :, :, :, 0], ("shape",)),
        "objects": (np.array([None] * 2, dtype=object), ("shape",)),
    }
    for case, (array, fragments) in cases.items():
        path = tmp_path / case / "train_position.npy"
        path.parent.mkdir()
        np.save(path, array, allow_pickle=True)
        message = assert_file_error(path, *fragments)
        assert str(path) in message
    for k, offset in enumerate(sorted({1, 5, 8, 20, 60, 127, 128, 200, len(good) // 2, len(good) - 1})):
        path = tmp_path / f"cut{k}" / "train_position.npy"
        path.parent.mkdir()
        path.write_bytes(good[:offset])
        assert str(path) in assert_file_error(path)


def test_sniff(tmp_path, data):
    np.save(tmp_path / "a.npy", data)
    assert aimclr_npy.sniff_aimclr_npy(tmp_path / "a.npy")
    for name, array in {
        "labels.npy": np.arange(3),
        "wrong.npy": data[:, :2],
        "v24.npy": data[:, :, :, :24],
    }.items():
        np.save(tmp_path / name, array)
        assert not aimclr_npy.sniff_aimclr_npy(tmp_path / name), name
    (tmp_path / "text.npy").write_text("hello")
    assert not aimclr_npy.sniff_aimclr_npy(tmp_path / "text.npy")
    assert not aimclr_npy.sniff_aimclr_npy(tmp_path / "missing.npy")
