"""The front door to every reader: detect a file's format and open it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.errors import SkeletonFileError
from engine.io.base import FORMATS, SkeletonCollection, require_file
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
        if fmt.sniff is not None and fmt.sniff(p):
            return fmt.name
    names = ", ".join(f.description for f in candidates)
    raise SkeletonFileError(p, f"content matches none of the formats for this ending ({names})")


def open_skeleton_file(path: str | os.PathLike, format: str | None = None, **options: Any) -> SkeletonCollection:
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
    try:
        return FORMATS.get(name).open(p, **options)
    except SkeletonFileError:
        raise
    except (OSError, ValueError, KeyError, IndexError, EOFError, UnicodeDecodeError) as exc:
        # Anything a reader did not anticipate still reaches the user as one clear line.
        raise SkeletonFileError(p, f"cannot be read as {FORMATS.get(name).description}: {exc}") from exc


def read_sequence(path: str | os.PathLike, index: int = 0, **options: Any) -> SkeletonSequence:
    """The ``index``-th sequence of a file (the only one, for single-sequence formats)."""
    collection = open_skeleton_file(path, **options)
    if len(collection) == 0:
        raise SkeletonFileError(path, "holds no sequences")
    return collection[index]
