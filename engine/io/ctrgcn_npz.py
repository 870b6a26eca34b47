"""CTR-GCN / SGN NTU containers (``NTU60_CS.npz``, ``NTU60_CV.npz``, ``NTU120_CSub.npz``,
``NTU120_CSet.npz``), as written by ``Uason-Chen/CTR-GCN:data/ntu/seq_transformation.py``.

Format (docs/data_formats.md#item-2-ctr-gcn-and-sgn-containers): ``x_train (N, 300, 150) float32``, ``y_train (N,
C)`` one-hot,
``x_test``, ``y_test``. A frame's 150 numbers are actor 1's 25 joints ``x y z`` then actor 2's
(zeros for one-actor samples), already denoised by SGN's rules, translated so that actor 1's
spine-mid in its first frame is the origin, and zero-padded to 300 frames. C = 60 or 120 tells the
dataset.

The files are large (NTU-60 x-sub ``x_train`` alone is 7 GB) and written with ``np.savez``, i.e.
stored, not compressed, in the zip. We therefore memory-map each array straight from the zip
(compressed members fall back to one full load, once, bounded by
:func:`~engine.io.base.inflate_limit`), and ``len`` reads only the ``.npy`` headers.
Items are trimmed of their trailing all-zero padding frames; a second actor that is zeros throughout
is dropped (``M = 1``), as the NTU reader gives ``M = 1`` for one-actor files.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from engine.assets import class_names
from engine.errors import SkeletonFileError
from engine.io.base import (
    DAMAGED_DATA_ERRORS,
    SkeletonCollection,
    SkeletonFormat,
    check_position_range,
    register_format,
    require_file,
)
from engine.io.npz_members import load_npy_member, npy_member_header
from engine.types import NUM_JOINTS, SkeletonSequence

FPS = 30.0
NUM_FIELDS = 2 * NUM_JOINTS * 3  # 150
_DATASET_BY_CLASSES = {60: "ntu60", 120: "ntu120"}
_SPLITS = ("train", "test")


def trim_padding(joints: np.ndarray) -> np.ndarray:
    """``(T, M, 25, 3)`` without trailing all-zero frames and trailing never-present bodies."""
    frame_present = np.any(joints != 0, axis=(1, 2, 3))
    t = int(np.flatnonzero(frame_present)[-1]) + 1 if frame_present.any() else 0
    body_present = np.any(joints[:t] != 0, axis=(0, 2, 3))
    m = int(np.flatnonzero(body_present)[-1]) + 1 if body_present.any() else 1
    return joints[:t, :m]


class _CTRGCNFile:
    """Lazy access to one ``.npz``: headers at open, each array on first use, at most once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.zf = zipfile.ZipFile(path)
            names = set(self.zf.namelist())
        except DAMAGED_DATA_ERRORS as exc:
            raise SkeletonFileError(path, f"is not a readable .npz (zip) file ({exc})") from None
        self.splits: list[tuple[str, int]] = []  # (split, N)
        self.num_classes: int | None = None
        for split in _SPLITS:
            x_name, y_name = f"x_{split}.npy", f"y_{split}.npy"
            if x_name not in names and y_name not in names:
                continue
            if x_name not in names or y_name not in names:
                have, missing = (
                    (f"x_{split}", f"y_{split}") if x_name in names else (f"y_{split}", f"x_{split}")
                )
                raise SkeletonFileError(path, f"has {have} but no {missing}", missing)
            x_header = npy_member_header(self.zf, x_name, path)
            y_header = npy_member_header(self.zf, y_name, path)
            x_shape, x_dtype = x_header.shape, x_header.dtype
            y_shape, y_dtype = y_header.shape, y_header.dtype
            if len(x_shape) != 3 or x_shape[2] != NUM_FIELDS:
                raise SkeletonFileError(
                    path, f"array has shape {x_shape}, expected (N, frames, {NUM_FIELDS})", f"x_{split}"
                )
            if x_dtype.kind not in "fiu":
                raise SkeletonFileError(path, f"array has dtype {x_dtype}, expected numbers", f"x_{split}")
            if len(y_shape) != 2 or y_shape[0] != x_shape[0] or y_dtype.kind not in "fiub":
                raise SkeletonFileError(
                    path,
                    f"array has shape {y_shape}, expected one-hot labels ({x_shape[0]}, classes)",
                    f"y_{split}",
                )
            if self.num_classes is not None and y_shape[1] != self.num_classes:
                raise SkeletonFileError(
                    path, f"has {y_shape[1]} classes, y_train has {self.num_classes}", f"y_{split}"
                )
            self.num_classes = y_shape[1]
            self.splits.append((split, x_shape[0]))
        if not self.splits:
            raise SkeletonFileError(path, "holds neither x_train/y_train nor x_test/y_test")
        self._arrays: dict[str, np.ndarray] = {}
        self.dataset = _DATASET_BY_CLASSES.get(self.num_classes)

    def __len__(self) -> int:
        return sum(n for _, n in self.splits)

    def array(self, key: str) -> np.ndarray:
        if key not in self._arrays:
            self._arrays[key] = load_npy_member(self.zf, f"{key}.npy", self.path)
        return self._arrays[key]

    def item(self, index: int) -> SkeletonSequence:
        for split, n in self.splits:  # noqa: B007 - the split found is used after the loop
            if index < n:
                break
            index -= n
        key = f"x_{split}[{index}]"
        # Checked in the stored dtype, before the cast: a float64 1e300 must not become a float32 inf.
        x = np.asarray(self.array(f"x_{split}")[index])
        if not np.isfinite(x).all():
            t, c = np.argwhere(~np.isfinite(x))[0]
            raise SkeletonFileError(
                self.path, f"value {x[t, c]} in frame {t + 1}, field {c + 1} is not finite", key
            )
        check_position_range(self.path, x, key)
        x = x.astype(np.float32)
        joints = trim_padding(x.reshape(x.shape[0], 2, NUM_JOINTS, 3))
        if joints.shape[0] == 0:
            raise SkeletonFileError(self.path, "sample holds no body in any frame (all zeros)", key)
        y = np.asarray(self.array(f"y_{split}")[index])
        if not np.isfinite(y).all() or (y != 0).sum() != 1 or y.max() <= 0:
            raise SkeletonFileError(self.path, "label row is not one-hot", f"y_{split}[{index}]")
        label_id = int(np.argmax(y))
        names = class_names(self.dataset) if self.dataset is not None else None
        return SkeletonSequence(
            joints=np.array(joints),  # a copy, not a view into the memory map
            fps=FPS,
            source_format="ctrgcn_npz",
            source_layout="ntu25",
            name=f"{self.path.stem}_{split}_{index:05d}",
            path=str(self.path),
            label=names[label_id] if names else None,
            label_id=label_id,
            dataset=self.dataset,
            meta={"split": split, "index": index, "padded_frames": int(x.shape[0])},
        )


def _open(path: Path) -> SkeletonCollection:
    require_file(path)
    f = _CTRGCNFile(path)
    info = {"splits": {s: n for s, n in f.splits}, "classes": f.num_classes, "dataset": f.dataset}
    return SkeletonCollection(path, "ctrgcn_npz", len(f), f.item, info)


def sniff_ctrgcn_npz(path: Path) -> bool:
    """True when the zip holds ``x_train.npy`` or ``x_test.npy`` (member names only, no arrays)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except DAMAGED_DATA_ERRORS:
        return False
    return "x_train.npy" in names or "x_test.npy" in names


register_format(
    SkeletonFormat(
        name="ctrgcn_npz",
        description="CTR-GCN / SGN NTU .npz (x_train, y_train, x_test, y_test)",
        suffixes=(".npz",),
        open=_open,
        sniff=sniff_ctrgcn_npz,
    )
)
