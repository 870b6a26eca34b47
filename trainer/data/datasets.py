"""Real skeleton datasets as encoder-ready arrays, and the subject / view protocols that cut them.

``load_skeletons("utd_mhad", data_root, preprocess)`` reads every file of a dataset through the
engine's readers (each already NTU-25), preprocesses each sequence the bundle's way and returns one
``(N, C, T, V, M)`` array with the global class ids and the subject / view of each sample.
:func:`protocol_masks` then gives the train and test samples of a split's protocol
(``assets/splits/<name>.json: protocol``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from engine.errors import ZsarError
from engine.io import open_skeleton_file
from engine.skeleton.layouts import harmonise
from engine.skeleton.preprocess import PreprocessConfig, preprocess
from trainer.data.clips import instances
from trainer.data.locations import dataset_files
from trainer.data.pku_splits import SPLIT_FILES, find_split_file, read_split_file
from trainer.data.splits import Split, combined_split, load_split

# split dataset name -> the file group of trainer.data.locations that holds it
FILE_GROUP = {"utd_mhad": "utd_mhad", "nw_ucla": "nw_ucla", "ntu60": "ntu60", "ntu120": "ntu120", "pku51": "pku51",
              "bandai_namco1": "bandai_namco1", "bandai_namco2": "bandai_namco2", "kinder_gator": "kinder_gator",
              "msrc12": "msrc12", "hdm05": "hdm05"}
# Bandai-Namco gives no actor id; its README: skeleton_id groups takes by identical BVH offsets, consistent
# with one group per actor (and confounded with style groups) -- the only "subject" there is
SUBJECT_KEYS = {"bandai_namco1": "skeleton_id", "bandai_namco2": "skeleton_id", "msrc12": "person", "hdm05": "actor"}
# HDM05 names its five actors by initials; subject ids 1-5 in this order (assets/splits/hdm05_people.json)
HDM05_ACTORS = ("bd", "bk", "dg", "mm", "tr")
PKU_VIEWS = {"L": 1, "M": 2, "R": 3}  # PKU-MMD's three Kinects, by the video id's letter
# Datasets made of several (the default bundle's "zsar_default", the cross-dataset folds "zsar_loo_<dataset>"):
# their split files list the parts (trainer.data.splits.Split.parts).

# NTU RGB+D cross-subject training subjects (docs/data_formats.md#datasets-and-protocols, from the dataset papers);
# NTU-60 keeps actions A001-A060 of the same folder.
_NTU60_XSUB = [1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38]
_NTU120_XSUB = _NTU60_XSUB + [45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83,
                              84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103]
#: the protocol a split of this dataset uses when its file names none (the ZSSAR papers' xsub)
DEFAULT_PROTOCOLS = {
    "ntu60": {"kind": "cross_subject", "train_subjects": _NTU60_XSUB, "test_subjects": "others"},
    "ntu120": {"kind": "cross_subject", "train_subjects": _NTU120_XSUB, "test_subjects": "others"},
    # PKU-MMD's lists of training and validation videos (Split/cross-subject.txt of the release)
    "pku51": {"kind": "cross_subject"},
}
NUM_CLASSES = {"ntu60": 60, "ntu120": 120}
# CTR-GCN's preprocessed cross-subject files: their x_train / x_test halves are the xsub protocol
NPZ_FILES = {"ntu60": "NTU60_CS.npz", "ntu120": "NTU120_CSub.npz"}


def dataset_sources(dataset: str, data_root: str | os.PathLike | None) -> list:
    """The files to read for ``dataset``: the raw folder, else (NTU) CTR-GCN's ``.npz`` beside it.

    Raises:
        ZsarError: none found, saying where they were looked for.
    """
    from pathlib import Path

    from trainer.data.locations import default_data_root

    combined = combined_split(dataset)
    if combined is not None:
        return [f for name in combined.parts for f in dataset_sources(load_split(name).dataset, data_root)]
    if dataset in NPZ_FILES:
        root = Path(data_root) if data_root else default_data_root()
        npz = root / NPZ_FILES[dataset] if root else None
        if npz is not None and npz.is_file() and not (root / "nturgb+d_skeletons").is_dir():
            return [npz]
    try:
        return dataset_files(FILE_GROUP.get(dataset, dataset), data_root)
    except ZsarError as exc:
        if dataset in NPZ_FILES:
            raise ZsarError(f"{exc}, or CTR-GCN's {NPZ_FILES[dataset]}") from None
        raise


@dataclass
class SkeletonData:
    x: np.ndarray  # (N, 3, T, 25, M) float32, preprocessed
    labels: np.ndarray  # (N,) int64 global class ids
    subjects: np.ndarray  # (N,) int64, -1 when unknown
    views: np.ndarray  # (N,) int64, -1 when unknown
    names: list[str]
    source_layout: str
    # protocol kind -> (N,) "train" / "test" / "": where the data itself defines the protocol
    # (CTR-GCN's xsub .npz halves, PKU-MMD's split files)
    partitions: dict[str, np.ndarray] = field(default_factory=dict)
    # (N,) which part of a combined dataset each sample comes from (index into Split.parts); zeros otherwise
    sources: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.sources is None:
            self.sources = np.zeros(len(self.labels), np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask: np.ndarray) -> SkeletonData:
        idx = np.flatnonzero(mask)
        return SkeletonData(self.x[idx], self.labels[idx], self.subjects[idx], self.views[idx],
                            [self.names[i] for i in idx], self.source_layout,
                            {k: v[idx] for k, v in self.partitions.items()}, self.sources[idx])


@dataclass(frozen=True)
class Clip:
    """One labelled training or test clip as the readers give it (NTU-25, metres), at 30 frames a second."""

    joints: np.ndarray  # (T, M, 25, 3)
    label: int
    subject: int
    view: int
    name: str
    layout: str
    part: str  # CTR-GCN .npz: "train" / "test" (its xsub halves); "" elsewhere
    video: str  # PKU-MMD video id; "" elsewhere


def iter_clips(dataset: str, data_root: str | os.PathLike | None, min_frames: int = 2):
    """Every labelled clip of a single dataset (not a combined one), unpreprocessed; MSRC-12 streams are
    cut around their tags and mocap brought to 30 fps (:mod:`trainer.data.clips`)."""
    if dataset not in FILE_GROUP:
        known = ", ".join([*FILE_GROUP, "or a combined dataset's split name (zsar_default)"])
        raise ZsarError(f"no reader set-up for dataset {dataset!r} (known: {known})")
    subject_key = SUBJECT_KEYS.get(dataset, "subject")
    for path in dataset_sources(dataset, data_root):
        for seq in open_skeleton_file(path):
            if seq.label_id is None or seq.num_frames < min_frames:
                continue
            if dataset in NUM_CLASSES:  # NTU-60 is the first 60 actions of the same release as NTU-120
                if seq.dataset not in ("ntu60", "ntu120") or seq.label_id >= NUM_CLASSES[dataset]:
                    continue
            elif seq.dataset != dataset:
                continue
            subject = seq.meta.get(subject_key, -1)
            subject = HDM05_ACTORS.index(subject) + 1 if subject in HDM05_ACTORS else int(subject)
            view = seq.meta.get("view", seq.meta.get("camera", -1))
            view = PKU_VIEWS[view] if view in PKU_VIEWS else int(view)
            part = str(seq.meta.get("split", "")) if seq.source_format == "ctrgcn_npz" else ""
            for name, joints in instances(dataset, seq):
                yield Clip(joints, seq.label_id, subject, view, name, seq.source_layout, part,
                           str(seq.meta.get("video", "")))


def load_skeletons(dataset: str, data_root: str | os.PathLike | None, config: PreprocessConfig,
                   min_frames: int = 2, harmonise_to: str | None = None) -> SkeletonData:
    """Every labelled sequence of ``dataset``, preprocessed with ``config``.

    Sequences shorter than ``min_frames`` (NW-UCLA has a few one-frame files) carry no motion and are
    left out, as are sequences without a label. ``harmonise_to``: a layout whose joint synthesis every
    sequence is brought to first (``engine.skeleton.layouts.harmonise``).
    """
    if dataset == "procedural":
        return _procedural(config)
    if combined_split(dataset) is not None:
        return _combined(dataset, data_root, config, min_frames)
    clips = list(iter_clips(dataset, data_root, min_frames))
    if not clips:
        raise ZsarError(f"no labelled sequences of {dataset} found under {data_root}")
    x = np.stack([preprocess(c.joints if harmonise_to is None else harmonise(c.joints, harmonise_to), config)
                  for c in clips])
    parts = [c.part for c in clips]
    partitions = {"cross_subject": np.asarray(parts)} if all(parts) else {}
    if dataset == "pku51":
        partitions = _pku_partitions(dataset_sources(dataset, data_root)[0], np.asarray([c.video for c in clips]))
    return SkeletonData(x, np.asarray([c.label for c in clips], np.int64),
                        np.asarray([c.subject for c in clips], np.int64),
                        np.asarray([c.view for c in clips], np.int64), [c.name for c in clips],
                        harmonise_to or sorted({c.layout for c in clips})[0], partitions)


def combined_class_names(dataset: str) -> tuple[str, ...]:
    """Class names of a combined dataset: each source's, in order (ids offset accordingly)."""
    return tuple(n for name in combined_split(dataset).parts for n in load_split(name).names())


