"""``zsar train`` on pre-extracted features in the SynSE layout: embed_texts -> fit_alignment ->
evaluate, on small synthetic feature folders (not real data), with results.json as documented."""

from __future__ import annotations

import json

import pytest

from tests.trainer.conftest import assert_one_line_error, zsar
from trainer.config import TextSpec, resolve
from trainer.data.splits import load_split
from trainer.data.synthetic_features import make_feature_folders
from trainer.events import EpochEnded, EvalReported, ListSink, StageFinished
from trainer.runs import Run
from trainer.stages import run_pipeline

SPLIT = "ntu60_synse_55_5"


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    root = tmp_path_factory.mktemp("feats")
    return make_feature_folders(root, load_split(SPLIT), train_per_class=40, test_per_class=20,
                                val_heldout_per_class=20, seed=1)


def run_once(tmp_path, features, selection="validation", epochs=8):
    root, text = features
    config = resolve("contrastive.default", SPLIT, str(root), TextSpec(features=str(text)), selection,
                     overrides={"epochs": epochs})
    run = Run(tmp_path / f"run_{selection}")
    run.start(config, resume=False)
    sink = ListSink()
    run_pipeline(run, config, sink)
    return run, sink


def test_pipeline_writes_results_beside_config(tmp_path, features):
    run, sink = run_once(tmp_path, features)
    r = json.loads(run.results_path.read_text())
    assert r["zsl"]["top1"] > 40, r["zsl"]  # chance is 20 on 5 unseen classes
    g = r["gzsl"]
    assert 0 <= g["seen"] <= 100 and 0 <= g["unseen"] <= 100 and g["h"] > 0
    assert g["h"] == pytest.approx(2 * g["seen"] * g["unseen"] / (g["seen"] + g["unseen"]), abs=0.02)
    assert r["selection"]["on"] == "validation" and r["selection"]["selected_epoch"] is not None
    assert set(r["per_class"]["zsl"]) == {"10 reading", "11 writing", "19 put on a hat/cap", "26 jump up",
                                          "56 touch other person's pocket"} or len(r["per_class"]["zsl"]) == 5
    assert r["config"]["method"] == "contrastive" and r["config"]["split"] == SPLIT
    assert "threshold" in json.dumps(r["gate"])
    # every stage completed and recorded; progress went out as events
    for stage in ("embed_texts", "fit_alignment", "evaluate"):
        assert run.stage_done(stage) is not None
    assert sink.of(EpochEnded) and sink.of(EvalReported)
    assert json.loads(run.config_path.read_text())["method"] == "contrastive"


def test_resume_skips_complete_stages_and_refuses_another_config(tmp_path, features):
    run, _ = run_once(tmp_path, features, epochs=2)
    before = run.results_path.read_bytes()
    config = run.config()
    run.start(config, resume=True)
    sink = ListSink()
    run_pipeline(run, config, sink)
    assert [e.detail for e in sink.of(StageFinished)] == ["already complete (resumed)"] * 3
    assert run.results_path.read_bytes() == before
    other = resolve("contrastive.default", SPLIT, config.features, config.text, overrides={"epochs": 3})
    with pytest.raises(Exception, match="different config"):
        run.start(other, resume=True)


def test_test_set_selection_is_labelled(tmp_path, features):
    run, _ = run_once(tmp_path, features, selection="test", epochs=3)
    r = json.loads(run.results_path.read_text())
    assert r["selection"]["on"] == "test" and "TEST" in r["selection"]["note"]


@pytest.mark.slow
def test_cli_train_and_its_errors(tmp_path, features):
    root, text = features
    out = tmp_path / "cli_run"
    res = zsar("train", "--method-config", "contrastive.default", "--split", SPLIT, "--features", str(root),
               "--text-features", str(text), "--epochs", "2", "--out", str(out), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["zsl"]["top1"] is not None
    assert (out / "events.jsonl").read_text().count("\n") > 3
    again = zsar("train", "--method-config", "contrastive.default", "--split", SPLIT, "--features", str(root),
                 "--text-features", str(text), "--epochs", "2", "--out", str(out))
    assert_one_line_error(again, "already holds a run")
    assert_one_line_error(zsar("train", "--method-config", "contrastive.default", "--split", SPLIT, "--features",
                               str(tmp_path / "nowhere"), "--out", str(tmp_path / "r2")), "no such feature folder")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "shift_5_r").mkdir()
    assert_one_line_error(zsar("train", "--method-config", "contrastive.default", "--split", SPLIT, "--features",
                               str(broken), "--text-features", str(text), "--out", str(tmp_path / "r3")),
                          "shift_5_r: train.npy, train_label.npy", "are missing")
