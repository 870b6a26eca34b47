"""Live tab: a camera or a video file, MediaPipe pose, the 3D skeleton, and recognition as it happens.

The capture worker (:class:`~app.services.live_service.LiveService`) sends every frame; this tab
keeps only the newest and paints on its own ~30 Hz timer, so a fast source never floods the GUI
thread. Recording keeps the NTU-25 skeletons (never the pictures) and writes an NTU ``.skeleton``
file on a worker when recording stops.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.services.live_service import LiveService, SourceSpec
from app.services.recognizer_service import RecognizerService
from app.widgets.prediction_bars import PredictionBars
from app.widgets.score_timeline import ScoreTimeline
from app.widgets.skeleton_view import SkeletonView
from app.widgets.video_view import VideoView
from app.workers import Worker, start_worker

PAINT_HZ = 30


def recordings_folder() -> Path:
    return Path(os.environ.get("ZSAR_RECORDINGS", Path.home() / "zsar-recordings"))


def _write_recording(frames, fps: float, path: Path) -> str:
    from engine.io import write_ntu_skeleton
    from engine.live import recording

    path.parent.mkdir(parents=True, exist_ok=True)
    write_ntu_skeleton(recording(frames, fps, path.stem), path)
    return str(path)


class LiveTab(QWidget):
    message = Signal(str, str)  # text, kind ("error" / "info")
    stats = Signal(dict)  # fps, pose_ms, latency_ms

    def __init__(self, recognizer: RecognizerService, live: LiveService, parent=None) -> None:
        super().__init__(parent)
        self.recognizer, self.live = recognizer, live
        self.camera_index = QSpinBox()
        self.camera_index.setRange(0, 16)
        self.camera_button = QPushButton("Start camera")
        self.video_button = QPushButton("Open video…")
        self.stop_button = QPushButton("Stop")
        self.record_button = QPushButton("Record")
        self.record_button.setCheckable(True)
        self.status = QLabel("no source")
        self.video_view = VideoView()
        self.skeleton_view = SkeletonView()
        self.bars = PredictionBars()
        self.timeline = ScoreTimeline()

        controls = QHBoxLayout()
        controls.addWidget(QLabel("camera"))
        for w in (self.camera_index, self.camera_button, self.video_button, self.stop_button, self.record_button):
            controls.addWidget(w)
        controls.addWidget(self.status, 1)
        views = QSplitter()
        views.addWidget(self.video_view)
        views.addWidget(self.skeleton_view)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(views, 3)
        layout.addWidget(self.bars)
        layout.addWidget(self.timeline, 1)

        self.camera_button.clicked.connect(lambda: self.start(SourceSpec(camera=self.camera_index.value())))
        self.video_button.clicked.connect(self._choose_video)
        self.stop_button.clicked.connect(self.live.stop)
        self.record_button.toggled.connect(self._record_toggled)
        live.started.connect(self._on_started)
        live.frame_ready.connect(self._on_frame)
        live.stopped.connect(self._on_stopped)
        # a bound slot of a widget, so Qt queues it to the GUI thread (progress comes from the capture thread)
        live.progress.connect(self.status.setText)

        self.latest = None  # newest LiveFrame
        self.frames_seen = 0
        self.frames_with_person = 0
        self._painted = -1
        self._recorded: list = []
        self._fps = 0.0
        self._last_arrival = None
        self._source_fps = 30.0
        self._timer = QTimer(self)
        self._timer.setInterval(1000 // PAINT_HZ)
        self._timer.timeout.connect(self.paint)
        self._timer.start()
        self._update_buttons(False)

    # -- control ---------------------------------------------------------------------------------
    def start(self, spec: SourceSpec) -> None:
        self.frames_seen = self.frames_with_person = 0
        self.latest, self._painted = None, -1
        self.timeline.clear_history()
        self.bars.set_prediction(None)
        r = self.recognizer
        if not r.loaded:
            self.message.emit("no model loaded: showing poses without recognition", "info")
        self.status.setText(f"opening {spec.describe()}…")
        self.live.start(spec, r.bundle, r.text, r.class_set)
        self._update_buttons(True)

    def _choose_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", "",
                                              "Videos (*.mp4 *.avi *.mov *.mkv *.webm);;All (*)")
        if path:
            self.start(SourceSpec(video=path))

    def _update_buttons(self, running: bool) -> None:
        self.stop_button.setEnabled(running)
        self.record_button.setEnabled(running)
        self.camera_button.setEnabled(not running)
        self.video_button.setEnabled(not running)

    # -- from the capture worker -----------------------------------------------------------------
    @Slot(object)
    def _on_started(self, info: dict) -> None:
        self._source_fps = float(info["fps"])
        what = "recognising" if info["recognising"] else "pose only"
        self.status.setText(f"{info['source']}: {info['width']}x{info['height']} at {info['fps']:.0f} fps, {what}")

    @Slot(object)
    def _on_frame(self, frame) -> None:
        now = time.perf_counter()
        if self._last_arrival is not None:
            dt = now - self._last_arrival
            self._fps = 0.9 * self._fps + 0.1 * (1.0 / dt) if self._fps else 1.0 / max(dt, 1e-6)
        self._last_arrival = now
        self.latest = frame
        self.frames_seen += 1
        self.frames_with_person += frame.pose is not None
        if frame.pose is not None and self.frames_with_person == 1:
            self.skeleton_view.set_origin(frame.joints[None, None])  # stand the first pose on the grid
        if frame.prediction is not None:
            self.bars.set_prediction(frame.prediction)
            self.timeline.add(frame.prediction)
        if self.record_button.isChecked():
            self._recorded.append(dataclasses.replace(frame, image=None))

    @Slot(str)
    def _on_stopped(self, message: str) -> None:
        self._update_buttons(False)
        self._last_arrival = None
        if self.record_button.isChecked():
            self.record_button.setChecked(False)  # writes what was recorded
        if message:
            self.status.setText("stopped")
            self.message.emit(message, "error")
        else:
            self.status.setText(f"stopped after {self.frames_seen} frames ({self.frames_with_person} with a person)")

    # -- recording -------------------------------------------------------------------------------
    def _record_toggled(self, on: bool) -> None:
        if on:
            self._recorded = []
            return
        frames, self._recorded = self._recorded, []
        if not frames:
            return
        path = recordings_folder() / time.strftime("live_%Y%m%d_%H%M%S.skeleton")
        w = Worker(_write_recording, frames, self._source_fps, path)
        w.returned.connect(self._on_recording_written)
        w.errored.connect(self._on_recording_failed)
        start_worker(w)

    @Slot(object)
    def _on_recording_written(self, path: str) -> None:
        self.message.emit(f"recording saved: {path}", "info")

    @Slot(str)
    def _on_recording_failed(self, message: str) -> None:
        self.message.emit(f"recording not saved: {message}", "error")

    # -- painting (GUI thread, timer) ------------------------------------------------------------
    def paint(self) -> None:
        frame = self.latest
        if frame is None or frame.index == self._painted:
            return
        self._painted = frame.index
        self.video_view.set_frame(frame.image, None if frame.pose is None else frame.pose.image)
        self.skeleton_view.set_frame(frame.joints)
        self.timeline.refresh()
        p = frame.prediction
        self.stats.emit({"fps": self._fps, "pose_ms": frame.pose_ms,
                         "latency_ms": None if p is None else p.latency_ms})
