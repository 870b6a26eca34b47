"""Fixtures of the text-encoder tests: the real MiniLM and a random-weights CLIP, each built once
per session (MiniLM's first load costs about 4 s, a CLIP model about 1 s plus 5 s to import)."""

from __future__ import annotations

import pytest

from engine.assets import class_names


@pytest.fixture(scope="session")
def ntu60_names() -> list[str]:
    return list(class_names("ntu60"))


@pytest.fixture(scope="session")
def minilm():
    from engine.text import create_text_encoder

    return create_text_encoder("minilm")


def require_open_clip():
    """open_clip, or skip: it is an optional heavy dependency (it needs a matching torchvision)."""
    try:
        import open_clip
    except Exception as exc:  # noqa: BLE001  (ImportError, or torchvision's RuntimeError)
        pytest.skip(f"open_clip is not importable here ({type(exc).__name__}: {exc})")
    return open_clip


@pytest.fixture(scope="session")
def clip_random():
    require_open_clip()
    from engine.text import create_text_encoder

    return create_text_encoder("clip-vit-b-32", random_init=True, seed=0)
