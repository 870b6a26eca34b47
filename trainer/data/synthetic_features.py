"""Synthetic SynSE-layout feature folders, for tests and ``zsar bench train-step --pipeline``.

**Not real data.** Each class has a random text embedding; a sample's skeleton feature is a fixed
random nonlinear map of its class's text embedding plus a per-sample "style" vector through a second
map (what SA-DVAE's style latent is meant to absorb), and the seen-class head logits are a noisy
score of the true class. Sizes default to the NTU-60 55/5 scale of the SynSE release (about 40,000
training features of 256-d; 512-d text features), so speed can be measured without the dataset.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from trainer.data.features import write_fold
from trainer.data.splits import Split


def _features(rng, text, labels, w1, w2, ws, style_dim, noise):
    h = np.tanh(text[labels] @ w1)
    style = rng.standard_normal((len(labels), style_dim)).astype(np.float32)
    x = np.maximum(h @ w2 + style @ ws, 0) + noise * rng.standard_normal((len(labels), w2.shape[1]))
    return x.astype(np.float32)


def _head_logits(rng, labels, num_classes, seen, strength=4.0):
    """Logits of a seen-class head: peaked on the true class for seen samples, flat-ish otherwise."""
    logits = rng.standard_normal((len(labels), num_classes)).astype(np.float32)
    is_seen = np.isin(labels, seen)
    logits[np.flatnonzero(is_seen), labels[is_seen]] += strength
    return logits


def make_feature_folders(root: str | os.PathLike, split: Split, *, train_per_class: int = 730,
                         test_per_class: int = 60, val_heldout_per_class: int = 40, feature_dim: int = 256,
                         text_dim: int = 512, style_dim: int = 32, noise: float = 0.1,
                         seed: int = 0) -> tuple[Path, Path]:
    """Write ``<root>/synth_<k>_r`` and ``<root>/synth_val_<k>_r`` and ``<root>/text_features.npy``.

    Returns:
        ``(root, text_features_path)``.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    c = split.num_classes
    text = rng.standard_normal((c, text_dim)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    w1 = (rng.standard_normal((text_dim, 128)) * 2.0).astype(np.float32)
    w2 = (rng.standard_normal((128, feature_dim)) / np.sqrt(128)).astype(np.float32)
    ws = (rng.standard_normal((style_dim, feature_dim)) * 0.5 / np.sqrt(style_dim)).astype(np.float32)
    feats = lambda labels: _features(rng, text, labels, w1, w2, ws, style_dim, noise)  # noqa: E731
    seen, unseen = np.asarray(split.seen), np.asarray(split.unseen)
    k = len(unseen)

    train_y = np.repeat(seen, train_per_class)
    z_y = np.repeat(unseen, test_per_class)
    g_y = np.repeat(np.arange(c), test_per_class)
    write_fold(root / f"synth_{k}_r", {
        "train": feats(train_y), "train_label": train_y, "ztest": feats(z_y), "z_label": z_y,
        "gtest": feats(g_y), "g_label": g_y, "gtest_out": _head_logits(rng, g_y, c, seen),
    })
    if split.has_validation:
        vs, vu = np.asarray(split.val_seen), np.asarray(split.val_unseen)
        vtrain_y = np.repeat(vs, train_per_class)
        vz_y = np.repeat(vu, test_per_class)
        vval_y = np.repeat(vs, val_heldout_per_class)
        write_fold(root / f"synth_val_{k}_r", {
            "train": feats(vtrain_y), "train_label": vtrain_y, "ztest": feats(vz_y), "z_label": vz_y,
            "val": feats(vval_y), "val_label": vval_y,
            # the validation model's head knows only the val-seen classes
            "ztest_out": _head_logits(rng, vz_y, c, vs), "val_out": _head_logits(rng, vval_y, c, vs),
        })
    text_path = root / "text_features.npy"
    np.save(text_path, text, allow_pickle=False)
    return root, text_path
