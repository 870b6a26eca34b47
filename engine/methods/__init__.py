"""Zero-shot alignment methods, one file each, registered in :data:`METHODS`.

Public verbs (open_clip style): :func:`list_methods`, :func:`create_method`.
"""

from __future__ import annotations

from typing import Any

from engine.registry import Registry

METHODS: Registry = Registry("method")

from engine.methods import contrastive  # noqa: E402,F401  (registers its entry)
from engine.methods.base import MethodConfig, ZeroShotMethod  # noqa: E402


def list_methods() -> list[str]:
    return METHODS.names()


def create_method(
    name: str, config: MethodConfig | dict[str, Any] | None, feature_dim: int, text_dim: int
) -> ZeroShotMethod:
    """Build a registered method from its config (a dataclass, a dict as in the JSON files, or None
    for the defaults)."""
    cls = METHODS.get(name)
    if not isinstance(config, MethodConfig):
        config = cls.config_cls.from_dict(config)
    return cls(config, feature_dim, text_dim)


__all__ = ["METHODS", "MethodConfig", "ZeroShotMethod", "create_method", "list_methods"]
