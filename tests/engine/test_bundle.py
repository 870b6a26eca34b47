"""Bundles: a bit-exact round trip, and every damaged, truncated, unsafe or mismatched file is a
clear ModelFileError naming the file (never a crash inside torch, never code run from the file)."""

from __future__ import annotations

import json
import pickle
import struct

import pytest
import torch

from engine.bundle import load_bundle, read_manifest, save_bundle, seal_manifest
from engine.errors import ModelFileError
from tests.engine.fixtures import small_bundle


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / "model.zsar"
    bundle = small_bundle()
    digest = save_bundle(bundle, path)
    return bundle, path, digest


def test_round_trip_is_bit_exact(saved):
    bundle, path, digest = saved
    back = load_bundle(path)
    assert back.weights_sha256 == digest == bundle.weights_sha256
    for a, b in ((bundle.encoder, back.encoder), (bundle.method, back.method)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) and sa[k].dtype == sb[k].dtype for k in sa)
    x = torch.randn(2, 3, 16, 25, 1)
    with torch.no_grad():
        assert torch.equal(bundle.encoder.eval().features(x), back.encoder.features(x))
    assert back.class_set == bundle.class_set
    assert back.preprocess == bundle.preprocess and back.streaming == bundle.streaming
    assert back.text == bundle.text and back.split == bundle.split and back.card == bundle.card
    assert back.encoder.config == bundle.encoder.config and back.method.config == bundle.method.config


def assert_refused(path, *needles):
    with pytest.raises(ModelFileError) as info:
        load_bundle(path)
    message = str(info.value)
    assert str(path) in message
    for needle in needles:
        assert needle in message
    return message


@pytest.mark.parametrize("keep", [0, 5, 9, 100, 0.5, 0.999])
def test_truncated_files(saved, tmp_path, keep):
    _, path, _ = saved
    data = path.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    bad = tmp_path / "cut.zsar"
    bad.write_bytes(data[:n])
    assert_refused(bad)


def test_altered_weights_and_header(saved, tmp_path):
    _, path, _ = saved
    data = bytearray(path.read_bytes())
    flipped = bytearray(data)
    flipped[-10] ^= 0xFF  # inside the last tensor
    (tmp_path / "w.zsar").write_bytes(flipped)
    assert_refused(tmp_path / "w.zsar", "sha256")
    (header_len,) = struct.unpack("<Q", data[:8])
    broken = bytearray(data)
    broken[8 + header_len // 2] = ord("}")
    (tmp_path / "h.zsar").write_bytes(broken)
    assert_refused(tmp_path / "h.zsar")


def test_pickle_payload_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    p = tmp_path / "evil.zsar"
    p.write_bytes(pickle.dumps({"weights": Evil()}))
    assert_refused(p, "pickle")
    t = tmp_path / "evil_torch.zsar"
    torch.save({"weights": torch.zeros(3), "x": Evil()}, t)
    assert_refused(t, "not a zsar bundle")
    assert not marker.exists()


def test_other_files_missing_empty_and_foreign_safetensors(tmp_path):
    from safetensors.torch import save_file

    assert_refused(tmp_path / "none.zsar", "no such")
    (tmp_path / "empty.zsar").write_bytes(b"")
    assert_refused(tmp_path / "empty.zsar", "empty")
    (tmp_path / "text.zsar").write_text("hello, this is not a model at all")
    assert_refused(tmp_path / "text.zsar", "not a zsar bundle")
    save_file({"w": torch.zeros(2)}, tmp_path / "plain.safetensors")
    assert_refused(tmp_path / "plain.safetensors", "not a zsar bundle")


def _rewrite(path, out, change):
    """Re-save a bundle with its manifest changed and its digests kept valid."""
    from safetensors.torch import load_file, save_file

    manifest = read_manifest(path)
    change(manifest)
    save_file(load_file(path), out, metadata={"zsar_bundle": json.dumps(seal_manifest(manifest))})


def test_mismatched_configs(saved, tmp_path):
    _, path, _ = saved

    def wider(m):
        m["encoder"]["config"]["num_classes"] = 7  # a head the weights do not have

    _rewrite(path, tmp_path / "a.zsar", wider)
    assert_refused(tmp_path / "a.zsar", "encoder weights do not fit")

    def unknown(m):
        m["method"]["name"] = "no_such_method"

    _rewrite(path, tmp_path / "b.zsar", unknown)
    assert_refused(tmp_path / "b.zsar", "no_such_method")

    def newer(m):
        m["format_version"] = 99

    _rewrite(path, tmp_path / "c.zsar", newer)
    assert_refused(tmp_path / "c.zsar", "newer")


def test_save_is_atomic(saved, tmp_path, monkeypatch):
    bundle, path, _ = saved
    target = tmp_path / "keep.zsar"
    save_bundle(bundle, target)
    before = target.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("engine.atomic.os.replace", boom)
    with pytest.raises(OSError):
        save_bundle(bundle, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.zsar"]


def test_a_header_length_whose_low_byte_opens_a_pickle_still_loads(tmp_path):
    # 0x80 starts a pickle; a safetensors header of 256k + 128 bytes starts with the same byte
    bundle = small_bundle()
    for pad in range(256):
        bundle.card = {"pad": "x" * pad}
        path = tmp_path / "model.zsar"
        save_bundle(bundle, path)
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    assert load_bundle(path).card == bundle.card
