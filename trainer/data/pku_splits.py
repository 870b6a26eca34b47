"""PKU-MMD's own protocol files: ``Split/cross-subject.txt`` and ``Split/cross-view.txt`` of the release.

Each lists video ids (``0002-L``) after a "Training videos:" line and after a "Validation videos:" line
(the release README: "We split the training data into two parts for training and validation"); the
ZSSAR papers train on the first list and test on the second. Ids may sit on the heading's own line or
on the lines below it, comma or space separated; the release spells the second heading
"Validataion", so headings are matched by their first letters.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from engine.errors import ZsarError

#: protocol kind -> the file that defines it
SPLIT_FILES = {"cross_subject": "cross-subject.txt", "cross_view": "cross-view.txt"}
_VIDEO = re.compile(r"\b\d{4}-[LMR]\b")
# where Split/ lies relative to a skeleton file's folder (release: PKU-MMD/Skeleton/PKU_Skeleton_Renew/)
_SPLIT_DIRS = (("..", "..", "Split"), ("..", "Split"), ("Split",), ("..", ".."), ("..",))


def find_split_file(skeleton_file: str | os.PathLike, kind: str) -> Path | None:
    """The release's split file for protocol ``kind`` near ``skeleton_file``, or None."""
    folder = Path(skeleton_file).parent
    for parts in _SPLIT_DIRS:
        candidate = Path(os.path.normpath(folder.joinpath(*parts, SPLIT_FILES[kind])))
        if candidate.is_file():
            return candidate
    return None


def read_split_file(path: str | os.PathLike) -> dict[str, set[str]]:
    """``{"train": video ids, "test": video ids}`` of a PKU-MMD split file.

    Raises:
        ZsarError: naming the file, when it has no training or no validation list, or a video in both.
    """
    p = Path(path)
    lists: dict[str, set[str]] = {}
    current = None
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        head = line.strip().lower()
        if head.startswith("train"):
            current = lists.setdefault("train", set())
        elif head.startswith(("valid", "test")):
            current = lists.setdefault("test", set())
        ids = _VIDEO.findall(line)
        if ids and current is None:
            raise ZsarError(f"{p}: video ids before any 'Training videos:' / 'Validation videos:' heading")
        if ids:
            current.update(ids)
    for part, heading in (("train", "Training videos:"), ("test", "Validation videos:")):
        if not lists.get(part):
            raise ZsarError(f"{p}: no video ids under a '{heading}' heading; is this a PKU-MMD split file?")
    both = lists["train"] & lists["test"]
    if both:
        raise ZsarError(f"{p}: {len(both)} videos are in both lists (e.g. {sorted(both)[0]})")
    return lists
