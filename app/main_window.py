"""The main window: Live, Files and Trainer tabs, the class-set editor shared by Live and Files, a
message bar, and a status bar with frames per second, recognition latency, device and model.

The window only wires things together and paints; the services own the work (style principle 6).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QTabWidget, QVBoxLayout, QWidget

from app.services.live_service import LiveService
from app.services.recognizer_service import ModelInfo, RecognizerService
from app.services.trainer_service import TrainerService
from app.tabs.files_tab import FilesTab
from app.tabs.live_tab import LiveTab
from app.tabs.trainer_tab import TrainerTab
from app.widgets.class_set_editor import ClassSetEditor
from app.widgets.message_bar import MessageBar
from app.workers import request_stop_all, stop_all
from engine.types import ClassSet

DEFAULT_CLASSES = "everyday_actions"


class MainWindow(QMainWindow):
    def __init__(self, bundle: str | Path | None = None, device: str = "auto", pose_model: str | None = None,
                 class_set: ClassSet | None = None) -> None:
        super().__init__()
        self.setWindowTitle("zsar-studio")
        self.resize(1280, 860)
        initial = class_set or ClassSet.from_dataset(DEFAULT_CLASSES)
        self.recognizer = RecognizerService(initial, device, self)
        self.live_service = LiveService(pose_model, parent=self)
        self.trainer_service = TrainerService(self)

        self.editor = ClassSetEditor(initial)
        dock = QDockWidget("Actions", self)
        dock.setWidget(self.editor)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)

        self.live_tab = LiveTab(self.recognizer, self.live_service)
        self.files_tab = FilesTab(self.recognizer)
        self.trainer_tab = TrainerTab(self.trainer_service)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.live_tab, "Live")
        self.tabs.addTab(self.files_tab, "Files")
        self.tabs.addTab(self.trainer_tab, "Trainer")
        self.message_bar = MessageBar()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.fps_label, self.latency_label = QLabel("fps –"), QLabel("latency –")
        self.device_label, self.model_label = QLabel("device –"), QLabel("no model")
        for w in (self.fps_label, self.latency_label, self.device_label, self.model_label):
            self.statusBar().addPermanentWidget(w)
        self._menus()

        self.editor.class_set_changed.connect(self.recognizer.set_class_set)
        self.editor.class_set_changed.connect(self.live_service.set_class_set)
        self.recognizer.model_loaded.connect(self._on_model_loaded)
        self.recognizer.errored.connect(self.show_error)
        self.recognizer.errored.connect(self._restore_model_label)
        for tab in (self.live_tab, self.files_tab, self.trainer_tab):
            tab.message.connect(self.show_message)
        for tab in (self.live_tab, self.files_tab):
            tab.stats.connect(self._on_stats)
        self.trainer_tab.use_model.connect(self.load_model)
        if bundle is not None:
            self.load_model(str(bundle))

    def _menus(self) -> None:
        menu = self.menuBar().addMenu("&File")
        for text, slot in (("Open &model…", self._choose_model), ("Open skeleton &file…", self._choose_file),
                           ("&Quit", self.close)):
            action = QAction(text, self)
            action.triggered.connect(slot)
            menu.addAction(action)

    # -- actions ---------------------------------------------------------------------------------
    def load_model(self, path: str) -> None:
        self.model_label.setText(f"loading {Path(path).name}…")
        self.recognizer.load(path)

    def _choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model", "", "zsar bundles (*.zsar);;All files (*)")
        if path:
            self.load_model(path)

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open skeleton file", "", "All files (*)")
        if path:
            self.tabs.setCurrentWidget(self.files_tab)
            self.files_tab.open_file(path)

    # -- reports ---------------------------------------------------------------------------------
    @Slot(str, str)
    def show_message(self, text: str, kind: str = "error") -> None:
        self.message_bar.show_message(text, kind)
        self.statusBar().showMessage(text, 10000)

    @Slot(str)
    def show_error(self, text: str) -> None:
        self.show_message(text, "error")

    @Slot(object)
    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.model_label.setText(f"{info.name}: {info.method} + {info.encoder}, {info.text_encoder}")
        self.device_label.setText(f"device {info.device}")
        self.editor.set_model_classes(info.classes)
        if self.message_bar.kind == "error" and self.message_bar.text.startswith("model not loaded"):
            self.message_bar.hide()

    @Slot(str)
    def _restore_model_label(self, _message: str) -> None:
        info = self.recognizer.info
        if self.model_label.text().startswith("loading"):
            self.model_label.setText("no model" if info is None else
                                     f"{info.name}: {info.method} + {info.encoder}, {info.text_encoder}")

    @Slot(dict)
    def _on_stats(self, stats: dict) -> None:
        if stats.get("fps") is not None:
            self.fps_label.setText(f"fps {stats['fps']:.1f}")
        if stats.get("latency_ms") is not None:
            self.latency_label.setText(f"latency {stats['latency_ms']:.1f} ms")

    def closeEvent(self, event) -> None:  # Qt override
        # Ask all work to stop and return at once: the window goes away while what cannot be
        # interrupted (a model load in the middle of a library call) ends on its own thread;
        # wait_for_work() waits for it once the event loop has ended (run_app).
        self.live_service.stop()
        if self.trainer_service.running:
            self.trainer_service.cancel()  # the run resumes later with --resume
        request_stop_all()
        self.recognizer.close()
        super().closeEvent(event)

    def wait_for_work(self) -> None:
        """After the event loop has ended: wait for the trainer process and every worker thread that
        the close asked to stop, however long they take, so that none is destroyed while it runs."""
        self.trainer_service.wait_stopped()
        stop_all()
