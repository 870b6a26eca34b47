"""What every skeleton encoder shares: typed configs, input checks, pooling and the classification head.

An encoder maps a batch ``(N, C=3, T, V=25, M)`` (:mod:`engine.types`) to one feature vector per
sample: the backbone runs on every body, its output is averaged over time and joints, then over the
bodies (ST-GCN, Shift-GCN and the ZSSAR feature extractors built on them all do this). ``forward``
adds a linear head for the supervised pre-training on seen classes (docs/architecture.md#the-training-pipeline, stage
1).
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, ClassVar

import torch
from torch import nn

from engine.registry import Registry
from engine.types import NUM_JOINTS

# Every entry module registers itself with @SKELETON_ENCODERS.register; engine.encoders imports them all.
SKELETON_ENCODERS: Registry[type[nn.Module]] = Registry("skeleton encoder")


class EncoderConfig:
    """Mixin for the frozen config dataclasses: JSON-friendly ``to_dict`` / ``from_dict``."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (tuples become lists)."""
        out = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> EncoderConfig:
        """The config from a dict such as :meth:`to_dict` gives; missing keys take the defaults.

        Raises:
            ValueError: a key the config does not have (a typo must not pass silently).
        """
        d = dict(d or {})
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"{cls.__name__} has no field(s) {', '.join(unknown)} "
                             f"(fields: {', '.join(sorted(names))})")
        hints = typing.get_type_hints(cls)
        for key, value in d.items():
            if isinstance(value, list) and "tuple" in str(hints.get(key, "")):
                d[key] = tuple(value)
        return cls(**d)  # type: ignore[call-arg]


class SkeletonEncoder(nn.Module):
    """Base of the registered encoders.

    Subclasses set ``config_cls``, build their layers in ``__init__(config)`` and implement
    :meth:`backbone`; they set ``self.feature_dim`` and call :meth:`_build_head`.
    """

    config_cls: ClassVar[type]
    feature_dim: int

    def __init__(self, config: Any) -> None:
        super().__init__()
        if not isinstance(config, self.config_cls):
            raise TypeError(f"{type(self).__name__} takes a {self.config_cls.__name__}, "
                            f"got {type(config).__name__}")
        self.config = config

    def _build_head(self, num_classes: int) -> None:
        # num_classes=0: a pure feature extractor (the ZSSAR methods only use the features).
        self.head = nn.Linear(self.feature_dim, num_classes) if num_classes > 0 else None

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ValueError naming the expected and the received shape if ``x`` is no batch."""
        c = self.config.in_channels
        expected = f"(N, {c}, T, {NUM_JOINTS}, M)"
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{type(self).__name__} expects a torch.Tensor {expected}, "
                            f"got {type(x).__name__}")
        if x.ndim != 5 or x.shape[1] != c or x.shape[3] != NUM_JOINTS or min(x.shape) < 1:
            raise ValueError(f"{type(self).__name__} expects a batch of shape {expected} "
                             f"(engine.types convention), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"{type(self).__name__} expects a floating-point batch, got {x.dtype}")

    def backbone(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T, V, M)`` -> ``(N * M, D, T', V)``, bodies in order within each sample."""
        raise NotImplementedError

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features.

        Args:
            x: ``(N, C=3, T, V=25, M)`` float batch.

        Returns:
            float32 ``(N, feature_dim)``: the backbone's output averaged over time and joints, then
            over the M bodies (an all-zero body counts, as in the official code).
        """
        self.check_input(x)
        n, m = x.shape[0], x.shape[4]
        y = self.backbone(x)
        # float32 whatever autocast ran the layers in: features are stored and compared downstream.
        return y.reshape(n, m, y.shape[1], -1).float().mean(dim=3).mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, num_classes)``, or the features when the config has no head."""
        f = self.features(x)
        # A model cast as a whole (``.half()``) gets its head's dtype back; autocast casts by itself.
        return f if self.head is None else self.head(f.to(self.head.weight.dtype))

    def extra_repr(self) -> str:
        return f"feature_dim={self.feature_dim}"
