"""The on-disk text-embedding cache: hits skip the encoder, entries are keyed by encoder id, a
corrupt shard is rebuilt, concurrent writers leave a readable shard."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np

from engine.text import CachedTextEncoder, default_cache_dir, l2_normalize
from engine.text.cached import shard_name
from tests.conftest import PROJECT_ROOT

from .stubs import CountingTextEncoder


def test_second_call_does_not_reach_the_encoder(tmp_path):
    inner = CountingTextEncoder()
    cached = CachedTextEncoder(inner, cache_dir=tmp_path)
    assert (cached.id, cached.dim, cached.name) == (inner.id, inner.dim, inner.name)
    first = cached.encode(["wave", "clap", "wave"])
    assert inner.calls == [["wave", "clap"]]  # a repeated text is encoded once
    np.testing.assert_allclose(first[0], l2_normalize(inner.vector("wave")), atol=1e-6)
    np.testing.assert_array_equal(first[0], first[2])
    np.testing.assert_array_equal(cached.encode(["clap", "wave"]), first[[1, 0]])
    assert len(inner.calls) == 1

    # A new process (here: a fresh wrapper, empty memory) finds them on disk.
    inner2 = CountingTextEncoder()
    again = CachedTextEncoder(inner2, cache_dir=tmp_path).encode(["wave", "clap", "sit down"])
    assert inner2.texts_seen == ["sit down"]
    np.testing.assert_array_equal(again[:2], first[:2])
    assert cached.encode([]).shape == (0, inner.dim)


def test_entries_are_keyed_by_encoder_id(tmp_path):
    a = CountingTextEncoder(id="enc:a", salt="a")
    b = CountingTextEncoder(id="enc:b", salt="b")
    va = CachedTextEncoder(a, cache_dir=tmp_path).encode(["wave"])
    vb = CachedTextEncoder(b, cache_dir=tmp_path).encode(["wave"])
    assert a.texts_seen == ["wave"] and b.texts_seen == ["wave"]
    assert not np.allclose(va, vb)
    assert shard_name("enc:a") != shard_name("enc:b")
    assert len(list(tmp_path.glob("*.npz"))) == 2
    # Ids that differ only in characters a file name cannot hold still get their own shard.
    assert shard_name("x:1/2") != shard_name("x_1_2")


def test_corrupt_shard_is_ignored_and_rebuilt(tmp_path, caplog):
    inner = CountingTextEncoder()
    expected = CachedTextEncoder(inner, cache_dir=tmp_path).encode(["wave", "clap"])
    shard = tmp_path / shard_name(inner.id)
    shard.write_bytes(shard.read_bytes()[:100])  # truncated by a crash of something else

    fresh = CountingTextEncoder()
    with caplog.at_level(logging.WARNING, logger="engine.text.cached"):
        out = CachedTextEncoder(fresh, cache_dir=tmp_path).encode(["wave", "clap"])
    assert "unreadable" in caplog.text and str(shard) in caplog.text
    np.testing.assert_array_equal(out, expected)
    assert fresh.texts_seen == ["wave", "clap"]

    # Rebuilt: the next reader finds both without a warning.
    caplog.clear()
    third = CountingTextEncoder()
    with caplog.at_level(logging.WARNING, logger="engine.text.cached"):
        CachedTextEncoder(third, cache_dir=tmp_path).encode(["wave", "clap"])
    assert third.calls == [] and caplog.text == ""


def test_shard_of_another_shape_is_ignored(tmp_path, caplog):
    CachedTextEncoder(CountingTextEncoder(dim=8), cache_dir=tmp_path).encode(["wave"])
    wider = CountingTextEncoder(dim=16)  # same id, other dim: a changed encoder that kept its id
    with caplog.at_level(logging.WARNING, logger="engine.text.cached"):
        out = CachedTextEncoder(wider, cache_dir=tmp_path).encode(["wave"])
    assert out.shape == (1, 16) and wider.texts_seen == ["wave"] and "unreadable" in caplog.text


def test_unwritable_cache_still_encodes(tmp_path, caplog):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    inner = CountingTextEncoder()
    with caplog.at_level(logging.WARNING, logger="engine.text.cached"):
        out = CachedTextEncoder(inner, cache_dir=blocker / "text").encode(["wave"])
    assert out.shape == (1, 8) and "could not write" in caplog.text


def test_two_processes_writing_leave_a_readable_shard(tmp_path):
    script = (
        "import sys\n"
        "from engine.text import CachedTextEncoder\n"
        "from tests.engine.text.stubs import CountingTextEncoder\n"
        "enc = CachedTextEncoder(CountingTextEncoder(), cache_dir=sys.argv[1])\n"
        "for i in range(25):\n"
        "    enc.encode([f'{sys.argv[2]} {i}'])\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path), tag], cwd=PROJECT_ROOT, stderr=subprocess.PIPE
        )
        for tag in ("left", "right")
    ]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
    inner = CountingTextEncoder()
    cached = CachedTextEncoder(inner, cache_dir=tmp_path)
    stored = cached._read_disk()
    assert stored, "the shard is unreadable or empty"
    assert {"left 24", "right 24"} & set(stored)  # the last writer's newest entry is there
    assert not list(tmp_path.glob(".*.tmp")), "a temp file was left behind"
    for text, vec in stored.items():
        np.testing.assert_allclose(vec, l2_normalize(inner.vector(text)), atol=1e-6)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("ZSAR_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "text"
    monkeypatch.delenv("ZSAR_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir().parts[-3:] == (".cache", "zsar-studio", "text")


def test_real_minilm_through_the_cache(minilm, tmp_path, ntu60_names):
    cached = CachedTextEncoder(minilm, cache_dir=tmp_path)
    np.testing.assert_allclose(cached.encode(ntu60_names), minilm.encode(ntu60_names), atol=1e-6)
    reread = CachedTextEncoder(minilm, cache_dir=tmp_path)
    np.testing.assert_array_equal(reread.encode(ntu60_names[:3]), cached.encode(ntu60_names[:3]))
