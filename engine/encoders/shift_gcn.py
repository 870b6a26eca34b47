"""Shift-GCN (Cheng et al., "Skeleton-Based Action Recognition with Shift Graph Convolutional Network",
CVPR 2020), in pure PyTorch: no CUDA extension to build (a common complaint about the reference code).

Follows the official code, kchengiva/Shift-GCN ``model/shift_gcn.py`` (``Shift_gcn``, ``Shift_tcn``,
``TCN_GCN_unit``, ``Model``) and its temporal shift op ``model/Temporal_shift/cuda/shift.py`` +
``shift_cuda_kernel.cu``. Ten units 3 -> 64, 64, 64, 64, 128 (s2), 128, 128, 256 (s2), 256, 256;
mean over time and joints, then over bodies -> 256-d (the SynSE / SA-DVAE features, docs/methods.md#skeleton-encoders).

**Spatial shift** (``Shift_gcn``): the official code flattens ``(N*T, V*C)`` and gathers with
``index_select`` along precomputed indices ``shift_in[i*C + j] = (i*C + j + j*C) % (C*V)`` before the
pointwise linear layer and ``shift_out[i*D + j] = (i*D + j - j*D) % (D*V)`` after it, i.e. channel j
of joint i reads joint ``(i + j) % V`` on the way in and ``(i - j) % V`` on the way out.
:func:`spatial_shift_index` builds exactly those arrays; the gathers are the same ``index_select``.

**Temporal shift** (``Shift_tcn`` uses the ActiveShift-style op twice: before and after a 1x1 conv).
The CUDA kernel samples ``out[n, c, h, w] = bilinear(in[n, c], h * stride + ypos[c], w + xpos[c])``
with zeros outside the map. Here, and where the code and paper differ (code followed by default):

* ``xpos`` (the joint-axis offset) is initialised in +-1e-8 and the kernel's ``applyShiftConstraint``
  multiplies its gradient by 0.0, so it never moves and its sub-1e-8 blend of the neighbouring joint
  is below float32 resolution: it is omitted, the shift is along time only (as in the paper).
* ``ypos`` is learnable per channel, initialised ``U(-1, 1)`` (``init_scale=1``); the sample is linear
  interpolation between frames ``floor(h*s + y)`` and the next, zero outside [0, T).
* With stride 2 the code samples at ``2h + ypos + 0.5`` (``ypos + 0.5`` in ``ShiftFunction``): kept
  (``stride_offset``).
* The code's output length is ``T // stride``; its shortcut (a strided 1x1 conv) gives
  ``ceil(T / stride)``, so odd T fails there. Here the shift gives ``ceil(T / stride)`` frames: the
  same for the even T of every benchmark, and odd windows work.
* Gradient of ``ypos``: ``applyShiftConstraint`` replaces it, per channel, by ``0.01 * sign(g)``
  (``1e-4`` where g is exactly 0), a normalised step. ``shift_grad="official"`` reproduces this;
  ``"exact"`` gives the true gradient of the interpolation, the paper's formulation. The gradient
  with respect to the input is the exact adjoint of the sampling in both (as the CUDA backward).
  Note: a loss scaler (fp16 AMP) divides the official constant step by its scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.encoders.base import SKELETON_ENCODERS, EncoderConfig, SkeletonEncoder
from engine.encoders.blocks import DataBatchNorm
from engine.types import NUM_JOINTS

_CHANNELS = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
_STRIDES = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)


def spatial_shift_index(num_nodes: int, channels: int, direction: int) -> np.ndarray:
    """The official ``shift_in`` (``direction=+1``) / ``shift_out`` (``-1``) gather indices.

    Args:
        num_nodes: V (25).
        channels: C of the flattened ``(V * C)`` axis.
        direction: +1 or -1.

    Returns:
        int64 ``(V * C,)``: ``out[:, v * C + c] = in[:, index[v * C + c]]`` with
        ``index[v * C + c] = ((v + direction * c) mod V) * C + c``, which equals the official
        ``(v*C + c + direction*c*C) % (C*V)``.
    """
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction}")
    v = np.arange(num_nodes)[:, None]
    c = np.arange(channels)[None, :]
    return (np.mod(v + direction * c, num_nodes) * channels + c).reshape(-1).astype(np.int64)


def temporal_shift_plan(shift: torch.Tensor, frames: int, stride: int = 1
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Where and how much each output frame of :func:`temporal_shift` reads, for ``frames`` input frames.

    Returns:
        ``(index0, index1, weight0, weight1)``: int64 ``(C * T_out,)`` rows of the ``(C * T, V)`` view
        of a sample and float32 ``(C * T_out, 1)`` interpolation weights (zero where the frame falls
        outside the clip), differentiable in ``shift``.
    """
    c, t = shift.shape[0], frames
    t_out = (t + stride - 1) // stride
    base = torch.arange(t_out, device=shift.device) * stride
    shift = shift.float()  # positions in float32 even under autocast: frame indices must be exact
    lower = torch.floor(shift)
    frac = (shift - lower)[:, None]  # (C, 1); floor has zero gradient, so d frac / d shift = 1
    i0 = base[None, :] + lower.long()[:, None]  # (C, T_out)
    i1 = i0 + 1
    w0 = (1.0 - frac) * ((i0 >= 0) & (i0 < t))
    w1 = frac * ((i1 >= 0) & (i1 < t))
    offset = torch.arange(c, device=shift.device)[:, None] * t
    index0 = (i0.clamp(0, t - 1) + offset).reshape(-1)
    index1 = (i1.clamp(0, t - 1) + offset).reshape(-1)
    return index0, index1, w0.reshape(-1, 1), w1.reshape(-1, 1)


