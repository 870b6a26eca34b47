"""Stage ``pretrain_encoder``: skeleton encoders trained with cross-entropy on seen classes only.

Two encoders, as the SynSE feature release implies (one network per split, and one per validation
fold, so that no class the gate treats as unseen was ever a training class of the features it sees):

* the **split** encoder on the training-subject samples of the split's seen classes;
* the **validation-fold** encoder on the training-subject samples of the val-seen classes, minus a
  held-out share per class (the ``val`` samples the GZSL gate is fitted on).

Each is checkpointed after every epoch (``checkpoints/encoder_{split,val}.pt``); ``--resume``
continues a killed stage from its last epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.encoders import create_skeleton_encoder, load_encoder_config
from engine.errors import ZsarError
from engine.skeleton.preprocess import PreprocessConfig
from trainer.config import RunConfig
from trainer.data.datasets import SkeletonData, balanced_weights, load_skeletons, protocol_masks
from trainer.data.splits import Split, class_positions, load_split
from trainer.loop import fit
from trainer.pretraining import EncoderClassifier, PretrainConfig
from trainer.runs import Run

STAGE = "pretrain_encoder"


def preprocess_config(p: PretrainConfig) -> PreprocessConfig:
    return PreprocessConfig(style=p.style, window=p.window, num_bodies=p.num_bodies, torso_length=p.torso_length)


def load_data(config: RunConfig) -> tuple[Split, SkeletonData, np.ndarray, np.ndarray]:
    split = load_split(config.split)
    p = PretrainConfig.from_dict(config.pretrain)
    data = load_skeletons(split.dataset, config.data_root, preprocess_config(p))
    train, test = protocol_masks(data, split)
    return split, data, train, test


def val_heldout_mask(data: SkeletonData, train: np.ndarray, split: Split, share: float, seed: int) -> np.ndarray:
    """Training samples of val-seen classes held out from the validation-fold encoder (per class)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(len(data), bool)
    for c in split.val_seen:
        idx = np.flatnonzero(train & (data.labels == c))
        k = max(1, int(round(share * len(idx)))) if len(idx) > 1 else 0
        out[rng.choice(idx, size=k, replace=False)] = True
    return out


@dataclass(frozen=True)
class FoldMasks:
    """Which samples each encoder trains on and which the feature folders hold (boolean masks)."""

    seen_train: np.ndarray  # split encoder training: training subjects, seen classes
    unseen_test: np.ndarray  # ztest: test subjects, unseen classes
    test: np.ndarray  # gtest: every test-subject sample
    val_train: np.ndarray  # validation-fold encoder training: val-seen classes minus the held-out share
    val_unseen: np.ndarray  # its ztest: training subjects, val-unseen classes
    val_heldout: np.ndarray  # its val: the held-out val-seen samples the gate is fitted on


def fold_masks(data: SkeletonData, split: Split, train: np.ndarray, test: np.ndarray, p: PretrainConfig) -> FoldMasks:
    held = val_heldout_mask(data, train, split, p.val_heldout, p.seed) if split.has_validation \
        else np.zeros(len(data), bool)
    return FoldMasks(
        seen_train=train & np.isin(data.labels, split.seen),
        unseen_test=test & np.isin(data.labels, split.unseen),
        test=test,
        val_train=train & np.isin(data.labels, split.val_seen) & ~held,
        val_unseen=train & np.isin(data.labels, split.val_unseen),
        val_heldout=held,
    )


