"""The one training loop (the project's style): iteration, devices, cancellation, events, selection.

Methods own the maths (:meth:`~engine.methods.base.ZeroShotMethod.training_step`); this loop owns
everything around it, for every method. An epoch is either one shuffled pass over the training
data (SA-DVAE's cycles) or ``iterations_per_epoch`` independent random mini-batches (the SynSE
family's "epochs", each a fresh ``next(iter(loader))``), as the method's config says.

Each batch is a dict: ``features (B, D)``, ``labels (B,)`` indices into ``class_embeddings (K, D_t)``,
and the ints ``epoch`` (0-based), ``step`` (0-based within the epoch) and ``steps_per_epoch``, which
schedules such as SA-DVAE's beta annealing read. No DataLoader: features are a few hundred MB at
most and already tensors, and indexing them directly is what makes a cycle fast (the official
SA-DVAE spends most of a cycle in its loader).

After each epoch ``on_epoch_end(epoch)`` may return metrics; with ``select`` naming one of them the
loop keeps the weights of the best epoch and restores them at the end (selection on the validation
fold by default: the caller decides which data the metric comes from).

With ``checkpoint`` the loop writes, after every epoch and atomically, the weights, the optimizers,
the random-number states and the history; a later call with the same path continues after the last
completed epoch, so a killed run loses at most one epoch and ends with the same weights as an
uninterrupted one. A method may define ``on_epoch_start(epoch, epochs, optimizers)`` (learning-rate schedules).
"""

from __future__ import annotations

import copy
import io
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.atomic import atomic_write_bytes
from engine.device import autocast
from trainer.events import EpochEnded, EventSink, StepLogged


@dataclass
class FitResult:
    epochs_run: int
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None
    best_metric: float | None = None
    stopped: bool = False
    seconds: float = 0.0