def _apply_plan(x: torch.Tensor, plan: tuple[torch.Tensor, ...], t_out: int, inplace: bool) -> torch.Tensor:
    n, c, t, v = x.shape
    index0, index1, w0, w1 = plan
    flat = x.reshape(n, c * t, v)  # gather whole joint rows: one index_select per neighbour frame
    g0 = flat.index_select(1, index0)
    g1 = flat.index_select(1, index1)
    w0, w1 = w0.to(x.dtype), w1.to(x.dtype)
    if inplace:  # no autograd graph to keep: reuse the gathered buffer (measurably faster at batch 1)
        out = g0.mul_(w0).addcmul_(g1, w1)
    else:
        out = g0 * w0 + g1 * w1
    return out.view(n, c, t_out, v)


def temporal_shift(x: torch.Tensor, shift: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Shift each channel along time by a real amount, with linear interpolation and zero padding.

    Args:
        x: ``(N, C, T, V)``.
        shift: ``(C,)`` offsets in frames: ``out[:, c, h] = x[:, c, h * stride + shift[c]]``,
            interpolated between the two nearest frames; frames outside ``[0, T)`` are zeros.
        stride: temporal stride.

    Returns:
        ``(N, C, ceil(T / stride), V)`` in ``x``'s dtype; differentiable in ``x`` and ``shift``.
    """
    t = x.shape[2]
    plan = temporal_shift_plan(shift, t, stride)
    return _apply_plan(x, plan, (t + stride - 1) // stride, inplace=False)


class _OfficialShiftGradient(torch.autograd.Function):
    """Identity forward; backward replaces the gradient by the official ``applyShiftConstraint``:
    ``0.01 * sign(g)`` per channel, ``1e-4`` where g is exactly zero."""

    @staticmethod
    def forward(ctx, position: torch.Tensor) -> torch.Tensor:
        return position.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return torch.where(grad != 0, 0.01 * torch.sign(grad), torch.full_like(grad, 1e-4))


class TemporalShift(nn.Module):
    """The official ``Shift`` module along time: a learnable real shift per channel.

    Args:
        channels: C.
        stride: temporal stride (1 or 2 in Shift-GCN).
        init_scale: ``ypos ~ U(-init_scale, init_scale)`` (``Shift_tcn`` passes 1).
        shift_grad: ``"official"`` (normalised sign step) or ``"exact"`` (true gradient).
        stride_offset: added to the shift when ``stride > 1`` (official 0.5).
    """

    def __init__(self, channels: int, stride: int = 1, init_scale: float = 1.0, shift_grad: str = "official",
                 stride_offset: float = 0.5) -> None:
        super().__init__()
        if shift_grad not in ("official", "exact"):
            raise ValueError(f"unknown shift_grad {shift_grad!r} (known: official, exact)")
        self.stride = stride
        self.shift_grad = shift_grad
        self.stride_offset = stride_offset
        self.ypos = nn.Parameter(torch.empty(channels).uniform_(-init_scale, init_scale))
        self._plan_cache: tuple[tuple, torch.Tensor, tuple[torch.Tensor, ...]] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[2]
        t_out = (t + self.stride - 1) // self.stride
        if torch.is_grad_enabled():
            pos = _OfficialShiftGradient.apply(self.ypos) if self.shift_grad == "official" else self.ypos
            if self.stride > 1:
                pos = pos + self.stride_offset
            return _apply_plan(x, temporal_shift_plan(pos, t, self.stride), t_out, inplace=False)
        # Inference: the plan depends only on the shifts and T, so it is built once and reused while
        # the shifts keep their values (compared by value: an update through ``.data`` bypasses the
        # version counter). Building it is ~20 small ops, a third of Shift-GCN's batch-1 time.
        ypos = self.ypos.detach()
        key = (t, x.device, self.stride_offset)
        cache = self._plan_cache
        if cache is None or cache[0] != key or not torch.equal(cache[1], ypos):
            pos = ypos + (self.stride_offset if self.stride > 1 else 0.0)
            cache = self._plan_cache = (key, ypos.clone(), temporal_shift_plan(pos, t, self.stride))
        return _apply_plan(x, cache[2], t_out, inplace=True)

    def extra_repr(self) -> str:
        return f"{self.ypos.numel()}, stride={self.stride}, shift_grad={self.shift_grad!r}"


class ShiftGraphConv(nn.Module):
    """The official ``Shift_gcn``: shift in, joint-wise mask, pointwise linear, shift out, BN, shortcut."""

    def __init__(self, in_channels: int, out_channels: int, num_nodes: int = NUM_JOINTS) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.num_nodes = in_channels, out_channels, num_nodes
        self.linear_weight = nn.Parameter(torch.empty(in_channels, out_channels))
        nn.init.normal_(self.linear_weight, 0.0, math.sqrt(1.0 / out_channels))  # official init
        self.linear_bias = nn.Parameter(torch.zeros(out_channels))
        # tanh(0) + 1 = 1: the mask starts as the identity (official Feature_Mask init 0).
        self.feature_mask = nn.Parameter(torch.zeros(num_nodes, in_channels))
        self.bn = nn.BatchNorm1d(num_nodes * out_channels)
        self.down = _conv_bn(in_channels, out_channels) if in_channels != out_channels else None
        self.register_buffer("shift_in", torch.from_numpy(spatial_shift_index(num_nodes, in_channels, 1)),
                             persistent=False)
        self.register_buffer("shift_out", torch.from_numpy(spatial_shift_index(num_nodes, out_channels, -1)),
                             persistent=False)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:  # (N, C, T, V) -> (N, D, T, V)
        n, c, t, v = x0.shape
        d = self.out_channels
        x = x0.permute(0, 2, 3, 1).reshape(n * t, v * c).index_select(1, self.shift_in).view(n * t, v, c)
        x = x * (torch.tanh(self.feature_mask) + 1)
        x = torch.matmul(x, self.linear_weight) + self.linear_bias
        x = self.bn(x.reshape(n * t, v * d).index_select(1, self.shift_out))
        x = x.view(n, t, v, d).permute(0, 3, 1, 2)
        x = x + (x0 if self.down is None else self.down(x0))
        return torch.relu(x).contiguous()


class ShiftTemporalConv(nn.Module):
    """The official ``Shift_tcn``: BN, temporal shift, 1x1 conv, ReLU, (strided) temporal shift, BN."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, init_scale: float = 1.0,
                 shift_grad: str = "official", stride_offset: float = 0.5) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(in_channels)
        self.shift_in = TemporalShift(in_channels, 1, init_scale, shift_grad, stride_offset)
        self.temporal_linear = nn.Conv2d(in_channels, out_channels, 1)
        nn.init.kaiming_normal_(self.temporal_linear.weight, mode="fan_out")  # bias keeps torch's default
        self.relu = nn.ReLU(inplace=True)
        self.shift_out = TemporalShift(out_channels, stride, init_scale, shift_grad, stride_offset)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.shift_in(self.bn(x))
        x = self.relu(self.temporal_linear(x))
        return self.bn2(self.shift_out(x))