def new_model(p: PretrainConfig, num_classes: int, config: RunConfig | None = None,
              seen_text=None):
    """The network stage 1 trains: an encoder with a seen-class head; or (``objective
    "pgfa_alignment"``) with PGFA's adapter against ``seen_text`` (then ``config`` is the run's); or
    (``"text_contrastive"``) with the run's method's projection against ``seen_text``, a
    :class:`ContrastiveTexts`."""
    key, enc_config = load_encoder_config(p.encoder)
    torch.manual_seed(p.seed)  # initial weights: the same for a run and its resumption
    encoder = create_skeleton_encoder(key, enc_config, num_classes=0, num_bodies=p.num_bodies) \
        if "num_bodies" in enc_config.to_dict() else create_skeleton_encoder(key, enc_config, num_classes=0)
    if p.objective == "text_contrastive":
        from engine.methods import create_method
        from trainer.pretraining import EncoderTextContrastive

        if config is None or config.method != "contrastive" or seen_text is None:
            raise ZsarError("pretrain objective text_contrastive trains the contrastive method end to end: use it "
                            "with --method contrastive")
        method = create_method("contrastive", config.method_config, encoder.feature_dim, seen_text.texts.shape[1])
        return EncoderTextContrastive(encoder, method, seen_text.texts, seen_text.class_text, seen_text.mirror_text, p)
    if p.objective == "pgfa_alignment":
        from engine.methods import create_method
        from trainer.pretraining import EncoderTextAligner

        if config is None or config.method != "pgfa" or seen_text is None:
            raise ZsarError("pretrain objective pgfa_alignment trains PGFA end to end: use it with --method pgfa")
        method = create_method("pgfa", config.method_config, encoder.feature_dim, seen_text.shape[1])
        return EncoderTextAligner(encoder, method, seen_text, p)
    return EncoderClassifier(encoder, num_classes, p)


@dataclass(frozen=True)
class ContrastiveTexts:
    """The text side of the ``text_contrastive`` objective: the distinct training texts and, per class,
    which one is its own and which one its mirror's."""

    texts: torch.Tensor  # (K_t, D_t) unit rows
    class_text: torch.Tensor  # (K,) long
    mirror_text: torch.Tensor  # (K,) long
    strings: tuple[str, ...] = ()


def contrastive_texts(run: Run, config: RunConfig, classes: tuple[int, ...]) -> ContrastiveTexts:
    """Embeddings of the names of ``classes`` and of their mirror images ("wave right hand" <-> "wave
    left hand"), one row per distinct text (the same name in two datasets is one class for the loss),
    in the run's text mode; written to ``RUN/text/contrastive_<digest>.*`` once and read back after."""
    import hashlib

    from engine.text import create_text_encoder
    from engine.text.prompts import DESCRIPTION_MODES, encode_class_set
    from engine.text.sides import mirror_text
    from engine.types import ClassSet
    from trainer.stages.embed_texts import split_descriptions

    digest = hashlib.sha256(repr(tuple(classes)).encode()).hexdigest()[:12]
    stem = f"text/contrastive_{digest}"
    if run.file(f"{stem}.json").exists():
        d = run.read_json(f"{stem}.json")
        return ContrastiveTexts(torch.as_tensor(run.read_npy(f"{stem}.npy")), torch.as_tensor(d["class_text"]),
                                torch.as_tensor(d["mirror_text"]), tuple(d["texts"]))
    split = load_split(config.split)
    names = split.names()
    if config.text.mode in DESCRIPTION_MODES:
        _, descriptions, local, _ = split_descriptions(split)
    else:
        descriptions, local = ("",) * len(names), [""] * len(names)
    order: dict[str, int] = {}
    rows: list[tuple[str, str, str]] = []

    def index(name: str, description: str, local_text: str) -> int:
        key = " ".join(name.lower().split())
        if key not in order:
            order[key] = len(rows)
            rows.append((name, description, local_text))
        return order[key]

    own = [index(names[c], descriptions[c], local[c]) for c in classes]
    mirrored = [index(mirror_text(names[c]), mirror_text(descriptions[c]), mirror_text(local[c])) for c in classes]
    encoder = create_text_encoder(config.text.encoder, **config.text.options)
    class_set = ClassSet(tuple(r[0] for r in rows), tuple(r[1] for r in rows))
    emb = encode_class_set(encoder, class_set, config.text.mode, local_descriptions=[r[2] for r in rows])
    run.write_npy(f"{stem}.npy", emb)
    run.write_json(f"{stem}.json", {"texts": [r[0] for r in rows], "class_text": own, "mirror_text": mirrored,
                                    "encoder_id": encoder.id, "mode": config.text.mode})
    return ContrastiveTexts(torch.as_tensor(emb), torch.as_tensor(own), torch.as_tensor(mirrored),
                            tuple(r[0] for r in rows))


