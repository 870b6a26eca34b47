"""``zsar train``: a benchmark run, from a run config or from a method config and flags.

With ``--preset`` it runs all five stages on skeleton files (the encoder is trained too); with
``--features`` alone, on pre-extracted features in the SynSE layout, only the stages ``embed_texts``,
``fit_alignment`` and ``evaluate``, so a user with the released SynSE features reproduces the papers'
tables without training a skeleton encoder. Progress goes to the terminal and
to ``RUN/events.jsonl``; the results to ``RUN/results.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from trainer.config import SELECTIONS, GateSpec, RunConfig, TextSpec, resolve


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train and evaluate a zero-shot method (a preset's five stages, "
                                     "or on SynSE-layout features)")
    p.add_argument("--config", help="a run config JSON (as a run's config.json)")
    p.add_argument("--preset", help="a benchmark preset (a name in assets/configs/presets, e.g. utd_mhad, "
                                    "ntu60_smie, zsar_default): trains the encoder too")
    p.add_argument("--method", default="sa_dvae", help="with --preset: the method (sa_dvae, sa_dvae_fd, "
                                                      "naive_alignment, cada_vae, fs_vae, pgfa, scale, contrastive)")
    p.add_argument("--data-root", help="with --preset: the folder holding the datasets (default: ../shared/data)")
    p.add_argument("--method-config", help="method config name in assets/configs/methods (e.g. sa_dvae.ntu60_synse) "
                                           "or a path to one")
    p.add_argument("--split", help="split name in assets/splits (e.g. ntu60_synse_55_5)")
    p.add_argument("--features", help="SynSE-layout feature folder (holding shift_5_r/ and shift_val_5_r/); with "
                   "--preset: a finished run's RUN/features, to train another method on the same encoder")
    p.add_argument("--text-features", help="pre-computed class text features .npy, row i = class i")
    p.add_argument("--text-encoder", default="minilm", help="text encoder when no --text-features (default minilm)")
    p.add_argument("--text-mode", default="name",
                   help="text mode: name, name_description, templates, global, local, or a fused name+global, "
                        "name+local, global+local, name+global+local (default name)")
    p.add_argument("--select-on", default="validation", choices=SELECTIONS,
                   help="pick the cycle on the validation fold (default) or, as the public code does, on the "
                        "unseen test set (labelled as such in results.json)")
    p.add_argument("--gate-threshold", type=float, help="fix the GZSL gate threshold instead of searching it")
    p.add_argument("--gate-temperature", type=float, help="fix the GZSL gate temperature instead of searching it")
    p.add_argument("--epochs", type=int, help="override the config's number of cycles/epochs")
    p.add_argument("--out", help="run folder (default: runs/<method>_<split>_<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last complete stage")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--json", action="store_true", help="print results.json when done")
    p.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> RunConfig:
    from engine.device import resolve_device
    from engine.errors import ZsarError

    if args.config:
        return RunConfig.load(args.config)
    if args.preset:
        from trainer.data.locations import default_data_root
        from trainer.presets import preset_config

        root = args.data_root or default_data_root()
        config = preset_config(args.preset, args.method, str(root) if root else None,
                               str(resolve_device(args.device)), args.select_on)
        if args.text_features:  # e.g. the papers' CLIP label features instead of the offline MiniLM
            text = TextSpec(features=str(Path(args.text_features).resolve()))
            config = RunConfig.from_dict({**config.to_dict(), "text": text.__dict__})
        if args.text_mode != "name":  # e.g. FS-VAE's fused label + description texts
            text = TextSpec(**{**config.text.__dict__, "mode": args.text_mode})
            config = RunConfig.from_dict({**config.to_dict(), "text": text.__dict__})
        if args.features:  # another method on a finished run's features: the same encoder, compared fairly
            config = RunConfig.from_dict({**config.to_dict(), "pretrain": None,
                                          "features": str(Path(args.features).resolve())})
        if args.epochs:
            config = RunConfig.from_dict({**config.to_dict(),
                                          "method_config": {**config.method_config, "epochs": args.epochs}})
        return config
    if args.out and args.resume and (Path(args.out) / "config.json").exists() and not args.method_config:
        return RunConfig.load(Path(args.out) / "config.json")
    missing = [f for f in ("method_config", "split", "features") if not getattr(args, f)]
    if missing:
        raise ZsarError("zsar train needs --config, or " + ", ".join("--" + m.replace("_", "-") for m in missing))
    text = TextSpec(encoder=args.text_encoder, mode=args.text_mode,
                    features=str(Path(args.text_features).resolve()) if args.text_features else None)
    gate = None
    if args.gate_threshold is not None or args.gate_temperature is not None:
        gate = GateSpec(threshold=args.gate_threshold, temperature=args.gate_temperature)
    overrides = {"epochs": args.epochs} if args.epochs else None
    return resolve(args.method_config, args.split, str(Path(args.features).resolve()), text, args.select_on,
                   gate, str(resolve_device(args.device)), overrides)


def check_inputs(config: RunConfig) -> None:
    """Everything a user named exists and has the right shape, before any stage starts."""
    from engine.errors import ZsarError
    from trainer.data.features import check_feature_folders
    from trainer.data.splits import load_split

    split = load_split(config.split)
    if config.trains_encoder:
        if split.dataset != "procedural":
            from trainer.data.datasets import dataset_sources

            dataset_sources(split.dataset, config.data_root)  # a clear error when the data is absent
        return
    if not config.features:
        raise ZsarError("this run needs --features (a SynSE-layout feature folder)")
    check_feature_folders(config.features, len(split.unseen), split.has_validation)
    if config.text.features and not Path(config.text.features).is_file():
        raise ZsarError(f"{config.text.features}: no such text-features file")


def _init_distributed(config: RunConfig) -> int:
    """Under ``torchrun --nproc_per_node=N``: join the process group (gloo on the CPU, NCCL on
    CUDA) and return this process's rank; -1 when not distributed."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) < 2:
        return -1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if config.device.startswith("cuda") else "gloo")
    return dist.get_rank()


