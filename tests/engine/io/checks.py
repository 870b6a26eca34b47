"""Checks shared by the real-data reader tests: corrupted copies of a file, and chirality.

Corruption tests write each mutant into its own folder under ``tmp_path`` with the original file
name (so name-based labels still parse), read it completely (open the collection and materialise
every item) and accept exactly two outcomes: a :class:`SkeletonFileError` naming the file, or, where
the test says the mutant is genuinely valid, sequences with finite values and sane shapes. Any other
exception escapes and fails the test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.errors import SkeletonFileError
from engine.io.base import SkeletonCollection
from engine.skeleton.geometry import chirality
from engine.skeleton.layouts import NTU25
from engine.types import SkeletonSequence

Opener = Callable[[Path], SkeletonCollection]


def read_everything(open_file: Opener, path: Path) -> list[SkeletonSequence]:
    collection = open_file(path)
    return [collection[i] for i in range(len(collection))]


def write_mutant(tmp_path: Path, case: str, name: str, data: bytes) -> Path:
    folder = tmp_path / case
    folder.mkdir()
    path = folder / name
    path.write_bytes(data)
    return path


def outcome(open_file: Opener, path: Path, valid_ok: bool) -> str:
    """``"error"`` or ``"valid"``; asserts that nothing but a file-naming SkeletonFileError escapes
    and that success happens only where ``valid_ok``."""
    try:
        items = read_everything(open_file, path)
    except SkeletonFileError as exc:
        assert str(path) in str(exc), f"error does not name the file: {exc}"
        return "error"
    assert valid_ok, f"{path.parent.name}: a broken file was read without error"
    assert items, f"{path.parent.name}: read as an empty collection"
    for s in items:
        assert s.joints.dtype == np.float32 and s.joints.shape[1:] == (1, 25, 3)
        assert np.isfinite(s.joints).all()
    return "valid"


def truncation_offsets(size: int, count: int = 24) -> list[int]:
    """``count`` cut points spread over the file, plus a few at the very start and end."""
    spread = np.linspace(1, size - 1, count).astype(int).tolist()
    return sorted({*spread, 1, 2, 7, 64, size - 2, size - 1} - {0, size})


def replace(data: bytes, position: int, new: bytes) -> bytes:
    return data[:position] + new + data[position + len(new) :]


def mirrored(joints: np.ndarray) -> np.ndarray:
    """The same body with every left/right NTU joint pair swapped (labels mirrored)."""
    out = joints.copy()
    for left, right in NTU25.left_right:
        out[..., [left, right], :] = out[..., [right, left], :]
    return out


def chirality_scores(sequences: list[SkeletonSequence], mirror: str | None = None) -> np.ndarray:
    """:func:`chirality` of body 0 of each sequence; ``mirror`` = ``"swap"`` (left/right labels
    exchanged) or ``"negate_x"`` (the scene reflected) for the control."""
    scores = []
    for s in sequences:
        body = s.joints[:, 0]
        if mirror == "swap":
            body = mirrored(body)
        elif mirror == "negate_x":
            body = body * np.array([-1.0, 1.0, 1.0], dtype=np.float32)
        scores.append(chirality(body))
    return np.asarray(scores)


def path_length(track: np.ndarray) -> float:
    """Distance travelled by one joint ``(T, 3)``."""
    return float(np.linalg.norm(np.diff(track, axis=0), axis=-1).sum())
