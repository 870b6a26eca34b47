"""TCN: temporal convolutions over the whole body's joint coordinates, a fast skeleton encoder.

After Res-TCN (T. S. Kim, A. Reiter, "Interpretable 3D Human Action Analysis with Temporal
Convolutional Networks", CVPR Workshops 2017): every frame's joints are flattened into one vector and
a stack of 1-D convolutions runs along time, so one layer sees every joint at once and costs a
fraction of a graph convolution (no per-joint feature maps). Ours, not the paper's exact network:

* the input is each frame's 25 x 3 coordinates and their frame-to-frame differences (velocities),
  150 channels, normalised by a BatchNorm over channels (the ST-GCN ``data_bn`` idea);
* blocks of Conv1d, BatchNorm, ReLU and dropout; the channel list and strides are the config's (two
  stride-2 blocks halve the frame rate twice, as in ST-GCN), the first kernel 3 and the others 5;
* global average pooling over time, then over bodies (the engine's encoder convention).

Why it exists: on this project's 2-core CPU it trains ~6x faster than the small ST-GCN and runs a
64-frame window in ~1 ms, which is what lets the cross-dataset benchmark train six models in about
an hour and the default bundle be retrained in minutes (``docs/results.md`` compares the two).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.encoders.base import SKELETON_ENCODERS, EncoderConfig, SkeletonEncoder
from engine.types import NUM_JOINTS


@dataclass(frozen=True)
class TCNConfig(EncoderConfig):
    """TCN hyperparameters (ours; chosen on the cross-dataset benchmark)."""

    num_classes: int = 0  # 0: no head, forward gives features
    in_channels: int = 3  # xyz joint positions
    channels: tuple[int, ...] = (128, 128, 256, 256, 256, 256)  # the last entry is feature_dim
    strides: tuple[int, ...] = (1, 1, 2, 1, 2, 1)
    kernel: int = 5  # temporal kernel of every block but the first (3)
    dropout: float = 0.2  # after every block but the first
    velocity: bool = True  # append frame-to-frame differences to the coordinates

    def __post_init__(self) -> None:
        if not self.channels or len(self.strides) != len(self.channels):
            raise ValueError(f"{len(self.strides)} strides for {len(self.channels)} blocks")
        if self.kernel < 1 or self.kernel % 2 != 1:
            raise ValueError(f"kernel must be odd (a centred window), got {self.kernel}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.num_classes < 0:
            raise ValueError("num_classes must be >= 0 (0 = no head)")


@SKELETON_ENCODERS.register("tcn")
class TCN(SkeletonEncoder):
    """Temporal convolutional skeleton encoder (module docstring)."""

    config_cls = TCNConfig

    def __init__(self, config: TCNConfig | None = None) -> None:
        super().__init__(config if config is not None else TCNConfig())
        cfg: TCNConfig = self.config
        c_in = cfg.in_channels * NUM_JOINTS * (2 if cfg.velocity else 1)
        self.data_bn = nn.BatchNorm1d(c_in)
        layers: list[nn.Module] = []
        for i, (c_out, stride) in enumerate(zip(cfg.channels, cfg.strides)):
            k = 3 if i == 0 else cfg.kernel
            layers += [nn.Conv1d(c_in, c_out, k, stride, k // 2), nn.BatchNorm1d(c_out), nn.ReLU(inplace=True)]
            if i > 0 and cfg.dropout > 0:
                layers.append(nn.Dropout(cfg.dropout))
            c_in = c_out
        self.blocks = nn.Sequential(*layers)
        self.feature_dim = int(cfg.channels[-1])
        self._build_head(cfg.num_classes)

    def backbone(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v, m = x.shape
        # (N, C, T, V, M) -> (N * M, V * C, T): one vector of all joints per frame and body
        x = x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t)
        if self.config.velocity:
            velocity = torch.cat([x[..., 1:] - x[..., :-1], torch.zeros_like(x[..., :1])], dim=-1)
            x = torch.cat([x, velocity], dim=1)
        y = self.blocks(self.data_bn(x))
        return y[..., None]  # (N * M, D, T', 1): pooled over "joints" (one) and time by the base class
