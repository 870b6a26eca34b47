"""CTR-GCN / SGN ``.npz`` reader: lazy, memory-mapped items, trimming, labels, and broken files.
No public CTR-GCN container is small enough to ship, so the files are built in ``tmp_path`` from the
real NTU sample's joints, laid out as ``data/ntu/seq_transformation.py`` lays them out."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.errors import SkeletonFileError
from engine.io import FORMATS, ctrgcn_npz, detect_format, open_skeleton_file
from engine.io.ntu_skeleton import read_ntu_skeleton

from .checks import read_everything


@pytest.fixture(scope="module")
def body(ntu_sample) -> np.ndarray:
    return read_ntu_skeleton(ntu_sample).joints[:, 0]  # (103, 25, 3)


def padded(first: np.ndarray, second: np.ndarray | None = None, frames: int = 300) -> np.ndarray:
    """One sample ``(frames, 150)``: actor 1's 75 numbers then actor 2's, zero-padded."""
    x = np.zeros((frames, 150), dtype=np.float32)
    x[: len(first), :75] = first.reshape(len(first), 75)
    if second is not None:
        x[: len(second), 75:] = second.reshape(len(second), 75)
    return x


def one_hot(labels: list[int], classes: int) -> np.ndarray:
    y = np.zeros((len(labels), classes), dtype=np.float32)
    y[np.arange(len(labels)), labels] = 1
    return y


@pytest.fixture(scope="module")
def arrays(body) -> dict[str, np.ndarray]:
    other = body[::-1] + np.float32([0.7, 0, 0])
    x_train = np.stack([padded(body), padded(body[:50], other[:60]), padded(body[10:90])])
    x_test = np.stack([padded(other), padded(body[:20], body[:20] * 0.5)])
    return {
        "x_train": x_train,
        "y_train": one_hot([0, 50, 7], 60),
        "x_test": x_test,
        "y_test": one_hot([59, 3], 60),
    }


@pytest.fixture(scope="module")
def stored(tmp_path_factory, arrays) -> Path:
    path = tmp_path_factory.mktemp("ctrgcn") / "NTU60_CS.npz"
    np.savez(path, **arrays)  # what seq_transformation.py does: stored, not compressed
    return path


def test_items_train_then_test(stored, arrays, body):
    assert detect_format(stored) == "ctrgcn_npz"
    c = open_skeleton_file(stored)
    assert len(c) == 5 and c.info["splits"] == {"train": 3, "test": 2} and c.info["dataset"] == "ntu60"
    first = c[0]
    assert first.joints.shape == (103, 1, 25, 3)  # padding trimmed, absent actor 2 dropped
    np.testing.assert_array_equal(first.joints[:, 0], body)
    assert (first.label, first.label_id, first.dataset) == ("drink water", 0, "ntu60")
    assert first.meta == {"split": "train", "index": 0, "padded_frames": 300}
    second = c[1]
    assert second.joints.shape == (60, 2, 25, 3) and second.label_id == 50
    np.testing.assert_array_equal(second.joints[50:, 0], 0)  # actor 1 ended first: zeros, not trimmed
    test_items = c[3:]
    assert [s.meta["split"] for s in test_items] == ["test", "test"]
    assert [s.label_id for s in test_items] == [59, 3] and test_items[1].joints.shape == (20, 2, 25, 3)
    assert c[-1].name == "NTU60_CS_test_00001"
    assert (first.fps, first.source_format, first.source_layout) == (30.0, "ctrgcn_npz", "ntu25")
    assert first.joints.flags.writeable and first.joints.base is None  # a copy, not a memory-map view


def test_len_reads_headers_only_and_arrays_load_once(stored, monkeypatch):
    loads = []
    real = ctrgcn_npz.load_npy_member

    def counting(zf, name, path):
        loads.append(name)
        return real(zf, name, path)

    monkeypatch.setattr(ctrgcn_npz, "load_npy_member", counting)
    c = open_skeleton_file(stored)
    assert len(c) == 5 and loads == []
    for i in range(len(c)):
        c[i]
    c[0], c[4]
    assert sorted(loads) == ["x_test.npy", "x_train.npy", "y_test.npy", "y_train.npy"]
    assert isinstance(ctrgcn_npz.load_npy_member(zipfile.ZipFile(stored), "x_train.npy", stored), np.memmap)


def test_compressed_and_ntu120(tmp_path, arrays):
    path = tmp_path / "NTU120_CSub.npz"
    y = one_hot([0, 119, 60], 120)
    np.savez_compressed(path, x_train=arrays["x_train"], y_train=y)
    c = open_skeleton_file(path)
    assert len(c) == 3 and c.info["dataset"] == "ntu120"
    assert [s.label for s in c] == [
        "drink water",
        "finger-guessing game (playing rock-paper-scissors)",
        "put on headphone",
    ]
    np.testing.assert_array_equal(c[2].joints.reshape(80, 75), arrays["x_train"][2, :80, :75])


def write_npz(tmp_path: Path, name: str, **arrays) -> Path:
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    np.savez(path, **arrays)
    return path


def assert_file_error(path: Path, *fragments: str) -> None:
    """Reading everything fails with a SkeletonFileError naming the file. The reader is called
    directly: no front-door catch-all, and files that no longer sniff as CTR-GCN still reach it."""
    with pytest.raises(SkeletonFileError) as info:
        read_everything(FORMATS.get("ctrgcn_npz").open, path)
    assert str(path) in str(info.value)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_broken_contents(tmp_path, arrays):
    x, y = arrays["x_train"], arrays["y_train"]
    nan = x.copy()
    nan[1, 20, 80] = np.nan
    zero = x.copy()
    zero[2] = 0
    not_one_hot = y.copy()
    not_one_hot[1, 3] = 1
    cases = {
        "no_y": ({"x_train": x}, ("y_train", "has x_train but no y_train")),
        "no_x": ({"y_test": y}, ("x_test",)),
        "nothing": ({"a": y}, ("neither",)),
        "149": ({"x_train": x[:, :, :149], "y_train": y}, ("x_train", "expected (N, frames, 150)")),
        "2d": ({"x_train": x[:, :, 0], "y_train": y}, ("x_train", "shape")),
        "rows": ({"x_train": x, "y_train": y[:2]}, ("y_train", "one-hot")),
        "classes": (
            {"x_train": x, "y_train": y, "x_test": x, "y_test": one_hot([1, 2, 3], 120)},
            ("y_test", "120 classes"),
        ),
        "nan": ({"x_train": nan, "y_train": y}, ("x_train[1]", "frame 21, field 81", "not finite")),
        "zeros": ({"x_train": zero, "y_train": y}, ("x_train[2]", "no body")),
        "far": ({"x_train": x * 1000, "y_train": y}, ("x_train[0]", "not a position in metres")),
        "float64_overflow": (
            {"x_train": x.astype(np.float64) * 1e300, "y_train": y},
            ("x_train[0]", "4.12621e+300", "metres"),  # no float32 inf on the way
        ),
        "one_hot": ({"x_train": x, "y_train": not_one_hot}, ("y_train[1]", "not one-hot")),
        "objects": ({"x_train": np.array([None, 1], dtype=object), "y_train": y}, ("x_train",)),
    }
    for case, (content, fragments) in cases.items():
        path = write_npz(tmp_path / case, "NTU60_CS.npz", **content)
        assert_file_error(path, *fragments)


def test_a_bad_item_does_not_spoil_the_others(tmp_path, arrays):
    nan = arrays["x_train"].copy()
    nan[1, 0, 0] = np.inf
    c = open_skeleton_file(write_npz(tmp_path, "x.npz", x_train=nan, y_train=arrays["y_train"]))
    assert c[0].joints.shape == (103, 1, 25, 3) and c[2].label_id == 7
    with pytest.raises(SkeletonFileError, match=r"x_train\[1\]"):
        c[1]


def test_truncated_and_corrupted_copies(tmp_path, stored):
    data = stored.read_bytes()
    size = len(data)
    for k, offset in enumerate(
        sorted(set(np.linspace(1, size - 1, 30).astype(int).tolist()) | {10, 100, size - 22})
    ):
        path = tmp_path / f"cut{k}" / "NTU60_CS.npz"
        path.parent.mkdir()
        path.write_bytes(data[:offset])
        assert_file_error(path)
    # Garbage over the zip directory or the member headers.
    directory = data.rfind(b"PK\x01\x02")
    for k, position in enumerate([0, 40, 60, 90, directory, directory + 20, size - 20, size - 10]):
        path = tmp_path / f"bytes{k}" / "NTU60_CS.npz"
        path.parent.mkdir()
        path.write_bytes(data[:position] + b"\xff\x00garbage\x00" + data[position + 10 :])
        assert_file_error(path)


def test_damaged_compressed_members(tmp_path, arrays):
    """A flipped byte inside deflated data fails at the item that needs it (zlib or CRC error)."""
    path = tmp_path / "NTU60_CS.npz"
    np.savez_compressed(path, x_train=arrays["x_train"], y_train=arrays["y_train"])
    data = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("x_train.npy")
    start = info.header_offset + 30 + len("x_train.npy") + 20  # inside the deflated stream
    for k, position in enumerate([start, start + info.compress_size // 2, start + info.compress_size - 30]):
        damaged = tmp_path / f"d{k}" / "NTU60_CS.npz"
        damaged.parent.mkdir()
        damaged.write_bytes(data[:position] + bytes([data[position] ^ 0x5A]) + data[position + 1 :])
        assert_file_error(damaged)


def test_sniff_tells_ctrgcn_from_bandai_and_others(tmp_path, stored, arrays):
    assert ctrgcn_npz.sniff_ctrgcn_npz(stored)
    bandai = tmp_path / "bandai.npz"
    np.savez(
        bandai,
        positions_mm=np.zeros((10, 22, 3), np.int16),
        seq_start=np.array([0]),
        seq_len=np.array([10]),
        joint_names=np.array(["Hips"] * 22),
        name=np.array(["dataset-2_walk_normal_001"]),
        fps=np.array(30),
    )
    assert not ctrgcn_npz.sniff_ctrgcn_npz(bandai)
    assert detect_format(bandai) != "ctrgcn_npz"
    only_test = write_npz(tmp_path, "test_only.npz", x_test=arrays["x_test"], y_test=arrays["y_test"])
    assert ctrgcn_npz.sniff_ctrgcn_npz(only_test) and len(open_skeleton_file(only_test)) == 2
    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    assert not ctrgcn_npz.sniff_ctrgcn_npz(text)
    assert not ctrgcn_npz.sniff_ctrgcn_npz(tmp_path / "missing.npz")
