"""The cross-dataset zero-shot benchmark: temperature fitting and calibration error, the "new names"
rule, the results file markers, and one real fold end to end (a tiny recipe trained on five real
datasets, its bundle recognising the sixth's test people by their class names)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import shared_path
from trainer.commands import bench_zeroshot as bz


def _overconfident(seed: int = 0, n: int = 3000, k: int = 12, factor: float = 4.0):
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(size=(n, k)) * 2.0
    p = np.exp(true_logits - true_logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    labels = np.array([rng.choice(k, p=row) for row in p])
    return true_logits * factor, labels


def test_fit_temperature_undoes_overconfident_scores():
    logits, labels = _overconfident()
    t = bz.fit_temperature([logits[:1500], logits[1500:]], [labels[:1500], labels[1500:]])
    assert 3.4 < t < 4.6  # the scores were the true ones times 4
    before = bz.expected_calibration_error(logits, labels)
    after = bz.expected_calibration_error(logits, labels, t)
    assert after < 4.0 < before / 2


def test_new_names_are_those_without_a_near_duplicate_among_the_training_names():
    novel, cosine = bz.novel_classes(("walking in place", "tennis serve"), ("walk in place", "sit down", "clap"))
    assert novel == [False, True]
    assert cosine[0] > bz.NEW_NAME_COSINE > cosine[1]


def test_results_are_written_between_markers(tmp_path):
    path = tmp_path / "results.md"
    path.write_text("# Results\n\nintro\n")
    bz.write_results(path, "table one")
    bz.write_results(path, "table two")
    text = path.read_text()
    assert text.startswith("# Results\n\nintro\n") and "table two" in text and "table one" not in text
    assert text.count(bz.MARK_START) == 1 and text.count(bz.MARK_END) == 1


@pytest.mark.slow
def test_one_fold_end_to_end(tmp_path):
    """A two-epoch TCN recipe trained on UTD-MHAD's training subjects (one dataset, to keep the test
    short; the benchmark's folds train on five): the bundle is exported, recognises HDM05's test actors
    by HDM05's names through the recognizer, and the report has every column."""
    root = shared_path()
    split = tmp_path / "utd_all_seen.json"
    split.write_text(json.dumps({"name": "utd_all_seen", "dataset": "utd_mhad", "num_classes": 27,
                                 "seen": list(range(27)), "unseen": [], "protocol":
                                 {"kind": "cross_subject", "train_subjects": [1, 3, 5, 7],
                                  "test_subjects": [2, 4, 6, 8]},
                                 "source": "test"}))
    doc = {
        "splits": [], "benchmark_method": "contrastive",
        "pretrain": {"encoder": "tcn", "objective": "text_contrastive", "epochs": 2, "batch_size": 64,
                     "lr": 0.002, "weight_decay": 0.001, "window": 32, "style": "view", "num_bodies": 1,
                     "torso_length": 0.5, "mirror": 0.5, "crop": 0.7, "balance": "dataset"},
        "text": {"encoder": "minilm", "mode": "name"},
        "method_configs": {"contrastive": "contrastive.default"},
    }
    folder = tmp_path / "hdm05"
    bundle = bz.train_fold(doc, "contrastive", "hdm05", folder, str(root), "cpu", {"pretrain": {}}, split=str(split))
    result = bz.evaluate_fold(bundle, "hdm05", str(root))
    assert result["classes"] == 11 and result["clips"] == 99  # actors mm and tr
    assert result["logits"].shape == (99, 11) and np.isfinite(result["logits"]).all()
    assert result["chance_top1"] == pytest.approx(100 / 11, abs=0.01)
    assert 0 <= result["top1"] <= result["top5"] <= 100
    # the training names are UTD-MHAD's: "squat" is a near duplicate of its "squat (two arms stretch out)",
    # "sneak forward" has none
    assert not result["per_class"]["squat"]["new"] and result["per_class"]["sneak forward"]["new"]
    summary = bz.summarise("tiny", "contrastive", None, {"hdm05": result}, quick=False)
    table = bz.report([summary], [])
    assert "| hdm05 | 11 | 99 |" in table and "ECE" in table


def _fold(held_out: str, top1: float, top5: float, seed: int) -> dict:
    logits, labels = _overconfident(seed, n=200, k=10)
    return {"held_out": held_out, "classes": 10, "clips": 200, "chance_top1": 10.0, "chance_top5": 50.0,
            "top1": top1, "top5": top5, "per_class": {},
            "new_names": {"classes": 0, "clips": 0, "top1": None, "top5": None},
            "logits": logits, "labels": labels}


def test_tables_compare_recipes_and_levers_over_the_folds_both_ran():
    full = bz.summarise("new", "contrastive", None, {"utd_mhad": _fold("utd_mhad", 40, 80, 0),
                                                      "nw_ucla": _fold("nw_ucla", 20, 70, 1),
                                                      "hdm05": _fold("hdm05", 30, 60, 2)}, quick=False)
    old = bz.summarise("old", "sa_dvae", None, {"utd_mhad": _fold("utd_mhad", 10, 50, 3)}, quick=False)
    table = bz.fold_table([old, full])
    assert "| nw_ucla | 10 | 200 |" in table  # a fold only the second recipe ran still has its row
    assert "(1 folds)" in table and "mean over the 1 folds every recipe ran" in table
    assert "| 10.0 / 50.0 | | 40.0 / 80.0 | |" in table  # the common-fold means, not the all-fold ones
    variant = bz.summarise("new", "contrastive", "mirror", {"utd_mhad": _fold("utd_mhad", 35, 82, 4)}, quick=False)
    empty = bz.summarise("new", "contrastive", "balance", {}, quick=False)
    ablation = bz.ablation_table(full, [variant, empty])
    assert "| without mirror | 1 | 35.00 | 82.00 | -5.00 | +2.00 |" in ablation  # against utd_mhad's 40 / 80
    assert "balance" not in ablation


def test_report_only_tabulates_without_training(tmp_path):
    summary = bz.run_recipe("zsar_default", ("hdm05",), tmp_path, None, "cpu", train=False, log=lambda m: None)
    assert summary["folds"] == {} and not any(tmp_path.iterdir())
