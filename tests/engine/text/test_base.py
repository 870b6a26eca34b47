"""The text-encoder registry, the factory and the shared encode() contract."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from engine.errors import TextEncoderError
from engine.text import TEXT_ENCODERS, create_text_encoder, l2_normalize, list_text_encoders
from engine.text.base import sha256_file, verify_sha256
from tests.conftest import PROJECT_ROOT

from .stubs import CountingTextEncoder


def test_registry_lists_the_encoders():
    assert {"minilm", "clip-vit-b-32", "table"} <= set(list_text_encoders())
    assert list_text_encoders() == TEXT_ENCODERS.names()


def test_unknown_encoder_and_option_are_user_errors():
    with pytest.raises(TextEncoderError, match="unknown text encoder 'bert'.*minilm"):
        create_text_encoder("bert")
    with pytest.raises(TextEncoderError, match="has no option 'colour'.*device"):
        create_text_encoder("minilm", colour="red")


def test_importing_engine_text_loads_no_heavy_library():
    code = (
        "import sys, engine.text\n"
        "heavy = ('torch', 'sentence_transformers', 'open_clip', 'transformers', 'huggingface_hub')\n"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"imported at `import engine.text`: {out.stdout}"


def test_encode_batches_normalises_and_keeps_order():
    enc = CountingTextEncoder(batch_size=3)
    texts = [f"t{i}" for i in range(7)]
    out = enc.encode(texts)
    assert [len(c) for c in enc.calls] == [3, 3, 1]
    assert out.dtype == np.float32 and out.shape == (7, enc.dim)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(out[4], l2_normalize(enc.vector("t4")), atol=1e-6)


def test_encode_edge_cases():
    enc = CountingTextEncoder()
    assert enc.encode([]).shape == (0, enc.dim) and enc.calls == []
    with pytest.raises(TypeError, match="not one string"):
        enc.encode("drink water")
    with pytest.raises(TypeError):
        enc.encode([3])
    assert enc.describe() == {"name": "counting", "id": "counting:v1", "dim": 8}


def test_l2_normalize_leaves_zero_rows_finite():
    out = l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_verify_sha256(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights")
    verify_sha256(f, sha256_file(f))
    with pytest.raises(TextEncoderError, match="w.bin"):
        verify_sha256(f, "0" * 64)
    with pytest.raises(TextEncoderError, match="not found"):
        verify_sha256(tmp_path / "none.bin", "0" * 64)


def test_hub_access_sets_and_restores_offline_mode(monkeypatch):
    constants = pytest.importorskip("huggingface_hub.constants")
    from engine.text._hub import hub_access

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with hub_access(allow_download=True):
        assert os.environ["HF_HUB_OFFLINE"] == "0" and constants.HF_HUB_OFFLINE is False
    assert os.environ["HF_HUB_OFFLINE"] == "1" and constants.HF_HUB_OFFLINE is True
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with hub_access(allow_download=False):
        assert os.environ["HF_HUB_OFFLINE"] == "1" and constants.HF_HUB_OFFLINE is True
    assert "HF_HUB_OFFLINE" not in os.environ and constants.HF_HUB_OFFLINE is False
