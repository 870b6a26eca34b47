"""The project's one cache root, shared by the pose model, text embeddings and anything else cached.

``$ZSAR_CACHE``, else ``$XDG_CACHE_HOME/zsar-studio``, else ``~/.cache/zsar-studio``.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    if os.environ.get("ZSAR_CACHE"):
        return Path(os.environ["ZSAR_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "zsar-studio"
    return Path.home() / ".cache" / "zsar-studio"
