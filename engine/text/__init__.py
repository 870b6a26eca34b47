"""Text encoders: class names and prompts to L2-normalised vectors (numpy), one module per encoder.

Registry and verbs in open_clip's manner (``list_models`` / ``create_model``)::

    from engine.text import create_text_encoder, encode_class_set
    encoder = create_text_encoder("minilm")                 # offline default, 384-d
    clip = create_text_encoder("clip-vit-b-32", checkpoint="open_clip_model.safetensors")  # 512-d
    feats = encode_class_set(encoder, class_set, mode="name")

Importing this package imports neither torch nor sentence-transformers nor open_clip: each entry
imports its library when it is created.
"""

from __future__ import annotations

import inspect
from typing import Any

from engine.errors import TextEncoderError
from engine.text import open_clip_text, sentence_transformer, table  # noqa: F401  (registers the entries)
from engine.text.base import TEXT_ENCODERS, TextEncoder, l2_normalize
from engine.text.cached import CachedTextEncoder, default_cache_dir
from engine.text.prompts import (
    DEFAULT_TEMPLATES,
    FUSED_TEXT_MODES,
    TEXT_MODES,
    class_prompts,
    encode_class_set,
    text_mode_dim,
    text_mode_spec,
)

#: The encoder used when a user or config names none.
DEFAULT_TEXT_ENCODER = "minilm"


def list_text_encoders() -> list[str]:
    """Registry names of the text encoders, sorted."""
    return TEXT_ENCODERS.names()


def create_text_encoder(name: str, **options: Any) -> TextEncoder:
    """A text encoder by registry name.

    Args:
        name: one of :func:`list_text_encoders` (``"minilm"``, ``"clip-vit-b-32"``, ``"table"``).
        **options: the encoder's own options (e.g. ``device="cpu"``, ``checkpoint=PATH``).

    Raises:
        TextEncoderError: an unknown name or option, or an encoder that cannot load (the message
            says what to do).
    """
    if name not in TEXT_ENCODERS:
        raise TextEncoderError(f"unknown text encoder {name!r} (known: {', '.join(list_text_encoders())})")
    entry = TEXT_ENCODERS.get(name)
    accepted = [p for p in inspect.signature(entry).parameters if p != "self"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TextEncoderError(
            f"text encoder {name!r} has no option {', '.join(map(repr, unknown))} "
            f"(options: {', '.join(accepted)})"
        )
    return entry(**options)


__all__ = [
    "DEFAULT_TEMPLATES",
    "DEFAULT_TEXT_ENCODER",
    "TEXT_ENCODERS",
    "FUSED_TEXT_MODES",
    "TEXT_MODES",
    "CachedTextEncoder",
    "TextEncoder",
    "class_prompts",
    "create_text_encoder",
    "default_cache_dir",
    "encode_class_set",
    "l2_normalize",
    "list_text_encoders",
    "text_mode_dim",
    "text_mode_spec",
]
