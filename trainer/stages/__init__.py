"""The pipeline's stages, one file each, each ``run(run, config, events, ...) -> info``
(docs/architecture.md#the-training-pipeline).

:func:`run_pipeline` runs them in order, skips stages already complete (``--resume``), writes each
stage's completion record only after its artifacts, and reports progress as events.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from engine.errors import ZsarError
from trainer.config import RunConfig
from trainer.events import EventSink, RunFailed, StageFinished, StageStarted
from trainer.runs import Run
from trainer.stages import embed_texts, evaluate, extract_features, fit_alignment, pretrain_encoder

STAGES = ("pretrain_encoder", "extract_features", "embed_texts", "fit_alignment", "evaluate")
#: the stages a run on pre-extracted features (a SynSE feature folder) needs
FEATURE_STAGES = ("embed_texts", "fit_alignment", "evaluate")
MODULES = {"pretrain_encoder": pretrain_encoder, "extract_features": extract_features, "embed_texts": embed_texts,
           "fit_alignment": fit_alignment, "evaluate": evaluate}


class Cancelled(ZsarError):
    pass


def run_pipeline(run: Run, config: RunConfig, events: EventSink | None = None,
                 should_stop: Callable[[], bool] | None = None, stages=None) -> dict:
    emit = events or (lambda e: None)
    stages = stages or (STAGES if config.trains_encoder else FEATURE_STAGES)
    infos = {}
    for name in stages:
        done = run.stage_done(name)
        if done is not None:
            infos[name] = done
            emit(StageFinished(name, 0.0, "already complete (resumed)"))
            continue
        if name not in MODULES:
            raise ZsarError(f"unknown stage {name}")
        emit(StageStarted(name))
        t0 = time.perf_counter()
        try:
            info = MODULES[name].run(run, config, events, should_stop)
        except Exception as exc:
            emit(RunFailed(name, f"{type(exc).__name__}: {exc}"))
            raise
        if should_stop is not None and should_stop():
            emit(RunFailed(name, "cancelled"))
            raise Cancelled(f"{name} was cancelled; --resume continues from it")
        info["seconds"] = time.perf_counter() - t0
        run.mark_done(name, info)
        infos[name] = info
        emit(StageFinished(name, info["seconds"]))
    return infos
