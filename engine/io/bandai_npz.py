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
arrays are plain unicode arrays. Every member's ``.npy`` header is checked before the member is read
(its shape against the sequence count, its size against the zip directory and the bound on
inflating, :func:`~engine.io.base.inflate_limit`), so a damaged or hostile file cannot make the
reader allocate more than it could legitimately hold.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import SkeletonFileError
from engine.io.base import (
    DAMAGED_DATA_ERRORS,
    NpyHeader,
    SkeletonCollection,
    SkeletonFormat,
    check_finite,
    check_position_range,
    register_format,
    require_file,
)
from engine.io.names import label_fields, label_from_name
from engine.io.npz_members import load_npy_member, npy_member_header, refuse_objects
from engine.skeleton.layouts import BANDAI22_JOINTS, BANDAI22_PARENTS, to_ntu25
from engine.types import SkeletonSequence

FORMAT = "bandai_npz"
LAYOUT = "bandai_22"
POSITIONS = "positions_mm"
MM_PER_M = 1000.0
_REQUIRED = ("seq_start", "seq_len", "joint_names", "name", "fps")
_PER_SEQUENCE_META = ("style", "take", "skeleton_id", "content")


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except DAMAGED_DATA_ERRORS as exc:  # truncated zip directory, not a zip at all ...
        raise SkeletonFileError(path, f"not a readable .npz archive ({type(exc).__name__}: {exc})") from None


def _vector_header(path: Path, zf: zipfile.ZipFile, key: str, kinds: str, length: int | None) -> NpyHeader:
    """Check a per-sequence array from its header, before it is read: 1-D, of a dtype kind in
    ``kinds``, ``length`` long (so that no array is read, nor turned into a list, that the sequence
    count does not call for)."""
    header = npy_member_header(zf, f"{key}.npy", path)
    refuse_objects(path, header, key)
    if len(header.shape) != 1 or header.dtype.kind not in kinds:
        raise SkeletonFileError(
            path,
            f"is {header.dtype} {header.shape}, expected a 1-D array of "
            f"{'integers' if kinds == 'iu' else 'strings'}",
            key,
        )
    if length is not None and header.shape[0] != length:
        raise SkeletonFileError(path, f"has {header.shape[0]} entries for {length} sequences", key)
    return header


def _vector(path: Path, zf: zipfile.ZipFile, key: str, kinds: str, length: int | None) -> np.ndarray:
    _vector_header(path, zf, key, kinds, length)
    return np.array(load_npy_member(zf, f"{key}.npy", path))  # a copy: nothing stays mapped


class _BandaiFile:
    """The checked small arrays of one file, and its positions loaded once on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        zf = _open_zip(path)
        try:
            self._read_header(zf)
        finally:
            zf.close()
        self._positions: np.ndarray | None = None

    def _read_header(self, zf: zipfile.ZipFile) -> None:
        path = self.path
        files = [name[: -len(".npy")] for name in zf.namelist() if name.endswith(".npy")]
        missing = [k for k in (POSITIONS, *_REQUIRED) if k not in files]
        if missing:
            raise SkeletonFileError(
                path,
                f"missing arrays {missing} (arrays found: {', '.join(files[:20]) or 'none'}"
                f"{', ...' if len(files) > 20 else ''})",
            )
        # Shape and dtype of the positions from the .npy header, without inflating the data; the
        # header is checked against the member's size, so the data it promises is all there.
        positions = npy_member_header(zf, f"{POSITIONS}.npy", path)
        self.shape, self.dtype = positions.shape, positions.dtype
        if len(self.shape) != 3 or self.shape[1:] != (len(BANDAI22_JOINTS), 3):
            raise SkeletonFileError(
                path, f"array has shape {self.shape}, expected (frames, 22, 3)", POSITIONS
            )
        if self.dtype.kind not in "iuf":
            raise SkeletonFileError(path, f"holds {self.dtype}, expected numbers", POSITIONS)
        total = self.shape[0]

        joint_names = _vector(path, zf, "joint_names", "U", None)
        if tuple(joint_names.tolist()[: len(BANDAI22_JOINTS) + 1]) != BANDAI22_JOINTS:
            shown = joint_names[:30].tolist()
            raise SkeletonFileError(
                path,
                f"joints {shown}{' ...' if len(joint_names) > 30 else ''} are not the Bandai-Namco "
                f"22-joint layout {list(BANDAI22_JOINTS)}",
                "joint_names",
            )
        if "parents" in files:
            parents = _vector(path, zf, "parents", "iu", None)
            if tuple(parents[: len(BANDAI22_PARENTS) + 1].tolist()) != BANDAI22_PARENTS:
                raise SkeletonFileError(
                    path, f"hierarchy {parents[:30].tolist()} is not the Bandai-Namco one", "parents"
                )

        n = _vector_header(path, zf, "seq_start", "iu", None).shape[0]
        if n == 0:
            raise SkeletonFileError(path, "holds zero sequences", "seq_start")
        if n > total:
            # every take holds frames of its own: more takes than frames is a damaged count, and
            # would make every per-sequence list longer than the file can justify
            raise SkeletonFileError(
                path, f"declares {n:,} sequences for the {total:,} frames of {POSITIONS}", "seq_start"
            )
        # int64 throughout: numpy would mix int64 and uint64 into float64
        starts = _vector(path, zf, "seq_start", "iu", None).astype(np.int64)
        lengths = _vector(path, zf, "seq_len", "iu", n).astype(np.int64)
        if (lengths < 1).any():
            i = int(np.argmax(lengths < 1))
            raise SkeletonFileError(path, f"sequence {i} holds zero frames (seq_len {lengths[i]})", "seq_len")
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
        self.names = _vector(path, zf, "name", "U", n).tolist()

        fps_header = npy_member_header(zf, "fps.npy", path)
        if fps_header.count != 1:
            raise SkeletonFileError(
                path, f"is {fps_header.dtype} {fps_header.shape}, not one positive frame rate", "fps"
            )
        refuse_objects(path, fps_header, "fps")
        fps = load_npy_member(zf, "fps.npy", path)
        if fps.dtype.kind not in "iuf" or not np.isfinite(fps).all() or not fps.item() > 0:
            raise SkeletonFileError(path, f"{fps!r} is not a positive frame rate", "fps")
        self.fps = float(fps.item())

        self.meta: dict[str, list[Any]] = {}
        for key in _PER_SEQUENCE_META:
            if key in files:
                kinds = "U" if key in ("style", "content") else "iu"
                self.meta[key] = _vector(path, zf, key, kinds, n).tolist()

    def positions(self) -> np.ndarray:
        """All frames ``(total, 22, 3)`` as stored, read on first use (memory-mapped when the member
        is stored uncompressed)."""
        if self._positions is None:
            zf = _open_zip(self.path)
            try:
                positions = load_npy_member(zf, f"{POSITIONS}.npy", self.path)
            finally:
                zf.close()
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
            metres = mm.astype(np.float32)
            metres /= np.float32(MM_PER_M)  # in place: one float32 copy of the take, not two
            joints = to_ntu25(metres, LAYOUT)[:, None]
        if mm.dtype.kind == "f":
            check_finite(self.path, joints, f"{where}, beyond float32 range")
        check_position_range(self.path, joints, where)
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
    except DAMAGED_DATA_ERRORS:
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
