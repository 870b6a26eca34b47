"""An on-disk cache of text embeddings in front of any :class:`~engine.text.base.TextEncoder`.

Embeddings are keyed by (encoder id, exact text): the id names the encoder *and* its weights, so a
changed checkpoint never reads another's vectors. Each encoder id has one shard,
``<cache_dir>/<readable id>-<sha12 of id>.npz``, holding the id, the texts (the shard's index, as
UTF-8 JSON so every character survives exactly) and the float32 ``(N, dim)`` embeddings. A shard is
written atomically (temp file, then rename) after re-reading and merging what is on disk, so two
processes writing at once lose at most the other's newest entries (last writer wins) and never
leave a half-written file. A shard that does not read back is ignored with a warning and rebuilt.

An in-memory dict sits in front of the disk; only texts found in neither reach the encoder.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.atomic import atomic_write_bytes
from engine.cache import cache_dir
from engine.text.base import TextEncoder, as_text_list

logger = logging.getLogger(__name__)

_FORMAT = 1


def default_cache_dir() -> Path:
    """``text/`` under the project's cache root (:func:`engine.cache.cache_dir`: ``$ZSAR_CACHE``, ...)."""
    return cache_dir() / "text"


def shard_name(encoder_id: str) -> str:
    """File name of the shard of ``encoder_id``: readable, and unique through the id's hash (ids hold
    characters such as ``:`` and ``/`` that file systems treat differently)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder_id).strip("._")[:60] or "encoder"
    return f"{readable}-{hashlib.sha256(encoder_id.encode('utf-8')).hexdigest()[:12]}.npz"


def _pack(encoder_id: str, texts: list[str], embeddings: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(
        buf,
        format=np.array(_FORMAT),
        encoder_id=np.frombuffer(encoder_id.encode("utf-8"), dtype=np.uint8),
        texts=np.frombuffer(json.dumps(texts, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
        embeddings=np.ascontiguousarray(embeddings, dtype=np.float32),
    )
    return buf.getvalue()


def _unpack(path: Path, encoder_id: str, dim: int) -> dict[str, np.ndarray]:
    """The entries of a shard; raises ValueError (or an OS/zip error) for anything unusable."""
    with np.load(path, allow_pickle=False) as z:
        if int(z["format"]) != _FORMAT:
            raise ValueError(f"cache format {int(z['format'])}, expected {_FORMAT}")
        stored_id = bytes(z["encoder_id"]).decode("utf-8")
        texts = json.loads(bytes(z["texts"]).decode("utf-8"))
        embeddings = np.asarray(z["embeddings"])
    if stored_id != encoder_id:
        raise ValueError(f"shard holds encoder {stored_id!r}")
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ValueError("the text index is not a list of strings")
    if embeddings.dtype != np.float32 or embeddings.shape != (len(texts), dim):
        expected = (len(texts), dim)
        raise ValueError(f"embeddings {embeddings.dtype} {embeddings.shape}, expected float32 {expected}")
    if not np.isfinite(embeddings).all():
        raise ValueError("embeddings hold NaN or infinite values")
    return {t: embeddings[i] for i, t in enumerate(texts)}


class CachedTextEncoder(TextEncoder):
    """``encoder`` with its embeddings remembered in memory and on disk.

    It is itself a TextEncoder with the same ``id``, ``dim`` and ``name``, so it can stand wherever
    the wrapped one would. Encoders that are already a lookup (``cacheable = False``, e.g. a table)
    only get the in-memory dict.

    Args:
        encoder: the encoder to wrap.
        cache_dir: where shards live; default :func:`default_cache_dir`.
    """

    def __init__(self, encoder: TextEncoder, cache_dir: str | os.PathLike | None = None):
        self.encoder = encoder
        self.name = encoder.name
        self.id = encoder.id
        self.dim = encoder.dim
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self.path = self.cache_dir / shard_name(self.id)
        self._memory: dict[str, np.ndarray] = {}
        self._disk_stamp: tuple[int, int] | None = None  # (mtime_ns, size) of the shard last read
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``; see :meth:`TextEncoder.encode`. Only texts in neither the memory
        nor the disk cache are sent to the wrapped encoder, each once."""
        items = as_text_list(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            missing = self._missing(items)
            if missing and self.encoder.cacheable:
                self._memory.update(self._read_disk(only_if_changed=True))
                missing = self._missing(items)
            if missing:
                vectors = self.encoder.encode(missing)
                new = {t: vectors[i] for i, t in enumerate(missing)}
                self._memory.update(new)
                if self.encoder.cacheable:
                    self._write_disk(new)
            return np.stack([self._memory[t] for t in items]).astype(np.float32, copy=False)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:  # encode() is overridden whole
        return self.encode(texts)

    def _missing(self, items: list[str]) -> list[str]:
        return list(dict.fromkeys(t for t in items if t not in self._memory))

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:  # absent, or a file where the folder should be
            return None
        return (st.st_mtime_ns, st.st_size)

    def _read_disk(self, only_if_changed: bool = False) -> dict[str, np.ndarray]:
        stamp = self._stamp()
        if stamp is None or (only_if_changed and stamp == self._disk_stamp):
            return {}
        try:
            entries = _unpack(self.path, self.id, self.dim)
        except FileNotFoundError:
            return {}
        except Exception as exc:  # noqa: BLE001  (zip, npy, JSON and our own checks: all mean "unusable")
            logger.warning("text cache %s is unreadable (%s); ignored, it will be rebuilt", self.path, exc)
            self._disk_stamp = stamp
            return {}
        self._disk_stamp = stamp
        return entries

    def _write_disk(self, new: dict[str, np.ndarray]) -> None:
        # Re-read just before writing so entries another process added since our last read survive.
        merged = self._read_disk()
        merged.update({t: v for t, v in self._memory.items() if t not in merged})
        merged.update(new)
        texts = list(merged)
        blob = _pack(self.id, texts, np.stack([merged[t] for t in texts]))
        try:
            atomic_write_bytes(self.path, blob)
        except OSError as exc:
            # The cache only saves time: an unwritable folder must not stop the encoding.
            logger.warning("could not write the text cache %s (%s); continuing without it", self.path, exc)
            return
        self._disk_stamp = self._stamp()

    def clear_memory(self) -> None:
        """Forget the in-memory entries (the disk shard stays)."""
        with self._lock:
            self._memory.clear()
            self._disk_stamp = None

    def describe(self) -> dict[str, Any]:
        return self.encoder.describe()
