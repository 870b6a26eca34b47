"""UTD-MHAD skeleton reader: one MATLAB ``.mat`` per sequence.

Follows the dataset's own description (Chen, Jafari, Kehtarnavaz, ICIP 2015; ``utd_mhad/README.txt``
and ``Skeleton_joint_order.txt`` of the release): a MATLAB v5 file whose variable ``d_skel`` is a
``(20 joints, 3 coords, T frames)`` array of Kinect v1 camera-space positions in metres, joints in
UTD-MHAD's own order (head first; :data:`engine.skeleton.layouts.UTD_MHAD_ORDER`). Kinect v1 camera
space has the NTU axes (x towards the subject's right when facing the sensor, y up, z depth), so the
mapping to NTU-25 is a joint reordering plus the synthesised neck, hand tips and thumbs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.io
from scipy.io.matlab import MatReadError

from engine.errors import SkeletonFileError
from engine.io.base import SkeletonCollection, SkeletonFormat, check_finite, register_format, require_file
from engine.io.names import label_fields, label_from_name
from engine.skeleton.layouts import to_ntu25
from engine.types import SkeletonSequence

FORMAT = "utd_mhad_mat"
LAYOUT = "kinect_v1_20_utd"
FIELD = "d_skel"
NUM_SOURCE_JOINTS = 20
FPS = 30.0  # Kinect v1; the authors' page says "approximately 30 frames per second"

_MAT_MAGIC = b"MATLAB"


def _load_d_skel(path: Path) -> np.ndarray:
    """The raw ``d_skel`` array of ``path``; every failure becomes a :class:`SkeletonFileError`."""
    try:
        contents = scipy.io.loadmat(path, variable_names=[FIELD])
    except Exception as exc:
        # scipy's MAT parser reports damaged files with whatever its decoder hits first (MatReadError,
        # ValueError, zlib.error, TypeError, OverflowError, NotImplementedError for v7.3/HDF5 ...),
        # none of which tells a user more than "this is not a readable MATLAB file".
        raise SkeletonFileError(
            path, f"not a readable MATLAB v5 .mat file ({type(exc).__name__}: {exc})"
        ) from exc
    if FIELD not in contents:
        try:
            names = sorted(name for name, _, _ in scipy.io.whosmat(path))
        except (ValueError, TypeError, OSError, MatReadError):
            # listing is a courtesy: loadmat has just parsed this file, so this is not expected
            names = []
        found = ", ".join(names) if names else "none"
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
