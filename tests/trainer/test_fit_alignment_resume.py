"""``fit_alignment`` killed after k epochs of a fold and resumed: it continues at epoch k (0-based),
not 0, and ends with the weights and results of an uninterrupted run. Small synthetic feature
folders (not real data); SA-DVAE, whose two optimizers and discriminator are the most state a
method keeps between steps."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from trainer.config import TextSpec, resolve
from trainer.data.splits import load_split
from trainer.data.synthetic_features import make_feature_folders
from trainer.events import EpochEnded, ListSink, StageFinished, StepLogged
from trainer.runs import Run
from trainer.stages import run_pipeline

ROOT = Path(__file__).resolve().parents[2]
SPLIT = "ntu60_synse_55_5"
EPOCHS = 5
# small enough for a few steps an epoch (220 training features of 32-d, batches of 32) and a quick
# unseen-classifier fit in each epoch's validation score
OVERRIDES = {"epochs": EPOCHS, "latent_size": 8, "style_size": 2, "batch_size": 32, "lr": 1e-3,
             "classifier_samples_per_class": 20, "classifier_steps": 20}


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread here and in the child: matrices this small run several times faster on one
    thread than on two contended ones, and the killed child must compute exactly as this process
    does (a reduction split over threads may round differently)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    root = tmp_path_factory.mktemp("feats")
    return make_feature_folders(root, load_split(SPLIT), train_per_class=4, test_per_class=4,
                                val_heldout_per_class=2, feature_dim=32, text_dim=16, style_dim=4, seed=3)


def make_config(features, selection: str):
    root, text = features
    return resolve("sa_dvae.ntu60_synse", SPLIT, str(root), TextSpec(features=str(text)), selection,
                   overrides=OVERRIDES)


def kill_after(run_path: Path, config, stage: str, epochs_done: int) -> None:
    """The pipeline in a child process that SIGKILLs itself once ``stage`` has finished (and, the
    loop checkpointing before it reports, saved) ``epochs_done`` epochs: no cleanup of any kind runs."""
    (run_path.parent / f"{run_path.name}.config.json").write_text(json.dumps(config.to_dict()))
    script = textwrap.dedent(f"""
        import os, signal
        import torch
        from trainer.config import RunConfig
        from trainer.events import EpochEnded
        from trainer.runs import Run
        from trainer.stages import run_pipeline

        def sink(event):
            if isinstance(event, EpochEnded) and event.stage == {stage!r} and event.epoch + 1 == {epochs_done}:
                os.kill(os.getpid(), signal.SIGKILL)

        torch.set_num_threads(1)
        config = RunConfig.load({str(run_path.parent / f"{run_path.name}.config.json")!r})
        run = Run({str(run_path)!r})
        run.start(config, resume=False)
        run_pipeline(run, config, sink)
    """)
    res = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == -signal.SIGKILL, res.stderr[-3000:]


def outcome(run: Run) -> dict:
    """What an uninterrupted run and a resumed one must agree on (timings aside)."""
    results = run.read_json("results.json")
    fit = run.read_json("stages/fit_alignment.json")
    return {
        "results": {k: results[k] for k in ("zsl", "gzsl", "per_class", "confusion", "gate")},
        "selected_epoch": results["selection"].get("selected_epoch"),
        "validation_history": fit["validation"]["history"],
        "split_history": fit["split"]["history"],
        "weights": run.file("checkpoints", "method_split.safetensors").read_bytes(),
        "val_weights": run.file("checkpoints", "method_val.safetensors").read_bytes(),
        "gate_inputs": {p.name: p.read_bytes() for p in sorted(run.file("gate_inputs").glob("*.npy"))},
    }


@pytest.mark.parametrize("selection, stage, epochs_done", [
    ("validation", "fit_alignment:validation_fold", 2),  # killed in the first fold
    ("test", "fit_alignment:split", 3),  # killed in the second, the first finished
])
@pytest.mark.slow
def test_killed_fit_alignment_resumes_after_its_last_epoch(tmp_path, features, selection, stage, epochs_done):
    config = make_config(features, selection)
    whole = Run(tmp_path / "whole")
    whole.start(config, resume=False)
    run_pipeline(whole, config, ListSink())

    killed = Run(tmp_path / "killed")
    kill_after(killed.path, config, stage, epochs_done)
    assert killed.stage_done("embed_texts") is not None and killed.stage_done("fit_alignment") is None

    killed.start(config, resume=True)
    sink = ListSink()
    run_pipeline(killed, config, sink)
    resumed = [e.epoch for e in sink.of(EpochEnded) if e.stage == stage]
    assert resumed == list(range(epochs_done, EPOCHS)), resumed  # continues, loses nothing
    assert min(e.epoch for e in sink.of(StepLogged) if e.stage == stage) == epochs_done
    if stage == "fit_alignment:split":  # the finished fold is restored, not trained again
        assert not [e for e in sink.of(EpochEnded) if e.stage == "fit_alignment:validation_fold"]
    assert [e.stage for e in sink.of(StageFinished) if e.detail] == ["embed_texts"]
    assert outcome(killed) == outcome(whole)
