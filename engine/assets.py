"""Where the project's own data lives (``assets/``: class lists, splits, configs, demo clips)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"


def asset_path(*parts: str) -> Path:
    return ASSETS_DIR.joinpath(*parts)


@lru_cache(maxsize=None)
def class_names(dataset: str) -> tuple[str, ...]:
    """Class names of a dataset (``"ntu60"``, ``"ntu120"``, ``"pku51"``, ``"utd_mhad"``, ...);
    the index is the 0-based label."""
    path = asset_path("classes", f"{dataset}.txt")
    if not path.exists():
        known = sorted(p.stem for p in asset_path("classes").glob("*.txt"))
        raise KeyError(f"no class list for dataset {dataset!r} (known: {', '.join(known)})")
    return tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
