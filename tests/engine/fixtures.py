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
