"""Layers shared by the graph-convolutional skeleton encoders.

* :class:`DataBatchNorm`: the input normalisation every ST-GCN-family model starts with, and the
  reshape from ``(N, C, T, V, M)`` to per-body feature maps ``(N * M, C, T, V)``.
* :class:`GraphConv`: ST-GCN's spatial graph convolution (``ConvTemporalGraphical`` in yysijie/st-gcn,
  ``unit_gcn`` in pyskl) with the K partitions fused into one matrix product.
* :func:`temporal_conv`, :func:`residual_conv`: ST-GCN's temporal unit and its strided 1x1 shortcut.

Module and parameter names follow the official code where it costs nothing (``conv``, ``tcn.0``,
``residual.1`` ...), so that a converter from official checkpoints stays a renaming table.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DataBatchNorm(nn.BatchNorm1d):
    """BatchNorm over the raw input coordinates, then the reshape to one feature map per body.

    Args:
        in_channels: C (3 coordinates).
        num_joints: V.
        mode: ``"vc"``: one statistic per (joint, coordinate), shared by the bodies (official ST-GCN:
            ``BatchNorm1d(V * C)`` on ``(N * M, V * C, T)``); ``"mvc"``: one per (body, joint,
            coordinate) (official Shift-GCN: ``BatchNorm1d(M * V * C)`` on ``(N, M * V * C, T)``).
        num_bodies: M the ``"mvc"`` statistics are made for (official: 2).

    A batch with fewer bodies than ``num_bodies`` in ``"mvc"`` mode uses the statistics of the
    first bodies (body-major order, as the official flattening): a live recognizer with one person
    can run a two-body model at M=1, at about half the cost.
    """

    def __init__(self, in_channels: int, num_joints: int, mode: str = "vc", num_bodies: int = 2) -> None:
        if mode not in ("vc", "mvc"):
            raise ValueError(f"unknown data_bn mode {mode!r} (known: vc, mvc)")
        super().__init__((num_bodies if mode == "mvc" else 1) * num_joints * in_channels)
        self.mode = mode
        self.num_bodies = num_bodies

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, T, V, M) -> (N * M, C, T, V)
        n, c, t, v, m = x.shape
        y = x.permute(0, 4, 3, 1, 2)  # N, M, V, C, T
        if self.mode == "vc":
            y = super().forward(y.reshape(n * m, v * c, t))
        else:
            if m > self.num_bodies:
                raise ValueError(f"this model normalises {self.num_bodies} bodies per sample "
                                 f"(data_bn 'mvc'); got a batch with M={m}")
            y = y.reshape(n, m * v * c, t)
            y = super().forward(y) if m == self.num_bodies else self._first_bodies(y)
        return y.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)

    def _first_bodies(self, y: torch.Tensor) -> torch.Tensor:
        k = y.shape[1]
        use_batch_stats = self.training or self.running_mean is None
        factor = 0.0
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
        # Slices of the buffers are views: running statistics of the used bodies update in place.
        return F.batch_norm(
            y,
            None if self.running_mean is None else self.running_mean[:k],
            None if self.running_var is None else self.running_var[:k],
            None if self.weight is None else self.weight[:k],
            None if self.bias is None else self.bias[:k],
            use_batch_stats, factor, self.eps,
        )

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mode={self.mode!r}, num_bodies={self.num_bodies}"


class GraphConv(nn.Module):
    """Spatial graph convolution: a 1x1 convolution to K groups of channels, then ``sum_k X_k A_k``.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        num_partitions: K, the number of adjacency matrices.

    The official layer sums the partitions with ``einsum('nkctv,kvw->nctw')``, which permutes the
    convolution's output into a copy first. Here the K products accumulate into one buffer, each
    reading its partition's block of the convolution output in place (``mm`` then ``addmm_``):
    no copy, no einsum dispatch. Measured at batch 1 on the 2-core CPU this is ~30% faster than the
    einsum or a single matmul over the permuted ``(K * V, V)`` stack, 6-13% of the whole ST-GCN.
    """

    def __init__(self, in_channels: int, out_channels: int, num_partitions: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.num_partitions = num_partitions
        self.conv = nn.Conv2d(in_channels, out_channels * num_partitions, kernel_size=1)

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        """``x (N, C_in, T, V)``, ``adjacency (K, V, V)`` -> ``(N, C_out, T, V)``."""
        n, _, t, v = x.shape
        k, c = self.num_partitions, self.out_channels
        y = self.conv(x).view(n, k, c * t, v)
        # In-place ops are not autocast: give the adjacency the dtype the convolution produced.
        a = adjacency.to(y.dtype)
        if n == 1:  # the live case: plain matrix products
            out = torch.mm(y[0, 0], a[0])
            for i in range(1, k):
                out.addmm_(y[0, i], a[i])
        else:
            out = torch.matmul(y[:, 0], a[0])
            for i in range(1, k):
                out.baddbmm_(y[:, i], a[i].expand(n, v, v))
        return out.view(n, c, t, v)


def temporal_conv(
    channels: int, kernel_size: int = 9, stride: int = 1, dropout: float = 0.0
) -> nn.Sequential:
    """ST-GCN's temporal unit: BN, ReLU, a ``(kernel_size, 1)`` convolution along time, BN, dropout.

    Indices match the official ``tcn`` Sequential (0 BN, 2 conv, 3 BN).
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"the temporal kernel must be odd (centred), got {kernel_size}")
    pad = (kernel_size - 1) // 2
    return nn.Sequential(
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, (kernel_size, 1), (stride, 1), (pad, 0)),
        nn.BatchNorm2d(channels),
        nn.Dropout(dropout),
    )


def residual_conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """The shortcut where channels or the frame rate change: a strided 1x1 convolution and BN."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1)),
        nn.BatchNorm2d(out_channels),
    )
