"""A tiny deterministic text encoder that counts what it is asked, for tests where the text model is
beside the point (the cache, the prompt plumbing)."""

from __future__ import annotations

import hashlib

import numpy as np

from engine.text.base import TextEncoder


class CountingTextEncoder(TextEncoder):
    """Each text maps to a fixed pseudo-random vector (seeded by the text and ``salt``); every batch it
    is asked for is recorded in :attr:`calls`."""

    name = "counting"

    def __init__(self, id: str = "counting:v1", dim: int = 8, salt: str = "", batch_size: int = 64):
        self.id = id
        self.dim = dim
        self.salt = salt
        self.batch_size = batch_size
        self.calls: list[list[str]] = []

    @property
    def texts_seen(self) -> list[str]:
        return [t for call in self.calls for t in call]

    def vector(self, text: str) -> np.ndarray:
        digest = hashlib.sha256((self.salt + "\x00" + text).encode("utf-8")).digest()
        seed = int.from_bytes(digest[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.stack([self.vector(t) for t in texts])
