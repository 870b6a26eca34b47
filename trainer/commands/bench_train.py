"""``zsar bench train-step``: training speed of a method on features, and the whole feature pipeline.

* iterations per second of ``training_step`` (and the optimizer steps) at a given scale, batch and
  feature sizes of the method config (default: NTU-60 55/5 SynSE scale: 40,150 training features of
  256-d, 55 seen classes of 512-d text features);
* with ``--pipeline``: the whole ``embed_texts`` -> ``fit_alignment`` (validation fold + split) ->
  ``evaluate`` run on a synthetic SynSE-layout folder of that scale, wall time per stage and the
  process's peak memory, to compare with the official implementation's figures in
  docs/speed.md#reference-implementations.
Figures are printed, never asserted.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path
from typing import Any


def bench_steps(method_config: str, iterations: int, feature_dim: int = 256, text_dim: int = 512,
                seen: int = 55, samples: int = 40150, device: str = "cpu") -> dict[str, Any]:
    import torch

    from engine.methods import create_method, load_method_config
    from trainer.loop import fit

    key, config, _ = load_method_config(method_config)
    method = create_method(key, config, feature_dim, text_dim)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(samples, feature_dim, generator=g).relu()
    y = torch.randint(0, seen, (samples,), generator=g)
    t = torch.nn.functional.normalize(torch.randn(seen, text_dim, generator=g), dim=1)
    # one short epoch to warm up, then time whole epochs of the configured shape
    steps = getattr(config, "iterations_per_epoch", None) or -(-samples // config.batch_size)
    fit(method, x[: config.batch_size * 20], y[: config.batch_size * 20], t, epochs=1, device=device)
    epochs = max(1, round(iterations / steps))
    t0 = time.perf_counter()
    fit(method, x, y, t, epochs=epochs, device=device)
    dt = time.perf_counter() - t0
    t1 = time.perf_counter()
    with torch.no_grad():
        method.prepare(t[:5])
    prepare_s = time.perf_counter() - t1
    return {"method": key, "config": method_config, "iterations": epochs * steps, "seconds": dt,
            "iterations_per_s": epochs * steps / dt, "seconds_per_epoch": dt / epochs,
            "batch_size": config.batch_size, "prepare_5_classes_s": prepare_s}


def bench_pipeline(method_config: str, split: str = "ntu60_synse_55_5", device: str = "cpu",
                   epochs: int | None = None) -> dict[str, Any]:
    from trainer.config import TextSpec, resolve
    from trainer.data.splits import load_split
    from trainer.data.synthetic_features import make_feature_folders
    from trainer.runs import Run
    from trainer.stages import run_pipeline

    with tempfile.TemporaryDirectory(prefix="zsar-bench-pipeline-") as tmp:
        t0 = time.perf_counter()
        root, text = make_feature_folders(Path(tmp) / "features", load_split(split))
        make_s = time.perf_counter() - t0
        config = resolve(method_config, split, str(root), TextSpec(features=str(text)), device=device,
                         overrides={"epochs": epochs} if epochs else None)
        run = Run(Path(tmp) / "run")
        run.start(config, resume=False)
        t0 = time.perf_counter()
        infos = run_pipeline(run, config)
        total = time.perf_counter() - t0
        results = run.read_json("results.json")
    fit_info = infos["fit_alignment"]
    return {
        "method_config": method_config, "split": split, "synthetic_data_s": make_s, "pipeline_s": total,
        "stages_s": {k: v["seconds"] for k, v in infos.items()},
        "validation_fold_fit_s": (fit_info.get("validation") or {}).get("seconds"),
        "split_fit_s": fit_info["split"]["seconds"], "split_epochs": fit_info["split"]["epochs_trained"],
        "zsl_top1": results["zsl"]["top1"], "gzsl": results["gzsl"],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "note": "synthetic features (not real data): speed only",
    }


def format_steps(r: dict[str, Any]) -> str:
    return (f"{r['config']}: {r['iterations_per_s']:,.0f} iterations/s (batch {r['batch_size']}, "
            f"{r['iterations']} iterations in {r['seconds']:.2f} s, {r['seconds_per_epoch']:.2f} s an epoch); "
            f"prepare for 5 classes {r['prepare_5_classes_s']:.3f} s")


def format_pipeline(r: dict[str, Any]) -> str:
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in r["stages_s"].items())
    val = r["validation_fold_fit_s"]
    return (f"pipeline {r['method_config']} on synthetic {r['split']}-scale features: {r['pipeline_s']:.1f} s "
            f"({stages}); validation-fold fit {val if val is None else round(val, 1)} s, split fit "
            f"{r['split_fit_s']:.1f} s ({r['split_epochs']} cycles); peak memory {r['peak_rss_mib']:.0f} MiB; "
            f"ZSL {r['zsl_top1']}, GZSL {r['gzsl'] and {k: r['gzsl'][k] for k in ('seen', 'unseen', 'h')}}")
