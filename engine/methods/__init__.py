"""Zero-shot alignment methods, one file each, registered in :data:`METHODS`.

Public verbs (open_clip style)::

    list_methods()                                   # ['cada_vae', 'contrastive', 'naive_alignment', ...]
    create_method("sa_dvae", {"latent_size": 160}, feature_dim=256, text_dim=1024)
    key, config, doc = load_method_config("sa_dvae.ntu60_synse")   # assets/configs/methods/*.json
    method_config_names()                            # the JSON configs shipped in assets

A method config file is ``{"method": KEY, "source": "...", "config": {...}, "gate": {...},
"paper": {...}}``: the paper's hyperparameters with where they come from, the GZSL gate's fixed
threshold / temperature (null: searched on the validation fold) and the published numbers.
"""

from __future__ import annotations

import os
from typing import Any

from engine.assets import asset_path, config_names, load_config_document

# The method modules register themselves with @METHODS.register when imported.
from engine.methods import cada_vae, contrastive, fs_vae, pgfa, sa_dvae, scale  # noqa: F401
from engine.methods.base import METHODS, MethodConfig, ZeroShotMethod

CONFIG_DIR = asset_path("configs", "methods")


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


def method_config_names() -> list[str]:
    """Names of the JSON method configs in ``assets/configs/methods`` (without ``.json``), e.g.
    ``"sa_dvae.ntu60_synse"``."""
    return config_names(CONFIG_DIR)


def load_method_config(name_or_path: str | os.PathLike) -> tuple[str, MethodConfig, dict[str, Any]]:
    """Read a method config file.

    Args:
        name_or_path: a name from :func:`method_config_names` (``"sa_dvae.ntu60_synse"``) or a path
            to a JSON file of the same form.

    Returns:
        ``(registry key, config dataclass, the rest of the document)``: the rest holds ``source``,
        ``gate``, ``paper`` and any notes; ``create_method(key, config, D, D_t)`` builds the method.

    Raises:
        FileNotFoundError: no such config.
        ValueError: the file is not such a config (bad JSON, unknown method or field).
    """
    _, doc, config = load_config_document(name_or_path, CONFIG_DIR, "method", "method", METHODS)
    key = doc["method"]
    rest = {k: v for k, v in doc.items() if k not in ("method", "config")}
    return key, config, rest


__all__ = [
    "CONFIG_DIR",
    "METHODS",
    "MethodConfig",
    "ZeroShotMethod",
    "create_method",
    "list_methods",
    "load_method_config",
    "method_config_names",
]
