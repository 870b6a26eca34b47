"""``table``: pre-computed class-text embeddings, looked up by text.

Published zero-shot skeleton methods often release their class-text features instead of the text
model: MSF-GZSSAR / FS-VAE ship CLIP ViT-B/32 features of the NTU-60/120 labels (``lb_60.npy``,
``ad_120.npy``, ...: ``(C, D)`` float32, row i = class i, not normalised). This encoder serves such a
table: row i belongs to the i-th name of a class list, and :meth:`encode` looks each text up, exactly
first, then with whitespace and case normalised. It cannot embed a new text: an unknown one is an
error that names the text and the table.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.errors import TextEncoderError
from engine.text.base import TEXT_ENCODERS, TextEncoder, l2_normalize, sha256_file


def normalize_text(text: str) -> str:
    """The loose lookup key: runs of whitespace to one space, stripped, lower case."""
    return " ".join(text.split()).lower()


def read_class_list(source: str | os.PathLike | Sequence[str]) -> list[str]:
    """Class names from a list, a text file (one name a line), a CSV like MSF's ``sem_info/*.csv``
    (``idx,text`` with a header), or a dataset name of ``assets/classes`` (``"ntu60"``).

    Raises:
        TextEncoderError: the file or dataset is unknown, or the list is empty.
    """
    if not isinstance(source, (str, os.PathLike)):
        names = [str(n) for n in source]
    else:
        path = Path(source).expanduser()
        if path.is_file():
            names = _read_names_file(path)
        elif isinstance(source, str) and not any(sep in source for sep in "/\\") and not path.suffix:
            from engine.assets import class_names

            try:
                names = list(class_names(source))
            except KeyError as exc:
                raise TextEncoderError(f"class list {source!r}: {exc.args[0]}") from None
        else:
            raise TextEncoderError(f"{path}: class list file not found")
    if not names:
        raise TextEncoderError(f"class list {source!s} is empty")
    return names


def _read_names_file(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() != ".csv":
        # Blank lines are skipped, as in assets/classes (a trailing newline is not a class).
        return [line.strip() for line in text.splitlines() if line.strip()]
    names = []
    for row in csv.reader(io.StringIO(text)):
        if len(row) >= 2 and row[0].strip().isdigit():
            # MSF's files are unquoted: a comma inside a description splits the row, so rejoin it.
            names.append(",".join(row[1:]).strip())
        elif row and names:
            raise TextEncoderError(f"{path}: expected 'index,text' rows, got {','.join(row)[:80]!r}")
    return names


@TEXT_ENCODERS.register("table")
class TableTextEncoder(TextEncoder):
    """Embeddings looked up from a pre-computed ``(C, D)`` table.

    Args:
        path: the ``.npy`` file, float ``(C, D)``; rows are L2-normalised on load.
        classes: the C texts the rows belong to, in row order: a list, a file (see
            :func:`read_class_list`) or a dataset name. Default: a ``<stem>.txt`` beside the table.

    Attributes:
        texts: the class texts, in row order.

    Raises:
        TextEncoderError: a missing or malformed table, a class list of the wrong length.
    """

    name = "table"
    # Already a lookup, and the id covers the table, not the class list the rows are named by.
    cacheable = False

    def __init__(self, path: str | os.PathLike, classes: str | os.PathLike | Sequence[str] | None = None):
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise TextEncoderError(f"{self.path}: embedding table not found")
        try:
            table = np.load(self.path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise TextEncoderError(f"{self.path}: not a readable .npy embedding table ({exc})") from exc
        if table.ndim != 2 or min(table.shape) < 1 or not np.issubdtype(table.dtype, np.number):
            raise TextEncoderError(
                f"{self.path}: expected a numeric (classes, dim) array, got {table.dtype} {table.shape}"
            )
        if not np.isfinite(table).all():
            raise TextEncoderError(f"{self.path}: the table holds NaN or infinite values")
        if classes is None:
            sibling = self.path.with_suffix(".txt")
            if not sibling.is_file():
                raise TextEncoderError(
                    f"{self.path}: which class each row is must be given: pass classes= (a list, a text file "
                    f"one name a line, or a dataset name such as 'ntu60'), or put {sibling.name} beside it"
                )
            classes = sibling
        self.texts = read_class_list(classes)
        if len(self.texts) != table.shape[0]:
            raise TextEncoderError(
                f"{self.path}: {table.shape[0]} rows but the class list has {len(self.texts)} names"
            )
        self._table = l2_normalize(table)
        self.dim = int(table.shape[1])
        self.id = f"table:{self.path.stem}:{sha256_file(self.path)[:12]}"
        self._exact = {}
        for i, t in enumerate(self.texts):
            self._exact.setdefault(t, i)
        loose: dict[str, set[int]] = {}
        for i, t in enumerate(self.texts):
            loose.setdefault(normalize_text(t), set()).add(i)
        # A loose key shared by two different rows would be a guess: only exact lookups reach those.
        self._loose = {k: next(iter(v)) for k, v in loose.items() if len(v) == 1}

    def index(self, text: str) -> int:
        """Row of ``text`` (exact match first, then whitespace- and case-insensitive).

        Raises:
            TextEncoderError: the table holds no such text.
        """
        i = self._exact.get(text)
        if i is None:
            i = self._loose.get(normalize_text(text))
        if i is None:
            sample = ", ".join(repr(t) for t in self.texts[:3])
            raise TextEncoderError(
                f"text {text!r} is not in the embedding table {self.path} (it holds {len(self.texts)} "
                f"class texts such as {sample}); a pre-computed table cannot embed new texts: "
                "use a text model such as 'minilm'"
            )
        return i

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self._table[[self.index(t) for t in texts]]
