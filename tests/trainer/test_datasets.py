"""Real datasets as encoder-ready arrays, and the protocols that cut them into train and test."""

from __future__ import annotations

import shutil

import numpy as np

from engine.skeleton.preprocess import PreprocessConfig
from tests.conftest import shared_path
from trainer.data.datasets import load_skeletons, protocol_masks
from trainer.data.splits import load_split, split_names

CONFIG = PreprocessConfig(style="view", window=32, num_bodies=1)


def test_utd_mhad_cross_subject():
    root = shared_path().as_posix()
    data = load_skeletons("utd_mhad", root, CONFIG)
    assert data.x.shape == (861, 3, 32, 25, 1) and np.isfinite(data.x).all()
    assert set(data.labels.tolist()) == set(range(27)) and set(data.subjects.tolist()) == set(range(1, 9))
    train, test = protocol_masks(data, load_split("utd_mhad_split1"))
    assert not (train & test).any() and (train | test).all()
    assert set(data.subjects[train].tolist()) == {1, 3, 5, 7}


def test_nw_ucla_cross_view_leaves_out_one_frame_clips():
    data = load_skeletons("nw_ucla", shared_path().as_posix(), CONFIG)
    assert len(data) < 1484  # the few one-frame files carry no motion
    train, test = protocol_masks(data, load_split("nw_ucla_split2"))
    assert set(data.views[train].tolist()) == {1, 2} and set(data.views[test].tolist()) == {3}


def test_ntu_folder_of_the_users_copy(tmp_path, ntu_sample):
    folder = tmp_path / "nturgb+d_skeletons"
    folder.mkdir()
    shutil.copy(ntu_sample, folder / ntu_sample.name)  # A001, subject 1 (a training subject)
    shutil.copy(ntu_sample, folder / "S018C002P070R001A061.skeleton")  # an NTU-120 class, subject 70
    shutil.copy(ntu_sample, folder / "S001C003P003R001A002.skeleton")  # subject 3: a test subject
    d60 = load_skeletons("ntu60", tmp_path, CONFIG)
    d120 = load_skeletons("ntu120", tmp_path, CONFIG)
    assert sorted(d60.labels.tolist()) == [0, 1] and sorted(d120.labels.tolist()) == [0, 1, 60]
    train, test = protocol_masks(d120, load_split("ntu120_synse_110_10"))
    assert sorted(d120.subjects[train].tolist()) == [1, 70] and d120.subjects[test].tolist() == [3]


def test_every_split_file_is_consistent():
    for name in split_names():
        s = load_split(name)
        assert sorted(s.seen + s.unseen) == list(range(s.num_classes)), name
        if s.has_validation:
            assert sorted(s.val_seen + s.val_unseen) == sorted(s.seen), name
            assert len(s.val_unseen) == len(s.unseen) or s.dataset.startswith("ntu"), name
        assert s.source, name


def test_ntu_from_ctrgcn_npz_uses_its_train_test_halves(tmp_path, ntu_sample):
    from engine.io import open_skeleton_file

    joints = open_skeleton_file(ntu_sample)[0].joints  # (103, 1, 25, 3)
    x = np.zeros((300, 150), np.float32)
    x[: len(joints), :75] = joints[:, 0].reshape(len(joints), 75)
    y = np.zeros((1, 60), np.float32)
    y[0, 7] = 1
    np.savez(tmp_path / "NTU60_CS.npz", x_train=np.stack([x, x]), y_train=np.concatenate([y, y]),
             x_test=x[None], y_test=y)
    data = load_skeletons("ntu60", tmp_path, CONFIG)
    assert len(data) == 3 and data.labels.tolist() == [7, 7, 7]
    train, test = protocol_masks(data, load_split("ntu60_synse_55_5"))
    assert train.tolist() == [True, True, False] and test.tolist() == [False, False, True]
