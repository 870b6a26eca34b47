"""UTD-MHAD skeleton reader: one MATLAB ``.mat`` per sequence.

Follows the dataset's own description (Chen, Jafari, Kehtarnavaz, ICIP 2015; ``utd_mhad/README.txt``
and ``Skeleton_joint_order.txt`` of the release): a MATLAB v5 file whose variable ``d_skel`` is a
``(20 joints, 3 coords, T frames)`` array of Kinect v1 camera-space positions in metres, joints in
UTD-MHAD's own order (head first; :data:`engine.skeleton.layouts.UTD_MHAD_ORDER`). Kinect v1 camera
space has the NTU axes (x towards the subject's right when facing the sensor, y up, z depth), so the
mapping to NTU-25 is a joint reordering plus the synthesised neck, hand tips and thumbs.
"""

from __future__ import annotations

import math
import os
import struct
import warnings
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
import scipy.io

from engine.errors import SkeletonFileError
from engine.io.base import (
    SkeletonCollection,
    SkeletonFormat,
    check_finite,
    check_position_range,
    inflate_limit,
    register_format,
    require_file,
)
from engine.io.names import label_fields, label_from_name
from engine.skeleton.layouts import to_ntu25
from engine.types import SkeletonSequence

FORMAT = "utd_mhad_mat"
LAYOUT = "kinect_v1_20_utd"
FIELD = "d_skel"
NUM_SOURCE_JOINTS = 20
FPS = 30.0  # Kinect v1; the authors' page says "approximately 30 frames per second"

_MAT_MAGIC = b"MATLAB"


# MAT v5 data element types of a top-level variable: a matrix, or a matrix deflated into one
# compressed element.
_MI_MATRIX, _MI_COMPRESSED = 14, 15
# MAT v4 data types by the P digit of a variable's type code: double, single, int32, int16, uint16,
# uint8 (the v4 header has no other size information).
_V4_ITEMSIZE = {0: 8, 1: 4, 2: 4, 3: 2, 4: 2, 5: 1}
# whosmat's class names of arrays that load as numbers (logical loads as uint8)
_NUMERIC_CLASSES = {
    "double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "logical",
}  # fmt: skip


def _inflated_size(f: BinaryIO, compressed: int, limit: int) -> int:
    """Bytes a zlib stream of ``compressed`` bytes at ``f``'s position inflates to, counted in
    chunks and given up past ``limit`` (nothing is kept); a damaged stream counts as what it gave."""
    inflater = zlib.decompressobj()
    total, left = 0, compressed
    try:
        while left > 0 and not inflater.eof:
            chunk = f.read(min(left, 1 << 16))
            if not chunk:
                break
            left -= len(chunk)
            while chunk and not inflater.eof:
                total += len(inflater.decompress(chunk, 1 << 20))
                if total > limit:
                    return total
                chunk = inflater.unconsumed_tail
    except zlib.error:
        pass  # scipy meets the same damage and reports it
    return total


