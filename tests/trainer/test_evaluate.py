"""``zsar evaluate RUN ...``: the results table of finished runs, mean and sample std over a method's
splits, the test-selection marker, ``--json``, and one-line errors for a missing or damaged run.

Most runs here are ``results.json`` files written with known numbers (no training); one is a real run
of the pipeline on small synthetic features, to keep the reader in step with what ``evaluate`` writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.trainer.conftest import assert_one_line_error, zsar
from trainer.commands.evaluate import find_runs, mean_std, read_run, split_family, summarise
from trainer.config import TextSpec, resolve
from trainer.data.splits import load_split
from trainer.data.synthetic_features import make_feature_folders
from trainer.events import ListSink
from trainer.runs import Run
from trainer.stages import run_pipeline

PAPER = {"zsl": 55.0, "gzsl": {"seen": 61.0, "unseen": 41.0, "h": 49.0}}


def write_run(folder: Path, method: str, split: str, zsl: float, gzsl: tuple[float, float, float] | None,
              on: str = "validation", paper: dict | None = None) -> Path:
    """A run folder as the evaluate stage leaves it, reduced to the fields the table reads."""
    folder.mkdir(parents=True)
    doc = {
        "zsl": {"top1": zsl, "samples": 100},
        "gzsl": None if gzsl is None else {"seen": gzsl[0], "unseen": gzsl[1], "h": gzsl[2], "samples": 300},
        "per_class": {}, "confusion": {}, "gate": {},
        "selection": {"on": on, "note": "", "selected_epoch": 3},
        "config": {"method": method, "split": split, "method_config_name": f"{method}.default"},
        "paper": paper or {},
    }
    (folder / "results.json").write_text(json.dumps(doc))
    return folder


@pytest.fixture
def three_splits(tmp_path) -> Path:
    """sa_dvae on utd_mhad_split1..3 (ZSL 50, 60, 70) plus one test-selected contrastive run."""
    root = tmp_path / "runs"
    write_run(root / "sa1", "sa_dvae", "utd_mhad_split1", 50.0, (60.0, 40.0, 48.0), paper=PAPER)
    write_run(root / "sa2", "sa_dvae", "utd_mhad_split2", 60.0, (70.0, 50.0, 58.0), paper=PAPER)
    write_run(root / "sa3", "sa_dvae", "utd_mhad_split3", 70.0, (80.0, 60.0, 68.0), paper=PAPER)
    write_run(root / "ct", "contrastive", "ntu60_synse_55_5", 31.0, (86.55, 29.0, 43.44), on="test")
    return root


def test_split_family_rule():
    assert split_family("utd_mhad_split1") == split_family("utd_mhad_split3") == "utd_mhad_split*"
    assert split_family("nw_ucla_split2") == "nw_ucla_split*"
    assert split_family("ntu60_smie_split_1") == split_family("ntu60_smie_split_3") == "ntu60_smie_split_*"
    assert split_family("pku51_star_ablation_split3") == "pku51_star_ablation_split*"
    assert split_family("mydata_12") == "mydata_*"
    # seen/unseen class counts name another benchmark, not another draw: 55/5 and 48/12 stay apart
    assert split_family("ntu60_synse_55_5") == "ntu60_synse_55_5"
    assert split_family("pku51_star_39_12") == "pku51_star_39_12"
    assert split_family("ntu60") == "ntu60"


def test_mean_and_sample_std():
    assert mean_std([50.0, 60.0, 70.0]) == {"mean": 60.0, "std": 10.0}  # ddof=1; population std is 8.16
    assert mean_std([42.0]) == {"mean": 42.0, "std": None}


def test_rows_groups_and_test_selection(three_splits):
    runs, unfinished = find_runs([str(three_splits)])
    assert len(runs) == 4 and unfinished == []
    summary = summarise([read_run(r) for r in runs])
    by_name = {Path(r["run"]).name: r for r in summary["runs"]}
    assert by_name["sa2"]["zsl"] == 60.0
    assert by_name["sa2"]["gzsl"] == {"seen": 70.0, "unseen": 50.0, "h": 58.0}
    assert by_name["sa2"]["paper"] == PAPER and by_name["sa2"]["group"] == "utd_mhad_split*"
    assert by_name["ct"]["test_selected"] and not by_name["sa1"]["test_selected"]
    groups = {g["method"]: g for g in summary["groups"]}
    sa = groups["sa_dvae"]
    assert (sa["n"], sa["splits"], sa["group"]) == (3, 3, "utd_mhad_split*")
    assert sa["zsl"] == {"mean": 60.0, "std": 10.0}
    assert sa["gzsl"]["seen"] == {"mean": 70.0, "std": 10.0}
    assert sa["gzsl"]["h"] == {"mean": 58.0, "std": 10.0}
    assert sa["paper"] == {"zsl": 55.0, "gzsl": PAPER["gzsl"]}
    assert groups["contrastive"]["n"] == 1 and groups["contrastive"]["zsl"]["std"] is None


def test_test_selected_runs_are_not_averaged_with_clean_ones(tmp_path):
    write_run(tmp_path / "a", "m", "utd_mhad_split1", 50.0, None)
    write_run(tmp_path / "b", "m", "utd_mhad_split2", 60.0, None)
    write_run(tmp_path / "c", "m", "utd_mhad_split3", 90.0, None, on="test")
    summary = summarise([read_run(r) for r in find_runs([str(tmp_path)])[0]])
    assert [(g["selection"], g["n"], g["zsl"]["mean"]) for g in summary["groups"]] == [
        ("validation", 2, 55.0), ("test", 1, 90.0)]
    assert all(g["gzsl"] is None for g in summary["groups"])


def test_cli_table(three_splits):
    res = zsar("evaluate", str(three_splits))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "sample standard deviation (ddof=1)" in out
    lines = out.splitlines()
    row = next(line for line in lines if line.endswith(str(three_splits / "sa2")))
    assert row.split()[:8] == ["sa_dvae", "utd_mhad_split2", "validation", "60.00", "70.00", "50.00", "58.00",
                               str(three_splits / "sa2")]
    mean = next(line for line in lines if "mean ± std over 3 splits" in line)
    assert "utd_mhad_split*" in mean and "60.00 ± 10.00" in mean and "70.00 ± 10.00" in mean
    assert sum("paper" in line and "55.00" in line for line in lines) == 4  # three runs and their mean
    test_row = next(line for line in lines if line.endswith(str(three_splits / "ct")))
    assert " test* " in test_row
    assert "* cycle chosen on the test set, as the public code does" in out


def test_cli_json_and_group_by(three_splits):
    res = zsar("evaluate", str(three_splits / "sa1"), str(three_splits / "sa2"), str(three_splits / "sa3"),
               str(three_splits / "sa1"), "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert len(doc["runs"]) == 3  # a run named twice counts once
    (group,) = doc["groups"]
    assert group["method"] == "sa_dvae" and group["group"] == "utd_mhad_split*" and group["n"] == 3
    assert group["zsl"] == {"mean": 60.0, "std": 10.0}
    assert group["gzsl"]["unseen"] == {"mean": 50.0, "std": 10.0}
    by_split = json.loads(zsar("evaluate", str(three_splits), "--json", "--group-by", "split").stdout)
    assert [g["group"] for g in by_split["groups"]] == ["ntu60_synse_55_5", "utd_mhad_split*"]


def test_cli_errors_are_one_line(tmp_path):
    missing = tmp_path / "nowhere"
    assert_one_line_error(zsar("evaluate", str(missing)), str(missing), "no such run folder")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "results.json").write_text('{"zsl": {"top1": 5')
    assert_one_line_error(zsar("evaluate", str(corrupt)), str(corrupt / "results.json"), "not valid JSON")
    fieldless = write_run(tmp_path / "fieldless", "m", "s", 1.0, None)
    (fieldless / "results.json").write_text(json.dumps({"zsl": {"top1": "high"},
                                                        "config": {"method": "m", "split": "s"}}))
    assert_one_line_error(zsar("evaluate", str(fieldless)), "zsl.top1", "not a number")
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.json").write_text("{}")
    assert_one_line_error(zsar("evaluate", str(unfinished)), str(unfinished), "no results.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(zsar("evaluate", str(empty)), str(empty), "no results.json")


def test_reads_a_real_run(tmp_path):
    split = "ntu60_synse_55_5"
    root, text = make_feature_folders(tmp_path / "feats", load_split(split), train_per_class=10,
                                      test_per_class=10, val_heldout_per_class=10, seed=1)
    config = resolve("contrastive.default", split, str(root), TextSpec(features=str(text)), "test",
                     overrides={"epochs": 2})
    run = Run(tmp_path / "real")
    run.start(config, resume=False)
    run_pipeline(run, config, ListSink())
    row = read_run(run.path)
    results = json.loads(run.results_path.read_text())
    assert row["zsl"] == results["zsl"]["top1"] and row["split"] == split and row["method"] == "contrastive"
    assert row["test_selected"] and row["gzsl"]["h"] == results["gzsl"]["h"]
