"""Build MediaPipe's ``pose_landmarker_full.task`` from the BlazePose files in the mediapipe 0.10.21 wheel.

No mediapipe release since 0.10.30 ships a pose model, and the official ``.task`` lives on Google
storage, which is often out of reach (offline machines, CI). The 0.10.21 wheel on PyPI still
carries the two BlazePose TFLite models; the Tasks API accepts them once they are zipped as a
``.task`` and given the input-normalisation metadata it needs (docs/live_input.md#the-pose-model: the
detector reads [-1, 1], the landmark model [0, 1], as in the legacy graphs).

The bundle is byte-reproducible: ZIP_STORED entries with fixed dates, and the metadata writer is
deterministic, so the known wheel gives the known sha256 (:data:`KNOWN_TASK_SHA256`).
"""

from __future__ import annotations

import hashlib
import io
import logging
import sys
import types
import zipfile
from dataclasses import dataclass
from pathlib import Path

from engine.pose.estimator import import_mediapipe

logger = logging.getLogger(__name__)

WHEEL_VERSION = "0.10.21"
# The cp311 manylinux wheel this project was measured with (docs/live_input.md#the-pose-model).
KNOWN_WHEEL_NAME = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
KNOWN_WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
KNOWN_TASK_SHA256 = "b407cfcbeabf3060dce2b14d4e2d07f72e0af3f70cdeaa3b5248a411c5933b2d"

DETECTOR_IN_WHEEL = "mediapipe/modules/pose_detection/pose_detection.tflite"
LANDMARKS_IN_WHEEL = "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"
# The two models' sha256 inside every 0.10.21 wheel (the tflite files do not depend on the platform).
KNOWN_TFLITE_SHA256 = {
    DETECTOR_IN_WHEEL: "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    LANDMARKS_IN_WHEEL: "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
}

# Entry names the Tasks API looks for inside a pose ``.task`` (found in libmediapipe.so).
TASK_ENTRIES = ("pose_detector.tflite", "pose_landmarks_detector.tflite")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the bundle is byte-reproducible


class TaskBuildError(RuntimeError):
    """The wheel does not hold what the builder needs, or the metadata writer failed."""


@dataclass(frozen=True)
class BuiltTask:
    """A ``.task`` bundle built in memory.

    Attributes:
        data: the zip bytes.
        sha256: hex digest of ``data``.
        from_known_inputs: both TFLite files had the known sha256, so ``sha256`` should equal
            :data:`KNOWN_TASK_SHA256`.
    """

    data: bytes
    sha256: str
    from_known_inputs: bool


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _metadata_writer():
    """Import mediapipe's TFLite metadata writer.

    mediapipe >= 0.10.30 ships the writer but not its pybind helper ``_pywrap_metadata_version``
    (``ModuleNotFoundError: No module named 'mediapipe.tasks.cc'``). The helper only computes the
    minimum metadata-parser version; for the image-input/feature-output metadata written here
    0.10.21 computes ``"1.0.0"``, so a stub returning that gives the identical bundle.
    """
    import_mediapipe()  # first, through the guard that keeps mediapipe from pinning our frames
    try:
        from mediapipe.tasks.cc.metadata.python import _pywrap_metadata_version  # noqa: F401  (<= 0.10.21)
    except ImportError:
        stub = types.ModuleType("_pywrap_metadata_version")
        stub.GetMinimumMetadataParserVersion = lambda buf: "1.0.0"
        packages = ("mediapipe.tasks.cc", "mediapipe.tasks.cc.metadata", "mediapipe.tasks.cc.metadata.python")
        for name in packages:
            sys.modules.setdefault(name, types.ModuleType(name))
        sys.modules["mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"] = stub
        sys.modules["mediapipe.tasks.cc.metadata.python"]._pywrap_metadata_version = stub
        logger.debug("mediapipe has no _pywrap_metadata_version; using a stub returning 1.0.0")
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, writer_utils

    return metadata_writer, writer_utils


def _with_metadata(model: bytes, name: str, mean: float, std: float) -> bytes:
    """The TFLite model with NormalizationOptions metadata for its image input."""
    mw, wu = _metadata_writer()
    buf = bytearray(model)
    writer = mw.MetadataWriter.create(buf).add_general_info(name).add_image_input(
        norm_mean=[mean], norm_std=[std]
    )
    for _ in wu.get_output_tensor_names(buf):  # detector: 2 outputs, landmark model: 5
        writer.add_feature_output()
    return bytes(writer.populate()[0])


def build_task_from_wheel(wheel: str | Path) -> BuiltTask:
    """Build the pose ``.task`` from a mediapipe 0.10.21 wheel (any platform's).

    Args:
        wheel: path to the ``.whl`` file (a zip); it is read, never installed.
    Returns:
        the bundle bytes, their sha256 and whether the inputs were the known TFLite files.
    Raises:
        TaskBuildError: the file is not a zip, lacks the BlazePose models, or the metadata
            writer could not be imported or failed.
    """
    wheel = Path(wheel)
    try:
        with zipfile.ZipFile(wheel) as whl:
            det = whl.read(DETECTOR_IN_WHEEL)
            lmk = whl.read(LANDMARKS_IN_WHEEL)
    except (zipfile.BadZipFile, OSError) as e:
        raise TaskBuildError(f"{wheel}: not a readable wheel ({e})") from e
    except KeyError as e:
        raise TaskBuildError(f"{wheel}: no BlazePose model inside ({e}); a mediapipe {WHEEL_VERSION} wheel "
                             "is needed") from e

    known = (hashlib.sha256(det).hexdigest() == KNOWN_TFLITE_SHA256[DETECTOR_IN_WHEEL]
             and hashlib.sha256(lmk).hexdigest() == KNOWN_TFLITE_SHA256[LANDMARKS_IN_WHEEL])
    if not known:
        logger.warning("%s: the BlazePose files differ from the known 0.10.21 ones; the bundle will be "
                       "checked by loading it, not by its sha256", wheel.name)
    try:
        det_md = _with_metadata(det, "pose_detector", 127.5, 127.5)  # [-1, 1] input
        lmk_md = _with_metadata(lmk, "pose_landmarks_detector", 0.0, 255.0)  # [0, 1] input
    except ImportError as e:
        raise TaskBuildError(f"the TFLite metadata writer of the installed mediapipe cannot be imported "
                             f"({e})") from e
    except Exception as e:  # the writer raises plain ValueErrors etc. from flatbuffers code
        raise TaskBuildError(f"writing TFLite metadata failed: {type(e).__name__}: {e}") from e

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for entry, data in zip(TASK_ENTRIES, (det_md, lmk_md)):
            z.writestr(zipfile.ZipInfo(entry, date_time=_ZIP_DATE), data)
    data = out.getvalue()
    return BuiltTask(data=data, sha256=hashlib.sha256(data).hexdigest(), from_known_inputs=known)
