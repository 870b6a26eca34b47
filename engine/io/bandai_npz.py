"""Bandai-Namco Research Motion dataset reader: the joint-position ``.npz`` made from its BVH files.

Follows ``bandai_namco_motion/README.txt``: every BVH take of Bandai-Namco-Research-Motiondataset 1
and 2 (Kobayashi et al., arXiv:2306.08861) put through forward kinematics and stored as one
``.npz`` per dataset (CC BY-NC 4.0, an adaptation of the BVH data):

* ``positions_mm`` int16 ``(total_frames, 22, 3)``: all takes concatenated, millimetres, mocap world
  frame with y up; sequence ``i`` is ``positions_mm[seq_start[i] : seq_start[i] + seq_len[i]]``;
* ``joint_names``, ``parents``: the 22-joint BVH hierarchy (layout ``bandai_22``);
* per sequence: ``name`` (``dataset-2_wave-left-hand_normal_001``), ``content``, ``style``,
  ``take``, ``content_id``, ``style_id``, ``skeleton_id``; and ``fps`` (30).

The file holds thousands of takes, so the collection reads the small arrays when opened and the
positions (tens of MB) once, on the first item asked for. Nothing needs ``allow_pickle``: the string
arrays are plain unicode arrays.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import SkeletonFileError
from engine.io.base import SkeletonCollection, SkeletonFormat, check_finite, register_format, require_file
from engine.io.names import label_fields, label_from_name
from engine.skeleton.layouts import BANDAI22_JOINTS, BANDAI22_PARENTS, to_ntu25
from engine.types import SkeletonSequence

FORMAT = "bandai_npz"
LAYOUT = "bandai_22"
POSITIONS = "positions_mm"
MM_PER_M = 1000.0
_REQUIRED = ("seq_start", "seq_len", "joint_names", "name", "fps")
_PER_SEQUENCE_META = ("style", "take", "skeleton_id", "content")


def _read_array(path: Path, npz: np.lib.npyio.NpzFile, key: str) -> np.ndarray:
    try:
        return npz[key]
    except Exception as exc:
        # A damaged member fails inside zipfile/zlib/numpy with BadZipFile (bad CRC), zlib.error,
        # EOFError or ValueError (bad .npy header, object array needing pickle): all mean "unreadable".
        raise SkeletonFileError(path, f"cannot read the array ({type(exc).__name__}: {exc})", key) from exc


def _positions_header(path: Path, npz: np.lib.npyio.NpzFile) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of ``positions_mm`` from its ``.npy`` header, without decompressing the data;
    also checks that the data the header promises is all there."""
    member = f"{POSITIONS}.npy"
    try:
        info = npz.zip.getinfo(member)
        with npz.zip.open(member) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            header_bytes = f.tell()
    except Exception as exc:  # same family of failures as _read_array
        raise SkeletonFileError(
            path, f"cannot read the array header ({type(exc).__name__}: {exc})", POSITIONS
        ) from exc
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if info.file_size - header_bytes != expected:
        raise SkeletonFileError(
            path,
            f"holds {info.file_size - header_bytes} bytes of data, its header promises "
            f"{expected} for {shape} {dtype}",
            POSITIONS,
        )
    return tuple(int(s) for s in shape), dtype


def _open_npz(path: Path) -> np.lib.npyio.NpzFile:
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # truncated zip directory, not a zip at all ...
        raise SkeletonFileError(path, f"not a readable .npz archive ({type(exc).__name__}: {exc})") from exc


def _vector(path: Path, values: np.ndarray, key: str, kinds: str, length: int | None) -> np.ndarray:
    """Check a per-sequence array: 1-D, of a dtype kind in ``kinds``, ``length`` long."""
    if values.ndim != 1 or values.dtype.kind not in kinds:
        raise SkeletonFileError(
            path,
            f"is {values.dtype} {values.shape}, expected a 1-D array of "
            f"{'integers' if kinds == 'iu' else 'strings'}",
            key,
        )
    if length is not None and len(values) != length:
        raise SkeletonFileError(path, f"has {len(values)} entries for {length} sequences", key)
    return values


