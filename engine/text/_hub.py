"""Keeping huggingface_hub off the network unless the user allowed a download.

Offline, a hub lookup that is allowed to try the network retries for about 46 s before it fails;
with ``HF_HUB_OFFLINE=1`` it fails in 0.03 s (docs/text_encoders.md#staying-offline). huggingface_hub reads the
variable once, when it is first imported, into ``huggingface_hub.constants.HF_HUB_OFFLINE``, so
setting the environment later has no effect on a process that already imported it: the context
manager below sets both, and puts both back afterwards.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

_VAR = "HF_HUB_OFFLINE"


def default_offline() -> None:
    """``HF_HUB_OFFLINE=1`` unless the user's environment says otherwise (call before importing
    sentence-transformers, transformers or open_clip)."""
    os.environ.setdefault(_VAR, "1")


@contextlib.contextmanager
def hub_access(allow_download: bool) -> Iterator[None]:
    """Within the block, huggingface_hub may reach the network only if ``allow_download``.

    An explicit option is more specific than an environment variable, so it wins in both
    directions for the duration of the block.
    """
    old_env = os.environ.get(_VAR)
    os.environ[_VAR] = "0" if allow_download else "1"
    constants = sys.modules.get("huggingface_hub.constants")
    old_flag = getattr(constants, _VAR, None)
    if constants is not None:
        setattr(constants, _VAR, not allow_download)
    try:
        yield
    finally:
        if old_env is None:
            os.environ.pop(_VAR, None)
        else:
            os.environ[_VAR] = old_env
        # The module may have been imported inside the block: it then read our value.
        constants = sys.modules.get("huggingface_hub.constants")
        if constants is not None:
            if old_flag is None:
                old_flag = (old_env or "").strip().lower() in {"1", "true", "yes", "on"}
            setattr(constants, _VAR, old_flag)
