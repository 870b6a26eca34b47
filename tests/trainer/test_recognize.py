"""``zsar recognize`` as a user runs it: a real skeleton file, typed names, a bundle file."""

from __future__ import annotations

import json

import pytest

from engine.bundle import save_bundle
from tests.engine.fixtures import small_bundle
from tests.trainer.conftest import assert_one_line_error, zsar


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "tiny.zsar"
    save_bundle(small_bundle(window=32, num_bodies=2), path)
    return path


def test_recognize_ntu_sample_json_and_text(ntu_sample, bundle_file):
    actions = "drink water; kicking something; sit down: bending the knees onto a chair"
    r = zsar("recognize", str(ntu_sample), "--actions", actions, "--bundle", str(bundle_file), "--json", "--top", "2")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["actions"] == ["drink water", "kicking something", "sit down"]
    (seq,) = out["sequences"]
    assert seq["frames"] == 103 and seq["label"] == "drink water" and seq["person"]
    ranked = seq["ranked"]
    assert len(ranked) == 2 and ranked[0]["probability"] >= ranked[1]["probability"]
    assert {r["name"] for r in ranked} <= set(out["actions"])
    text = zsar("recognize", str(ntu_sample), "--actions", actions, "--bundle", str(bundle_file))
    assert text.returncode == 0, text.stderr
    assert "103 frames" in text.stdout and "%" in text.stdout


def test_recognize_errors_are_one_line(ntu_sample, bundle_file, tmp_path):
    assert_one_line_error(zsar("recognize", str(ntu_sample), "--actions", " ; ; ", "--bundle", str(bundle_file)),
                          "--actions")
    broken = tmp_path / "broken.zsar"
    broken.write_bytes(bundle_file.read_bytes()[:1000])
    assert_one_line_error(zsar("recognize", str(ntu_sample), "--actions", "a; b", "--bundle", str(broken)),
                          str(broken), "truncated")
    bad = tmp_path / "S001C001P001R001A001.skeleton"
    bad.write_text("".join(ntu_sample.read_text().splitlines(keepends=True)[:300]))
    assert_one_line_error(zsar("recognize", str(bad), "--actions", "a; b", "--bundle", str(bundle_file)), str(bad))
