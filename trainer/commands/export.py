"""``zsar export RUN --out B``: a bundle (``.zsar``) from a finished run that trained its own encoder.

The bundle holds the split encoder (without its seen-class head: recognition scores through the
method's text side), the method trained on the split, the preprocessing and text side the run used,
the class set it was trained on, the run's training layout ("train as you infer") and a model card
made of the run's results, merged with a card file the user gives (its ``streaming`` entry sets the live
window, its ``calibration`` entry the temperature that turns scores into probabilities).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from engine.errors import ZsarError
from trainer.runs import Run

STREAMING_KEYS = ("window", "stride", "fps", "smoothing", "min_present")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a bundle from a finished run")
    p.add_argument("run", help="a finished run folder (zsar train --out RUN)")
    p.add_argument("--out", required=True, help="the bundle to write (.zsar)")
    p.add_argument("--card", help="a JSON file of model-card fields (training data, licences, limits) to merge in")
    p.set_defaults(func=run)


def _card(run: Run, results: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    config = results.get("config", {})
    figures = {k: results.get(k) for k in ("zsl", "gzsl", "held_out_subjects") if results.get(k)}
    validation = (results.get("selection") or {}).get("validation") or {}
    if validation.get("val_zsl_top1") is not None:
        figures["validation_fold_zsl_top1"] = round(100 * float(validation["val_zsl_top1"]), 2)
    return {"run": run.path.name, "split": config.get("split"), "preset": config.get("preset"),
            "method": config.get("method"), "accuracy": figures, **extra}


def export_run(run_dir: str | Path, out: str | Path, card: dict[str, Any] | None = None) -> Path:
    """Write the bundle of the finished run in ``run_dir`` to ``out``; returns ``out``.

    Raises:
        ZsarError: the run is not finished, trained on released features (no encoder to ship), or its
            class embeddings came from a table rather than a text encoder (no open vocabulary).
    """
    import torch

    from engine.bundle import StreamingConfig, TextConfig, new_bundle, save_bundle
    from engine.encoders import load_encoder_config
    from engine.types import ClassSet
    from trainer.data.splits import load_split
    from trainer.pretraining import PretrainConfig
    from trainer.stages.pretrain_encoder import new_model, preprocess_config, seen_texts

    run = Run(run_dir)
    config = run.config()
    if not run.results_path.exists():
        raise ZsarError(f"{run.path}: the run has not finished (no results.json); zsar train --resume it first")
    if not config.trains_encoder:
        raise ZsarError(f"{run.path}: trained on released features, so there is no skeleton encoder to export")
    text_meta = run.read_json("text/meta.json")
    if "encoder" not in text_meta:
        raise ZsarError(f"{run.path}: its class embeddings came from {text_meta.get('features')}, not a text "
                        "encoder, so a bundle could not embed new action names")
    split = load_split(config.split)
    p = PretrainConfig.from_dict(config.pretrain)
    trained = new_model(p, len(split.seen), config, seen_texts(run, config, split.seen))
    trained.load_state_dict(run.read_state("checkpoints/encoder_split.safetensors"))
    key, _ = load_encoder_config(p.encoder)
    emb_dim = int(text_meta["dim"])
    names = split.names()
    bundle = new_bundle(
        key, trained.encoder.config.to_dict(), config.method, config.method_config,
        TextConfig(encoder=config.text.encoder, options=dict(config.text.options), mode=config.text.mode,
                   encoder_id=text_meta["encoder_id"]),
        # a combined dataset may name a class twice ("throw" in two datasets): the set names it once
        emb_dim, ClassSet(tuple(dict.fromkeys(names[c] for c in split.seen))), preprocess_config(p),
        split=split.to_dict(), train_layout=run.read_json("stages/pretrain_encoder.json").get("train_layout", "ntu25"),
        streaming=StreamingConfig(**{k: v for k, v in (card or {}).get("streaming", {}).items()
                                     if k in STREAMING_KEYS}),
        card=_card(run, run.read_json("results.json"),
                   {k: v for k, v in (card or {}).items() if k not in ("streaming", "calibration")}),
        # {"temperature": T, "source": ...}: how the scores become probabilities (the default bundle's T is
        # fitted on the cross-dataset benchmark's held-out scores, zsar bench zeroshot)
        calibration=dict((card or {}).get("calibration") or {}),
    )
    with torch.no_grad():
        bundle.encoder.load_state_dict(trained.encoder.state_dict())
        bundle.method.load_state_dict(run.read_state("checkpoints/method_split.safetensors"))
    save_bundle(bundle, out)
    return Path(out)


def run(args: argparse.Namespace) -> int:
    card = None
    if args.card:
        try:
            card = json.loads(Path(args.card).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ZsarError(f"{args.card}: not a readable JSON model card ({exc})") from None
    path = export_run(args.run, args.out, card)
    print(f"wrote {path}")
    return 0
