"""Members of an ``.npz`` (a zip of ``.npy`` files) read safely: each member's header is checked against
the zip directory and the inflation limit before any data is read, and object arrays are refused, so a
small damaged or hostile file can neither run code nor inflate to gigabytes. Shared by the readers of
npz containers (CTR-GCN/SGN, Bandai-Namco, MSRC-12).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from engine.errors import SkeletonFileError
from engine.io.base import (
    DAMAGED_DATA_ERRORS,
    NpyHeader,
    inflate_limit,
    read_npy_header,
)


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
