"""The streaming recognizer: frames in, a ranked :class:`~engine.types.Prediction` every stride.

Frames (NTU-25 joints from a camera via MediaPipe, or from a file) go into a ring buffer of the
bundle's window. Every ``stride`` frames the window is brought to the state of the bundle's
training data (:func:`engine.skeleton.layouts.harmonise`, "train as you infer"), preprocessed the
bundle's way, encoded, and scored against the active class set; probabilities are smoothed over time
with an exponential moving average.

Open vocabulary without blocking: :meth:`StreamingRecognizer.set_class_set` returns at once. The new
set's texts are embedded and the method's :meth:`~engine.methods.base.ZeroShotMethod.prepare`
runs on a background thread, and the old set keeps answering until the new one is ready; then one
attribute assignment swaps it in (atomic in Python), so a caller never sees a half-built set.

Windows in which the person is absent for more than ``1 - min_present`` of the frames give a
``Prediction(person=False)`` and reset the smoothing, so a person walking back in starts fresh.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.bundle import Bundle, StreamingConfig
from engine.device import autocast, resolve_device
from engine.skeleton.layouts import harmonise
from engine.skeleton.preprocess import preprocess
from engine.types import ClassSet, Prediction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Active:
    """An answering class set: the set and what the method prepared for it (never mutated)."""

    class_set: ClassSet
    prepared: Any


def text_encoder_for(bundle: Bundle, cache: bool = True, **overrides: Any):
    """The bundle's text encoder (its registry key and options, with ``overrides``), cached on disk.

    Warns when its id differs from the one the bundle was trained with (another checkpoint): the
    class embeddings then live in a space the method never saw.
    """
    from engine.text import create_text_encoder
    from engine.text.cached import CachedTextEncoder

    options = {**bundle.text.options, **overrides}
    encoder = create_text_encoder(bundle.text.encoder, **options)
    if bundle.text.encoder_id and encoder.id != bundle.text.encoder_id:
        logger.warning("text encoder %s differs from the one %s was trained with (%s)",
                       encoder.id, bundle.path or "the bundle", bundle.text.encoder_id)
    return CachedTextEncoder(encoder) if cache else encoder


class StreamingRecognizer:
    """Zero-shot recognition on a stream of frames.

    Args:
        bundle: a loaded bundle.
        class_set: the actions to recognise first; prepared before the constructor returns.
        text_encoder: a :class:`~engine.text.base.TextEncoder`; default: the bundle's, cached.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``; the bundle's modules are moved there.
        input_fps: rate of the incoming frames; window and stride keep their durations.
        streaming: overrides of the bundle's window, stride and smoothing.
        top_k: how many ranked names a prediction carries (None = all).
        exclude_descriptions: description files (datasets) not to look typed names up in, for a bundle
            trained on descriptions (a benchmark's held-out dataset).
    """

    def __init__(
        self,
        bundle: Bundle,
        class_set: ClassSet,
        text_encoder: Any = None,
        device: str | torch.device = "cpu",
        input_fps: float | None = None,
        streaming: StreamingConfig | None = None,
        top_k: int | None = None,
        exclude_descriptions: tuple[str, ...] = (),
    ) -> None:
        self.bundle = bundle
        self.device = resolve_device(device)
        bundle.encoder.to(self.device).eval()
        bundle.method.to(self.device).eval()
        self.config = streaming or bundle.streaming
        self.top_k = top_k
        self.exclude_descriptions = tuple(exclude_descriptions)
        self.text_encoder = text_encoder if text_encoder is not None else text_encoder_for(bundle)
        self._bodies = bundle.preprocess.num_bodies
        self.set_input_fps(input_fps or self.config.fps)
        self._filled = 0
        self._frames = 0  # frames pushed since the start (or the last reset)
        self._smoothed: np.ndarray | None = None
        self._smoothed_key = ""
        self._lock = threading.Lock()
        self._generation = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zsar-class-set")
        self._active = self._prepare(class_set)
        self._pending: ClassSet | None = None

    # -- class sets --------------------------------------------------------------------------------

    def _prepare(self, class_set: ClassSet) -> _Active:
        from engine.text.prompts import DESCRIPTION_MODES, encode_class_set

        texts, local = class_set, None
        if self.bundle.text.mode in DESCRIPTION_MODES:  # as trained: our descriptions for known names
            from engine.text.descriptions import with_known_descriptions

            texts, local = with_known_descriptions(class_set, self.exclude_descriptions)
        emb = encode_class_set(self.text_encoder, texts, self.bundle.text.mode, self.bundle.text.templates,
                               local_descriptions=local)
        with torch.inference_mode():
            prepared = self.bundle.method.prepare(torch.as_tensor(emb, dtype=torch.float32, device=self.device))
        return _Active(class_set, prepared)

    @property
    def class_set(self) -> ClassSet:
        """The set answering now (a newer one may still be preparing: :attr:`pending`)."""
        return self._active.class_set

    @property
    def pending(self) -> ClassSet | None:
        return self._pending

    def set_class_set(self, class_set: ClassSet) -> Future:
        """Switch to ``class_set`` without blocking. The returned future resolves to the set once it
        answers; if another switch is asked for meanwhile, only the latest one is swapped in."""
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._pending = class_set

        def work() -> ClassSet:
            active = self._prepare(class_set)
            with self._lock:
                if generation == self._generation:
                    self._active = active
                    self._pending = None
            return class_set

        return self._pool.submit(work)

    # -- frames ------------------------------------------------------------------------------------

    def set_input_fps(self, fps: float) -> None:
        """Count the window and stride in frames of a stream at ``fps`` (a 120 Hz mocap file gets
        windows of the same duration as a 30 Hz camera); forgets buffered frames."""
        self.input_fps = float(fps) if fps and fps > 0 else self.config.fps
        self.window = max(2, round(self.config.window * self.input_fps / self.config.fps))
        self.stride = max(1, round(self.config.stride * self.input_fps / self.config.fps))
        self._buffer = np.zeros((self.window, self._bodies, 25, 3), dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        """Forget buffered frames and smoothing (a new video, a seek)."""
        self._buffer[:] = 0
        self._filled = 0
        self._frames = 0
        self._smoothed = None

    def push(self, frame: np.ndarray | None) -> Prediction | None:
        """Add one frame; returns a prediction when one is due, else None.

        Args:
            frame: NTU-25 joints ``(25, 3)`` of one person or ``(M, 25, 3)``, or None when the pose
                estimator found nobody in this frame.
        """
        slot = np.zeros((self._bodies, 25, 3), dtype=np.float32)
        if frame is not None:
            f = np.asarray(frame, dtype=np.float32)
            if f.ndim == 2:
                f = f[None]
            if f.ndim != 3 or f.shape[1:] != (25, 3):
                raise ValueError(f"a frame must be (25, 3) or (M, 25, 3) NTU-25 joints, got {f.shape}")
            k = min(len(f), self._bodies)
            slot[:k] = np.nan_to_num(f[:k], nan=0.0, posinf=0.0, neginf=0.0)
        self._buffer[self._frames % self.window] = slot
        self._frames += 1
        self._filled = min(self._filled + 1, self.window)
        if self._filled < self.window or (self._frames - self.window) % self.stride:
            return None
        start = self._frames % self.window
        window = np.concatenate([self._buffer[start:], self._buffer[:start]])
        return self._predict(window, (self._frames - self.window, self._frames - 1), smooth=True)

    def predict_sequence(self, joints: np.ndarray) -> Prediction:
        """One prediction for a whole clip ``(T, M, 25, 3)`` (a skeleton file), without smoothing."""
        x = np.asarray(joints, dtype=np.float32)
        return self._predict(x, (0, len(x) - 1), smooth=False)

    def _input(self, joints: np.ndarray) -> np.ndarray:
        """A clip as the encoder was trained to see it: harmonised to the training layout, then the
        bundle's preprocessing, ``(C, T, V, M)``."""
        joints = np.asarray(joints, np.float32)
        if self.bundle.train_layout != "ntu25":
            joints = harmonise(joints, self.bundle.train_layout)
        return preprocess(joints, self.bundle.preprocess)

    def probabilities(self, clips: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """Class probabilities ``(N, K)`` of whole clips ``(T_i, M, 25, 3)`` against the active set, in
        batches (``zsar evaluate --bundle``: one encoder pass per batch, not per clip). A clip without
        a person gets a row of NaN."""
        return self._softmax(self.logits(clips, batch_size))

    def logits(self, clips: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """The method's scores ``(N, K)`` of whole clips against the active set, before calibration (a
        clip without a person: a row of NaN)."""
        active = self._active
        rows = np.full((len(clips), len(active.class_set)), np.nan, np.float32)
        keep = [i for i, c in enumerate(clips)
                if np.any(np.asarray(c)[:, 0] != 0, axis=(1, 2)).mean() >= self.config.min_present]
        for start in range(0, len(keep), batch_size):
            idx = keep[start:start + batch_size]
            rows[idx] = self.logits_of_inputs(np.stack([self._input(clips[i]) for i in idx]), active)
        return rows

    def logits_of_inputs(self, x: np.ndarray, active: _Active | None = None) -> np.ndarray:
        """Scores ``(N, K)`` of clips already harmonised and preprocessed the bundle's way,
        ``(N, C, T, V, M)`` (a benchmark that holds its test clips in that form)."""
        active = active or self._active
        batch = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)
        with torch.inference_mode(), autocast(self.device):
            logits = self.bundle.method.scores(self.bundle.encoder.features(batch), active.prepared)
        return logits.float().cpu().numpy()

    def _softmax(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities: the bundle's temperature, then a softmax over the class set."""
        z = logits / self.bundle.temperature
        z = z - np.max(z, axis=-1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)

    def _predict(self, joints: np.ndarray, span: tuple[int, int], smooth: bool) -> Prediction:
        t0 = time.perf_counter()
        active = self._active
        present = np.any(joints[:, 0] != 0, axis=(1, 2))
        if present.mean() < self.config.min_present:
            self._smoothed = None
            return Prediction((), (), (time.perf_counter() - t0) * 1e3, span, person=False,
                              class_set_key=active.class_set.key)
        probs = self._softmax(self.logits_of_inputs(self._input(joints)[None], active))[0]
        if smooth and self.config.smoothing > 0:
            if self._smoothed is not None and self._smoothed_key == active.class_set.key:
                probs = self.config.smoothing * self._smoothed + (1 - self.config.smoothing) * probs
            self._smoothed, self._smoothed_key = probs, active.class_set.key
        order = np.argsort(-probs, kind="stable")[: self.top_k]
        names = tuple(active.class_set.names[i] for i in order)
        return Prediction(names, tuple(float(probs[i]) for i in order), (time.perf_counter() - t0) * 1e3, span,
                          class_set_key=active.class_set.key)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> StreamingRecognizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
