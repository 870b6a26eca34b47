"""``zsar bench recognizer``: per-window latency of the streaming recognizer, and class-set switches.

For each skeleton-encoder config in ``assets/configs/encoders`` it builds a bundle with the
``contrastive`` method and the real MiniLM text encoder (weights are freshly initialised: latency
does not depend on their values), streams a procedural clip through a
:class:`~engine.streaming.StreamingRecognizer` at batch 1, one body, a 64-frame encoder input, and
prints the median and p90 of the per-window latency (preprocessing + encoder + scoring), with
oneDNN on and off. Then it times switching to 60 names the text cache has never seen (cold: text
encoding + ``prepare``) and to a set already cached, and prints the process's peak memory.
Figures are printed, never asserted.
"""

from __future__ import annotations

import resource
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np


def _window_latencies(rec, frames: np.ndarray, windows: int, warmup: int) -> list[float]:
    lat: list[float] = []
    i = 0
    while len(lat) < windows + warmup:
        p = rec.push(frames[i % len(frames)])
        i += 1
        if p is not None and p.person:
            lat.append(p.latency_ms)
    return lat[warmup:]


def bench_recognizer(device: str = "cpu", windows: int = 40, encoders: list[str] | None = None,
                     threads: int | None = None) -> dict[str, Any]:
    import torch

    from engine import synth
    from engine.bundle import StreamingConfig, TextConfig, new_bundle
    from engine.encoders import encoder_config_names, load_encoder_config
    from engine.skeleton.preprocess import PreprocessConfig
    from engine.streaming import StreamingRecognizer
    from engine.text import create_text_encoder
    from engine.text.cached import CachedTextEncoder
    from engine.types import ClassSet

    if threads:
        torch.set_num_threads(threads)
    # Toggling oneDNN makes torch warn about Intel-GPU TF32, which has nothing to do with this CPU run.
    warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
    t0 = time.perf_counter()
    text = create_text_encoder("minilm")
    text_load_s = time.perf_counter() - t0
    clip = synth.generate("wave right hand", seed=0).joints[:, 0]
    first_set = ClassSet.from_dataset("ntu60")
    out: dict[str, Any] = {"device": device, "torch_threads": torch.get_num_threads(), "windows": windows,
                           "text_encoder_load_s": text_load_s, "encoders": []}
    names = encoders or encoder_config_names()
    with tempfile.TemporaryDirectory(prefix="zsar-bench-cache-") as cache_dir:
        cached = CachedTextEncoder(text, cache_dir=Path(cache_dir))
        for config_name in names:
            key, config = load_encoder_config(config_name)
            bundle = new_bundle(key, config, "contrastive", None, TextConfig("minilm", encoder_id=text.id),
                                text.dim, first_set,
                                preprocess=PreprocessConfig(style="view", window=64, num_bodies=1),
                                streaming=StreamingConfig(window=64, stride=4, smoothing=0.5))
            params = sum(p.numel() for p in bundle.encoder.parameters())
            row: dict[str, Any] = {"encoder": config_name, "registry_key": key, "parameters": params}
            with StreamingRecognizer(bundle, first_set, text_encoder=cached, device=device) as rec:
                for label, enabled in (("onednn_on", True), ("onednn_off", False)):
                    with torch.backends.mkldnn.flags(enabled=enabled):
                        rec.reset()
                        lat = np.asarray(_window_latencies(rec, clip, windows, warmup=5))
                    row[label] = {"median_ms": float(np.median(lat)), "p90_ms": float(np.percentile(lat, 90))}
                row["best_median_ms"] = min(row["onednn_on"]["median_ms"], row["onednn_off"]["median_ms"])
            out["encoders"].append(row)

        # Class-set switches, on the last recognizer's bundle: never-seen names, then cached ones.
        fresh = ClassSet(tuple(ClassSet.from_dataset("ntu120").names[60:120]))
        with StreamingRecognizer(bundle, first_set, text_encoder=cached, device=device) as rec:
            t0 = time.perf_counter()
            rec.set_class_set(fresh).result()
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            rec.set_class_set(first_set).result()
            warm = time.perf_counter() - t0
            blocked = []
            future = rec.set_class_set(ClassSet(tuple(f"{n} slowly" for n in fresh.names)))
            while not future.done():  # the caller keeps getting predictions from the old set meanwhile
                t1 = time.perf_counter()
                rec.push(clip[len(blocked) % len(clip)])
                blocked.append((time.perf_counter() - t1) * 1e3)
        out["switch_60_new_names_s"] = cold
        out["switch_60_cached_names_s"] = warm
        out["push_ms_during_switch_max"] = max(blocked) if blocked else 0.0
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def format_text(r: dict[str, Any]) -> str:
    lines = [f"device {r['device']}, {r['torch_threads']} torch threads, batch 1, 1 body, 64-frame input, "
             f"{r['windows']} windows; MiniLM load {r['text_encoder_load_s']:.2f} s",
             f"{'encoder':<14}{'params':>10}  {'oneDNN on: median / p90':>24}  {'oneDNN off: median / p90':>25}"]
    for e in r["encoders"]:
        on, off = e["onednn_on"], e["onednn_off"]
        lines.append(f"{e['encoder']:<14}{e['parameters']:>10,}  {on['median_ms']:>11.2f} / {on['p90_ms']:>6.2f} ms"
                     f"  {off['median_ms']:>12.2f} / {off['p90_ms']:>6.2f} ms")
    lines.append(f"switch to 60 new names: {r['switch_60_new_names_s']:.3f} s; to 60 cached names: "
                 f"{r['switch_60_cached_names_s']:.3f} s; slowest push() while switching: "
                 f"{r['push_ms_during_switch_max']:.1f} ms")
    lines.append(f"peak memory of this process: {r['peak_rss_mib']:.0f} MiB")
    return "\n".join(lines)
