"""Benchmark presets: a split, an encoder recipe, a text side and per-method settings, as data in
``assets/configs/presets/<dataset>.json`` (``utd_mhad_split1`` = split 1 of ``utd_mhad.json``)."""

from __future__ import annotations

import json

from engine.assets import asset_path
from engine.errors import ZsarError
from trainer.config import RunConfig, TextSpec, resolve


def preset_names() -> list[str]:
    names = []
    for path in sorted(asset_path("configs", "presets").glob("*.json")):
        names += json.loads(path.read_text(encoding="utf-8"))["splits"]
    return names


def preset_config(name: str, method: str, data_root: str | None, device: str = "cpu",
                  select_on: str = "validation") -> RunConfig:
    for path in sorted(asset_path("configs", "presets").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if name in doc["splits"]:
            break
    else:
        raise ZsarError(f"unknown preset {name!r} (known: {', '.join(preset_names())})")
    if method not in doc["method_configs"]:
        raise ZsarError(f"preset {name} has no settings for method {method!r} "
                        f"(known: {', '.join(sorted(doc['method_configs']))})")
    config = resolve(doc["method_configs"][method], name, None, TextSpec(**doc["text"]), select_on, device=device,
                     overrides=doc.get("method_overrides", {}).get(method))
    # a method may train stage 1 its own way (PGFA: the encoder end to end through its alignment loss)
    pretrain = {**doc["pretrain"], **doc.get("pretrain_overrides", {}).get(method, {})}
    return RunConfig.from_dict({**config.to_dict(), "pretrain": pretrain, "data_root": data_root,
                                "preset": name})
