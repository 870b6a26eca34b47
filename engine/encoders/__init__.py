"""Skeleton encoders: ST-GCN (full and the small 256-d SMIE/PGFA variant), Shift-GCN and a fast temporal
convolutional network (TCN), pure PyTorch.

Public verbs, in open_clip's style::

    list_skeleton_encoders()                      # ['shift_gcn', 'stgcn', 'tcn']
    create_skeleton_encoder("stgcn", {"channels": [...]}, num_classes=0)
    key, config = load_encoder_config("stgcn_small")   # assets/configs/encoders/stgcn_small.json
    encoder_config_names()                        # the JSON configs shipped in assets

Every encoder takes a batch ``(N, C=3, T, V=25, M)`` (:mod:`engine.types`); ``features(x)`` gives
``(N, feature_dim)`` float32 (pooled over time and joints, then averaged over bodies) and
``forward(x)`` the logits of its linear head (or the features when ``num_classes`` is 0). They run
on the CPU and on CUDA, under :func:`engine.device.autocast`. For batch-1 CPU speed see
:mod:`engine.encoders.speed`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from torch import nn

from engine.assets import asset_path, config_names, load_config_document
from engine.encoders.base import SKELETON_ENCODERS

# The entry modules register themselves with @SKELETON_ENCODERS.register when imported.
from engine.encoders.shift_gcn import ShiftGCN, ShiftGCNConfig
from engine.encoders.stgcn import STGCN, STGCNConfig
from engine.encoders.tcn import TCN, TCNConfig

CONFIG_DIR = asset_path("configs", "encoders")

__all__ = [
    "CONFIG_DIR",
    "SKELETON_ENCODERS",
    "STGCN",
    "STGCNConfig",
    "TCN",
    "TCNConfig",
    "ShiftGCN",
    "ShiftGCNConfig",
    "create_skeleton_encoder",
    "encoder_config_names",
    "list_skeleton_encoders",
    "load_encoder_config",
]


def list_skeleton_encoders() -> list[str]:
    """Registry keys of the skeleton encoders, sorted."""
    return SKELETON_ENCODERS.names()


def _resolve_config(cls: type, config: Any, overrides: dict[str, Any]) -> Any:
    config_cls = cls.config_cls
    if config is None:
        config = config_cls()
    elif isinstance(config, dict):
        config = config_cls.from_dict(config)
    elif not isinstance(config, config_cls):
        raise TypeError(f"config for {cls.__name__} must be a dict, a {config_cls.__name__} or None, "
                        f"got {type(config).__name__}")
    if overrides:
        known = {f.name for f in dataclasses.fields(config_cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"{config_cls.__name__} has no field(s) {', '.join(unknown)}")
        # Through from_dict so that lists given as overrides become tuples too.
        config = config_cls.from_dict({**config.to_dict(), **overrides})
    return config


def create_skeleton_encoder(
    name: str, config: dict[str, Any] | Any | None = None, **overrides: Any
) -> nn.Module:
    """Build a skeleton encoder with freshly initialised weights.

    Args:
        name: registry key (:func:`list_skeleton_encoders`).
        config: the encoder's config dataclass, a dict of its fields (as ``to_dict`` gives, or the
            ``"config"`` of a JSON file), or None for the defaults.
        **overrides: fields replaced on top of ``config`` (e.g. ``num_classes=0``).

    Returns:
        The encoder (an ``nn.Module`` in training mode, on the CPU).

    Raises:
        KeyError: unknown name.
        ValueError: a field the config does not have, or an invalid value.
    """
    cls = SKELETON_ENCODERS.get(name)
    return cls(_resolve_config(cls, config, overrides))


def encoder_config_names() -> list[str]:
    """Names of the JSON encoder configs in ``assets/configs/encoders`` (without ``.json``)."""
    return config_names(CONFIG_DIR)


def load_encoder_config(name_or_path: str | os.PathLike) -> tuple[str, Any]:
    """Read an encoder config file: ``{"encoder": KEY, "source": "...", "config": {...}}``.

    Args:
        name_or_path: a name from :func:`encoder_config_names` (``"stgcn_small"``) or a path to a JSON
            file of the same form.

    Returns:
        ``(registry key, config dataclass)``; ``create_skeleton_encoder(*load_encoder_config(n))``
        builds the model.

    Raises:
        FileNotFoundError: no such config.
        ValueError: the file is not such a config.
    """
    _, doc, config = load_config_document(name_or_path, CONFIG_DIR, "encoder", "encoder", SKELETON_ENCODERS)
    key = doc["encoder"]
    return key, config
