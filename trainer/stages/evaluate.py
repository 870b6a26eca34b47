"""Stage ``evaluate``: ZSL top-1, GZSL seen / unseen / H through the gate, per-class accuracy and the
confusion matrix, beside the paper's numbers; written to ``RUN/results.json``
(docs/architecture.md#the-training-pipeline).

ZSL classifies the unseen test samples among the unseen classes. GZSL classifies every test sample
among all classes: the gate (fitted here on the validation-fold outputs ``fit_alignment`` saved)
sends a sample to the seen-class head (``gtest_out``) or to the method's unseen classifier.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.methods import create_method
from trainer.config import RunConfig
from trainer.data.features import find_feature_folders, load_split_fold
from trainer.data.splits import load_split
from trainer.metrics import confusion, gzsl_accuracies, per_class_accuracy, top1
from trainer.runs import Run, feature_root
from trainer.stages.fit_alignment import unseen_probs

STAGE = "evaluate"


def _pct(x: float | None) -> float | None:
    return None if x is None else round(100.0 * float(x), 2)


def run(run: Run, config: RunConfig, events=None, should_stop=None) -> dict:
    split = load_split(config.split)
    emb = run.read_npy("text/class_embeddings.npy")
    split_dir, _ = find_feature_folders(feature_root(run, config), len(split.unseen))
    fold = load_split_fold(split_dir, ("ztest", "z_label", "gtest", "g_label", "gtest_out"))
    method = create_method(config.method, config.method_config, fold["ztest"].shape[1], emb.shape[1])
    method.load_state_dict(run.read_state("checkpoints/method_split.safetensors"))
    method.eval()
    if not split.unseen:
        results = _all_seen(method, fold, emb, split)
    else:
        results = _zero_shot(run, config, method, fold, emb, split)
    fit_info = run.read_json("stages/fit_alignment.json")
    results["selection"] = {
        "on": config.selection,
        "note": ("cycle chosen on the validation fold" if config.selection == "validation" else
                 "cycle chosen on the unseen TEST set, as the public code does: not a clean zero-shot figure"),
        "selected_epoch": fit_info["split"]["selected_epoch"],
        "validation": {k: v for k, v in (fit_info.get("validation") or {}).items() if k != "history"} or None,
    }
    results["config"] = config.to_dict()
    results["paper"] = config.paper
    run.write_json("results.json", results)
    if events is not None:
        from trainer.events import EvalReported

        g = results["gzsl"] or {}
        events(EvalReported(STAGE, zsl_top1=(results["zsl"] or {}).get("top1"), gzsl_seen=g.get("seen"),
                            gzsl_unseen=g.get("unseen"), h_mean=g.get("h")))
    return {"zsl_top1": (results["zsl"] or {}).get("top1"), "gzsl": results["gzsl"],
            "held_out_subjects": results.get("held_out_subjects")}


def _all_seen(method, fold, emb, split) -> dict:
    """A split with every class seen (the default bundle's): top-1 of the method's text-side classifier
    over all classes on the held-out subjects, as the app uses it; no zero-shot test exists here."""
    seen = np.asarray(split.seen)
    with torch.no_grad():
        prepared = method.prepare(torch.as_tensor(emb[seen]))
    pred = seen[unseen_probs(method, fold["gtest"], prepared).argmax(1)]
    # classes that share a name across the parts of a combined dataset share one text: a prediction of
    # either is that name, right for a clip of either
    names = [" ".join(n.lower().split()) for n in split.names()]
    first = {n: i for i, n in reversed(list(enumerate(names)))}
    same_name = np.asarray([first[n] for n in names])
    pred = np.where(same_name[pred] == same_name[fold["g_label"]], fold["g_label"], pred)
    return {"zsl": None, "gzsl": None,
            "held_out_subjects": {"top1": _pct(top1(pred, fold["g_label"])), "samples": int(len(pred))},
            "per_class": {"held_out_subjects": {split_class(split, c): _pct(a) for c, a in
                                                per_class_accuracy(pred, fold["g_label"], seen).items()}},
            "confusion": {"held_out_subjects": {"classes": seen.tolist(),
                                                "matrix": confusion(pred, fold["g_label"], seen).tolist()}}}


def _zero_shot(run, config, method, fold, emb, split) -> dict:
    from engine.zsl.gating import fit_gate

    unseen = np.asarray(split.unseen)
    seen = np.asarray(split.seen)
    with torch.no_grad():
        prepared = method.prepare(torch.as_tensor(emb[unseen]))
    z_probs = unseen_probs(method, fold["ztest"], prepared)
    z_pred = unseen[z_probs.argmax(1)]
    results: dict = {
        "zsl": {"top1": _pct(top1(z_pred, fold["z_label"])), "samples": int(len(z_pred))},
        "per_class": {"zsl": {split_class(split, c): _pct(a) for c, a in
                              per_class_accuracy(z_pred, fold["z_label"], unseen).items()}},
        "confusion": {"zsl": {"classes": unseen.tolist(),
                              "matrix": confusion(z_pred, fold["z_label"], unseen).tolist()}},
    }
    if split.has_validation and run.file("gate_inputs/unseen_probs_unseen.npy").exists():
        gate = fit_gate(
            run.read_npy("gate_inputs/unseen_probs_unseen.npy"), run.read_npy("gate_inputs/seen_logits_unseen.npy"),
            run.read_npy("gate_inputs/unseen_probs_seen.npy"), run.read_npy("gate_inputs/seen_logits_seen.npy"),
            variant=config.gate.variant, fixed_threshold=config.gate.threshold,
            fixed_temperature=config.gate.temperature, seed=config.method_config.get("seed", 5))
        g_probs = unseen_probs(method, fold["gtest"], prepared)
        g_pred = gate.predict(g_probs, fold["gtest_out"][:, seen], seen, unseen)
        acc = gzsl_accuracies(g_pred, fold["g_label"], seen, unseen)
        results["gzsl"] = {"seen": _pct(acc["seen"]), "unseen": _pct(acc["unseen"]), "h": _pct(acc["h"]),
                           "samples": int(len(g_pred))}
        results["gate"] = gate.to_dict()
        all_ids = np.arange(split.num_classes)
        results["per_class"]["gzsl"] = {split_class(split, c): _pct(a) for c, a in
                                        per_class_accuracy(g_pred, fold["g_label"], all_ids).items()}
    else:
        results["gzsl"] = None
    return results


def split_class(split, class_id: int) -> str:
    """``"10 reading"``: the id and the class name, readable in results.json."""
    try:
        return f"{int(class_id)} {split.names()[int(class_id)]}"
    except (KeyError, IndexError):
        return str(int(class_id))
