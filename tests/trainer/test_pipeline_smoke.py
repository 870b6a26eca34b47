"""All five stages on a small procedural dataset (synthetic motion, not real data), and a run killed
in the middle of a stage that resumes to exactly the result of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import synth
from tests.trainer.conftest import config
from trainer.config import RunConfig
from trainer.events import ListSink
from trainer.runs import Run
from trainer.stages import STAGES, run_pipeline

ROOT = Path(__file__).resolve().parents[2]


def test_all_five_stages(tmp_path):
    cfg = config(tmp_path)
    run = Run(tmp_path / "run")
    run.start(cfg, resume=False)
    infos = run_pipeline(run, cfg, ListSink())
    assert list(infos) == list(STAGES)
    for name in ("train", "ztest", "gtest", "gtest_out"):
        assert (run.file("features", "run_4_r", f"{name}.npy")).exists()
    assert (run.file("features", "run_val_4_r", "val_out.npy")).exists()
    assert infos["extract_features"]["ztest"] == 8 and infos["extract_features"]["gtest"] == 32
    r = json.loads(run.results_path.read_text())
    assert r["zsl"]["samples"] == 8 and r["gzsl"]["samples"] == 32
    assert 0 <= r["zsl"]["top1"] <= 100 and r["gzsl"]["h"] is not None


def test_encoder_and_projection_trained_end_to_end_against_texts(tmp_path):
    """The text_contrastive objective: one encoder (no validation-fold encoder), the method's weights
    taken over from it, mirrored texts among the training texts, and an exported bundle that scores
    through them."""
    import torch

    from engine.bundle import load_bundle
    from trainer.commands.export import export_run

    cfg = config(tmp_path, epochs=2)
    pretrain = {**cfg.pretrain, "encoder": "tcn", "objective": "text_contrastive", "mirror": 0.5, "crop": 0.7,
                "balance": "dataset"}
    cfg = RunConfig.from_dict({**cfg.to_dict(), "pretrain": pretrain})
    run = Run(tmp_path / "run")
    run.start(cfg, resume=False)
    infos = run_pipeline(run, cfg, ListSink())
    assert "validation" not in infos["pretrain_encoder"]  # nothing is fitted on a validation fold
    assert not run.file("features", "run_val_4_r").exists()
    texts = next(iter(run.file("text").glob("contrastive_*.json")))
    table = json.loads(texts.read_text())
    names = synth.list_actions()
    seen = [c for c in range(16) if c not in (1, 5, 9, 13)]
    assert [table["texts"][i] for i in table["class_text"]] == [names[c] for c in seen]
    mirrored = {names[c]: table["texts"][i] for c, i in zip(seen, table["mirror_text"])}
    assert mirrored["wave left hand"] == "wave right hand" and mirrored["clap"] == "clap"
    encoder_state = run.read_state("checkpoints/encoder_split.safetensors")
    method_state = run.read_state("checkpoints/method_split.safetensors")
    assert torch.equal(method_state["projection.weight"], encoder_state["method.projection.weight"])
    bundle = load_bundle(export_run(run.path, tmp_path / "model.zsar"))
    assert bundle.method_name == "contrastive" and bundle.encoder_name == "tcn"
    assert len(bundle.class_set) == 12


def _zsar(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "app", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_result(tmp_path):
    cfg = config(tmp_path, epochs=6)
    # The TCN (the default model's encoder) trains an epoch here in a fraction of stgcn_small's time;
    # what is tested is the resume, which is the same loop for every encoder.
    cfg = RunConfig.from_dict({**cfg.to_dict(), "pretrain": {**cfg.pretrain, "encoder": "tcn"}})
    cfg_path = tmp_path / "config.json"
    cfg_path.write_text(json.dumps(cfg.to_dict()))
    whole = _zsar("train", "--config", str(cfg_path), "--out", str(tmp_path / "whole"))
    killed = _zsar("train", "--config", str(cfg_path), "--out", str(tmp_path / "killed"))
    ckpt = tmp_path / "killed" / "checkpoints" / "encoder_split.pt"
    deadline = time.time() + 240
    while not ckpt.exists() and time.time() < deadline and killed.poll() is None:
        time.sleep(0.05)
    assert ckpt.exists(), killed.stderr.read() if killed.poll() is not None else "no checkpoint in time"
    os.kill(killed.pid, signal.SIGKILL)  # mid-stage: pretrain_encoder has written at least one epoch
    killed.wait()
    assert not (tmp_path / "killed" / "stages" / "pretrain_encoder.json").exists()
    resumed = _zsar("train", "--config", str(cfg_path), "--out", str(tmp_path / "killed"), "--resume")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    assert whole.wait(timeout=300) == 0, whole.stderr.read()
    a = json.loads((tmp_path / "whole" / "results.json").read_text())
    b = json.loads((tmp_path / "killed" / "results.json").read_text())
    assert a["zsl"] == b["zsl"] and a["gzsl"] == b["gzsl"] and a["per_class"] == b["per_class"]
    events = (tmp_path / "killed" / "events.jsonl").read_text().splitlines()
    assert all(json.loads(line) for line in events)  # every line whole, even across the kill


@pytest.mark.slow
def test_stage_one_with_two_gloo_processes(tmp_path):
    """torchrun --nproc_per_node=2 on the CPU: DistributedDataParallel over gloo for pretrain_encoder,
    then rank 0 alone finishes the run."""
    cfg = config(tmp_path, epochs=2)
    cfg = RunConfig.from_dict({**cfg.to_dict(), "pretrain": {**cfg.pretrain, "encoder": "tcn"}})
    cfg_path = tmp_path / "config.json"
    cfg_path.write_text(json.dumps(cfg.to_dict()))
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
                          "-m", "app", "train", "--config", str(cfg_path), "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=400, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    info = json.loads((out / "stages" / "pretrain_encoder.json").read_text())
    assert info["world_size"] == 2
    assert (out / "results.json").exists()
    assert (out / "events.jsonl").read_text().count('"event": "StageStarted"') == 5  # one voice: rank 0
