"""Small real models for engine tests: the small ST-GCN, a method, a bundle (random weights)."""

from __future__ import annotations

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
