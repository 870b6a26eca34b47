"""A split with every class seen (how the default bundle is trained), and ``zsar export``: the bundle
of a finished run loads without the trainer and recognises clips with any typed names."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine import synth
from engine.errors import ZsarError
from tests.trainer.conftest import config
from trainer.cli import main as zsar
from trainer.config import RunConfig
from trainer.events import ListSink
from trainer.runs import Run
from trainer.stages import run_pipeline


@pytest.fixture(scope="module")
def all_seen_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("all_seen")
    base = config(tmp, epochs=20)  # procedural motion needs ~200 encoder steps to be told apart
    # the TCN (the default model's encoder) learns it in a fifth of stgcn_small's time
    cfg = RunConfig.from_dict({**base.to_dict(), "pretrain": {**base.pretrain, "batch_size": 8, "encoder": "tcn"}})
    split = json.loads((tmp / "procedural_split.json").read_text())
    split.update(name="procedural_all_seen", unseen=[], seen=list(range(16)), val_unseen=[0, 4, 8, 12],
                 val_seen=[c for c in range(16) if c not in (0, 4, 8, 12)])
    (tmp / "procedural_split.json").write_text(json.dumps(split))
    run = Run(tmp / "run")
    run.start(cfg, resume=False)
    infos = run_pipeline(run, cfg, ListSink())
    return run, infos


def test_all_seen_split_reports_held_out_subject_accuracy(all_seen_run):
    run, infos = all_seen_run
    r = json.loads(run.results_path.read_text())
    assert r["zsl"] is None and r["gzsl"] is None
    assert r["held_out_subjects"]["samples"] == 32  # 16 actions x 2 test subjects
    assert r["held_out_subjects"]["top1"] > 60  # chance over 16 classes: 6.25; 93.75 measured (1 and 2 threads)
    assert infos["pretrain_encoder"]["train_layout"] == "ntu25"


def test_exported_bundle_recognises_with_typed_names(all_seen_run, tmp_path, capsys):
    from engine.bundle import load_bundle
    from engine.streaming import StreamingRecognizer
    from engine.types import ClassSet

    run, _ = all_seen_run
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"limits": "procedural motion only", "streaming": {"window": 48, "stride": 4},
                                "calibration": {"temperature": 2.5, "source": "test"}}))
    out = tmp_path / "model.zsar"
    assert zsar(["export", str(run.path), "--out", str(out), "--card", str(card)]) == 0
    bundle = load_bundle(out)
    assert bundle.class_set.names == tuple(synth.list_actions()) and bundle.card["limits"] == "procedural motion only"
    assert bundle.streaming.window == 48 and bundle.card["accuracy"]["held_out_subjects"]["samples"] == 32
    assert bundle.temperature == 2.5 and "calibration" not in bundle.card
    clip = synth.generate("squat", seed=3)
    with StreamingRecognizer(bundle, ClassSet(("squat", "wave right hand", "jump")), top_k=3) as rec:
        p = rec.predict_sequence(clip.joints)
    assert sorted(p.names) == ["jump", "squat", "wave right hand"] and np.isclose(sum(p.probabilities), 1, atol=1e-4)


def test_export_refuses_an_unfinished_run(all_seen_run, tmp_path):
    from trainer.commands.export import export_run

    run, _ = all_seen_run
    unfinished = Run(tmp_path / "unfinished")
    unfinished.start(run.config(), resume=False)
    with pytest.raises(ZsarError, match="has not finished"):
        export_run(unfinished.path, tmp_path / "x.zsar")
