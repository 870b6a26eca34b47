"""Bandai-Namco positions ``.npz`` reader on the real files (``../shared/data/bandai_namco_motion``):
every sequence of both datasets, labels, units, left/right, up, and corrupted copies."""

from __future__ import annotations

import csv
import zipfile

import numpy as np
import pytest

from engine.errors import SkeletonFileError
from engine.io import detect_format, open_skeleton_file
from engine.io.bandai_npz import open_bandai_npz, sniff_bandai_npz
from engine.skeleton.layouts import NTU25_JOINTS
from tests.conftest import shared_path

from .checks import chirality_scores, outcome, replace, truncation_offsets, write_mutant

J = {name: i for i, name in enumerate(NTU25_JOINTS)}
PARTS = ("dataset1", "dataset2")


def _rows(part: str) -> list[dict[str, str]]:
    with open(shared_path("bandai_namco_motion", f"{part}_labels.csv"), newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def bandai() -> dict[str, list]:
    """part -> every sequence of ``{part}_positions_mm.npz``, read through the front door."""
    return {part: list(open_skeleton_file(shared_path("bandai_namco_motion", f"{part}_positions_mm.npz")))
            for part in PARTS}  # fmt: skip


@pytest.mark.parametrize("part, count", [("dataset1", 174), ("dataset2", 2902)])
def test_every_sequence_loads_with_its_frames_and_label(bandai, part, count):
    rows, sequences = _rows(part), bandai[part]
    assert len(rows) == len(sequences) == count
    dataset = f"bandai_namco{part[-1]}"
    for row, s in zip(rows, sequences):
        assert s.name == row["name"]
        assert s.joints.shape == (int(row["frames"]), 1, 25, 3), s.name
        assert np.isfinite(s.joints).all()
        assert (s.dataset, s.label, s.label_id) == (
            dataset,
            row["content"].replace("-", " "),
            int(row["content_id"]),
        )
        assert (s.meta["style"], s.meta["take"], s.meta["skeleton_id"]) == (
            row["style"], int(row["take"]), int(row["skeleton_id"]))  # fmt: skip
        assert (s.source_format, s.source_layout, s.fps) == ("bandai_npz", "bandai_22", 30.0)


def test_positions_are_metres_above_the_floor(bandai):
    # Millimetres / 1000: the hips of a standing adult ~0.93 m above the floor at y = 0.
    hips = np.median([np.median(s.joints[:, 0, J["spine_base"], 1]) for s in bandai["dataset2"]])
    feet = np.median([s.joints[:, 0, [J["foot_left"], J["foot_right"]], 1].min() for s in bandai["dataset2"]])
    assert 0.85 < hips < 1.0 and -0.02 < feet < 0.1


@pytest.mark.parametrize("part", PARTS)
def test_left_and_right_are_the_performers_own(bandai, part):
    scores = chirality_scores(bandai[part])
    # Measured: dataset 2 all 2902 positive (lowest 0.19, mean 0.69); dataset 1 173 of 174 (one
    # at -0.01, mean 0.64). Clean mocap feet make the forward cue reliable, so the bar is higher
    # than for Kinect v1.
    assert (scores > 0).mean() >= 0.99 and scores.mean() > 0.5
    if part == "dataset2":
        assert (scores > 0).all()
    for mirror in ("swap", "negate_x"):
        flipped = chirality_scores(bandai[part][::7], mirror=mirror)
        assert (flipped < 0).mean() >= 0.99 and flipped.mean() < -0.5


@pytest.mark.parametrize(
    "label, moving, still",
    [("wave left hand", "hand_left", "hand_right"), ("wave right hand", "hand_right", "hand_left"),
     ("raise up left hand", "hand_left", "hand_right"), ("raise up right hand", "hand_right", "hand_left")],
)  # fmt: skip
def test_one_hand_actions_raise_the_ntu_hand_of_that_side(bandai, label, moving, still):
    chosen = [s for s in bandai["dataset2"] if s.label == label]
    assert len(chosen) > 200
    above_head = []
    for s in chosen:
        j = s.joints[:, 0]
        top_moving, top_still = j[:, J[moving], 1].max(), j[:, J[still], 1].max()
        head = j[:, J["head"], 1]
        # measured over all four classes: the named hand peaks >= 0.38 m above the other one, and
        # the other one stays >= 0.44 m below the head throughout
        assert top_moving > top_still + 0.3, s.name
        assert (j[:, J[still], 1] < head - 0.3).all(), s.name
        above_head.append(top_moving > head.max())
    # the hand goes above the head in ~70% of takes; the "elderly" and "exhausted" styles wave at face height
    assert np.mean(above_head) > 0.6


@pytest.mark.parametrize("part", PARTS)
def test_y_is_up_and_the_synthesised_head_sits_above_the_neck(bandai, part):
    j = np.concatenate([s.joints[:, 0] for s in bandai[part]])
    feet = j[:, [J["foot_left"], J["foot_right"]], 1].max(axis=1)
    # dataset 1 has kicks and a dance: 99.92% of frames, dataset 2 all frames
    assert (j[:, J["head"], 1] > feet).mean() > 0.999
    # head = head base + 2 x (head base - neck base): the head centre 12.7-13.2 cm above the NTU neck
    gap = np.linalg.norm(j[:, J["head"]] - j[:, J["neck"]], axis=-1)
    assert gap.min() > 0.10 and gap.max() < 0.14


def test_front_door_detects_the_npz_by_content(tmp_path):
    path = shared_path("bandai_namco_motion", "dataset1_positions_mm.npz")
    assert detect_format(path) == "bandai_npz"
    assert sniff_bandai_npz(path)
    other = tmp_path / "ctrgcn_like.npz"
    np.savez(other, x_train=np.zeros((2, 4, 150)), y_train=np.zeros((2, 60)))
    assert not sniff_bandai_npz(other)
    not_zip = tmp_path / "text.npz"
    not_zip.write_text("hello")
    assert not sniff_bandai_npz(not_zip)


def test_items_are_lazy_and_positions_read_once():
    collection = open_bandai_npz(shared_path("bandai_namco_motion", "dataset1_positions_mm.npz"))
    assert collection.info["frames_total"] == 31914
    first, again = collection[5], collection[5]
    assert first is not again and np.array_equal(first.joints, again.joints)
    assert collection[-1].name == collection[len(collection) - 1].name


# --- malformed contents ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    with np.load(shared_path("bandai_namco_motion", "dataset1_positions_mm.npz")) as z:
        return {k: z[k] for k in z.files}


def _bad_archives(a: dict[str, np.ndarray]) -> dict[str, tuple[dict, str, str]]:
    """case -> (arrays, words in the error, the error's ``where``)."""
    names = a["joint_names"].copy()
    names[[9, 13]] = names[[13, 9]]  # Hand_L <-> Hand_R
    nan = a["positions_mm"].astype(np.float32)
    nan[200, 4, 1] = np.nan
    zero_len, outside = a["seq_len"].copy(), a["seq_start"].copy()
    zero_len[3] = 0
    outside[-1] = len(a["positions_mm"]) - 2
    without = dict(a)
    del without["name"]
    return {
        "swapped_joint_names": (
            {**a, "joint_names": names},
            "not the Bandai-Namco 22-joint layout",
            "joint_names",
        ),
        "joints_21": (
            {**a, "positions_mm": a["positions_mm"][:, :21]},
            "expected (frames, 22, 3)",
            "positions_mm",
        ),
        "positions_2d": (
            {**a, "positions_mm": a["positions_mm"][:, :, 0]},
            "expected (frames, 22, 3)",
            "positions_mm",
        ),
        "text_positions": (
            {**a, "positions_mm": a["positions_mm"].astype(str)},
            "expected numbers",
            "positions_mm",
        ),
        "nan_positions": ({**a, "positions_mm": nan}, "not finite", "positions_mm (sequence 1"),
        "zero_frames": ({**a, "seq_len": zero_len}, "sequence 3 holds zero frames", "seq_len"),
        "outside": ({**a, "seq_start": outside}, "lies outside", "seq_start"),
        "no_sequences": (
            {**a, "seq_start": a["seq_start"][:0], "seq_len": a["seq_len"][:0]},
            "zero sequences",
            "seq_start",
        ),
        "short_seq_len": ({**a, "seq_len": a["seq_len"][:-1]}, "173 entries for 174 sequences", "seq_len"),
        "missing_name": (without, "missing arrays ['name']", ""),
        "pickled_names": ({**a, "name": a["name"].astype(object)}, "allow_pickle", "name"),
        "bad_parents": ({**a, "parents": np.roll(a["parents"], 1)}, "hierarchy", "parents"),
        "fps_zero": ({**a, "fps": np.float64(0)}, "not a positive frame rate", "fps"),
        "take_text": ({**a, "take": a["take"].astype(str)}, "1-D array of integers", "take"),
    }


def test_malformed_contents_are_refused_naming_the_array(tmp_path, arrays):
    for case, (contents, words, where) in _bad_archives(arrays).items():
        path = tmp_path / f"{case}.npz"
        np.savez(path, **contents)
        with pytest.raises(SkeletonFileError) as info:
            collection = open_bandai_npz(path)
            [collection[i] for i in range(len(collection))]
        assert str(path) in str(info.value) and words in str(info.value), (case, str(info.value))
        assert info.value.where.startswith(where), (case, info.value.where)


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04", b"hello" * 100], ids=repr)
def test_non_npz_files_are_refused(tmp_path, data):
    path = write_mutant(tmp_path, "case", "dataset1_positions_mm.npz", data)
    with pytest.raises(SkeletonFileError, match="dataset1_positions_mm.npz"):
        open_bandai_npz(path)


# --- corrupted copies of the real file ---------------------------------------------------------------


@pytest.fixture(scope="module")
def original():
    path = shared_path("bandai_namco_motion", "dataset1_positions_mm.npz")
    collection = open_bandai_npz(path)
    return path.read_bytes(), [s.joints for s in collection]


def _same_as_original(path, original_joints) -> None:
    collection = open_bandai_npz(path)
    assert len(collection) == len(original_joints)
    for s, joints in zip(collection, original_joints):
        np.testing.assert_array_equal(s.joints, joints)


def test_truncated_copies_fail_cleanly(tmp_path, original):
    data, _ = original
    for cut in truncation_offsets(len(data), 30):
        path = write_mutant(tmp_path, f"cut{cut}", "dataset1_positions_mm.npz", data[:cut])
        assert outcome(open_bandai_npz, path, valid_ok=False) == "error"


@pytest.mark.parametrize("garbage", [b"x", b"\x00\xff\x13\x88\xfe\x7f"])
def test_corrupted_bytes_fail_cleanly_or_change_nothing(tmp_path, original, garbage):
    # Every member is deflated and CRC-32 checked, so damage to data is always detected. Bytes the
    # zip format does not check (timestamps, "version made by", attributes in the central directory)
    # can be changed without harm: then the file must read exactly as the original.
    data, joints = original
    size = len(data)
    positions = sorted({*np.linspace(0, size - 8, 24).astype(int).tolist(),
                        *np.linspace(size - 12_000, size - 8, 24).astype(int).tolist()})  # fmt: skip
    results = []
    for pos in positions:
        path = write_mutant(tmp_path, f"at{pos}", "dataset1_positions_mm.npz", replace(data, pos, garbage))
        results.append(outcome(open_bandai_npz, path, valid_ok=True))
        if results[-1] == "valid":
            _same_as_original(path, joints)
    assert results.count("error") >= len(results) // 2


def test_a_damaged_positions_member_fails_on_first_use_not_on_open(tmp_path, original):
    data, _ = original
    path = write_mutant(tmp_path, "case", "dataset1_positions_mm.npz", replace(data, 1_000_000, b"\x00" * 64))
    collection = open_bandai_npz(path)  # only the small arrays and the positions header are read
    assert len(collection) == 174
    with pytest.raises(SkeletonFileError, match="positions_mm: cannot read the array"):
        collection[0]


def test_the_sniff_only_reads_the_zip_directory(tmp_path, original):
    data, _ = original
    path = write_mutant(tmp_path, "case", "dataset1_positions_mm.npz", replace(data, 1_000_000, b"\x00" * 64))
    assert sniff_bandai_npz(path)
    with zipfile.ZipFile(path) as z:
        assert "positions_mm.npy" in z.namelist()