def _conv_bn(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """1x1 conv (Kaiming fan-out, bias 0: official ``conv_init``) and BN (scale 1, bias 0)."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1))
    nn.init.kaiming_normal_(conv.weight, mode="fan_out")
    nn.init.zeros_(conv.bias)
    return nn.Sequential(conv, nn.BatchNorm2d(out_channels))


class ShiftGCNBlock(nn.Module):
    """The official ``TCN_GCN_unit``: spatial shift graph conv, shift temporal conv, shortcut, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, residual: bool = True,
                 init_scale: float = 1.0, shift_grad: str = "official", stride_offset: float = 0.5) -> None:
        super().__init__()
        self.gcn = ShiftGraphConv(in_channels, out_channels)
        self.tcn = ShiftTemporalConv(out_channels, out_channels, stride, init_scale, shift_grad,
                                     stride_offset)
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = _conv_bn(in_channels, out_channels, stride)  # official ``tcn(kernel_size=1)``

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.gcn(x))
        if self.residual is not None:
            y = y + self.residual(x)
        return torch.relu_(y)


@dataclass(frozen=True)
class ShiftGCNConfig(EncoderConfig):
    """Shift-GCN hyperparameters; the defaults are the official NTU RGB+D joint model."""

    num_classes: int = 60  # official NTU-60 head; 0: no head, forward gives features
    in_channels: int = 3  # xyz joint positions
    channels: tuple[int, ...] = _CHANNELS  # official l1..l10; the last entry is feature_dim
    strides: tuple[int, ...] = _STRIDES  # official l5 and l8 are stride 2
    residual: bool = True  # official: every unit but the first has a shortcut
    data_bn: str = "mvc"  # official BatchNorm1d(num_person * C * V): statistics per body
    num_bodies: int = 2  # official num_person; M=1 batches use the first body's statistics
    shift_init_scale: float = 1.0  # Shift_tcn passes init_scale=1: ypos ~ U(-1, 1)
    shift_grad: str = "official"  # "official": 0.01 * sign(g) step (applyShiftConstraint); "exact"
    stride_offset: float = 0.5  # official ShiftFunction adds 0.5 to ypos when stride 2

    def __post_init__(self) -> None:
        if not self.channels:
            raise ValueError("channels must not be empty")
        if len(self.strides) != len(self.channels):
            raise ValueError(f"{len(self.strides)} strides for {len(self.channels)} units")
        if self.num_classes < 0:
            raise ValueError("num_classes must be >= 0 (0 = no head)")
        if self.shift_grad not in ("official", "exact"):
            raise ValueError(f"unknown shift_grad {self.shift_grad!r} (known: official, exact)")
        if self.data_bn not in ("vc", "mvc"):
            raise ValueError(f"unknown data_bn {self.data_bn!r} (known: vc, mvc)")


