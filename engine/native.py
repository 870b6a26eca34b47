"""Load the native libraries that must come before an OpenGL context in the same process.

Mesa's software renderer (llvmpipe, what Xvfb and most VMs give) brings its own LLVM into the
process when the first GL context is made; loading triton's LLVM after that (``torch._dynamo``
imports triton, lazily, from inside the first model call) crashes the process with a segmentation
fault. Measured here: GL view then ``import torch._dynamo`` -> SIGSEGV; the other order works. The
desktop app calls :func:`preload` before it creates a window.
"""

from __future__ import annotations


def preload() -> None:
    import torch  # noqa: F401

    try:
        import torch._dynamo  # noqa: F401  (imports triton when it is installed)
    except Exception:  # noqa: BLE001 - a missing or broken optional compiler is not our concern here
        pass
