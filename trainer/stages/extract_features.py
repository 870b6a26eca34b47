"""Stage ``extract_features``: the frozen encoders' features in the SynSE feature-folder layout
(``methods.md`` section 1.4 item 4), under ``RUN/features/``, so the later stages (and other code)
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
from trainer.stages.pretrain_encoder import load_data, new_model, val_heldout_mask

STAGE = "extract_features"
NO_CLASS = -30.0


def _outputs(model, x: np.ndarray, classes: tuple[int, ...], num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    feats, logits = encode(model, torch.as_tensor(x))
    full = np.full((len(x), num_classes), NO_CLASS, np.float32)
    full[:, list(classes)] = logits.numpy()
    return feats.numpy().astype(np.float32), full


def run(run: Run, config: RunConfig, events=None) -> dict:
    split, data, train, test = load_data(config)
    p = PretrainConfig.from_dict(config.pretrain)
    c = split.num_classes
    k = len(split.unseen)

    model = new_model(p, len(split.seen))
    model.load_state_dict(run.read_state("checkpoints/encoder_split.safetensors"))
    seen_train = train & np.isin(data.labels, split.seen)
    unseen_test = test & np.isin(data.labels, split.unseen)
    f_train, _ = _outputs(model, data.x[seen_train], split.seen, c)
    f_z, _ = _outputs(model, data.x[unseen_test], split.seen, c)
    f_g, out_g = _outputs(model, data.x[test], split.seen, c)
    write_fold(run.file("features", f"run_{k}_r"), {
        "train": f_train, "train_label": data.labels[seen_train], "ztest": f_z, "z_label": data.labels[unseen_test],
        "gtest": f_g, "g_label": data.labels[test], "gtest_out": out_g,
    })
    info = {"train": int(seen_train.sum()), "ztest": int(unseen_test.sum()), "gtest": int(test.sum())}
    if split.has_validation:
        model_v = new_model(p, len(split.val_seen))
        model_v.load_state_dict(run.read_state("checkpoints/encoder_val.safetensors"))
        held = val_heldout_mask(data, train, split, p.val_heldout, p.seed)
        v_train = train & np.isin(data.labels, split.val_seen) & ~held
        v_unseen = train & np.isin(data.labels, split.val_unseen)
        fv_train, _ = _outputs(model_v, data.x[v_train], split.val_seen, c)
        fv_z, out_vz = _outputs(model_v, data.x[v_unseen], split.val_seen, c)
        fv_v, out_vv = _outputs(model_v, data.x[held], split.val_seen, c)
        write_fold(run.file("features", f"run_val_{k}_r"), {
            "train": fv_train, "train_label": data.labels[v_train], "ztest": fv_z, "z_label": data.labels[v_unseen],
            "val": fv_v, "val_label": data.labels[held], "ztest_out": out_vz, "val_out": out_vv,
        })
        info.update(val_train=int(v_train.sum()), val_ztest=int(v_unseen.sum()), val_heldout=int(held.sum()))
    return info
