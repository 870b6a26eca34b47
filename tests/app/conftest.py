"""The desktop app under pytest-qt: one real main window per module, with the embedded default
bundle, real MediaPipe and real Qt (the 3D view renders only under Xvfb with the xcb platform;
GL pixel checks skip on the offscreen platform, which has no OpenGL)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.main import configure_qt

configure_qt()  # before the QApplication and any GL context (app.main.configure_qt says why)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("ZSAR_TEST_ARTIFACTS", ROOT / "test-artifacts"))
needs_gl = pytest.mark.skipif('os.environ.get("QT_QPA_PLATFORM") == "offscreen"',
                              reason="the offscreen Qt platform has no OpenGL; run under Xvfb (pytest-xvfb)")


@pytest.fixture(scope="module")
def window(qapp):
    from app.main import default_bundle
    from app.main_window import MainWindow

    bundle = default_bundle()
    assert bundle is not None, "the default bundle assets/models/default.zsar is missing"
    w = MainWindow(bundle)
    w.show()
    loaded = []
    w.recognizer.model_loaded.connect(loaded.append)
    w.recognizer.errored.connect(loaded.append)
    deadline = 120_000
    while not loaded and deadline > 0:
        qapp.processEvents()
        import time

        time.sleep(0.02)
        deadline -= 20
    assert loaded and not isinstance(loaded[0], str), f"the default bundle did not load: {loaded}"
    yield w
    w.close()


@pytest.fixture
def fresh(window):
    """The module's window with no message showing."""
    window.message_bar.hide()
    window.message_bar.label.setText("")
    window.message_bar.kind = ""
    return window
