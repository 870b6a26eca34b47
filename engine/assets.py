"""Where the project's own data lives (``assets/``: class lists, splits, configs, demo clips)."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"


def asset_path(*parts: str) -> Path:
    return ASSETS_DIR.joinpath(*parts)


@cache
def class_names(dataset: str) -> tuple[str, ...]:
    """Class names of a dataset (``"ntu60"``, ``"ntu120"``, ``"pku51"``, ``"utd_mhad"``, ...);
    the index is the 0-based label."""
    path = asset_path("classes", f"{dataset}.txt")
    if not path.exists():
        known = sorted(p.stem for p in asset_path("classes").glob("*.txt"))
        raise KeyError(f"no class list for dataset {dataset!r} (known: {', '.join(known)})")
    return tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def config_names(folder: Path) -> list[str]:
    """Names (file stems) of the JSON configs in an assets folder."""
    return sorted(p.stem for p in folder.glob("*.json"))


def load_config_document(name_or_path: str | os.PathLike, folder: Path, kind: str, key_field: str,
                         registry) -> tuple[Path, dict[str, Any], Any]:
    """Read ``{key_field: KEY, "source": ..., "config": {...}, ...}`` by name in ``folder`` or by path,
    and build ``registry.get(KEY).config_cls`` from its ``config``.

    Returns:
        ``(path, document, config dataclass)``.

    Raises:
        FileNotFoundError: no such config; ValueError: not such a document, or a bad field.
    """
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith(".json") and path.exists()):
        path = folder / f"{text}.json"
        if not path.exists():
            raise FileNotFoundError(f"no {kind} config {text!r} (known: {', '.join(config_names(folder))})")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or key_field not in doc or not isinstance(doc.get("config", {}), dict):
        raise ValueError(f"{path}: a {kind} config needs {key_field!r} (a registry key) and a 'config' object")
    key = doc[key_field]
    if key not in registry:
        raise ValueError(f"{path}: unknown {kind} {key!r} (known: {', '.join(registry.names())})")
    try:
        config = registry.get(key).config_cls.from_dict(doc.get("config") or {})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    return path, doc, config