def _combined(dataset: str, data_root, config: PreprocessConfig, min_frames: int) -> SkeletonData:
    combined = combined_split(dataset)
    layout = combined.harmonise_to
    parts, offset = [], 0
    for name in combined.parts:
        split = load_split(name)
        data = load_skeletons(split.dataset, data_root, config, min_frames, harmonise_to=layout)
        train, test = protocol_masks(data, split)
        cut = np.where(train, "train", np.where(test, "test", ""))
        parts.append((data, cut, offset))
        offset += split.num_classes
    return SkeletonData(
        np.concatenate([d.x for d, _, _ in parts]), np.concatenate([d.labels + o for d, _, o in parts]),
        np.concatenate([d.subjects for d, _, _ in parts]), np.concatenate([d.views for d, _, _ in parts]),
        [n for d, _, _ in parts for n in d.names], layout, {"per_source": np.concatenate([c for _, c, _ in parts])},
        np.concatenate([np.full(len(d.labels), k, np.int64) for k, (d, _, _) in enumerate(parts)]))


def balanced_weights(data: SkeletonData, mask: np.ndarray) -> np.ndarray:
    """Sampling weights of the samples in ``mask`` (they sum to 1): every source dataset drawn equally
    often, and inside one the classes by the square root of their counts (between uniform over clips and
    uniform over classes: a class with few clips is drawn more often per clip, not as often as a big one)."""
    idx = np.flatnonzero(mask)
    w = np.zeros(len(idx))
    sources, labels = data.sources[idx], data.labels[idx]
    for src in np.unique(sources):
        in_src = sources == src
        classes, counts = np.unique(labels[in_src], return_counts=True)
        share = np.sqrt(counts) / np.sqrt(counts).sum()  # each class's share of its dataset
        for c, k, sh in zip(classes, counts, share):
            w[in_src & (labels == c)] = sh / k
    return w / w.sum()


