"""The ``zsar`` command line as a user runs it: a subprocess, its output and exit status."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import shared_path
from tests.trainer.conftest import assert_one_line_error, zsar

ROOT = Path(__file__).resolve().parents[2]


def test_inspect_ntu_sample_text_and_json(ntu_sample):
    text = zsar("inspect", str(ntu_sample))
    assert text.returncode == 0, text.stderr
    assert "frames    103" in text.stdout
    assert "bodies    1" in text.stdout
    assert "joints    25" in text.stdout
    assert "drink water" in text.stdout
    out = json.loads(zsar("inspect", str(ntu_sample), "--json").stdout)
    assert (out["frames"], out["bodies"], out["joints"], out["fps"]) == (103, 1, 25, 30.0)
    assert (out["format"], out["label"], out["label_id"], out["dataset"]) == ("ntu_skeleton", "drink water", 0, "ntu60")


def test_inspect_corrupted_copy_is_one_clear_line(ntu_sample, tmp_path):
    lines = ntu_sample.read_text().splitlines(keepends=True)
    bad = tmp_path / ntu_sample.name
    bad.write_text("".join(lines[:500]))  # truncated mid-file
    assert_one_line_error(zsar("inspect", str(bad)), str(bad))
    garbled = tmp_path / "S001C001P001R001A002.skeleton"
    garbled.write_text("".join(lines[:30]) + "0.1 zero 3.7" + "".join(lines[31:]))
    assert_one_line_error(zsar("inspect", str(garbled)), str(garbled), "line 31")


def test_inspect_unknown_format_and_missing_file(tmp_path):
    odd = tmp_path / "clip.xyz"
    odd.write_text("hello")
    assert_one_line_error(zsar("inspect", str(odd)), "unknown skeleton file format")
    assert_one_line_error(zsar("inspect", str(tmp_path / "nope.skeleton")), "no such file")


def test_inspect_multi_sequence_file():
    path = shared_path("bandai_namco_motion", "dataset1_positions_mm.npz")
    out = json.loads(zsar("inspect", str(path), "--json").stdout)
    assert out["sequences"] == 174 and len(out["items"]) == 10
    assert out["items"][0]["joints"] == 25 and out["items"][0]["source_layout"] == "bandai_22"


def test_bench_io_prints_figures_for_utd_mhad():
    root = shared_path()
    result = zsar("bench", "io", "--dataset", "utd_mhad", "--data-root", str(root), "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["files"] == 861 and figures["sequences"] == 861
    assert figures["read_seq_per_s"] > 0 and set(figures["preprocess"]) == {"ctr_gcn", "aimclr", "view"}


def test_bench_io_without_data_is_a_clear_error(tmp_path):
    assert_one_line_error(zsar("bench", "io", "--data-root", str(tmp_path)), "no utd_mhad files")


def test_headless_demo_runs_end_to_end(tmp_path):
    result = zsar("demo", "--headless", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "read back exactly" in result.stdout and "WITH DIFFERENCES" not in result.stdout
    recordings = sorted(tmp_path.glob("*.skeleton"))
    assert len(recordings) == 4
    assert "@" in result.stdout  # the heads were drawn


def test_no_command_prints_help_and_fails():
    result = zsar()
    assert result.returncode == 2 and "usage: zsar" in result.stderr
