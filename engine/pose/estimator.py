"""The pose-estimator interface: one RGB frame in, one MediaPipe-33 + NTU-25 skeleton out.

Every estimator returns :class:`PoseResult`, which carries the estimator's own landmarks and the
NTU-25 joints the rest of the engine uses (``engine.types``: metres, NTU camera axes), mapped by
the data in :mod:`engine.skeleton.layouts`. Nothing downstream needs to know MediaPipe's layout.

Also here: the guarded imports of the heavy backends (OpenCV, MediaPipe), shared by the estimator
and the frame sources, so that ``import engine.pose`` stays light.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol, runtime_checkable

import numpy as np

from engine.skeleton.layouts import MEDIAPIPE33, to_ntu25

NUM_MP_LANDMARKS = 33


def _readonly(a: np.ndarray, dtype, shape: tuple[int, ...], name: str) -> np.ndarray:
    a = np.array(a, dtype=dtype)  # a copy: the result owns its data
    if a.shape != shape:
        raise ValueError(f"PoseResult.{name} must be {shape}, got {a.shape}")
    a.setflags(write=False)
    return a


def ntu_confidence(visibility: np.ndarray) -> np.ndarray:
    """Per-NTU-joint confidence ``(..., 25)`` from MediaPipe visibility ``(..., 33)``.

    Each NTU joint gets the **minimum** visibility of the MediaPipe landmarks its rule uses (the
    non-zero entries of the mapping matrix): a synthesised joint is only as trustworthy as its
    least visible source (a hand tip extrapolated from an occluded wrist is as unreliable as the
    wrist). For a copied joint this is the landmark's own visibility.
    """
    vis = np.asarray(visibility, dtype=np.float32)
    used = MEDIAPIPE33.mapping_matrix != 0  # (25, 33)
    # min over the used landmarks: put +inf where a landmark is not used.
    masked = np.where(used, vis[..., None, :], np.inf)
    return masked.min(axis=-1).astype(np.float32)


@dataclass(frozen=True)
class PoseResult:
    """One person's pose in one frame (arrays are read-only copies, safe to pass between threads).

    Attributes:
        world: float32 ``(33, 3)`` MediaPipe world landmarks: metres, origin at the hip midpoint,
            x image-right, y down, z away from the camera.
        image: float32 ``(33, 3)`` normalised image landmarks: x, y in [0, 1] of the frame's width
            and height (x right, y down; may fall outside for joints out of frame), z relative
            depth on the scale of x.
        visibility: float32 ``(33,)`` MediaPipe visibility in [0, 1].
        ntu: float32 ``(25, 3)`` NTU-25 joints from ``world`` via ``to_ntu25(world, "mediapipe33")``:
            metres, NTU camera axes (x to the sensor's left, y up, z away), origin at the hip
            midpoint (there is no camera distance).
        ntu_confidence: float32 ``(25,)``, see :func:`ntu_confidence`.
        timestamp_ms: the timestamp the frame was processed with.
    """

    world: np.ndarray
    image: np.ndarray
    visibility: np.ndarray
    ntu: np.ndarray
    ntu_confidence: np.ndarray
    timestamp_ms: int = 0

    def __post_init__(self) -> None:
        n = NUM_MP_LANDMARKS
        object.__setattr__(self, "world", _readonly(self.world, np.float32, (n, 3), "world"))
        object.__setattr__(self, "image", _readonly(self.image, np.float32, (n, 3), "image"))
        object.__setattr__(self, "visibility", _readonly(self.visibility, np.float32, (n,), "visibility"))
        object.__setattr__(self, "ntu", _readonly(self.ntu, np.float32, (25, 3), "ntu"))
        object.__setattr__(self, "ntu_confidence",
                           _readonly(self.ntu_confidence, np.float32, (25,), "ntu_confidence"))

    @classmethod
    def from_landmarks(cls, world: np.ndarray, image: np.ndarray, visibility: np.ndarray,
                       timestamp_ms: int = 0) -> PoseResult:
        """Build a result from MediaPipe-33 arrays, computing the NTU-25 joints and confidence."""
        world = np.asarray(world, dtype=np.float32)
        return cls(world=world, image=image, visibility=visibility, ntu=to_ntu25(world, MEDIAPIPE33),
                   ntu_confidence=ntu_confidence(visibility), timestamp_ms=int(timestamp_ms))


@runtime_checkable
class PoseEstimator(Protocol):
    """Anything that turns RGB frames into skeletons.

    Frames are ``uint8 (H, W, 3)`` **RGB** (OpenCV gives BGR: convert) and **not mirrored**: a
    selfie-flipped frame shows a mirrored person and flips the skeleton's chirality; flip only the
    displayed image. Timestamps are integer milliseconds, increasing for a video or camera.
    Estimators hold native resources: use them as context managers or call :meth:`close`.
    """

    def estimate(self, frame_rgb: np.ndarray, timestamp_ms: int) -> PoseResult | None:
        """The most prominent person's pose, or None when nobody is found."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> PoseEstimator: ...

    def __exit__(self, *exc) -> None: ...


def check_frame(frame_rgb: np.ndarray) -> np.ndarray:
    """The frame as a C-contiguous ``uint8 (H, W, 3)`` array; a clear error otherwise."""
    if not isinstance(frame_rgb, np.ndarray):
        raise TypeError(f"frame must be a numpy array, got {type(frame_rgb).__name__}")
    if frame_rgb.dtype != np.uint8 or frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3:
        raise ValueError(f"frame must be uint8 (H, W, 3) RGB, got {frame_rgb.dtype} {frame_rgb.shape}")
    return np.ascontiguousarray(frame_rgb)


# ---------------------------------------------------------------------------------------------
# Guarded imports of the heavy backends
# ---------------------------------------------------------------------------------------------
# The non-headless OpenCV that mediapipe depends on (opencv-contrib-python) sets Qt variables on
# import, pointing Qt at its own bundled Qt 5 plugins (docs/live_input.md#opencv-beside-qt): a known cause of
# "Could not load the Qt platform plugin" in a PySide6 app. Put back what was there before.
_QT_VARS = ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR")


@contextlib.contextmanager
def _keep_qt_environment() -> Iterator[None]:
    before = {k: os.environ.get(k) for k in _QT_VARS}
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def import_cv2() -> ModuleType:
    """``import cv2`` without letting it change the Qt environment of this process."""
    if "cv2" in sys.modules:
        return sys.modules["cv2"]
    # FFmpeg prints its own complaints ("moov atom not found") to stderr from native code; the
    # reader's one-line error says the same to the user. Quiet unless the user set a level.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    try:
        with _keep_qt_environment():
            import cv2
    except ImportError as e:
        raise ImportError(f"OpenCV is needed for video and camera input ({e}); it comes with mediapipe "
                          "(opencv-contrib-python): pip install mediapipe") from e
    return cv2


def import_mediapipe() -> ModuleType:
    """``import mediapipe`` (and its Tasks vision API), guarded like :func:`import_cv2`."""
    try:
        with _keep_qt_environment():
            import mediapipe
            from mediapipe.tasks.python import vision  # noqa: F401
    except ImportError as e:
        raise ImportError(f"MediaPipe is needed for pose estimation ({e}): pip install mediapipe") from e
    # mediapipe's audio module keeps the exception of its failed optional `import sounddevice`
    # (no PortAudio) in a module global; its traceback pins the frames of whoever imported
    # mediapipe first, with all their locals, for the life of the process. Drop the traceback.
    audio = sys.modules.get("mediapipe.tasks.python.audio.core.audio_record")
    err = getattr(audio, "sd_error", None)
    while isinstance(err, BaseException):
        err.__traceback__ = None
        err = err.__context__
    return mediapipe
