"""Run configs: typed, resolved once, written next to the results (``RUN/config.json``).

A run is described by a :class:`RunConfig`. It comes from a JSON file (``zsar train --config``, the
same form as a finished run's ``config.json``), or is put together from flags: a method config from
``assets/configs/methods`` (the paper's hyperparameters, with their source), a split from
``assets/splits``, a feature folder and a text side.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ZsarError

SELECTIONS = ("validation", "test")


@dataclass(frozen=True)
class TextSpec:
    """Where class embeddings come from.

    Attributes:
        encoder: text-encoder registry key, used when ``features`` is None.
        mode: text mode (``engine.text.prompts.TEXT_MODES``: ``name``, ``name_description``,
            ``templates``, ``global``, ``local``, fused ``name+global+local`` ...).
        features: a pre-computed ``(num_classes, D_t)`` ``.npy`` whose row i is class i (e.g. the MSF
            CLIP ViT-B/32 label features); it replaces the encoder.
        options: text-encoder options (a CLIP checkpoint path ...).
    """

    encoder: str = "minilm"
    mode: str = "name"
    features: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateSpec:
    """The GZSL gate (docs/methods.md#the-gzsl-gate): searched on the validation fold unless fixed."""

    variant: str = "sa_dvae"
    threshold: float | None = None
    temperature: float | None = None


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs, resolved.

    Attributes:
        method: method registry key; method_config: its resolved config fields.
        method_config_name: the assets config it came from (for the record).
        split: split name in ``assets/splits``.
        features: root of a SynSE-layout feature folder (or the split folder itself).
        selection: ``"validation"`` (default) picks the cycle on the validation fold;
            ``"test"`` reproduces the public code's choice of the best cycle on the unseen test set,
            and results say so.
        paper: the paper's numbers for this split, reported beside ours.
    """

    method: str
    split: str
    features: str | None = None
    method_config: dict[str, Any] = field(default_factory=dict)
    method_config_name: str | None = None
    text: TextSpec = field(default_factory=TextSpec)
    gate: GateSpec = field(default_factory=GateSpec)
    selection: str = "validation"
    device: str = "cpu"
    paper: dict[str, Any] = field(default_factory=dict)
    data_root: str | None = None  # the skeleton datasets, for runs that pretrain their own encoder
    pretrain: dict[str, Any] | None = None  # trainer.pretraining.PretrainConfig fields; None = features given
    preset: str | None = None

    @property
    def trains_encoder(self) -> bool:
        return self.pretrain is not None

    def __post_init__(self) -> None:
        if self.selection not in SELECTIONS:
            raise ZsarError(f"selection must be one of {', '.join(SELECTIONS)}, got {self.selection!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        d = dict(d)
        try:
            d["text"] = TextSpec(**d.get("text", {}))
            d["gate"] = GateSpec(**d.get("gate", {}))
            return cls(**d)
        except TypeError as exc:
            raise ZsarError(f"run config: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise ZsarError(f"{path}: not a readable run config ({exc})") from None


def paper_numbers(doc: dict[str, Any], split: str) -> dict[str, Any]:
    """The ``paper`` entry of a method config document for a split (``ntu60_synse_55_5`` is listed
    as ``ntu60_55_5`` in the configs, as the papers name it)."""
    paper = doc.get("paper") or {}
    short = split.replace("_synse_", "_")
    return paper.get(split) or paper.get(short) or {}


def resolve(method_config: str, split: str, features: str | None, text: TextSpec, selection: str = "validation",
            gate: GateSpec | None = None, device: str = "cpu", overrides: dict[str, Any] | None = None) -> RunConfig:
    """Build a run config from a method config name or path and flags."""
    from engine.methods import load_method_config

    try:
        key, config, doc = load_method_config(method_config)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise ZsarError(str(exc).strip("'\"")) from None
    fields = {**config.to_dict(), **(overrides or {})}
    g = doc.get("gate") or {}
    gate = gate or GateSpec(threshold=g.get("threshold"), temperature=g.get("temperature"),
                            variant=g.get("variant", "sa_dvae"))
    name = method_config if not str(method_config).endswith(".json") else str(Path(method_config).resolve())
    return RunConfig(method=key, split=split, features=features, method_config=fields, method_config_name=name,
                     text=text, gate=gate, selection=selection, device=device, paper=paper_numbers(doc, split))
