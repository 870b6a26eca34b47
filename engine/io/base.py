"""What every reader shares: the format registry entry, collections, and checked parsing.

A file holds one sequence (an NTU ``.skeleton``, a UTD-MHAD ``.mat``) or many (a CTR-GCN ``.npz``,
an AimCLR ``.npy``, a PKU-MMD video cut into instances, the Bandai-Namco ``.npz``). Every reader
returns a :class:`SkeletonCollection`, a read-only sequence of :class:`SkeletonSequence`; large
containers load their items lazily so that ``zsar inspect`` on a 7 GB ``.npz`` stays cheap.
"""

from __future__ import annotations

import io
import lzma
import math
import os
import struct
import tokenize
import warnings
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np

from engine.errors import SkeletonFileError
from engine.registry import Registry
from engine.types import NUM_JOINTS, SkeletonSequence


class SkeletonCollection(Sequence[SkeletonSequence]):
    """The sequences one file holds.

    Args:
        path: the file.
        format: registry name of the reader.
        length: number of sequences.
        load: ``index -> SkeletonSequence``; called lazily, once per access.
        info: cheap facts about the whole file for ``zsar inspect`` (e.g. ``{"frames": 300}`` for a
            padded container), merged over the per-sequence facts.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        format: str,
        length: int,
        load: Callable[[int], SkeletonSequence],
        info: dict[str, Any] | None = None,
    ) -> None:
        self.path = str(path)
        self.format = format
        self._length = length
        self._load = load
        self.info = dict(info or {})

    @classmethod
    def of(cls, path: str | os.PathLike, format: str, items: list[SkeletonSequence], **info: Any):
        """A collection over sequences already in memory."""
        return cls(path, format, len(items), items.__getitem__, info)

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> SkeletonSequence: ...
    @overload
    def __getitem__(self, index: slice) -> list[SkeletonSequence]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._length))]
        if not -self._length <= index < self._length:
            raise IndexError(f"{self.path}: sequence {index} out of range (file holds {self._length})")
        return self._load(index % self._length)


@dataclass(frozen=True)
class SkeletonFormat:
    """A registered file format.

    Attributes:
        name: registry key (``"ntu_skeleton"``).
        description: one line for users (``"NTU RGB+D 60/120 .skeleton"``).
        suffixes: file name endings it claims, lower case (``(".skeleton",)``).
        open: ``(path, **options) -> SkeletonCollection``; raises :class:`SkeletonFileError`.
        sniff: optional cheap content check ``path -> bool`` to choose between formats sharing a
            suffix (``.txt``, ``.npz``, ``.npy``).
    """

    name: str
    description: str
    suffixes: tuple[str, ...]
    open: Callable[..., SkeletonCollection]
    sniff: Callable[[Path], bool] | None = field(default=None)


FORMATS: Registry[SkeletonFormat] = Registry("skeleton file format")


def register_format(fmt: SkeletonFormat) -> SkeletonFormat:
    FORMATS.register(fmt.name)(fmt)
    return fmt


# --- checked parsing helpers shared by the readers ------------------------------------------------


def require_file(path: Path) -> None:
    if not path.exists():
        raise SkeletonFileError(path, "no such file")
    if path.is_dir():
        raise SkeletonFileError(path, "is a folder, not a skeleton file")
    if path.stat().st_size == 0:
        raise SkeletonFileError(path, "file is empty")


def text_lines(path: str | os.PathLike, text: str) -> list[str]:
    """The lines of a text file without its trailing blank lines; an error if nothing else is left.

    Trailing blank lines are harmless; dropping them first makes a truncated file read as "ends
    early" instead of "found 0 numbers" on the last, empty, line.
    """
    lines = text.split("\n")
    n = len(lines)
    while n and not lines[n - 1].strip():
        n -= 1
    del lines[n:]
    if not lines:
        raise SkeletonFileError(path, "file holds only blank lines")
    return lines


def check_finite(path: str | os.PathLike, values: np.ndarray, where: str = "") -> None:
    """Raise if any value is NaN or infinite, naming the first bad position."""
    bad = ~np.isfinite(values)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise SkeletonFileError(path, f"value {values[pos]} at index {pos} is not finite", where)


def check_frames(path: str | os.PathLike, num_frames: int, where: str = "") -> None:
    if num_frames < 1:
        raise SkeletonFileError(path, "holds zero frames", where)


def check_shape(path: str | os.PathLike, values: np.ndarray, expected: tuple, where: str = "") -> None:
    """``expected`` may use ``None`` for any length."""
    ok = values.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, values.shape))
    if not ok:
        want = "(" + ", ".join("any" if e is None else str(e) for e in expected) + ")"
        raise SkeletonFileError(path, f"array has shape {values.shape}, expected {want}", where)


# --- plausible values ------------------------------------------------------------------------------

# No skeleton position is this far from the sensor in metres (Kinect v2 sees to about 8 m, a mocap
# hall is a few metres across); a larger coordinate means a corrupt number (a lost decimal point, a
# stray exponent) or another unit, and above 3.4e38 it would not even fit the float32 arrays. Every
# reader checks its positions in metres against it.
MAX_ABS_METRES = 100.0


def check_position_range(path: str | os.PathLike, x: np.ndarray, where: str = "") -> None:
    """A coordinate beyond :data:`MAX_ABS_METRES` is a damaged value (or not metres).

    NaN passes (``check_finite`` names it); call this on positions in metres.
    """
    with np.errstate(invalid="ignore"):
        big = float(np.abs(x).max(initial=0.0))
    if big > MAX_ABS_METRES:
        raise SkeletonFileError(
            path, f"a coordinate is {big:g}: not a position in metres (|value| > {MAX_ABS_METRES:g})", where
        )


# --- bounded memory --------------------------------------------------------------------------------

# A sequence's joints are float32 (T, M, 25, 3): this caps T x M at about 900,000 frame-bodies, over
# eight hours of one body at 30 fps, far beyond any real clip. Text formats whose counts make the
# arrays (an NTU frame count, the body slots of a recording) are held to it before allocating, so a
# few bytes cannot ask for gigabytes.
MAX_SEQUENCE_BYTES = 256 * 2**20


def check_sequence_size(path: str | os.PathLike, frames: int, bodies: int, where: str = "") -> None:
    """Refuse joints of ``frames x bodies`` beyond :data:`MAX_SEQUENCE_BYTES`, before allocating them."""
    need = frames * bodies * NUM_JOINTS * 3 * np.dtype(np.float32).itemsize
    if need > MAX_SEQUENCE_BYTES:
        raise SkeletonFileError(
            path,
            f"{frames:,} frames x {bodies:,} bodies would need {need / 2**20:,.0f} MiB of joints, more "
            f"than the {MAX_SEQUENCE_BYTES / 2**20:,.0f} MiB a sequence may take (a damaged count?)",
            where,
        )


# Inflating is bounded before it starts: a compressed member (zip/npz, MAT-file) may expand to at
# most max(INFLATE_FLOOR_BYTES, INFLATE_RATIO x its compressed size). Real data stay far below: the
# largest member we know, Bandai-Namco dataset 2's positions, is 51 MB inflated from 27 MB (1.9x),
# MSRC-12's members inflate at most 4.3x, arrays of names up to 220x but to well under 1 MB, and the
# 7 GB CTR-GCN arrays are stored, not compressed, and memory-mapped instead of inflated. A hostile
# member inflates ~1000x (deflate) or far more (bzip2), so a file of a few MB would otherwise become
# gigabytes in memory; with this bound a file under 10 MB inflates to at most 80 MB per member.
INFLATE_FLOOR_BYTES = 64 * 2**20
INFLATE_RATIO = 8


def inflate_limit(compressed_bytes: int) -> int:
    """The most bytes a member of ``compressed_bytes`` may inflate to."""
    return max(INFLATE_FLOOR_BYTES, INFLATE_RATIO * max(compressed_bytes, 0))


# --- .npy headers ----------------------------------------------------------------------------------

# What numpy's .npy header parser, zipfile and the decompressors raise on damaged bytes. numpy
# evaluates the header as a Python literal, so a damaged one fails the way Python source does
# (SyntaxError, tokenize.TokenError, RecursionError or MemoryError for deep nesting); its dtype
# description fails with TypeError, KeyError, OverflowError or ValueError; zip members with
# BadZipFile (bad CRC), zlib.error, lzma.LZMAError, OSError (bzip2), EOFError (cut short),
# RuntimeError (an encrypted member; NotImplementedError for an unknown compression is one too) and
# struct.error (short zip headers).
DAMAGED_DATA_ERRORS: tuple[type[BaseException], ...] = (
    ValueError, SyntaxError, tokenize.TokenError, OverflowError, KeyError, IndexError, TypeError,
    MemoryError, RuntimeError, EOFError, OSError, zipfile.BadZipFile, zlib.error, lzma.LZMAError,
    struct.error,
)  # fmt: skip

NPY_MAGIC = b"\x93NUMPY"
# numpy refuses longer headers unless told otherwise (max_header_size); real ones are ~128 bytes.
_MAX_NPY_HEADER = 10_000


@dataclass(frozen=True)
class NpyHeader:
    """What a ``.npy`` header declares.

    Attributes:
        shape: the array's shape (non-negative ints).
        fortran: Fortran (column-major) order.
        dtype: element type.
        length: bytes from the start of the ``.npy`` to its data.
    """

    shape: tuple[int, ...]
    fortran: bool
    dtype: np.dtype
    length: int

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of data the header promises (exact: Python integers cannot overflow)."""
        return self.count * self.dtype.itemsize


