"""Training-time augmentations of encoder batches ``(N, C=3, T, V=25, M)``, in torch, and the text side
of the one augmentation that changes what a clip means: the left/right mirror.

Batches arrive preprocessed (``engine.skeleton.preprocess``, style ``"view"``: the person faces the
sensor with their right along +x), so a mirror is a reflection across the body's own sagittal plane:
x negated and every left joint swapped with its right twin. A mirrored "wave right hand" is a "wave
left hand", so the clip's class text is mirrored too (:func:`mirror_text`): the model learns what
"left" and "right" mean instead of being taught that both sides are the same action. A text without
a side ("clap") is its own mirror.

The other augmentations keep the meaning: a random temporal crop resampled back to the window (speed
and extent: people perform at different tempi and a live window catches actions part-way), a random
turn about the vertical axis and a random body size (sensors, children), and joint jitter (Kinect
noise). All randomness comes from torch's global generator, which the training loop seeds, so a run
and its resumption draw the same augmentations.
"""

from __future__ import annotations

import math

import torch

from engine.skeleton.layouts import NTU25
from engine.text.sides import mirror_text  # noqa: F401  (the text side of the mirror, used with it)

#: joint index of each joint's mirror twin (left <-> right; centre joints stay)
MIRROR_JOINTS: tuple[int, ...] = tuple(
    next((b if a == i else a for a, b in NTU25.left_right if i in (a, b)), i) for i in range(NTU25.num_joints)
)


def mirror(x: torch.Tensor) -> torch.Tensor:
    """Batch ``(N, 3, T, V, M)`` reflected across the body's sagittal plane (view-normalised input)."""
    out = x[:, :, :, list(MIRROR_JOINTS)].clone()
    out[:, 0] = -out[:, 0]
    return out


def temporal_crop(x: torch.Tensor, min_ratio: float) -> torch.Tensor:
    """A random crop of each clip (a share in ``[min_ratio, 1]`` of its frames, anywhere in the clip),
    linearly resampled back to ``T`` frames: the clip played faster or slower and cut differently."""
    if min_ratio >= 1.0:
        return x
    n, c, t, v, m = x.shape
    ratio = min_ratio + torch.rand(n, device=x.device) * (1.0 - min_ratio)
    length = (ratio * t).clamp(min=2.0)
    start = torch.rand(n, device=x.device) * (t - length)
    # half-pixel centres, as engine.skeleton.preprocess.resize_time
    pos = start[:, None] + (torch.arange(t, device=x.device) + 0.5)[None] * (length[:, None] / t) - 0.5
    pos = pos.clamp(0, t - 1)
    i0 = pos.floor().long()
    i1 = (i0 + 1).clamp(max=t - 1)
    w = (pos - i0).to(x.dtype)[:, None, :, None, None]
    expand = (n, c, t, v, m)
    g0 = torch.gather(x, 2, i0[:, None, :, None, None].expand(expand))
    g1 = torch.gather(x, 2, i1[:, None, :, None, None].expand(expand))
    return g0 * (1 - w) + g1 * w


def rotate_scale(x: torch.Tensor, max_degrees: float, scale: float) -> torch.Tensor:
    """A random turn about the vertical (y) axis within +-``max_degrees`` and a random size factor in
    ``[1 - scale, 1 + scale]``, per sample; absent bodies (zeros) stay zero."""
    n = x.shape[0]
    angle = (torch.rand(n, device=x.device) * 2 - 1) * math.radians(max_degrees)
    size = 1 + (torch.rand(n, device=x.device) * 2 - 1) * scale
    c, s = torch.cos(angle) * size, torch.sin(angle) * size
    rot = torch.zeros(n, 3, 3, device=x.device, dtype=x.dtype)
    rot[:, 0, 0], rot[:, 0, 2], rot[:, 2, 0], rot[:, 2, 2] = c, s, -s, c
    rot[:, 1, 1] = size
    return torch.einsum("nij,njtvm->nitvm", rot, x)


def jitter(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian noise of ``sigma`` metres on every present joint."""
    if sigma <= 0:
        return x
    present = (x != 0).any(dim=1, keepdim=True)
    return x + sigma * torch.randn_like(x) * present
