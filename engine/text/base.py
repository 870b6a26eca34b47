"""The text-encoder interface: class names and prompts in, L2-normalised float32 rows out.

Every text encoder (MiniLM through sentence-transformers, CLIP through open_clip, a pre-computed
table) is a :class:`TextEncoder`. Its :attr:`~TextEncoder.id` names the encoder *and its weights*,
because the on-disk cache (:mod:`engine.text.cached`) and bundles key on it: two encoders whose
outputs can differ must never share an id. Outputs are numpy arrays, never torch tensors, so the
GUI layer can hold them without importing torch (docs/architecture.md#the-three-packages).

The shape follows open_clip's ``encode_text`` (one row per text, unit norm for cosine scoring).
Nothing heavy is imported here: torch, sentence-transformers and open_clip load inside the entries.
"""

from __future__ import annotations

import abc
import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import TextEncoderError
from engine.registry import Registry

#: Every text encoder, by registry name (``"minilm"``, ``"clip-vit-b-32"``, ``"table"``).
#: Entries are callables (the encoder classes) taking the encoder's options as keywords.
TEXT_ENCODERS: Registry[type[TextEncoder]] = Registry("text encoder")

_EPS = 1e-12


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows of ``x`` scaled to unit L2 norm, as float32 (an all-zero row stays zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norms, _EPS)).astype(np.float32, copy=False)


def as_text_list(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list of str; a bare string is refused (it would be encoded letter by letter)."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("encode() takes a sequence of texts, not one string: use encode([text])")
    out = list(texts)
    bad = [t for t in out if not isinstance(t, str)]
    if bad:
        raise TypeError(f"encode() takes strings, got {type(bad[0]).__name__}: {bad[0]!r}")
    return out


_SHA_MEMO: dict[tuple[str, int, int], str] = {}
_SHA_LOCK = threading.Lock()


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, remembered per (path, size, mtime) for the rest of the process.

    Weights files are hashed at every load (their hash is part of the encoder id); the memo keeps a
    second load of a 600 MB CLIP checkpoint from paying that again.
    """
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    with _SHA_LOCK:
        if key in _SHA_MEMO:
            return _SHA_MEMO[key]
    digest = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    hexdigest = digest.hexdigest()
    with _SHA_LOCK:
        _SHA_MEMO[key] = hexdigest
    return hexdigest


def verify_sha256(
    path: str | os.PathLike,
    expected: str,
    what: str = "weights file",
    advice: str = "reinstall the package that provides it",
) -> None:
    """Refuse a file whose sha256 is not ``expected``.

    Args:
        path: the file.
        expected: its hex sha256.
        what: what the file is, for the message.
        advice: what the user should do about a missing or different file.

    Raises:
        TextEncoderError: the file is missing or its content differs; the message names the file.
    """
    p = Path(path)
    if not p.is_file():
        raise TextEncoderError(f"{p}: {what} not found; {advice}")
    actual = sha256_file(p)
    if actual != expected.lower():
        raise TextEncoderError(
            f"{p}: {what} is damaged or not the expected one (sha256 {actual[:16]}..., expected "
            f"{expected[:16]}...); {advice}"
        )


class TextEncoder(abc.ABC):
    """Maps texts to L2-normalised float32 vectors.

    Subclasses set :attr:`id`, :attr:`dim` (and :attr:`name`) in ``__init__`` and implement
    :meth:`_encode_batch`; :meth:`encode` does the batching, dtype and normalisation once for all.

    Attributes:
        name: the registry name the encoder was created under (``"minilm"``).
        id: identity of the encoder and its weights (``"minilm"``, ``"clip-vit-b-32:1a2b3c4d5e6f"``);
            caches and bundles key on it.
        dim: length of each output row.
        batch_size: texts per forward pass; bounds memory for long lists of prompts.
        cacheable: False for encoders that are already a lookup (a disk cache would gain nothing).
    """

    name: str = ""
    id: str
    dim: int
    batch_size: int = 64
    cacheable: bool = True

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts.

        Args:
            texts: the texts, in order (duplicates allowed).

        Returns:
            float32 ``(len(texts), dim)``, each row of unit L2 norm.

        Raises:
            TextEncoderError: the encoder cannot answer (e.g. a text a table does not hold).
        """
        items = as_text_list(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        step = max(1, int(self.batch_size))
        parts = [np.asarray(self._encode_batch(items[i : i + step])) for i in range(0, len(items), step)]
        out = np.concatenate(parts, axis=0)
        if out.shape != (len(items), self.dim):
            expected = (len(items), self.dim)
            raise RuntimeError(f"text encoder {self.id} returned {out.shape}, expected {expected}")
        return l2_normalize(out)

    @abc.abstractmethod
    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), dim)`` vectors for one batch (any float dtype, need not be normalised)."""

    def describe(self) -> dict[str, Any]:
        """What a bundle or run records about the encoder: ``{"name", "id", "dim"}``."""
        return {"name": self.name, "id": self.id, "dim": int(self.dim)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, dim={self.dim})"
