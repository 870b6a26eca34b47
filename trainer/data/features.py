"""Pre-extracted skeleton features in the SynSE feature-folder layout
(docs/data_formats.md#item-4-synse-feature-folders), read and written, so that released SynSE/SA-DVAE
features can stand in for ours and ours can be read by other code.

``<root>/<split folder>/``: ``train.npy (N, D)`` + ``train_label.npy`` (seen-class training samples),
``ztest.npy`` + ``z_label.npy`` (unseen test samples), ``gtest.npy`` + ``g_label.npy`` (all test
samples), ``gtest_out.npy (N, num_classes)`` (logits of the seen-class head, global class ids).
``<root>/<val folder>/``: ``train.npy`` + ``train_label.npy`` (val-seen classes), ``ztest.npy`` +
``z_label.npy`` (val-unseen samples), ``val.npy`` + ``val_label.npy`` (held-out val-seen samples),
``ztest_out.npy``, ``val_out.npy`` (head logits). Labels are global 0-based class ids.
Folder names: ``shift_5_r`` / ``shift_val_5_r`` in SynSE's release (the number is the unseen count);
SA-DVAE's: ``<encoder>_<dataset>[_splitK]_{,val_}{k}_r``. Both are found by :func:`find_feature_folders`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_bytes
from engine.errors import ZsarError

SPLIT_FILES = ("train", "train_label", "ztest", "z_label", "gtest", "g_label", "gtest_out")
VAL_FILES = ("train", "train_label", "ztest", "z_label", "val", "val_label", "ztest_out", "val_out")


class FeatureFolderError(ZsarError):
    pass


@dataclass(frozen=True)
class FeatureFold:
    """The arrays of one folder (split or validation fold), by their SynSE names."""

    folder: Path
    arrays: dict[str, np.ndarray]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]


def _load(folder: Path, names: tuple[str, ...]) -> FeatureFold:
    arrays = {}
    for name in names:
        path = folder / f"{name}.npy"
        if not path.exists():
            raise FeatureFolderError(f"{folder}: {name}.npy is missing (a SynSE feature folder holds "
                                     f"{', '.join(n + '.npy' for n in names)})")
        try:
            a = np.load(path, allow_pickle=False)  # never unpickle a user's file
        except (ValueError, OSError, EOFError) as exc:
            raise FeatureFolderError(f"{path}: not a readable .npy array ({exc})") from None
        if name.endswith("label"):
            if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer) and not np.all(np.mod(a, 1) == 0):
                raise FeatureFolderError(f"{path}: labels must be a 1-d array of class ids, got {a.shape} {a.dtype}")
            a = a.astype(np.int64)
        else:
            if a.ndim != 2:
                raise FeatureFolderError(f"{path}: expected a 2-d (samples, dims) array, got shape {a.shape}")
            a = a.astype(np.float32, copy=False)
            if not np.isfinite(a).all():
                raise FeatureFolderError(f"{path}: holds NaN or infinite values")
        arrays[name] = a
    pairs = [("train", "train_label"), ("ztest", "z_label"), ("gtest", "g_label"), ("val", "val_label"),
             ("gtest", "gtest_out"), ("ztest", "ztest_out"), ("val", "val_out")]
    for a, b in pairs:
        if a in arrays and b in arrays and len(arrays[a]) != len(arrays[b]):
            raise FeatureFolderError(f"{folder}: {a}.npy has {len(arrays[a])} rows but {b}.npy {len(arrays[b])}")
    dims = {arrays[n].shape[1] for n in ("train", "ztest", "gtest", "val") if n in arrays}
    if len(dims) > 1:
        raise FeatureFolderError(f"{folder}: feature arrays disagree on their dimension ({sorted(dims)})")
    return FeatureFold(folder, arrays)


def find_feature_folders(root: str | os.PathLike, num_unseen: int) -> tuple[Path, Path]:
    """The split folder and validation folder for ``num_unseen`` unseen classes under ``root``.

    ``root`` may itself be the split folder (its validation sibling is then looked up beside it).
    """
    root = Path(root)
    if not root.is_dir():
        raise FeatureFolderError(f"{root}: no such feature folder")
    if (root / "gtest.npy").exists():
        val = root.parent / root.name.replace(f"_{num_unseen}_r", f"_val_{num_unseen}_r")
        return root, val
    splits = sorted(p for p in root.iterdir() if p.is_dir() and p.name.endswith(f"_{num_unseen}_r")
                    and "_val_" not in p.name)
    if not splits:
        raise FeatureFolderError(f"{root}: no *_{num_unseen}_r folder (SynSE layout, e.g. shift_{num_unseen}_r)")
    if len(splits) > 1:
        raise FeatureFolderError(f"{root}: several *_{num_unseen}_r folders ({', '.join(p.name for p in splits)}); "
                                 "pass one of them")
    split = splits[0]
    return split, split.parent / split.name.replace(f"_{num_unseen}_r", f"_val_{num_unseen}_r")


def check_feature_folders(root: str | os.PathLike, num_unseen: int, validation: bool) -> tuple[Path, Path]:
    """Find the folders and check every file is there, without loading: a run fails before it starts."""
    split, val = find_feature_folders(root, num_unseen)
    for folder, names in ((split, SPLIT_FILES), (val, VAL_FILES if validation else ())):
        missing = [n + ".npy" for n in names if not (folder / f"{n}.npy").exists()]
        if missing:
            raise FeatureFolderError(f"{folder}: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing "
                                     f"(a SynSE feature folder holds {', '.join(n + '.npy' for n in names)})")
    return split, val


def load_split_fold(folder: Path, names: tuple[str, ...] = SPLIT_FILES) -> FeatureFold:
    """The split folder's arrays (only ``names``: evaluation needs no training features)."""
    return _load(Path(folder), names)


def load_val_fold(folder: Path) -> FeatureFold:
    return _load(Path(folder), VAL_FILES)


def write_fold(folder: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays as ``<name>.npy`` files, each atomically (stage 2 of the pipeline)."""
    import io

    folder = Path(folder)
    for name, a in arrays.items():
        buf = io.BytesIO()
        np.save(buf, np.asarray(a), allow_pickle=False)
        atomic_write_bytes(folder / f"{name}.npy", buf.getvalue())