def _batches(n: int, batch_size: int, iterations: int | None, g: torch.Generator,
             weights: torch.Tensor | None = None) -> list[torch.Tensor]:
    if weights is not None:
        # weighted sampling with replacement, as many batches as one pass over the data would give
        steps = iterations or max(1, n // batch_size)
        return [torch.multinomial(weights, min(batch_size, n), replacement=True, generator=g)
                for _ in range(steps)]
    if iterations is None:
        order = torch.randperm(n, generator=g)
        return list(order.split(batch_size))  # the last batch may be short, like a DataLoader's
    # a fresh shuffle's first batch, independently each iteration (SynSE next(iter(loader)));
    # clone: a slice would keep each whole n-long permutation alive (1,700 x 40k x 8 B = 0.5 GB)
    k = min(batch_size, n)
    return [torch.randperm(n, generator=g)[:k].clone() for _ in range(iterations)]


def fit(
    method,
    features: torch.Tensor,
    labels: torch.Tensor,
    class_embeddings: torch.Tensor,
    *,
    stage: str = "fit_alignment",
    epochs: int | None = None,
    events: EventSink | None = None,
    on_epoch_end: Callable[[int], dict[str, float]] | None = None,
    select: str | None = None,
    should_stop: Callable[[], bool] | None = None,
    device: str | torch.device = "cpu",
    log_every: int = 50,
    seed: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    amp: bool = False,
    weights: torch.Tensor | None = None,
) -> FitResult:
    """Train ``method`` on features; returns what happened (the method holds the chosen weights).

    Args:
        method: a :class:`~engine.methods.base.ZeroShotMethod`.
        features: ``(N, D)`` training features; labels: ``(N,)`` indices into class_embeddings.
        class_embeddings: ``(K, D_t)`` text embeddings of the training classes.
        epochs: default: the method config's ``epochs``.
        on_epoch_end: called with the epoch index after each epoch (model in eval mode); its metrics
            go into the history and the events.
        select: a metric name from ``on_epoch_end`` to keep the best epoch by (higher is better).
        should_stop: polled every batch; True stops cleanly after that batch.
        seed: seeds batch order and torch's global RNG (method noise); default: config seed.
        checkpoint: a file to save to after every epoch and to resume from (module docstring).
        amp: mixed precision (bfloat16 autocast) on CUDA GPUs that support it; bfloat16 keeps float32's
            range, so no loss scaling is needed. Ignored on the CPU.
        weights: ``(N,)`` sampling weights: batches are drawn with replacement in proportion (balanced
            sampling over datasets and classes); None: shuffled passes.
    """
    cfg = method.config
    epochs = cfg.epochs if epochs is None else epochs
    seed = cfg.seed if seed is None else seed
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    device = torch.device(device)
    method.to(device)
    x, y, t = features.to(device), labels.to(device), class_embeddings.to(device)
    optimizers = [] if method.manual_optimization else method.configure_optimizers()
    rank, world = _distributed(method)
    use_amp = amp and device.type == "cuda" and torch.cuda.is_bf16_supported()
    if world > 1:
        events = events if rank == 0 else None  # one voice: rank 0 reports and writes
    iterations = getattr(cfg, "iterations_per_epoch", None)
    result = FitResult(epochs_run=0)
    best_state = None
    first = 0
    if checkpoint is not None and Path(checkpoint).exists():
        first, best_state = _restore(Path(checkpoint), method, optimizers, g, result)
    t_start = time.perf_counter()
    for epoch in range(first, epochs):
        t0 = time.perf_counter()
        if hasattr(method, "on_epoch_start"):
            method.on_epoch_start(epoch, epochs, optimizers)
        method.train()
        batches = _batches(len(x), cfg.batch_size, iterations, g, weights)
        n = len(batches)
        for step, idx in enumerate(batches):
            idx = idx[rank::world].to(device)  # every rank draws the same batch order and takes its share
            batch = {"features": x[idx], "labels": y[idx], "class_embeddings": t,
                     "epoch": epoch, "step": step, "steps_per_epoch": n}
            with autocast(device, enabled=use_amp):
                losses = method.training_step(batch)
            if optimizers:
                for o in optimizers:
                    o.zero_grad(set_to_none=True)
                losses["loss"].backward()
                for o in optimizers:
                    o.step()
            if events is not None and (step % log_every == 0 or step == n - 1):
                events(StepLogged(stage, epoch, step, n, {k: float(v.detach()) for k, v in losses.items()}))
            if should_stop is not None and should_stop():
                result.stopped = True
                break
        if result.stopped:
            break
        method.eval()
        metrics = on_epoch_end(epoch) if on_epoch_end else {}
        metrics = {k: float(v) for k, v in (metrics or {}).items()}
        result.history.append(metrics)
        result.epochs_run = epoch + 1
        if select is not None and select in metrics:
            if result.best_metric is None or metrics[select] > result.best_metric:
                result.best_epoch, result.best_metric = epoch, metrics[select]
                best_state = copy.deepcopy(method.state_dict())
        # checkpoint first: a listener that stops the run on EpochEnded (the Trainer tab's cancel) must
        # find the epoch saved
        if checkpoint is not None and rank == 0:
            _save(Path(checkpoint), method, optimizers, g, result, best_state, epoch + 1)
        if events is not None:
            events(EpochEnded(stage, epoch, epochs, metrics, time.perf_counter() - t0))
    if best_state is not None:
        method.load_state_dict(best_state)
    method.eval()
    result.seconds = time.perf_counter() - t_start
    return result


def _distributed(method) -> tuple[int, int]:
    """(rank, world size); under ``torchrun`` with a process group, wrap ``method`` for data parallelism.

    The method's ``forward`` (encoder and head) runs through a ``DistributedDataParallel`` wrapper
    kept as ``method.ddp`` (set with object.__setattr__ so it is not a registered submodule: it
    holds the method itself, and state_dict would recurse). Methods that support it call
    ``self.ddp(x)`` when present (:class:`trainer.pretraining.EncoderClassifier`).
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return 0, 1
    if getattr(method, "supports_ddp", False) and getattr(method, "ddp", None) is None:
        from torch.nn.parallel import DistributedDataParallel

        object.__setattr__(method, "ddp", DistributedDataParallel(method))
    elif not getattr(method, "supports_ddp", False):
        raise RuntimeError(f"{type(method).__name__} does not support distributed training")
    return dist.get_rank(), dist.get_world_size()


def _optimizer_list(method, optimizers) -> list:
    return optimizers or list(getattr(method, "optimizers", None) or [])


def _save(path: Path, method, optimizers, g: torch.Generator, result: FitResult, best_state, next_epoch: int) -> None:
    state: dict[str, Any] = {
        "next_epoch": next_epoch,
        "model": method.state_dict(),
        "optimizers": [o.state_dict() for o in _optimizer_list(method, optimizers)],
        "torch_rng": torch.get_rng_state(),
        "batch_rng": g.get_state(),
        "history": result.history,
        "best_epoch": result.best_epoch,
        "best_metric": result.best_metric,
        "best_state": best_state,
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def _restore(path: Path, method, optimizers, g: torch.Generator, result: FitResult):
    from engine.errors import ModelFileError

    try:
        # weights_only: a checkpoint is data (tensors, numbers, lists), never code
        state = torch.load(path, map_location="cpu", weights_only=True)
        method.load_state_dict(state["model"])
        opts = _optimizer_list(method, optimizers)
        if len(opts) != len(state["optimizers"]):
            raise ValueError("optimizer count differs")
        for o, s in zip(opts, state["optimizers"]):
            o.load_state_dict(s)
    except Exception as exc:  # a checkpoint that cannot be resumed is the user's file problem
        raise ModelFileError(path, f"cannot resume from this checkpoint ({type(exc).__name__}: {exc})") from None
    torch.set_rng_state(state["torch_rng"])
    g.set_state(state["batch_rng"])
    result.history = list(state["history"])
    result.best_epoch, result.best_metric = state["best_epoch"], state["best_metric"]
    result.epochs_run = state["next_epoch"]
    return state["next_epoch"], state["best_state"]
