"""Where models run: CUDA when present, the CPU otherwise, through the same code path.

``resolve_device("auto")`` picks CUDA if torch sees a GPU. :func:`autocast` enables mixed precision
on CUDA only (bfloat16 where supported, else float16); on the CPU it is a no-op, since CPU autocast
is slower than float32 for these small graph convolutions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from engine.errors import ZsarError


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` / ``None`` -> cuda if available else cpu; ``"cpu"``, ``"cuda"``, ``"cuda:1"`` as given.

    Raises:
        ZsarError: CUDA was asked for and torch sees no GPU.
    """
    if isinstance(spec, torch.device):
        return spec
    if spec in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ZsarError(f"device {spec!r} was asked for but torch sees no CUDA GPU here; use --device cpu")
    return device


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool = True) -> Iterator[None]:
    """Mixed precision on CUDA, nothing on the CPU."""
    if enabled and device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        with torch.autocast("cuda", dtype=dtype):
            yield
    else:
        yield
