"""ST-GCN: spatial temporal graph convolutional network (Yan, Xiong, Lin, AAAI 2018).

Follows the official code, yysijie/st-gcn ``net/st_gcn.py`` (``Model``, ``st_gcn``), with its
NTU RGB+D training config (``config/st_gcn/ntu-xsub/train.yaml``: spatial partition, learnable edge
importance, dropout 0.5) and its weight initialisation (``processor/recognition.py``:
``weights_init``). Ten blocks of graph convolution + temporal convolution (kernel 9), channels
64, 64, 64, 64, 128 (stride 2), 128, 128, 256 (stride 2), 256, 256; global average pooling over time
and joints, mean over bodies.

The same architecture with a smaller channel list is the 256-d feature extractor of SMIE and PGFA
(YujieOuO/SMIE ``module/gcn/st_gcn.py``: 16, 16, 16, 16, 32 (s2), 32, 32, 64 (s2), 64, 256); it is
a config here (``assets/configs/encoders/stgcn_small.json``), not a separate class.

Details of the official code kept as they are (see :mod:`engine.skeleton.graph` for the graph):
the input BatchNorm is ``BatchNorm1d(V * C)`` over ``(N * M, V * C, T)``, statistics shared by the
bodies (pyskl calls this ``'VC'``; Shift-GCN's ``M * V * C`` is ``data_bn="mvc"``); the spatial
partition is centred on joint 21 (spine_shoulder) and uses hop distances truncated at one hop.

Differences from the official code, all without effect on the maths:

* the K partition products of a graph convolution accumulate into one buffer without the einsum's
  permuted copy (:class:`~engine.encoders.blocks.GraphConv`);
* the head is a ``Linear`` (official: a 1x1 ``Conv2d`` on the pooled ``(N, 256, 1, 1)`` map);
* the adjacency is a non-persistent buffer rebuilt from the config (a bundle stores the config);
* edge importance lives in ``edge_importance.{i}`` as in the official state dict, so converting an
  official checkpoint is a renaming (``fcn`` -> ``head``, reshaped) plus dropping ``A``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.encoders.base import SKELETON_ENCODERS, EncoderConfig, SkeletonEncoder
from engine.encoders.blocks import DataBatchNorm, GraphConv, residual_conv, temporal_conv
from engine.skeleton.graph import Graph
from engine.types import NUM_JOINTS

_FULL_CHANNELS = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
_STRIDES = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)


@dataclass(frozen=True)
class STGCNConfig(EncoderConfig):
    """ST-GCN hyperparameters; the defaults are the official NTU RGB+D model."""

    num_classes: int = 60  # NTU-60 head of the official config; 0: no head, forward gives features
    in_channels: int = 3  # xyz joint positions
    channels: tuple[int, ...] = _FULL_CHANNELS  # official Model; the last entry is feature_dim
    strides: tuple[int, ...] = _STRIDES  # the two stride-2 blocks halve the frame rate twice
    temporal_kernel: int = 9  # official temporal_kernel_size
    dropout: float = 0.5  # ntu-xsub train.yaml; the first block has none (official kwargs0)
    edge_importance: bool = True  # official edge_importance_weighting: a learnable mask per block
    residual: bool = True  # official: every block but the first has a shortcut
    graph_edges: str = "stgcn"  # the official NTU edge list (engine.skeleton.graph.NTU25_STGCN_EDGES)
    graph_strategy: str = "spatial"  # official partition: self / same-or-farther / nearer, K=3
    graph_center: str | None = None  # None: the official centre joint (spine_shoulder on NTU-25)
    graph_spatial_distance: str = "max_hop"  # official truncated distances; "exact" = the paper's split
    max_hop: int = 1  # official default neighbourhood
    data_bn: str = "vc"  # official BatchNorm1d(V * C) shared by the bodies; "mvc" = one per body
    num_bodies: int = 2  # bodies the "mvc" statistics are made for (unused with "vc")

    def __post_init__(self) -> None:
        if not self.channels:
            raise ValueError("channels must not be empty")
        if len(self.strides) != len(self.channels):
            raise ValueError(f"{len(self.strides)} strides for {len(self.channels)} blocks")
        if self.num_classes < 0:
            raise ValueError("num_classes must be >= 0 (0 = no head)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.temporal_kernel < 1 or self.temporal_kernel % 2 != 1:
            raise ValueError(f"temporal_kernel must be odd (a centred window), got {self.temporal_kernel}")
        if self.data_bn not in ("vc", "mvc"):
            raise ValueError(f"unknown data_bn {self.data_bn!r} (known: vc, mvc)")
        _ = self.graph().A  # a wrong graph field fails here, when the config is read

    def graph(self) -> Graph:
        return Graph(layout="ntu25", edges=self.graph_edges, strategy=self.graph_strategy,
                     center=self.graph_center, max_hop=self.max_hop,
                     spatial_distance=self.graph_spatial_distance)


class STGCNBlock(nn.Module):
    """One ST-GCN unit (official ``st_gcn``): graph conv, temporal unit, shortcut, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, num_partitions: int, temporal_kernel: int,
                 stride: int = 1, dropout: float = 0.0, residual: bool = True) -> None:
        super().__init__()
        self.gcn = GraphConv(in_channels, out_channels, num_partitions)
        self.tcn = temporal_conv(out_channels, temporal_kernel, stride, dropout)
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = residual_conv(in_channels, out_channels, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.gcn(x, adjacency))
        if self.residual is not None:
            y = y + self.residual(x)
        return self.relu(y)


def _stgcn_init(module: nn.Module) -> None:
    """Official ``weights_init``: convolutions N(0, 0.02), BatchNorm scales N(1, 0.02), biases 0.

    The official head is a 1x1 Conv2d and gets the same; so does our Linear head.
    """
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.modules.batchnorm._BatchNorm):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


@SKELETON_ENCODERS.register("stgcn")
class STGCN(SkeletonEncoder):
    """ST-GCN skeleton encoder (full or small, by config)."""

    config_cls = STGCNConfig

    def __init__(self, config: STGCNConfig | None = None) -> None:
        super().__init__(config if config is not None else STGCNConfig())
        cfg: STGCNConfig = self.config
        a = torch.tensor(cfg.graph().A, dtype=torch.float32)
        self.register_buffer("A", a, persistent=False)
        self.data_bn = DataBatchNorm(cfg.in_channels, NUM_JOINTS, cfg.data_bn, cfg.num_bodies)
        blocks, c_in = [], cfg.in_channels
        for i, (c_out, stride) in enumerate(zip(cfg.channels, cfg.strides)):
            blocks.append(STGCNBlock(
                c_in, c_out, a.shape[0], cfg.temporal_kernel, stride,
                dropout=0.0 if i == 0 else cfg.dropout,  # official: no dropout in the first block
                residual=cfg.residual and i > 0,  # official: residual=False on the first block
            ))
            c_in = c_out
        self.st_gcn_networks = nn.ModuleList(blocks)
        # Multiplicative mask on A, one per block, initialised to ones (official edge_importance).
        self.edge_importance = (
            nn.ParameterList([nn.Parameter(torch.ones_like(a)) for _ in blocks])
            if cfg.edge_importance else None
        )
        self.feature_dim = int(cfg.channels[-1])
        self._build_head(cfg.num_classes)
        self.apply(_stgcn_init)

    def backbone(self, x: torch.Tensor) -> torch.Tensor:
        x = self.data_bn(x)
        for i, block in enumerate(self.st_gcn_networks):
            a = self.A if self.edge_importance is None else self.A * self.edge_importance[i]
            x = block(x, a)
        return x