def seen_texts(run: Run, config: RunConfig, classes: tuple[int, ...]):
    """The class texts of ``classes`` for an end-to-end alignment objective (embedded now if the
    run has not yet: embed_texts is idempotent and runs again later in the pipeline), else None."""
    objective = PretrainConfig.from_dict(config.pretrain).objective
    if objective == "text_contrastive":
        return contrastive_texts(run, config, classes)
    if objective != "pgfa_alignment":
        return None
    if not run.file("text", "class_embeddings.npy").exists():
        from trainer.stages import embed_texts

        embed_texts.run(run, config)
    return torch.as_tensor(run.read_npy("text/class_embeddings.npy")[list(classes)])


def train_encoder(run: Run, config: RunConfig, data: SkeletonData, mask: np.ndarray, classes: tuple[int, ...],
                  name: str, events=None, should_stop=None) -> dict:
    p = PretrainConfig.from_dict(config.pretrain)
    text = seen_texts(run, config, classes)
    model = new_model(p, len(classes), config, text)
    x = torch.as_tensor(data.x[mask])
    y = class_positions(data.labels[mask], classes)
    weights = torch.as_tensor(balanced_weights(data, mask)) if p.balance == "dataset" else None
    table = text if isinstance(text, torch.Tensor) else torch.zeros(len(classes), 1)
    res = fit(model, x, y, table, stage=f"{STAGE}:{name}",
              epochs=p.epochs, events=events,
              should_stop=should_stop, device=config.device, seed=p.seed,
              checkpoint=run.file("checkpoints", f"encoder_{name}.pt"), amp=True, weights=weights)
    if not res.stopped and _rank() == 0:
        run.write_state(f"checkpoints/encoder_{name}.safetensors", model.state_dict())
    return {"samples": int(mask.sum()), "classes": len(classes), "epochs": res.epochs_run, "stopped": res.stopped,
            "seconds": res.seconds}


def _rank() -> int:
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def needs_validation_encoder(config: RunConfig, split: Split) -> bool:
    """A validation-fold encoder is trained when the split has a fold and the method is fitted on frozen
    features afterwards (its cycles and the GZSL gate are chosen there), unless the recipe turns that off
    (its length already chosen); an encoder trained end to end with the contrastive method ships as it
    is, on a fixed schedule, and needs none. Runs on released features use the release's fold."""
    if not config.trains_encoder:
        return split.has_validation
    p = PretrainConfig.from_dict(config.pretrain)
    return split.has_validation and p.validation_fold and p.objective != "text_contrastive"


def run(run: Run, config: RunConfig, events=None, should_stop=None) -> dict:
    split, data, train, test = load_data(config)
    masks = fold_masks(data, split, train, test, PretrainConfig.from_dict(config.pretrain))
    # train_layout: whose joint synthesis the encoder learnt; a bundle exported from this run harmonises
    # live input to it (docs/architecture.md#train-as-you-infer, "train as you infer")
    info = {"train_layout": data.source_layout,
            "split": train_encoder(run, config, data, masks.seen_train, split.seen, "split", events, should_stop)}
    if needs_validation_encoder(config, split) and not info["split"]["stopped"]:
        info["validation"] = train_encoder(run, config, data, masks.val_train, split.val_seen, "val", events,
                                           should_stop)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        # torchrun: the later stages are cheap and run on rank 0 alone, outside the process group
        info["world_size"] = dist.get_world_size()
        dist.barrier()
        dist.destroy_process_group()
    return info
