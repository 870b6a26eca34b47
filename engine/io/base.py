"""What every reader shares: the format registry entry, collections, and checked parsing.

A file holds one sequence (an NTU ``.skeleton``, a UTD-MHAD ``.mat``) or many (a CTR-GCN ``.npz``,
an AimCLR ``.npy``, a PKU-MMD video cut into instances, the Bandai-Namco ``.npz``). Every reader
returns a :class:`SkeletonCollection`, a read-only sequence of :class:`SkeletonSequence`; large
containers load their items lazily so that ``zsar inspect`` on a 7 GB ``.npz`` stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np

from engine.errors import SkeletonFileError
from engine.registry import Registry
from engine.types import SkeletonSequence


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
