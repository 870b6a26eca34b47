"""Run folders: ``RUN/{config.json, events.jsonl, stages/, checkpoints/, text/, results.json}``.

Every file a run writes is written atomically (temp file, fsync, rename), so a killed run leaves
complete files or none. A stage is complete when ``stages/<stage>.json`` exists; ``--resume``
skips complete stages, and a config that differs from the run's own is refused rather than mixed.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from engine.atomic import atomic_write_bytes, atomic_write_text
from engine.errors import ZsarError
from trainer.config import RunConfig


class Run:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    # -- layout ---------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def results_path(self) -> Path:
        return self.path / "results.json"

    def file(self, *parts: str) -> Path:
        return self.path.joinpath(*parts)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, config: RunConfig, resume: bool) -> None:
        if self.config_path.exists():
            existing = json.loads(self.config_path.read_text(encoding="utf-8"))
            if not resume:
                raise ZsarError(f"{self.path} already holds a run; pass --resume to continue it or choose "
                                "another --out")
            if existing != json.loads(json.dumps(config.to_dict())):
                raise ZsarError(f"{self.path}: --resume with a different config than the run's config.json")
        self.path.mkdir(parents=True, exist_ok=True)
        self.write_json("config.json", config.to_dict())

    def config(self) -> RunConfig:
        if not self.config_path.exists():
            raise ZsarError(f"{self.path}: not a run folder (no config.json)")
        return RunConfig.load(self.config_path)

    def stage_done(self, stage: str) -> dict[str, Any] | None:
        p = self.file("stages", f"{stage}.json")
        return json.loads(p.read_text(encoding="utf-8")) if p.exists() else None

    def mark_done(self, stage: str, info: dict[str, Any]) -> None:
        self.write_json(f"stages/{stage}.json", info)

    # -- atomic writers -------------------------------------------------------------------------
    def write_json(self, relative: str, data: Any) -> Path:
        path = self.file(relative)
        atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
        return path

    def read_json(self, relative: str) -> Any:
        return json.loads(self.file(relative).read_text(encoding="utf-8"))

    def write_npy(self, relative: str, array: np.ndarray) -> Path:
        buf = io.BytesIO()
        np.save(buf, np.asarray(array), allow_pickle=False)
        path = self.file(relative)
        atomic_write_bytes(path, buf.getvalue())
        return path

    def read_npy(self, relative: str) -> np.ndarray:
        return np.load(self.file(relative), allow_pickle=False)

    def write_state(self, relative: str, state: dict) -> Path:
        from safetensors.torch import save

        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
        path = self.file(relative)
        atomic_write_bytes(path, save(tensors))
        return path

    def read_state(self, relative: str) -> dict:
        from safetensors.torch import load_file

        return load_file(self.file(relative))


def feature_root(run: Run, config: RunConfig) -> Path:
    """Where a run's SynSE-layout features are: the user's folder, or the run's own ``features/``."""
    return Path(config.features) if config.features else run.file("features")
