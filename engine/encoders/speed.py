"""Batch-1 CPU latency of the skeleton encoders: how it is measured, and the one setting that matters.

Measured on the project's 2-core CPU machine (AMD EPYC with AVX-512 BF16, torch 2.14.1,
``torch.set_num_threads(2)``, eager, ``torch.inference_mode()``, batch 1, 64 frames, random weights;
median over 4 interleaved rounds of 30 timed runs after 5 warm-up runs; the machine is shared, so
single figures vary by +-20%):

=============  ==========  ============  =============  ============  ==========================
encoder        parameters  M=1 oneDNN    M=1 oneDNN     M=2 oneDNN    reference
                           on            off            on / off      M=1 / M=2
=============  ==========  ============  =============  ============  ==========================
stgcn          3.10 M      12.5 ms       24.0 ms        22.6 / 47.0   22 / 38-40 ms
stgcn_small    0.82 M      3.9 ms        5.1 ms         6.0 / 9.4     8.5 / 14.2-14.6 ms
shift_gcn      0.69 M      8.1 ms        8.5 ms         16.2 / 14.8   -
=============  ==========  ============  =============  ============  ==========================

The reference column is the official implementations' figures (docs/speed.md#reference-implementations).

* oneDNN (``torch.backends.mkldnn``) **on** is faster at batch 1 for both ST-GCNs (2x full, 1.3x
  small); for Shift-GCN (1x1 convolutions and gathers, little oneDNN work) the two are within noise.
  The reference measurements found the opposite for the small ST-GCN with torch 2.13 (oneDNN off
  14.4 -> 11.9 ms at M=2), so the choice is measured, not assumed:
  :func:`choose_onednn` times both ways for a given encoder and input size, and returns the flag to
  use with :func:`onednn_enabled` around inference. Nothing here changes global state beyond the
  block it is asked for.
* Flushing denormals (``torch.set_flush_denormal``) changes nothing: activations stay normal.
* CPU bfloat16 autocast (``torch.autocast("cpu", dtype=torch.bfloat16)``; :func:`engine.device.autocast`
  deliberately leaves the CPU in float32) runs the full ST-GCN at 8.7 / 14.1 ms (M=1 / M=2), the
  small one at 3.7 / 5.2 ms, and slows Shift-GCN down (11.2 / 20.4 ms); features stay within a
  cosine of 0.98 of float32 in the tests. A choice for whoever owns the live path, not made here.
* One body instead of two (M=1) costs about half: a live recognizer with one person should run M=1
  (the features also differ, since they average over bodies, zero bodies included).
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import time
from collections.abc import Iterator

import torch
from torch import nn

from engine.types import NUM_JOINTS

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def onednn_enabled(enabled: bool | None) -> Iterator[None]:
    """oneDNN on or off inside the block, restored after; None leaves it as it is.

    Unlike ``torch.backends.mkldnn.flags``, it touches only the on/off switch (``flags`` also
    resets the TF32 setting, which warns on CPU-only builds).
    """
    if enabled is None:
        yield
        return
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = enabled
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = previous


def measure_latency(
    encoder: nn.Module,
    frames: int = 64,
    bodies: int = 1,
    batch: int = 1,
    runs: int = 30,
    warmup: int = 5,
    onednn: bool | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Time ``encoder.features`` on a random batch.

    Args:
        encoder: a skeleton encoder (put in eval mode for the measurement, restored after).
        frames: T of the input.
        bodies: M of the input.
        batch: N of the input.
        runs: timed calls (the median is reported).
        warmup: untimed calls first (allocator, oneDNN primitive caches).
        onednn: force oneDNN on or off for the measurement; None leaves torch's setting.
        device: where the input is made (the encoder must already be there).

    Returns:
        ``{"median_ms", "p10_ms", "p90_ms", "min_ms"}``.
    """
    x = torch.randn(batch, 3, frames, NUM_JOINTS, bodies, device=device)
    was_training = encoder.training
    encoder.eval()
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    times = []
    try:
        with torch.inference_mode(), onednn_enabled(onednn):
            for _ in range(warmup):
                encoder.features(x)
            sync()
            for _ in range(runs):
                t0 = time.perf_counter()
                encoder.features(x)
                sync()
                times.append((time.perf_counter() - t0) * 1e3)
    finally:
        encoder.train(was_training)
    q = statistics.quantiles(times, n=10) if len(times) > 1 else times * 9
    return {"median_ms": statistics.median(times), "p10_ms": q[0], "p90_ms": q[-1], "min_ms": min(times)}


def choose_onednn(encoder: nn.Module, frames: int = 64, bodies: int = 1, batch: int = 1, rounds: int = 4,
                  runs_per_round: int = 10) -> bool:
    """Whether oneDNN should be on for this encoder at this input size, on this machine.

    Times both settings in alternating rounds (so a burst of load from other processes does not
    favour one) and compares the medians.

    Returns:
        The value for :func:`onednn_enabled` (or ``torch.backends.mkldnn.flags(enabled=...)``).
    """
    results: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for enabled in (True, False):
            r = measure_latency(encoder, frames, bodies, batch, runs=runs_per_round, warmup=2, onednn=enabled)
            results[enabled].append(r["median_ms"])
    on, off = statistics.median(results[True]), statistics.median(results[False])
    logger.info("oneDNN on %.2f ms, off %.2f ms (batch %d, %d frames, %d bodies)",
                on, off, batch, frames, bodies)
    return on <= off
