"""Stage ``fit_alignment``: the zero-shot method on the validation fold, then on the split.

1. **Validation fold** (``shift_val_*``): trained on the val-seen classes, each cycle scored by ZSL
   top-1 on the val-unseen samples. Its best cycle's outputs on val-unseen and held-out val-seen
   samples are what the GZSL gate is fitted on (docs/methods.md#the-gzsl-gate).
2. **Split**: trained on all seen classes. With ``selection="validation"`` (default) it trains for
   the validation fold's best number of cycles (schedules depend only on the cycle and step, so the
   weights are those the longer run would have had at that cycle); with ``selection="test"`` it
   keeps the cycle with the best ZSL top-1 on the unseen test set, as every public implementation
   does, and the results say so.

Writes ``checkpoints/method_val.safetensors``, ``checkpoints/method_split.safetensors`` and the
validation-fold outputs the gate needs (``gate_inputs/*.npy``).

Each fit is checkpointed after every epoch (``checkpoints/method_{val,split}.pt``, the loop's own
mechanism: weights, optimizers, random-number states, history and the best epoch so far), so a killed
stage loses at most one epoch and ``--resume`` continues each fold after its last finished epoch (a
fold already finished is restored from its checkpoint, not trained again) and ends with the weights
and results of an uninterrupted run.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.methods import METHODS, create_method
from trainer.config import RunConfig
from trainer.data.features import find_feature_folders, load_split_fold, load_val_fold
from trainer.data.splits import class_positions, load_split
from trainer.loop import fit
from trainer.runs import Run, feature_root
from trainer.stages.pretrain_encoder import needs_validation_encoder

STAGE = "fit_alignment"


@torch.no_grad()
def unseen_probs(method, features: np.ndarray, prepared) -> np.ndarray:
    logits = method.scores(torch.as_tensor(features), prepared)
    return torch.softmax(logits.float(), dim=1).numpy()


def zsl_top1(method, features: np.ndarray, labels: np.ndarray, emb: np.ndarray, classes: tuple[int, ...]) -> float:
    with torch.no_grad():
        prepared = method.prepare(torch.as_tensor(emb[list(classes)]))
        pred = method.scores(torch.as_tensor(features), prepared).argmax(1).numpy()
    return float((np.asarray(classes)[pred] == labels).mean())


def _train(run: Run, config: RunConfig, x: np.ndarray, labels: np.ndarray, classes: tuple[int, ...],
           emb: np.ndarray, name: str, metric=None, select: str | None = None, epochs: int | None = None,
           events=None, should_stop=None):
    """Train a fresh method on ``x`` of ``classes``; ``metric(method)`` scores each cycle. ``name``
    (``"val"`` or ``"split"``) names the fold's checkpoint, which a resumed run continues from."""
    method = _new_method(config, x.shape[1], emb.shape[1])
    result = fit(method, torch.as_tensor(x), class_positions(labels, classes), torch.as_tensor(emb[list(classes)]),
                 stage=f"{STAGE}:{FOLDS[name]}", epochs=epochs, events=events, select=select,
                 should_stop=should_stop, on_epoch_end=(lambda epoch: metric(method)) if metric else None,
                 device=config.device, checkpoint=run.file("checkpoints", f"method_{name}.pt"))
    return method, result


#: checkpoint name -> the fold's name in events
FOLDS = {"val": "validation_fold", "split": "split"}


