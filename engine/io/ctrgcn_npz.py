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
    NpyHeader,
    SkeletonCollection,
    SkeletonFormat,
    check_position_range,
    inflate_limit,
    read_npy_header,
    register_format,
    require_file,
)
from engine.types import NUM_JOINTS, SkeletonSequence

FPS = 30.0
NUM_FIELDS = 2 * NUM_JOINTS * 3  # 150
_DATASET_BY_CLASSES = {60: "ntu60", 120: "ntu120"}
_SPLITS = ("train", "test")


def npy_member_header(zf: zipfile.ZipFile, name: str, path: Path) -> NpyHeader:
    """What a ``.npy`` member declares, from its header alone (a few bytes inflated).

    Also checked here, before anything is allocated: the member is stored or deflated, as numpy
    writes them; a deflated member inflates to no more than :func:`~engine.io.base.inflate_limit`
    of its compressed size; and the header's shape and dtype account for the member's size in the
    zip directory exactly (zipfile never inflates past that size). Reading the member later
    therefore cannot take more memory than that.
    """
    key = name[: -len(".npy")]
    info = zf.getinfo(name)
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        # zipfile inflates bzip2 and lzma members in one call whatever is asked of it: even the
        # header's first bytes would inflate a whole bomb
        raise SkeletonFileError(
            path,
            f"member {name} is compressed with method {info.compress_type}; .npz members are stored or "
            "deflated (np.savez, np.savez_compressed)",
            key,
        )
    if info.compress_type == zipfile.ZIP_DEFLATED:
        # compress_size comes from the directory as well: a lying one counts for no more than the file
        compressed = min(info.compress_size, path.stat().st_size)
        limit = inflate_limit(compressed)
        if info.file_size > limit:
            raise SkeletonFileError(
                path,
                f"{name} would inflate from {compressed:,} to {info.file_size:,} bytes, more than the "
                f"{limit:,} a compressed member may take (a damaged or hostile archive? large arrays "
                "can be stored uncompressed, as np.savez does, and are then memory-mapped)",
                key,
            )
    try:
        with zf.open(info) as f:
            header = read_npy_header(f)
    except DAMAGED_DATA_ERRORS as exc:
        raise SkeletonFileError(
            path, f"the header of {name} cannot be read ({type(exc).__name__}: {exc})", key
        ) from None
    # (object arrays hold a pickle of any size; they are refused by whoever reads them, unread)
    if info.file_size != header.length + header.nbytes and not header.dtype.hasobject:
        raise SkeletonFileError(
            path,
            f"member {name} holds {info.file_size:,} bytes, its header needs "
            f"{header.length + header.nbytes:,} for {header.shape} {header.dtype}",
            key,
        )
    return header


def refuse_objects(path: Path, header: NpyHeader, key: str) -> None:
    """Object arrays are pickles: never loaded from a user's file."""
    if header.dtype.hasobject:
        raise SkeletonFileError(
            path,
            f"holds Python objects ({header.dtype}), which are refused: reading them needs "
            "allow_pickle, and unpickling can run code",
            key,
        )


def load_npy_member(zf: zipfile.ZipFile, name: str, path: Path) -> np.ndarray:
    """A ``.npy`` member as an array: memory-mapped when stored uncompressed, else read once (within
    the bounds :func:`npy_member_header` checks)."""
    header = npy_member_header(zf, name, path)
    shape, dtype = header.shape, header.dtype
    key = name[: -len(".npy")]
    refuse_objects(path, header, key)
    info = zf.getinfo(name)
    try:
        if info.compress_type == zipfile.ZIP_STORED and info.flag_bits & 0x1 == 0:
            with open(path, "rb") as raw:
                raw.seek(info.header_offset)
                local = raw.read(30)
            if len(local) != 30 or local[:4] != b"PK\x03\x04":
                raise SkeletonFileError(path, f"the zip entry of {name} is damaged", key)
            # Local header: 30 fixed bytes, then the file name and extra field, whose lengths may
            # differ from the central directory's copy.
            name_len = int.from_bytes(local[26:28], "little")
            extra_len = int.from_bytes(local[28:30], "little")
            offset = info.header_offset + 30 + name_len + extra_len + header.length
            if offset + header.nbytes > path.stat().st_size:
                raise SkeletonFileError(path, f"file is truncated inside {name}", key)
            if header.nbytes == 0:
                return np.zeros(shape, dtype=dtype)
            order = "F" if header.fortran else "C"
            return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)
        with zf.open(name) as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except DAMAGED_DATA_ERRORS as exc:
        reason = f"cannot read the array {name} ({type(exc).__name__}: {exc})"
        raise SkeletonFileError(path, reason, key) from None


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
