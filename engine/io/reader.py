"""The front door to every reader: detect a file's format and open it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import SkeletonFileError
from engine.io.base import DAMAGED_DATA_ERRORS, FORMATS, SkeletonCollection, require_file
from engine.types import SkeletonSequence


def supported_suffixes() -> list[str]:
    return sorted({s for name in FORMATS for s in FORMATS.get(name).suffixes})


def detect_format(path: str | os.PathLike) -> str:
    """Registry name of the format of ``path``, from its suffix and, where suffixes are shared,
    a cheap look at its content."""
    p = Path(path)
    require_file(p)
    lower = p.name.lower()
    candidates = [FORMATS.get(n) for n in FORMATS if any(lower.endswith(s) for s in FORMATS.get(n).suffixes)]
    if not candidates:
        raise SkeletonFileError(
            p, f"unknown skeleton file format (supported endings: {', '.join(supported_suffixes())})"
        )
    if len(candidates) == 1:
        return candidates[0].name
    for fmt in candidates:
        if fmt.sniff is not None and _sniffs(fmt.sniff, p):
            return fmt.name
    names = ", ".join(f.description for f in candidates)
    raise SkeletonFileError(p, f"content matches none of the formats for this ending ({names})")


def _sniffs(sniff: Callable[[Path], bool], path: Path) -> bool:
    try:
        return bool(sniff(path))
    except DAMAGED_DATA_ERRORS:  # a sniff only looks; content it cannot look at is not its format
        return False


def open_skeleton_file(
    path: str | os.PathLike, format: str | None = None, **options: Any
) -> SkeletonCollection:
    """Open any supported skeleton file as a collection of NTU-25 sequences.

    Args:
        path: the file.
        format: registry name to skip detection (``"ntu_skeleton"``, ...).
        **options: reader options (e.g. ``label_file=`` for PKU-MMD).
    Raises:
        SkeletonFileError: the file is missing, unreadable, or malformed.
    """
    p = Path(path)
    name = format or detect_format(p)
    require_file(p)
    guard = _Guarded(p, FORMATS.get(name).description, FORMATS.get(name).open)
    collection = guard(p, **options)
    # Items of lazy collections are read later, outside this call: the same guard covers them.
    return SkeletonCollection(
        collection.path,
        collection.format,
        len(collection),
        _Guarded(p, guard.description, collection._load),
        collection.info,
    )


class _Guarded:
    """``call`` with what damaged input can make the libraries raise turned into one clear line.

    The readers raise :class:`SkeletonFileError` for what they check; this catches what they did not
    anticipate (the errors of the numpy, zip and decompression code they call), so that no input
    reaches the user as a traceback. Programming errors (AttributeError, NameError ...) are not
    caught: they are bugs to fix, not properties of a file. A plain class, not a closure, so that
    collections still pickle for DataLoader workers.
    """

    def __init__(self, path: Path, description: str, call: Callable[..., Any]) -> None:
        self.path, self.description, self.call = path, description, call

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.call(*args, **kwargs)
        except SkeletonFileError:
            raise
        except MemoryError:
            raise SkeletonFileError(self.path, f"is too large to read as {self.description}") from None
        except RecursionError:
            raise SkeletonFileError(
                self.path, f"is nested too deeply to read as {self.description}"
            ) from None
        except DAMAGED_DATA_ERRORS as exc:
            raise SkeletonFileError(
                self.path, f"cannot be read as {self.description} ({type(exc).__name__}: {exc})"
            ) from exc


def read_sequence(path: str | os.PathLike, index: int = 0, **options: Any) -> SkeletonSequence:
    """The ``index``-th sequence of a file (the only one, for single-sequence formats)."""
    collection = open_skeleton_file(path, **options)
    if len(collection) == 0:
        raise SkeletonFileError(path, "holds no sequences")
    return collection[index]
