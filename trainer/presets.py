"""Benchmark presets: a split, an encoder recipe, a text side and per-method settings, as data in
``assets/configs/presets/<dataset>.json`` (``utd_mhad_split1`` = split 1 of ``utd_mhad.json``)."""

from __future__ import annotations

import json

from engine.assets import asset_path
from engine.errors import ZsarError
from trainer.config import RunConfig, TextSpec, resolve

# the presets that run on the data beside the project come first, for lists shown to users
RUNNABLE_HERE = ("procedural", "utd_mhad", "nw_ucla", "bandai_namco2", "zsar_default")


def preset_documents() -> dict[str, dict]:
    """Preset (split) name -> its preset document, the ones runnable here first."""
    def order(path):
        return (RUNNABLE_HERE.index(path.stem) if path.stem in RUNNABLE_HERE else len(RUNNABLE_HERE), path.stem)

    paths = sorted(asset_path("configs", "presets").glob("*.json"), key=order)
    out = {}
    for path in paths:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for name in doc["splits"]:
            out[name] = doc
    return out


def preset_names() -> list[str]:
    return list(preset_documents())


def recipe_document(name: str) -> dict:
    """A preset file by its name (``assets/configs/presets/<name>.json``), whatever splits it lists: a
    recipe to train on another split (the cross-dataset benchmark's folds)."""
    path = asset_path("configs", "presets", f"{name}.json")
    if not path.exists():
        known = sorted(p.stem for p in asset_path("configs", "presets").glob("*.json"))
        raise ZsarError(f"unknown recipe {name!r} (known: {', '.join(known)})")
    return json.loads(path.read_text(encoding="utf-8"))


def recipe_config(doc: dict, split: str, method: str, data_root: str | None, device: str = "cpu",
                  select_on: str = "validation", variant: dict | None = None) -> RunConfig:
    """The run config of preset document ``doc``'s recipe on ``split``.

    Args:
        variant: changes to the recipe, ``{"pretrain": {...}, "text": {...}, "method": {...}}``
            merged over the document's (an ablation's lever switched off, a quick run's epochs).
    """
    variant = variant or {}
    if method not in doc["method_configs"]:
        raise ZsarError(f"the recipe has no settings for method {method!r} "
                        f"(known: {', '.join(sorted(doc['method_configs']))})")
    text = TextSpec(**{**doc["text"], **variant.get("text", {})})
    overrides = {**(doc.get("method_overrides", {}).get(method) or {}), **variant.get("method", {})}
    config = resolve(doc["method_configs"][method], split, None, text, select_on, device=device,
                     overrides=overrides or None)
    pretrain = {**doc["pretrain"], **doc.get("pretrain_overrides", {}).get(method, {}), **variant.get("pretrain", {})}
    return RunConfig.from_dict({**config.to_dict(), "pretrain": pretrain, "data_root": data_root, "preset": split})


def preset_config(name: str, method: str, data_root: str | None, device: str = "cpu",
                  select_on: str = "validation") -> RunConfig:
    doc = preset_documents().get(name)
    if doc is None:
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
