"""Every registered reader refuses a damaged copy of a real file of its format with one line naming the
file (cut short, cut to a few bytes, its start overwritten), and a new reader cannot be registered
without joining this test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.errors import SkeletonFileError
from engine.io import FORMATS, open_skeleton_file
from tests.conftest import shared_path

# format -> a real file of it under ../shared/data (a side file it needs is copied with it)
REAL_FILES = {
    "ntu_skeleton": ("ntu_samples/S001C001P001R001A001.skeleton", ()),
    "utd_mhad_mat": ("utd_mhad/Skeleton/a10_s1_t1_skeleton.mat", ()),
    "nw_ucla_json": ("nw_ucla/all_sqe/a01_s01_e00_v01.json", ()),
    "bvh": ("bandai_namco_motion/bvh_samples/dataset-1_kick_normal_001.bvh", ()),
    "kinder_gator_csv": ("kinder_gator/Adults/POSE-p565_01-Raise-your-hand-1469182402284.csv", ()),
    "msrc12_csv": ("msrc12/raw_samples/P3_2_8_p29.csv", ("P3_2_8_p29.tagstream",)),
    "asf_amc": ("hdm05_subset/test/10/HDM_mm_squat1Reps_037_120.amc", ("HDM_mm.asf",)),
    "msrc12_npz": ("msrc12/msrc12_joints_mm.npz", ()),
    "bandai_npz": ("bandai_namco_motion/dataset2_positions_mm.npz", ()),
}
# Containers no public copy of which is beside the project; their own tests build real-content files
# from the NTU sample and damage them (test_ctrgcn_npz.py, test_aimclr_npy.py, test_pku_mmd.py).
TESTED_ELSEWHERE = {"ctrgcn_npz", "aimclr_npy", "pku_mmd"}


def test_every_registered_format_is_covered():
    assert set(FORMATS.names()) == set(REAL_FILES) | TESTED_ELSEWHERE


def _read_all(path: Path) -> None:
    collection = open_skeleton_file(path)
    for i in range(min(len(collection), 3)):
        collection[i]
    if len(collection) > 3:
        collection[len(collection) - 1]


@pytest.mark.parametrize("fmt", sorted(REAL_FILES))
def test_a_damaged_real_file_is_one_line_naming_it(fmt, tmp_path):
    relative, side_files = REAL_FILES[fmt]
    source = shared_path(*relative.split("/"))
    data = source.read_bytes()
    _read_all(source)  # the intact file reads
    cuts = {"half": data[: len(data) // 2], "few_bytes": data[:7],
            "overwritten_start": b"\x00garbage\xff" * 8 + data[80:]}
    for case, damaged in cuts.items():
        folder = tmp_path / case
        folder.mkdir()
        for side in side_files:
            shutil.copy(source.parent / side, folder / side)
        path = folder / source.name
        path.write_bytes(damaged)
        with pytest.raises(SkeletonFileError) as err:
            _read_all(path)
        message = str(err.value)
        assert str(path) in message and "\n" not in message, (case, message)
