"""Camera or video -> MediaPipe -> NTU-25 -> recognizer, on a capture worker (engine.live.run_live).

The worker owns the frame source, the pose estimator and a streaming recognizer of its own (built
from the loaded bundle and text encoder, at the source's frame rate); it yields one
:class:`~engine.live.LiveFrame` per frame. The GUI stores the newest and paints on its own timer.
Failures (no camera, a camera that stops, no pose model, an unreadable video) end the worker with
a message; the window stays usable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from app.workers import Worker, start_worker
from engine.types import ClassSet


@dataclass(frozen=True)
class SourceSpec:
    """A camera index, or a video file; ``realtime`` paces a file at its frame rate (the window does,
    tests and benchmarks go as fast as they can)."""

    camera: int | None = None
    video: str | None = None
    realtime: bool = True

    def describe(self) -> str:
        return f"camera {self.camera}" if self.video is None else Path(self.video).name


def _paced(frames, fps: float):
    t0 = time.monotonic()
    for i, item in enumerate(frames):
        delay = t0 + i / fps - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield item


class LiveService(QObject):
    started = Signal(object)  # dict: source, fps, width, height, pose model path, recognising
    frame_ready = Signal(object)  # LiveFrame
    stopped = Signal(str)  # why: "" for the end of a video or a stop, else the error message
    progress = Signal(str)  # pose-model provisioning messages

    def __init__(self, pose_model: str | None = None, allow_download: bool = True, parent=None) -> None:
        super().__init__(parent)
        self.pose_model = pose_model
        self.allow_download = allow_download  # False: only a model already in the cache (offline use)
        self._worker: Worker | None = None
        self._rec = None
        self._started_info: dict | None = None
        self._error = ""

    @property
    def running(self) -> bool:
        return self._worker is not None

    def start(self, spec: SourceSpec, bundle=None, text=None, class_set: ClassSet | None = None) -> None:
        self.stop()
        w = Worker(self._run, spec, bundle, text, class_set)
        w.yielded.connect(self._on_item)
        w.errored.connect(self._on_error)
        w.finished.connect(self._on_finished)
        self._worker = w
        start_worker(w)

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.quit()

    def set_class_set(self, cs: ClassSet) -> None:
        rec = self._rec
        if rec is not None:
            rec.set_class_set(cs)  # thread-safe: the recognizer swaps it in when prepared

    # -- on the capture thread -------------------------------------------------------------------
    def _run(self, spec: SourceSpec, bundle, text, class_set, should_stop):
        from engine.live import run_live
        from engine.pose import CameraSource, MediaPipePoseEstimator, VideoFileSource
        from engine.pose.model import cached_model_path, provision_pose_model

        source = CameraSource(spec.camera or 0) if spec.video is None else VideoFileSource(spec.video)
        rec = None
        try:
            model = self.pose_model
            if model is None:
                cached = cached_model_path()
                model = cached if cached.is_file() else provision_pose_model(
                    allow_download=self.allow_download, log=self.progress.emit)
            with MediaPipePoseEstimator(model) as estimator:
                if bundle is not None and class_set is not None:
                    from engine.streaming import StreamingRecognizer

                    rec = StreamingRecognizer(bundle, class_set, text_encoder=text, input_fps=source.fps)
                self._rec = rec
                yield {"started": True, "source": spec.describe(), "fps": source.fps, "width": source.width,
                       "height": source.height, "pose_model": str(model), "recognising": rec is not None}
                frames = _paced(source, source.fps) if spec.video is not None and spec.realtime else source
                yield from run_live(frames, estimator, rec, should_stop=should_stop)
        finally:
            self._rec = None
            if rec is not None:
                rec.close()
            source.close()

    # -- on the GUI thread -----------------------------------------------------------------------
    @Slot(object)
    def _on_item(self, item) -> None:
        if isinstance(item, dict):
            self._started_info = item
            self.started.emit(item)
        else:
            self.frame_ready.emit(item)

    @Slot(str)
    def _on_error(self, message: str) -> None:
        self._error = message

    @Slot()
    def _on_finished(self) -> None:
        message, self._error = self._error, ""
        self._worker = None
        self.stopped.emit(message)
