"""Stage ``extract_features``: the frozen encoders' features in the SynSE feature-folder layout
(docs/data_formats.md#item-4-synse-feature-folders), under ``RUN/features/``, so the later stages (and other code)
read them exactly as they read a SynSE release.

Head logits (``gtest_out``, ``ztest_out``, ``val_out``) are indexed with global class ids like the
release's; columns of classes the head never had hold ``NO_CLASS`` (a finite, very low logit).
"""

from __future__ import annotations

import numpy as np
import torch

from trainer.config import RunConfig
from trainer.data.features import write_fold
from trainer.pretraining import PretrainConfig, encode
from trainer.runs import Run
from trainer.stages.pretrain_encoder import fold_masks, load_data, needs_validation_encoder, new_model, seen_texts

STAGE = "extract_features"
NO_CLASS = -30.0


def _outputs(model, x: np.ndarray, mask: np.ndarray, classes: tuple[int, ...], num_classes: int):
    """Features and globally indexed head logits of the samples in ``mask``, each encoded once;
    returns ``(features, logits)`` of all ``len(mask)`` samples (rows outside ``mask`` are zero)."""
    idx = np.flatnonzero(mask)
    feats, logits = encode(model, torch.as_tensor(x[idx]))
    f = np.zeros((len(mask), feats.shape[1]), np.float32)
    out = np.full((len(mask), num_classes), NO_CLASS, np.float32)
    f[idx] = feats.numpy()
    out[np.ix_(idx, list(classes))] = logits.numpy()
    return f, out


def _encoder(run: Run, config: RunConfig, p: PretrainConfig, classes: tuple[int, ...], name: str):
    model = new_model(p, len(classes), config, seen_texts(run, config, classes))
    model.load_state_dict(run.read_state(f"checkpoints/encoder_{name}.safetensors"))
    return model


def run(run: Run, config: RunConfig, events=None, should_stop=None) -> dict:
    split, data, train, test = load_data(config)
    p = PretrainConfig.from_dict(config.pretrain)
    m = fold_masks(data, split, train, test, p)
    c, k, y = split.num_classes, len(split.unseen), data.labels

    f, out = _outputs(_encoder(run, config, p, split.seen, "split"), data.x, m.seen_train | m.test, split.seen, c)
    write_fold(run.file("features", f"run_{k}_r"), {
        "train": f[m.seen_train], "train_label": y[m.seen_train], "ztest": f[m.unseen_test],
        "z_label": y[m.unseen_test], "gtest": f[m.test], "g_label": y[m.test], "gtest_out": out[m.test],
    })
    info = {"train": int(m.seen_train.sum()), "ztest": int(m.unseen_test.sum()), "gtest": int(m.test.sum())}
    if needs_validation_encoder(config, split):
        used = m.val_train | m.val_unseen | m.val_heldout
        f, out = _outputs(_encoder(run, config, p, split.val_seen, "val"), data.x, used, split.val_seen, c)
        write_fold(run.file("features", f"run_val_{k}_r"), {
            "train": f[m.val_train], "train_label": y[m.val_train], "ztest": f[m.val_unseen],
            "z_label": y[m.val_unseen], "val": f[m.val_heldout], "val_label": y[m.val_heldout],
            "ztest_out": out[m.val_unseen], "val_out": out[m.val_heldout],
        })
        info.update(val_train=int(m.val_train.sum()), val_ztest=int(m.val_unseen.sum()),
                    val_heldout=int(m.val_heldout.sum()))
    return info
