"""The model behind both tabs: loads a bundle, keeps the class set, recognises skeleton sequences.

Everything slow (``import torch``, loading a bundle, MiniLM, preparing a class set, encoding a clip)
runs on workers; the tabs get signals. The Live tab's recognizer lives on the capture thread
(:mod:`app.services.live_service`); it takes the bundle and the text encoder from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from app.workers import Worker, describe, start_worker
from engine.types import ClassSet, Prediction


@dataclass(frozen=True)
class ModelInfo:
    """What the window shows of the loaded bundle."""

    path: str
    method: str
    encoder: str
    text_encoder: str
    classes: ClassSet
    card: dict[str, Any]
    device: str

    @property
    def name(self) -> str:
        return Path(self.path).name


@dataclass(frozen=True)
class SequenceResult:
    """The recognition of one sequence: the whole clip, and the sliding windows the Live tab would see."""

    prediction: Prediction
    windows: tuple[Prediction, ...]
    class_set: ClassSet
    token: int  # which request this answers (only the latest request's result is shown)


def _load(path: str, class_set: ClassSet, device: str, should_stop=lambda: False):
    """The bundle, its text encoder and a recognizer; None when asked to stop (at window close).

    Each step is one library call that cannot be interrupted (the text encoder alone takes seconds),
    so the stop request is honoured between steps."""
    from engine.bundle import load_bundle
    from engine.streaming import StreamingRecognizer, text_encoder_for

    if should_stop():
        return None
    bundle = load_bundle(path)
    if should_stop():
        return None
    text = text_encoder_for(bundle)
    if should_stop():
        return None
    rec = StreamingRecognizer(bundle, class_set, text_encoder=text, device=device, top_k=None)
    if should_stop():  # the result might never be delivered (the event loop has ended)
        rec.close()
        return None
    info = ModelInfo(str(path), bundle.method_name, bundle.encoder_name, bundle.text.encoder, bundle.class_set,
                     dict(bundle.card), str(rec.device))
    return bundle, text, rec, info


def _recognise(rec, joints: np.ndarray, fps: float, class_set: ClassSet, token: int,
               should_stop=lambda: False) -> SequenceResult | None:
    """Whole clip, then windows pushed frame by frame (a private recognizer state, reset first), the
    windows as long in seconds as the live ones whatever the file's frame rate. None when asked to stop."""
    whole = rec.predict_sequence(joints)
    live_fps = rec.input_fps
    rec.set_input_fps(fps)
    windows = []
    try:
        for frame in joints:
            if should_stop():
                return None
            p = rec.push(frame)
            if p is not None:
                windows.append(p)
    finally:
        rec.set_input_fps(live_fps)
    return SequenceResult(whole, tuple(windows), class_set, token)


class RecognizerService(QObject):
    model_loaded = Signal(object)  # ModelInfo
    class_set_ready = Signal(object)  # ClassSet, answering from now on
    sequence_recognised = Signal(object)  # SequenceResult
    errored = Signal(str)
    _switched = Signal(object, object)  # (ClassSet, exception or None), from the recognizer's pool thread

    def __init__(self, class_set: ClassSet, device: str = "auto", parent=None) -> None:
        super().__init__(parent)
        self.class_set = class_set
        self.device = device
        self.bundle = None
        self.text = None
        self.info: ModelInfo | None = None
        self._rec = None
        self._busy = False
        self._queued: tuple | None = None
        self._token = 0
        self._closed = False
        self._switched.connect(self._on_switched)

    @property
    def loaded(self) -> bool:
        return self._rec is not None

    # -- model ---------------------------------------------------------------------------------
    def load(self, path: str | Path) -> None:
        """Load a bundle on a worker; a damaged one leaves the current model answering."""
        w = Worker(_load, str(path), self.class_set, self.device)
        w.returned.connect(self._on_loaded)
        w.errored.connect(self._on_load_failed)
        start_worker(w)

    @Slot(object)
    def _on_loaded(self, result) -> None:
        if result is None:  # stopped at close
            return
        bundle, text, rec, info = result
        if self._closed:  # the load ended after the window closed: nothing will use it
            rec.close()
            return
        old, self._rec = self._rec, rec
        self.bundle, self.text, self.info = bundle, text, info
        if old is not None:
            old.close()
        if rec.class_set != self.class_set:  # edited while loading
            self.set_class_set(self.class_set)
        self.model_loaded.emit(info)

    @Slot(str)
    def _on_load_failed(self, message: str) -> None:
        self.errored.emit(f"model not loaded: {message}")

    # -- class set -----------------------------------------------------------------------------
    def set_class_set(self, cs: ClassSet) -> None:
        self.class_set = cs
        if self._rec is None:
            return
        future = self._rec.set_class_set(cs)
        future.add_done_callback(lambda f: self._switched.emit(cs, f.exception()))

    @Slot(object, object)
    def _on_switched(self, cs: ClassSet, exc) -> None:
        if exc is not None:
            self.errored.emit(f"actions not applied: {describe(exc)}")
        elif cs == self.class_set:
            self.class_set_ready.emit(cs)

    # -- sequences -----------------------------------------------------------------------------
    def recognise(self, joints: np.ndarray, fps: float = 30.0) -> int:
        """Recognise ``(T, M, 25, 3)`` on a worker; returns the request's token. One request runs at a
        time; while it runs only the newest waiting request is kept."""
        self._token += 1
        if self._closed:
            return self._token
        if self._rec is None:
            self.errored.emit("no model loaded: open a bundle (File > Open model) to recognise")
            return self._token
        self._queued = (np.asarray(joints, np.float32), fps, self._token)
        self._next()
        return self._token

    def _next(self) -> None:
        if self._busy or self._queued is None:
            return
        joints, fps, token = self._queued
        self._queued = None
        self._busy = True
        w = Worker(_recognise, self._rec, joints, fps, self._rec.class_set, token)
        w.returned.connect(self._on_recognised)
        w.errored.connect(self._on_recognise_failed)
        start_worker(w)

    @Slot(object)
    def _on_recognised(self, result: SequenceResult | None) -> None:
        self._busy = False
        if self._closed:
            return
        if result is not None and result.token == self._token:  # None: it was asked to stop
            self.sequence_recognised.emit(result)
        self._next()

    @Slot(str)
    def _on_recognise_failed(self, message: str) -> None:
        self._busy = False
        self.errored.emit(f"recognition failed: {message}")
        self._next()

    def close(self) -> None:
        """At window close: no new work, and the recognizer's pool let go. A load or recognition still
        running is asked to stop by the window (app.workers.request_stop_all) and ends on its own."""
        self._closed = True
        self._queued = None
        if self._rec is not None:
            self._rec.close()
