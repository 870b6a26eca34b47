"""PGFA end to end (kaai520/PGFA's protocol): stage 1 trains the skeleton encoder with PGFA's KL
alignment loss through its adapter against the frozen seen-class texts; the rest of the pipeline and
the export run unchanged. On procedural clips (synthetic motion)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.errors import ZsarError
from tests.trainer.conftest import procedural_split
from trainer.config import RunConfig, TextSpec, resolve
from trainer.events import ListSink
from trainer.runs import Run
from trainer.stages import run_pipeline


def _config(tmp_path, method: str = "pgfa") -> RunConfig:
    split = procedural_split(tmp_path / "procedural_split.json")
    base = resolve(f"{method}.ntu60_synse", str(split), None, TextSpec(encoder="minilm"),
                   overrides={"epochs": 8, "batch_size": 16})
    pretrain = {"encoder": "stgcn_small", "epochs": 8, "batch_size": 8, "lr": 0.005, "window": 32,
                "num_bodies": 1, "objective": "pgfa_alignment"}
    return RunConfig.from_dict({**base.to_dict(), "pretrain": pretrain})


@pytest.mark.slow
def test_stage_one_trains_the_encoder_through_pgfas_alignment(tmp_path):
    from trainer.commands.export import export_run

    cfg = _config(tmp_path)
    run = Run(tmp_path / "run")
    run.start(cfg, resume=False)
    events = ListSink()
    infos = run_pipeline(run, cfg, events)
    state = run.read_state("checkpoints/encoder_split.safetensors")
    assert "method.adapter.weight" in state and "head.weight" not in state  # no seen-class head
    kl = [e.losses["kl"] for e in events.events if getattr(e, "stage", "") == "pretrain_encoder:split"
          and hasattr(e, "losses") and "kl" in e.losses]
    assert kl and kl[-1] < kl[0]  # the alignment loss falls while the encoder trains
    gate_logits = np.load(run.file("features", "run_4_r", "gtest_out.npy"))
    assert np.isfinite(gate_logits).all()
    r = json.loads(run.results_path.read_text())
    assert r["zsl"]["samples"] == 8 and infos["pretrain_encoder"]["split"]["epochs"] == 8
    bundle = export_run(run.path, tmp_path / "pgfa.zsar")
    from engine.bundle import load_bundle

    assert load_bundle(bundle).method_name == "pgfa"


def test_the_alignment_objective_needs_pgfa(tmp_path):
    cfg = _config(tmp_path, method="sa_dvae")
    run = Run(tmp_path / "run")
    run.start(cfg, resume=False)
    with pytest.raises(ZsarError, match="--method pgfa"):
        run_pipeline(run, cfg, ListSink())