def _pku_partitions(skeleton_file, videos: np.ndarray) -> dict[str, np.ndarray]:
    """Each protocol whose release split file lies near the skeleton files, as per-sample train/test."""
    out = {}
    for kind in SPLIT_FILES:
        path = find_split_file(skeleton_file, kind)
        if path is not None:
            lists = read_split_file(path)
            out[kind] = np.where(np.isin(videos, list(lists["train"])), "train",
                                 np.where(np.isin(videos, list(lists["test"])), "test", ""))
    return out


def protocol_masks(data: SkeletonData, split: Split) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the training and test samples under the split's protocol."""
    p = split.protocol or DEFAULT_PROTOCOLS.get(split.dataset, {})
    kind = p.get("kind")
    if kind in data.partitions:  # the data's own definition wins (CTR-GCN's CS/CSub files are xsub)
        return data.partitions[kind] == "train", data.partitions[kind] == "test"
    if kind in SPLIT_FILES and split.dataset == "pku51":
        raise ZsarError(f"PKU-MMD's {kind.replace('_', '-')} protocol is the release's Split/{SPLIT_FILES[kind]} "
                        "(its lists of training and validation videos); put it in PKU-MMD/Split/ of the data root")
    if kind == "cross_subject":
        train = np.isin(data.subjects, p["train_subjects"])
        test = ~train if p["test_subjects"] == "others" else np.isin(data.subjects, p["test_subjects"])
        return train, test
    if kind == "cross_view":
        return np.isin(data.views, p["train_views"]), np.isin(data.views, p["test_views"])
    raise ZsarError(f"split {split.name} has no usable protocol (kind {kind!r})")


def _procedural(config: PreprocessConfig, per_action: int = 6, seed: int = 0) -> SkeletonData:
    """Procedural clips (synthetic, never real data): subjects are the made-up performers."""
    from engine import synth

    clips = synth.generate_dataset(per_action=per_action, seed=seed)
    return SkeletonData(np.stack([preprocess(c.joints, config) for c in clips]),
                        np.asarray([c.label_id for c in clips], np.int64),
                        np.asarray([c.meta["subject_index"] for c in clips], np.int64),
                        np.full(len(clips), -1, np.int64), [c.name for c in clips], "ntu25")