def _new_method(config: RunConfig, feature_dim: int, text_dim: int):
    """The method with initial weights from its config's seed alone (the caller's random state left as
    it was). Without this, a method that does not seed itself would start from whatever state earlier
    stages left, which differs between a run and its resumption when a fold is killed before its
    first epoch is checkpointed."""
    method_config = METHODS.get(config.method).config_cls.from_dict(config.method_config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(method_config.seed)
        return create_method(config.method, method_config, feature_dim, text_dim)


def _trained_end_to_end(run: Run, config: RunConfig) -> dict | None:
    """An encoder trained end to end with the contrastive method (objective ``text_contrastive``) already
    holds the method's weights: they are taken over as they are, with nothing fitted on the features."""
    from trainer.pretraining import PretrainConfig

    if not config.trains_encoder or PretrainConfig.from_dict(config.pretrain).objective != "text_contrastive":
        return None
    state = run.read_state("checkpoints/encoder_split.safetensors")
    method = {k[len("method."):]: v for k, v in state.items() if k.startswith("method.")}
    run.write_state("checkpoints/method_split.safetensors", method)
    epochs = PretrainConfig.from_dict(config.pretrain).epochs
    return {"selection": config.selection, "validation": None,
            "split": {"epochs_trained": epochs, "selected_epoch": None, "history": [], "seconds": 0.0,
                      "stopped": False, "note": "trained end to end with the encoder (pretrain_encoder)"}}


def run(run: Run, config: RunConfig, events=None, should_stop=None) -> dict:
    end_to_end = _trained_end_to_end(run, config)
    if end_to_end is not None:
        return end_to_end
    split = load_split(config.split)
    emb = run.read_npy("text/class_embeddings.npy")
    split_dir, val_dir = find_feature_folders(feature_root(run, config), len(split.unseen))
    info: dict = {"selection": config.selection, "split_folder": str(split_dir), "validation": None}

    if needs_validation_encoder(config, split):
        val = load_val_fold(val_dir)
        vs, vu = split.val_seen, split.val_unseen
        method_v, res_v = _train(
            run, config, val["train"], val["train_label"], vs, emb, "val",
            metric=lambda m: {"val_zsl_top1": zsl_top1(m, val["ztest"], val["z_label"], emb, vu)},
            select="val_zsl_top1", events=events, should_stop=should_stop)
        if res_v.stopped:  # cancelled: its checkpoint holds the last finished epoch; nothing else is final
            info["validation"] = {"epochs_trained": res_v.epochs_run, "stopped": True}
            return info
        prepared = method_v.prepare(torch.as_tensor(emb[list(vu)]))
        run.write_npy("gate_inputs/unseen_probs_unseen.npy", unseen_probs(method_v, val["ztest"], prepared))
        run.write_npy("gate_inputs/unseen_probs_seen.npy", unseen_probs(method_v, val["val"], prepared))
        run.write_npy("gate_inputs/seen_logits_unseen.npy", val["ztest_out"][:, list(vs)])
        run.write_npy("gate_inputs/seen_logits_seen.npy", val["val_out"][:, list(vs)])
        run.write_state("checkpoints/method_val.safetensors", method_v.state_dict())
        info["validation"] = {"best_epoch": res_v.best_epoch, "val_zsl_top1": res_v.best_metric,
                              "history": res_v.history, "seconds": res_v.seconds}
        del val, method_v, prepared  # the split fold is loaded next: keep peak memory to one fold

    fold = load_split_fold(split_dir)
    if config.selection == "test":
        method, res = _train(
            run, config, fold["train"], fold["train_label"], split.seen, emb, "split",
            metric=lambda m: {"test_zsl_top1": zsl_top1(m, fold["ztest"], fold["z_label"], emb, split.unseen)},
            select="test_zsl_top1", events=events, should_stop=should_stop)
        best = res.best_epoch
    else:
        best = info["validation"]["best_epoch"] if info["validation"] else None
        epochs = None if best is None else best + 1
        method, res = _train(run, config, fold["train"], fold["train_label"], split.seen, emb, "split",
                             epochs=epochs, events=events, should_stop=should_stop)
    run.write_state("checkpoints/method_split.safetensors", method.state_dict())
    info["split"] = {"epochs_trained": res.epochs_run, "selected_epoch": best, "history": res.history,
                     "seconds": res.seconds, "stopped": res.stopped}
    return info
