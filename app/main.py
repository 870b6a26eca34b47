"""Start the desktop app: ``zsar app`` and ``zsar demo``.

``zsar demo`` loads the embedded default bundle and shows the live camera when there is one, else
procedural demo clips (synthetic motion, not recordings) in the Files tab. ``--quit-after`` and
``--screenshots`` let a script (or CI) start it, capture each tab and close it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEMO_ACTIONS = ("wave right hand", "squat", "jump", "clap", "kick", "bow")


def has_display() -> bool:
    if sys.platform != "linux":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("QT_QPA_PLATFORM") in ("offscreen", "minimal"))


def camera_present() -> bool:
    """A camera device exists (Linux: /dev/video*; elsewhere: assume one and let opening it tell)."""
    if sys.platform == "linux":
        return any(Path("/dev").glob("video*"))
    return True


def demo_clips():
    from engine import synth

    return [synth.generate(a, seed=i) for i, a in enumerate(DEMO_ACTIONS)]


def default_bundle() -> Path | None:
    """``$ZSAR_BUNDLE`` or the embedded default model (as ``zsar recognize`` finds it), None if absent."""
    from engine.bundle import resolve_bundle
    from engine.errors import ZsarError

    try:
        path = resolve_bundle(None)
    except ZsarError:
        return None
    return path if path.exists() else None


def save_screenshots(window, folder: str | Path) -> list[Path]:
    """A PNG of the window with each tab shown: ``<folder>/<tab>.png``."""
    from PySide6.QtWidgets import QApplication

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    current = window.tabs.currentIndex()
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        for _ in range(5):
            QApplication.processEvents()
        path = out / f"{window.tabs.tabText(i).lower()}.png"
        window.grab().save(str(path))
        paths.append(path)
    window.tabs.setCurrentIndex(current)
    return paths


def configure_qt() -> None:
    """Process-wide settings that must precede the QApplication: native libraries before any GL
    context (engine.native), and one shared GL context family, because pyqtgraph keeps compiled
    shader programs per process and a second window's views would otherwise use ids from the first
    window's context (GLError "invalid value" in glUseProgram)."""
    from engine.native import preload

    preload()
    from PySide6.QtCore import QCoreApplication, Qt

    if QCoreApplication.instance() is None:
        QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)


def run_app(bundle: str | None = None, camera: int | None = None, video: str | None = None,
            file: str | None = None, demo: bool = False, quit_after: float | None = None,
            screenshots: str | None = None, device: str = "auto", pose_model: str | None = None) -> int:
    configure_qt()
    import pyqtgraph as pg
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from app.main_window import MainWindow
    from app.services.live_service import SourceSpec

    model = bundle or (str(default_bundle()) if default_bundle() else None)
    window = MainWindow(model, device=device, pose_model=pose_model)
    window.show()
    if model is None:
        window.show_message("no model: the default bundle is not installed; open one with File > Open model", "error")
    if file:
        window.tabs.setCurrentWidget(window.files_tab)
        window.files_tab.open_file(file)
    elif video or camera is not None:
        spec = SourceSpec(camera=camera, video=video)
        # the model loads on a worker: start the source once it answers (or at once without one)
        if model is None:
            window.live_tab.start(spec)
        else:
            _start_when_loaded(window, spec)
    elif demo:
        if camera_present():
            _start_when_loaded(window, SourceSpec(camera=0))
        else:
            window.tabs.setCurrentWidget(window.files_tab)
            window.files_tab.show_sequences(demo_clips(), "demo clips (procedural motion, not recordings)")
            window.show_message("no camera found: playing procedural demo clips; the Live tab takes a video file",
                                "info")
    if screenshots:
        QTimer.singleShot(int(1000 * (quit_after or 5) * 0.8), lambda: save_screenshots(window, screenshots))
    if quit_after is not None:
        # the same path as the user closing the window: closeEvent asks the work to stop
        QTimer.singleShot(int(1000 * quit_after), window.close)
    code = app.exec()
    window.wait_for_work()  # a running QThread must not be destroyed when Python lets go of it
    return code


def _start_when_loaded(window, spec) -> None:
    """Start the source once the model answers, or without recognition if it fails to load."""
    def go(_=None) -> None:
        window.recognizer.model_loaded.disconnect(go)
        window.recognizer.errored.disconnect(go)
        window.tabs.setCurrentWidget(window.live_tab)
        window.live_tab.start(spec)

    window.recognizer.model_loaded.connect(go)
    window.recognizer.errored.connect(go)
