"""Shared fixtures. Real data is read from ``../shared/data`` beside the project; tests that need it
skip with a clear reason when it is absent (CI has it)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("ZSAR_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """A path under ``../shared/data``; skips the calling test when it does not exist."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not found at {path} (the shared/ folder beside the project is absent)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_path()


@pytest.fixture(scope="session")
def ntu_sample() -> Path:
    return shared_path("ntu_samples", "S001C001P001R001A001.skeleton")


# Opt-in runs: without a -m expression the default run leaves them out (deselected, not skipped, so
# they never count as passing); `pytest -m fuzz` or `-m gpu` selects them. `slow` is not among them:
# the default run (the README's, CI's) runs everything else, and `-m "not slow"` is the quick run.
_OPT_IN_MARKERS = ("fuzz", "gpu")


def pytest_collection_modifyitems(config, items):
    # A -m expression that names a marker decides for it (`-m fuzz`); one that does not (`-m "not slow"`)
    # still leaves the opt-in runs out.
    expr = config.getoption("markexpr") or ""
    opt_in = [m for m in _OPT_IN_MARKERS if m not in expr]
    kept, left_out = [], []
    for item in items:
        (left_out if any(item.get_closest_marker(m) for m in opt_in) else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # pytest-xvfb has set DISPLAY by now if it could start Xvfb. Without any display Qt would abort
    # the whole run; fall back to offscreen (2D only; GL tests skip on it).
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