@SKELETON_ENCODERS.register("shift_gcn")
class ShiftGCN(SkeletonEncoder):
    """Shift-GCN skeleton encoder."""

    config_cls = ShiftGCNConfig

    def __init__(self, config: ShiftGCNConfig | None = None) -> None:
        super().__init__(config if config is not None else ShiftGCNConfig())
        cfg: ShiftGCNConfig = self.config
        self.data_bn = DataBatchNorm(cfg.in_channels, NUM_JOINTS, cfg.data_bn, cfg.num_bodies)
        layers, c_in = [], cfg.in_channels
        for i, (c_out, stride) in enumerate(zip(cfg.channels, cfg.strides)):
            layers.append(ShiftGCNBlock(c_in, c_out, stride, residual=cfg.residual and i > 0,
                                        init_scale=cfg.shift_init_scale, shift_grad=cfg.shift_grad,
                                        stride_offset=cfg.stride_offset))
            c_in = c_out
        self.layers = nn.ModuleList(layers)
        self.feature_dim = int(cfg.channels[-1])
        self._build_head(cfg.num_classes)
        if self.head is not None:
            nn.init.normal_(self.head.weight, 0.0, math.sqrt(2.0 / cfg.num_classes))  # official fc init

    def backbone(self, x: torch.Tensor) -> torch.Tensor:
        x = self.data_bn(x)
        for layer in self.layers:
            x = layer(x)
        return x
