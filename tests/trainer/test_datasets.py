"""Real datasets as encoder-ready arrays, and the protocols that cut them into train and test."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

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
            assert len(s.val_unseen) == len(s.unseen) or s.dataset.startswith("ntu") or not s.unseen, name
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


def test_bandai_namco2_content_classes_by_skeleton_group():
    data = load_skeletons("bandai_namco2", shared_path().as_posix(), CONFIG)
    assert len(data) == 2902 and set(data.labels.tolist()) == set(range(10))
    assert set(data.subjects.tolist()) == {0, 1, 2}
    train, test = protocol_masks(data, load_split("bandai_namco2_split1"))
    assert set(data.subjects[train].tolist()) == {0, 1} and set(data.subjects[test].tolist()) == {2}
    assert (train | test).all() and not (train & test).any()


def _pku_release(root, ntu_sample, split_text: str | None):
    """A PKU-MMD release layout made from a real NTU recording (the same Kinect v2 joints and units)."""
    from engine.io import open_skeleton_file

    joints = open_skeleton_file(ntu_sample)[0].joints  # (103, 1, 25, 3)
    rows = np.zeros((len(joints), 150), np.float32)
    rows[:, :75] = joints[:, 0].reshape(len(joints), 75)
    skel = root / "PKU-MMD" / "Skeleton" / "PKU_Skeleton_Renew"
    label = root / "PKU-MMD" / "Label" / "Train_Label_PKU_final"
    skel.mkdir(parents=True)
    label.mkdir(parents=True)
    for video, lines in (("0002-L", "2,1,40,1\n8,41,100,2\n"), ("0291-M", "2,10,90,1\n")):
        np.savetxt(skel / f"{video}.txt", rows, fmt="%.6f")
        (label / f"{video}.txt").write_text(lines)
    if split_text is not None:
        (root / "PKU-MMD" / "Split").mkdir()
        (root / "PKU-MMD" / "Split" / "cross-subject.txt").write_text(split_text)


def test_pku_mmd_release_instances_and_its_cross_subject_lists(tmp_path, ntu_sample):
    # the release's heading spelling ("Validataion") and ids on the lines below the headings
    _pku_release(tmp_path, ntu_sample, "Training videos: \n0002-L, 0002-M, 0002-R\nValidataion videos: \n0291-M\n")
    data = load_skeletons("pku51", tmp_path, CONFIG)
    assert data.labels.tolist() == [1, 7, 1] and data.views.tolist() == [1, 1, 2]
    train, test = protocol_masks(data, load_split("pku51_smie_split_7"))
    assert train.tolist() == [True, True, False] and test.tolist() == [False, False, True]


def test_pku_mmd_without_its_split_file_says_which_file_is_missing(tmp_path, ntu_sample):
    import pytest

    from engine.errors import ZsarError

    _pku_release(tmp_path, ntu_sample, None)
    data = load_skeletons("pku51", tmp_path, CONFIG)
    with pytest.raises(ZsarError, match="Split/cross-subject.txt"):
        protocol_masks(data, load_split("pku51_smie_split_8"))


def test_pku_mmd_split_file_errors_name_the_file(tmp_path):
    import pytest

    from engine.errors import ZsarError
    from trainer.data.pku_splits import read_split_file

    cases = {"no_test.txt": "Training videos: 0002-L, 0003-L\n",
             "ids_first.txt": "0002-L\nTraining videos:\n0003-L\nValidation videos:\n0004-L\n",
             "both.txt": "Training videos: 0002-L\nValidation videos: 0002-L\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ZsarError, match=name):
            read_split_file(tmp_path / name)
    (tmp_path / "ok.txt").write_text("Training videos: 0002-L, 0002-M\nValidation videos: 0291-R\n")
    assert read_split_file(tmp_path / "ok.txt") == {"train": {"0002-L", "0002-M"}, "test": {"0291-R"}}


@pytest.mark.slow
def test_the_default_bundles_combined_dataset_keeps_each_sources_protocol():
    from trainer.data.datasets import balanced_weights, combined_class_names

    data = load_skeletons("zsar_default", shared_path().as_posix(), CONFIG)
    split = load_split("zsar_default")
    sizes = [load_split(p).num_classes for p in split.parts]
    assert sizes == [27, 10, 10, 58, 12, 11]
    assert split.names() == combined_class_names("zsar_default") and split.num_classes == 128 == len(split.seen)
    assert set(data.labels.tolist()) == set(range(128)) and data.source_layout == "kinect_v1_20"
    train, test = protocol_masks(data, split)
    assert not (train & test).any() and (train | test).all()
    part = data.sources
    assert set(data.subjects[(part == 0) & train].tolist()) == {1, 3, 5, 7}  # UTD-MHAD odd subjects
    assert set(data.views[(part == 1) & test].tolist()) == {3}  # NW-UCLA view 3
    assert set(data.subjects[(part == 2) & test].tolist()) == {2}  # Bandai-Namco skeleton group 2
    assert set(data.subjects[(part == 3) & test].tolist()) == {577, 734, 921, 106, 290, 595}  # Kinder-Gator
    assert set(data.subjects[(part == 4) & test].tolist()) == set(range(3, 31, 3))  # MSRC-12 persons
    assert set(data.subjects[(part == 5) & test].tolist()) == {4, 5}  # HDM05 actors mm, tr
    # each part's labels are offset by the classes before it
    offsets = np.cumsum([0] + sizes)
    for k in range(6):
        assert offsets[k] <= data.labels[part == k].min() and data.labels[part == k].max() < offsets[k + 1]
    # MSRC-12 streams are cut into one clip per tagged instance (6,233 tags with a frame)
    assert (part == 4).sum() == 6233
    assert np.isfinite(data.x).all()
    # balanced sampling: every dataset drawn equally often, whatever its size
    w = balanced_weights(data, train)
    per_source = [w[part[train] == k].sum() for k in range(6)]
    assert np.allclose(per_source, 1 / 6)


def test_a_cross_dataset_fold_leaves_its_dataset_out():
    for held_out, parts in [("utd_mhad", 5), ("hdm05", 5)]:
        split = load_split(f"zsar_loo_{held_out}")
        assert len(split.parts) == parts and all(not p.startswith(held_out) for p in split.parts)
        assert split.num_classes == 128 - load_split("zsar_default").names().count(
            "") - {"utd_mhad": 27, "hdm05": 11}[held_out]
        assert split.has_validation and not split.unseen