def read_npy_header(f: Any) -> NpyHeader:
    """The header of the ``.npy`` at ``f``'s position, reading the header bytes and nothing more.

    Raises:
        one of :data:`DAMAGED_DATA_ERRORS` (messages may span lines: SkeletonFileError joins them).
    """
    start = f.read(len(NPY_MAGIC) + 2)
    if len(start) < len(NPY_MAGIC) + 2 or start[: len(NPY_MAGIC)] != NPY_MAGIC:
        raise ValueError("no .npy magic string at its start")
    major, minor = start[-2], start[-1]
    if (major, minor) not in ((1, 0), (2, 0), (3, 0)):
        raise ValueError(f"unknown .npy format version {major}.{minor}")
    size_bytes = 2 if major == 1 else 4
    size_field = f.read(size_bytes)
    if len(size_field) < size_bytes:
        raise EOFError("the .npy header is cut short")
    size = int.from_bytes(size_field, "little")
    # checked before reading: a damaged length must not make us read (or allocate) gigabytes
    if size > _MAX_NPY_HEADER:
        raise ValueError(f"the .npy header claims {size:,} bytes (real ones take about 128)")
    text = f.read(size)
    if len(text) < size:
        raise EOFError("the .npy header is cut short")
    buffer = io.BytesIO(start + size_field + text)
    np.lib.format.read_magic(buffer)
    with warnings.catch_warnings():
        # headers needing numpy's Python-2 repair pass come with a UserWarning: a damaged file's
        # header is judged by what it declares, not warned about
        warnings.simplefilter("ignore")
        if major == 1:
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(buffer)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(buffer)
    if any(int(n) < 0 for n in shape):
        raise ValueError(f"the .npy header declares a negative length in shape {shape}")
    if dtype.itemsize == 0:
        # a zero-size element lets any count fit in no bytes at all
        raise ValueError(f"the .npy header declares elements of zero bytes ({dtype})")
    return NpyHeader(
        tuple(int(n) for n in shape), bool(fortran), dtype, len(NPY_MAGIC) + 2 + size_bytes + size
    )