class _BandaiFile:
    """The checked small arrays of one file, and its positions loaded once on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        npz = _open_npz(path)
        try:
            self._read_header(npz)
        finally:
            npz.close()
        self._positions: np.ndarray | None = None

    def _read_header(self, npz: np.lib.npyio.NpzFile) -> None:
        path = self.path
        missing = [k for k in (POSITIONS, *_REQUIRED) if k not in npz.files]
        if missing:
            raise SkeletonFileError(
                path, f"missing arrays {missing} (arrays found: {', '.join(npz.files) or 'none'})"
            )
        self.shape, self.dtype = _positions_header(path, npz)
        if len(self.shape) != 3 or self.shape[1:] != (len(BANDAI22_JOINTS), 3):
            raise SkeletonFileError(
                path, f"array has shape {self.shape}, expected (frames, 22, 3)", POSITIONS
            )
        if self.dtype.kind not in "iuf":
            raise SkeletonFileError(path, f"holds {self.dtype}, expected numbers", POSITIONS)

        joint_names = _vector(path, _read_array(path, npz, "joint_names"), "joint_names", "U", None)
        if tuple(joint_names.tolist()) != BANDAI22_JOINTS:
            raise SkeletonFileError(
                path,
                f"joints {joint_names.tolist()} are not the Bandai-Namco 22-joint layout "
                f"{list(BANDAI22_JOINTS)}",
                "joint_names",
            )
        if "parents" in npz.files:
            parents = _vector(path, _read_array(path, npz, "parents"), "parents", "iu", None)
            if tuple(parents.tolist()) != BANDAI22_PARENTS:
                raise SkeletonFileError(
                    path, f"hierarchy {parents.tolist()} is not the Bandai-Namco one", "parents"
                )

        # int64 throughout: numpy would mix int64 and uint64 into float64
        starts = _vector(path, _read_array(path, npz, "seq_start"), "seq_start", "iu", None).astype(np.int64)
        n = len(starts)
        if n == 0:
            raise SkeletonFileError(path, "holds zero sequences", "seq_start")
        lengths = _vector(path, _read_array(path, npz, "seq_len"), "seq_len", "iu", n).astype(np.int64)
        if (lengths < 1).any():
            i = int(np.argmax(lengths < 1))
            raise SkeletonFileError(path, f"sequence {i} holds zero frames (seq_len {lengths[i]})", "seq_len")
        total = self.shape[0]
        outside = (starts < 0) | (starts > total - lengths)
        if outside.any():
            i = int(np.argmax(outside))
            raise SkeletonFileError(
                path,
                f"sequence {i} (frames {starts[i]}..{starts[i] + lengths[i] - 1}) lies "
                f"outside the {total} frames of {POSITIONS}",
                "seq_start",
            )
        self.starts, self.lengths = starts, lengths
        self.names = _vector(path, _read_array(path, npz, "name"), "name", "U", n).tolist()

        fps = _read_array(path, npz, "fps")
        if fps.size != 1 or fps.dtype.kind not in "iuf" or not np.isfinite(fps).all() or not fps.item() > 0:
            raise SkeletonFileError(path, f"{fps!r} is not a positive frame rate", "fps")
        self.fps = float(fps.item())

        self.meta: dict[str, list[Any]] = {}
        for key in _PER_SEQUENCE_META:
            if key in npz.files:
                kinds = "U" if key in ("style", "content") else "iu"
                self.meta[key] = _vector(path, _read_array(path, npz, key), key, kinds, n).tolist()

    def positions(self) -> np.ndarray:
        """All frames ``(total, 22, 3)`` as stored, read on first use."""
        if self._positions is None:
            npz = _open_npz(self.path)
            try:
                positions = _read_array(self.path, npz, POSITIONS)
            finally:
                npz.close()
            if positions.shape != self.shape or positions.dtype != self.dtype:
                raise SkeletonFileError(self.path, "changed since it was opened", POSITIONS)
            self._positions = positions
        return self._positions

    def sequence(self, index: int) -> SkeletonSequence:
        start, length = int(self.starts[index]), int(self.lengths[index])
        name = self.names[index]
        mm = self.positions()[start : start + length]
        where = f"{POSITIONS} (sequence {index} '{name}': frame, joint, coord)"
        if mm.dtype.kind == "f":
            check_finite(self.path, mm, where)
        # float positions beyond float32 range overflow to inf: caught below, not warned about
        with np.errstate(over="ignore", invalid="ignore"):
            joints = to_ntu25(mm.astype(np.float32) / np.float32(MM_PER_M), LAYOUT)[:, None]
        if mm.dtype.kind == "f":
            check_finite(self.path, joints, f"{where}, beyond float32 range")
        named = label_from_name(name)
        meta: dict[str, Any] = {"index": index}
        if named is not None:
            meta |= named.meta
        meta |= {key: values[index] for key, values in self.meta.items()}
        return SkeletonSequence(
            joints=joints,
            fps=self.fps,
            source_format=FORMAT,
            source_layout=LAYOUT,
            name=name,
            path=str(self.path),
            **label_fields(named),
            meta=meta,
        )


def open_bandai_npz(path: str | os.PathLike) -> SkeletonCollection:
    """All takes of a Bandai-Namco positions ``.npz``, each an NTU-25 sequence in metres.

    Args:
        path: ``dataset1_positions_mm.npz`` or ``dataset2_positions_mm.npz``.
    Returns:
        a lazy collection; item ``i`` has ``joints (seq_len[i], 1, 25, 3)``, the label from its
        name (``dataset-2_wave-left-hand_normal_001`` -> ``"wave left hand"`` of
        ``bandai_namco2``), and ``meta`` with style, take, skeleton_id and content.
    Raises:
        SkeletonFileError: not an npz, missing or unreadable arrays, joints other than the 22
            Bandai-Namco ones, sequences outside the positions or with zero frames, NaN/inf.
    """
    p = Path(path)
    require_file(p)
    data = _BandaiFile(p)
    info = {"frames_total": data.shape[0], "fps": data.fps, "source_layout": LAYOUT}
    return SkeletonCollection(p, FORMAT, len(data.names), data.sequence, info)


def sniff_bandai_npz(path: Path) -> bool:
    """The archive holds ``positions_mm.npy`` (read from the zip directory, nothing decompressed)."""
    try:
        with zipfile.ZipFile(path) as z:
            return f"{POSITIONS}.npy" in z.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


register_format(
    SkeletonFormat(
        name=FORMAT,
        description="Bandai-Namco motion joint positions .npz (positions_mm)",
        suffixes=(".npz",),
        open=open_bandai_npz,
        sniff=sniff_bandai_npz,
    )
)
