"""Helpers shared by the trainer tests: the ``zsar`` command as a user runs it (a subprocess) and its
one-line errors, and a small run on procedural clips (synthetic motion)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from engine import synth
from trainer.config import RunConfig, TextSpec, resolve

ROOT = Path(__file__).resolve().parents[2]


def zsar(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app", *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("zsar: error: ")
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


def procedural_split(path: Path) -> Path:
    names = synth.list_actions()  # 16 actions; 6 made-up subjects each (trainer.data.datasets)
    split = {"name": "procedural_test", "dataset": "procedural", "num_classes": len(names),
             "unseen": [1, 5, 9, 13], "seen": [c for c in range(16) if c not in (1, 5, 9, 13)],
             "val_unseen": [0, 4, 8, 12], "val_seen": [2, 3, 6, 7, 10, 11, 14, 15],
             "protocol": {"kind": "cross_subject", "train_subjects": [0, 1, 2, 3], "test_subjects": [4, 5]},
             "class_names": names, "source": "test fixture"}
    path.write_text(json.dumps(split))
    return path


def config(tmp_path: Path, epochs: int = 3) -> RunConfig:
    split = procedural_split(tmp_path / "procedural_split.json")
    base = resolve("contrastive.default", str(split), None, TextSpec(encoder="minilm"), overrides={"epochs": 5})
    pretrain = {"encoder": "stgcn_small", "epochs": epochs, "batch_size": 16, "lr": 0.005, "window": 32,
                "num_bodies": 1}
    return RunConfig.from_dict({**base.to_dict(), "pretrain": pretrain})