def _check_declared_sizes(path: Path) -> None:
    """Refuse a file whose variables claim more bytes than it holds, or inflate beyond
    :func:`~engine.io.base.inflate_limit`, before scipy reads it: scipy allocates what a variable
    declares and inflates a compressed variable whole, so a damaged or hostile file of a few kB could
    otherwise take gigabytes and minutes."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(128)
        if len(head) < 4:
            return  # scipy says "truncated"
        if 0 in head[:4]:
            _check_v4_sizes(path, f, size)
            return
        if (
            len(head) < 128
            or head[126:128] not in (b"IM", b"MI")
            or head[124:126] not in (b"\x00\x01", b"\x01\x00")
        ):
            return  # not v5 (v7.3 is HDF5): scipy refuses it with its own words
        order = "<" if head[126:128] == b"IM" else ">"
        # one budget for the whole file: counting each variable against its own would let many
        # small ones add up to gigabytes of inflating
        limit = inflate_limit(size)
        inflated, offset = 0, 128
        while offset + 8 <= size:
            f.seek(offset)
            mdtype, count = struct.unpack(order + "II", f.read(8))
            end = offset + 8 + count
            if end > size:
                raise SkeletonFileError(
                    path,
                    f"a variable at byte {offset} claims {count:,} bytes, the file holds "
                    f"{size - offset - 8:,} after it (truncated or damaged)",
                )
            if mdtype == _MI_COMPRESSED:
                inflated += _inflated_size(f, count, limit - inflated)
                if inflated > limit:
                    raise SkeletonFileError(
                        path,
                        f"its compressed variables inflate from {size:,} to over {limit:,} bytes (a damaged "
                        "or hostile file; UTD-MHAD files are ~20 kB)",
                    )
            if count == 0:
                return  # scipy refuses an empty element
            offset = end


def _check_v4_sizes(path: Path, f: BinaryIO, size: int) -> None:
    """The MAT v4 variant of :func:`_check_declared_sizes`: each variable's rows x columns x element
    size must fit in what follows its header."""
    offset = 0
    while offset + 20 <= size:
        f.seek(offset)
        raw = f.read(20)
        order = "<" if 0 <= struct.unpack("<i", raw[:4])[0] < 5000 else ">"  # as scipy guesses it
        mopt, rows, cols, imag, name_len = struct.unpack(order + "iiiii", raw)
        if not 0 <= mopt < 5000 or min(rows, cols, name_len) < 0:
            return  # scipy refuses the header itself
        need = rows * cols * _V4_ITEMSIZE.get(mopt // 10 % 10, 8) * (2 if imag == 1 else 1)
        data_at = offset + 20 + name_len
        if data_at + need > size:
            raise SkeletonFileError(
                path,
                f"a MATLAB v4 variable at byte {offset} declares {rows:,} x {cols:,} values, more than the "
                f"{max(size - data_at, 0):,} bytes after it hold (truncated or damaged)",
            )
        offset = data_at + need


def _load_d_skel(path: Path) -> np.ndarray:
    """The raw ``d_skel`` array of ``path``; every failure becomes a :class:`SkeletonFileError`."""
    _check_declared_sizes(path)
    try:
        with warnings.catch_warnings():
            # scipy warns of duplicate or unreadable variables and goes on; what it loads is checked
            warnings.simplefilter("ignore")
            variables = scipy.io.whosmat(path)
            declared = [(shape, kind) for name, shape, kind in variables if name == FIELD]
            if declared:
                shape, kind = declared[-1]
                if kind not in _NUMERIC_CLASSES:
                    raise SkeletonFileError(path, f"is not a numeric array (holds {kind})", FIELD)
                # 16 bytes: complex double, the largest element; the data must fit in the file
                # (or, deflated, in its bounded inflation)
                limit = inflate_limit(path.stat().st_size)
                if math.prod(shape) * 16 > limit:
                    raise SkeletonFileError(
                        path,
                        f"declares a {' x '.join(map(str, shape))} array, more than the file can hold",
                        FIELD,
                    )
            contents = scipy.io.loadmat(path, variable_names=[FIELD])
    except SkeletonFileError:
        raise
    except Exception as exc:
        # scipy's MAT parser reports damaged files with whatever its decoder hits first (MatReadError,
        # ValueError, zlib.error, TypeError, OverflowError, NotImplementedError for v7.3/HDF5 ...),
        # none of which tells a user more than "this is not a readable MATLAB file".
        raise SkeletonFileError(
            path, f"not a readable MATLAB v5 .mat file ({type(exc).__name__}: {exc})"
        ) from exc
    if FIELD not in contents:
        names = sorted(name for name, _, _ in variables)
        found = (", ".join(names[:20]) + (", ..." if len(names) > 20 else "")) if names else "none"
        raise SkeletonFileError(path, f"no variable '{FIELD}' (variables found: {found})", FIELD)
    return contents[FIELD]


def _check_d_skel(path: Path, d_skel: object) -> np.ndarray:
    """``d_skel`` as float64 ``(T, 20, 3)``, or a :class:`SkeletonFileError` saying what is wrong."""
    if not isinstance(d_skel, np.ndarray) or d_skel.dtype.kind not in "iuf":
        kind = getattr(d_skel, "dtype", type(d_skel).__name__)
        raise SkeletonFileError(path, f"is not a numeric array (holds {kind})", FIELD)
    x = d_skel
    # MATLAB drops trailing singleton dimensions, so a one-frame recording is stored as 20 x 3.
    if x.ndim == 2 and x.shape == (NUM_SOURCE_JOINTS, 3):
        x = x[:, :, None]
    if x.ndim != 3:
        raise SkeletonFileError(
            path, f"array has shape {x.shape}, expected (20 joints, 3 coords, frames)", FIELD
        )
    if x.shape[0] != NUM_SOURCE_JOINTS:
        raise SkeletonFileError(
            path, f"holds {x.shape[0]} joints, expected {NUM_SOURCE_JOINTS} (Kinect v1)", FIELD
        )
    if x.shape[1] != 3:
        raise SkeletonFileError(
            path, f"holds {x.shape[1]} coordinates per joint, expected 3 (x, y, z)", FIELD
        )
    if x.shape[2] == 0:
        raise SkeletonFileError(path, "holds zero frames", FIELD)
    frames = x.transpose(2, 0, 1).astype(np.float64, copy=False)
    check_finite(path, frames, f"{FIELD} (index is frame, joint, coord)")
    return frames


def read_utd_mhad(path: str | os.PathLike) -> SkeletonSequence:
    """One UTD-MHAD ``.mat`` file as an NTU-25 sequence.

    Args:
        path: ``aA_sS_tT_skeleton.mat`` (any name works; the label comes from a name that follows
            the dataset's scheme).
    Returns:
        ``joints (T, 1, 25, 3)`` in metres, NTU axes; label, subject and trial from the file name.
    Raises:
        SkeletonFileError: not a MATLAB file, no ``d_skel``, wrong shape, NaN/inf, zero frames.
    """
    p = Path(path)
    require_file(p)
    frames = _check_d_skel(p, _load_d_skel(p))
    # Finite float64 values beyond ~3.4e38 overflow to inf in float32: caught here, not warned about.
    with np.errstate(over="ignore", invalid="ignore"):
        joints = to_ntu25(frames, LAYOUT)[:, None]
    check_finite(p, joints, f"{FIELD} (beyond float32 range)")
    check_position_range(p, joints, FIELD)
    named = label_from_name(p.name)
    return SkeletonSequence(
        joints=joints,
        fps=FPS,
        source_format=FORMAT,
        source_layout=LAYOUT,
        name=p.stem,
        path=str(p),
        **label_fields(named),
        meta=dict(named.meta) if named else {},
    )


def open_utd_mhad(path: str | os.PathLike) -> SkeletonCollection:
    """:func:`read_utd_mhad` as a one-item collection (the registry's ``open``)."""
    sequence = read_utd_mhad(path)
    return SkeletonCollection.of(path, FORMAT, [sequence], frames=sequence.num_frames)


def sniff_utd_mhad(path: Path) -> bool:
    """MATLAB files start with a text header ``MATLAB 5.0 MAT-file`` (v7.3 files too)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(_MAT_MAGIC)) == _MAT_MAGIC
    except OSError:
        return False


register_format(
    SkeletonFormat(
        name=FORMAT,
        description="UTD-MHAD Kinect v1 skeleton .mat (d_skel)",
        suffixes=(".mat",),
        open=open_utd_mhad,
        sniff=sniff_utd_mhad,
    )
)