def run(args: argparse.Namespace) -> int:
    from trainer.events import ConsoleSink, JsonlSink, MultiSink
    from trainer.runs import Run
    from trainer.stages import run_pipeline

    config = build_config(args)
    check_inputs(config)
    out = args.out or f"runs/{config.method}_{Path(config.split).stem}_{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = Run(out)
    rank = _init_distributed(config)
    if rank <= 0:
        run_dir.start(config, resume=args.resume)
    if rank >= 0:
        # torchrun: every rank trains the encoder data-parallel (pretrain_encoder leaves the process
        # group at its end); rank 0 alone writes and runs the other stages
        import torch.distributed as dist

        from trainer.stages import pretrain_encoder

        dist.barrier()  # rank 0 has written config.json
        if not config.trains_encoder or run_dir.stage_done("pretrain_encoder") is not None:
            dist.destroy_process_group()  # nothing left to train together
        elif rank > 0:
            pretrain_encoder.run(run_dir, config)
        if rank > 0:
            return 0
    jsonl = JsonlSink(run_dir.events_path)
    try:
        run_pipeline(run_dir, config, MultiSink(ConsoleSink(), jsonl))
    finally:
        jsonl.close()
    results = run_dir.read_json("results.json")
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(format_results(results, run_dir.path))
    return 0


def format_results(r: dict, path: Path) -> str:
    lines = [f"run {path}: {r['config']['method']} on {r['config']['split']} "
             f"(cycle selected on the {r['selection']['on']} set)"]
    paper = r.get("paper") or {}
    if r.get("zsl"):
        lines.append(f"  ZSL top-1   {r['zsl']['top1']:6.2f}" + (f"   paper {paper['zsl']}" if "zsl" in paper else ""))
    held = r.get("held_out_subjects")
    if held:  # a split with every class seen (the default model's)
        classes = len((r.get("per_class") or {}).get("held_out_subjects") or {})
        lines.append(f"  held-out subjects top-1 over all {classes} classes: {held['top1']:.2f} "
                     f"({held['samples']} clips)")
    validation = (r.get("selection") or {}).get("validation") or {}
    if validation.get("val_zsl_top1") is not None:
        lines.append(f"  validation-fold ZSL top-1 {100 * validation['val_zsl_top1']:.2f}")
    g = r.get("gzsl")
    if g:
        pg = paper.get("gzsl") or {}
        lines.append(f"  GZSL S/U/H  {g['seen']:.2f} / {g['unseen']:.2f} / {g['h']:.2f}" +
                     (f"   paper {pg.get('seen')} / {pg.get('unseen')} / {pg.get('h')}" if pg else ""))
    return "\n".join(lines)
