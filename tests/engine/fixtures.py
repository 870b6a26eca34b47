"""Small real models and data for engine tests: the small ST-GCN, a method, a bundle (random weights),
synthetic feature/text sets for the alignment methods."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from engine.bundle import StreamingConfig, TextConfig, new_bundle
from engine.skeleton.preprocess import PreprocessConfig
from engine.types import ClassSet

TEXT_DIM = 384  # MiniLM


def small_bundle(method: str = "contrastive", train_layout: str = "ntu25", window: int = 16,
                 streaming: StreamingConfig | None = None, num_bodies: int = 1, seed: int = 0):
    import torch

    from engine.encoders import load_encoder_config

    torch.manual_seed(seed)
    key, config = load_encoder_config("stgcn_small")
    return new_bundle(
        key, config, method, None, TextConfig("minilm"), TEXT_DIM,
        ClassSet(("wave right hand", "squat", "clap", "jump")),
        preprocess=PreprocessConfig(style="view", window=window, num_bodies=num_bodies),
        train_layout=train_layout,
        streaming=streaming or StreamingConfig(window=24, stride=4, smoothing=0.0),
        split={"dataset": "procedural", "seen": [0, 1, 2, 3], "unseen": []},
        card={"note": "random weights, for tests"},
    )


def assert_bundle_round_trip(tmp_path, method: str, config: dict, text_dim: int = 12):
    """Train ``method`` briefly inside a bundle, save and load it, and check the loaded bundle scores
    an unseen class set bit-identically (prepared under inference mode, as the recognizer does)."""
    import torch

    from engine.bundle import load_bundle, save_bundle
    from engine.encoders import load_encoder_config
    from tests.engine.test_sa_dvae import tiny_data
    from trainer.loop import fit

    key, enc_config = load_encoder_config("stgcn_small")
    bundle = new_bundle(key, enc_config, method, config, TextConfig("table"), text_dim,
                        ClassSet(tuple(f"action {i}" for i in range(6))))
    x, y, text = tiny_data(feature_dim=bundle.encoder.feature_dim, text_dim=text_dim)
    fit(bundle.method, x, y, text)
    unseen = torch.randn(5, text_dim, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        before = bundle.method.scores(x, bundle.method.prepare(unseen))
    save_bundle(bundle, tmp_path / "m.zsar")
    back = load_bundle(tmp_path / "m.zsar").method
    assert back.config == bundle.method.config
    with torch.inference_mode():
        assert torch.equal(before, back.scores(x, back.prepare(unseen)))


def style_data(seed: int = 0, classes: int = 30, unseen: int = 5, text_dim: int = 32, feature_dim: int = 64,
               style_dim: int = 4, per_class: int = 120, style_scale: float = 4.0):
    """Skeleton features = a fixed nonlinear map of the class's text embedding + a per-sample style
    vector through another map (as large as the class signal) + a little noise. The last ``unseen``
    classes are held out; their test samples have fresh styles."""
    g = torch.Generator().manual_seed(seed)
    text = F.normalize(torch.randn(classes, text_dim, generator=g), dim=1)
    w_class = torch.randn(text_dim, 64, generator=g) * 1.5
    w_out = torch.randn(64, feature_dim, generator=g) / 8
    w_style = torch.randn(style_dim, feature_dim, generator=g) / style_dim**0.5

    def sample(ids, n):
        y = torch.as_tensor(ids).repeat_interleave(n)
        style = torch.tanh(torch.randn(len(y), style_dim, generator=g))
        x = torch.tanh(text[y] @ w_class) @ w_out + style_scale * style @ w_style
        return x + 0.1 * torch.randn(len(y), feature_dim, generator=g), y

    seen, held_out = list(range(classes - unseen)), list(range(classes - unseen, classes))
    x_seen, y_seen = sample(seen, per_class)
    x_unseen, y_unseen = sample(held_out, 60)
    return text, seen, held_out, x_seen, y_seen, x_unseen, y_unseen - (classes - unseen)


def zsl_top1(method, text, unseen, x, y, classifier_seeds: int = 5) -> float:
    """ZSL top-1 averaged over a few classifier seeds (the ReLU'd classifier can leave a class dead
    for some initialisations, a quirk of the official code: averaging keeps the comparison about
    the learnt alignment)."""
    base, accs = method.config, []
    for seed in range(classifier_seeds):
        method.config = dataclasses.replace(base, seed=seed)
        with torch.no_grad():
            accs.append(float((method.scores(x, method.prepare(text[unseen])).argmax(1) == y).float().mean()))
    method.config = base
    return sum(accs) / len(accs)


def tiny_data(feature_dim: int = 24, text_dim: int = 12, classes: int = 6, n: int = 96, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    text = torch.randn(classes, text_dim, generator=g)
    labels = torch.arange(n) % classes
    x = (text[labels] @ torch.randn(text_dim, feature_dim, generator=g)).relu()
    x = x + 0.1 * torch.rand(n, feature_dim, generator=g)
    return x, labels, text
