"""Provisioning the MediaPipe pose model (``pose_landmarker_full.task``) into the user's cache.

mediapipe >= 0.10.30 ships no pose model (docs/live_input.md#the-pose-model). :func:`provision_pose_model`
finds or makes one, in this order:

1. a file the user gives (a ``.task``, or a mediapipe 0.10.21 ``.whl`` to build from, offline);
2. the cached copy, if its sha256 matches;
3. built from the BlazePose files in the mediapipe 0.10.21 wheel, fetched with ``pip download``
   (pip reaches the package index, and picks the wheel for this Python and platform);
4. the official ``.task`` from Google storage;
5. otherwise :class:`PoseModelUnavailable`, saying what was tried and what the user can do.

The cache is ``$ZSAR_CACHE``, else ``$XDG_CACHE_HOME/zsar-studio``, else ``~/.cache/zsar-studio``;
the model lives in its ``pose/`` folder beside a small JSON record of where it came from.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable
from http.client import HTTPException
from pathlib import Path

from engine.atomic import atomic_write_bytes, atomic_write_text
from engine.cache import cache_dir
from engine.errors import ZsarError
from engine.pose import task_builder
from engine.pose.task_builder import KNOWN_TASK_SHA256, KNOWN_WHEEL_NAME, KNOWN_WHEEL_SHA256, TASK_ENTRIES

logger = logging.getLogger(__name__)

MODEL_FILENAME = "pose_landmarker_full.task"
RECORD_FILENAME = "pose_landmarker_full.json"
WHEEL_REQUIREMENT = f"mediapipe=={task_builder.WHEEL_VERSION}"
OFFICIAL_URL = ("https://storage.googleapis.com/mediapipe-models/pose_landmarker/"
                "pose_landmarker_full/float16/latest/pose_landmarker_full.task")
DOWNLOAD_TIMEOUT_S = 15.0  # per socket operation; an offline machine fails at once or after this
PIP_TIMEOUT_S = 600.0  # the whole pip download (35.6 MB)
MAX_TASK_BYTES = 64 << 20  # the full model is ~9.4 MB; refuse anything absurd from the network

# How a model was provisioned (``source`` in the record and in :func:`pose_model_status`).
SOURCE_USER = "user_file"
SOURCE_WHEEL = "built_from_wheel"
SOURCE_DOWNLOAD = "downloaded"

USER_HINT = ("Give a pose model file with `zsar pose-model --path FILE` (a pose_landmarker_full.task, or a "
             f"mediapipe-{task_builder.WHEEL_VERSION} .whl to build it from), or connect to the internet and "
             "run `zsar pose-model` again.")


class PoseModelError(ZsarError, RuntimeError):
    """Base class of the pose-model errors; the message is meant for the user, one paragraph."""


class InvalidPoseModel(PoseModelError):
    """A file that is not a usable MediaPipe pose ``.task`` (missing, not a zip, wrong contents)."""


class PoseModelUnavailable(PoseModelError):
    """No pose model could be found or made.

    Attributes:
        attempts: one line per source tried, and why it gave nothing.
    """

    def __init__(self, attempts: list[str]) -> None:
        self.attempts = list(attempts)
        lines = "\n".join(f"  - {a}" for a in self.attempts)
        super().__init__(f"No MediaPipe pose model is available. Tried:\n{lines}\n{USER_HINT}")


# ---------------------------------------------------------------------------------------------
# Where
# ---------------------------------------------------------------------------------------------
def cached_model_path() -> Path:
    """Where the provisioned model lives (whether or not it exists yet)."""
    return cache_dir() / "pose" / MODEL_FILENAME


def _record_path() -> Path:
    return cache_dir() / "pose" / RECORD_FILENAME


def _read_record() -> dict:
    try:
        return json.loads(_record_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------
def validate_task_file(path: str | os.PathLike) -> None:
    """Check that ``path`` is a zip holding the two models of a pose ``.task``.

    Raises:
        InvalidPoseModel: with what is wrong.
    """
    path = Path(path)
    if not path.exists():
        raise InvalidPoseModel(f"{path}: no such file")
    if not path.is_file():
        raise InvalidPoseModel(f"{path}: not a file")
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError) as e:
        raise InvalidPoseModel(f"{path}: not a MediaPipe .task bundle (not a zip file: {e})") from e
    missing = [n for n in TASK_ENTRIES if n not in names]
    if missing:
        raise InvalidPoseModel(f"{path}: not a MediaPipe pose .task bundle (lacks {', '.join(missing)}; "
                               f"holds {', '.join(sorted(names)) or 'nothing'})")


def check_model_loads(path: str | os.PathLike) -> None:
    """Create (and close) a MediaPipe PoseLandmarker from ``path``: the model is really usable.

    Raises:
        InvalidPoseModel: MediaPipe refused the model (e.g. TFLite models without metadata).
    """
    from engine.pose.estimator import import_mediapipe

    import_mediapipe()
    from mediapipe.tasks import python as mpt
    from mediapipe.tasks.python import vision

    options = vision.PoseLandmarkerOptions(base_options=mpt.BaseOptions(model_asset_path=str(path)),
                                           running_mode=vision.RunningMode.IMAGE)
    try:
        landmarker = vision.PoseLandmarker.create_from_options(options)
    except Exception as e:  # MediaPipe raises RuntimeError/ValueError with the C++ status text
        raise InvalidPoseModel(f"{path}: MediaPipe cannot load this pose model ({e})") from e
    landmarker.close()


# ---------------------------------------------------------------------------------------------
# Provisioning
# ---------------------------------------------------------------------------------------------
def _install(data: bytes, sha256: str, source: str, detail: str, verified: bool) -> Path:
    """Write the model and its record into the cache atomically."""
    dst = cached_model_path()
    record = {"sha256": sha256, "source": source, "detail": detail, "verified": verified,
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        atomic_write_bytes(dst, data)
        atomic_write_text(_record_path(), json.dumps(record, indent=2) + "\n")
    except OSError as e:
        raise PoseModelError(f"cannot write the pose model into the cache {dst.parent} ({e}); "
                             "set ZSAR_CACHE to a writable folder") from e
    return dst


def _accept_candidate(data: bytes, sha256: str, source: str, detail: str) -> Path:
    """Validate bytes from any source, then install them. A bundle with the known sha256 is the
    exact file this project tested; anything else must at least be a pose ``.task`` that loads."""
    verified = sha256 == KNOWN_TASK_SHA256
    with tempfile.TemporaryDirectory(prefix="zsar-pose-") as tmp:
        candidate = Path(tmp) / MODEL_FILENAME
        candidate.write_bytes(data)
        validate_task_file(candidate)
        if not verified:
            check_model_loads(candidate)
    return _install(data, sha256, source, detail, verified)


def _from_wheel(wheel: Path, say: Callable[[str], None]) -> Path:
    """Build the ``.task`` from a mediapipe 0.10.21 wheel file and install it."""
    if wheel.name == KNOWN_WHEEL_NAME:
        actual = task_builder.sha256_file(wheel)
        if actual != KNOWN_WHEEL_SHA256:
            raise InvalidPoseModel(f"{wheel}: sha256 {actual} differs from the published "
                                   f"{KNOWN_WHEEL_SHA256} of this wheel (damaged or altered download)")
    try:
        built = task_builder.build_task_from_wheel(wheel)
    except task_builder.TaskBuildError as e:
        raise InvalidPoseModel(str(e)) from e
    if built.from_known_inputs and built.sha256 != KNOWN_TASK_SHA256:
        # Same inputs, different bytes: the installed mediapipe's metadata writer differs from the
        # tested ones (1.2.2, 0.10.21). The model is still checked by loading it.
        logger.warning("pose model built from %s has sha256 %s, not the known %s; checking that it loads",
                       wheel.name, built.sha256, KNOWN_TASK_SHA256)
    path = _accept_candidate(built.data, built.sha256, SOURCE_WHEEL, wheel.name)
    say(f"Built the pose model from {wheel.name} (sha256 {built.sha256[:12]}...): {path}")
    return path


def _pip_download_wheel(dest: Path) -> Path:
    """``pip download`` the mediapipe 0.10.21 wheel for this Python into ``dest``; its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", WHEEL_REQUIREMENT,
           "-d", str(dest), "--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
    logger.debug("running %s", " ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        raise PoseModelError(f"pip download of {WHEEL_REQUIREMENT} took longer than "
                             f"{PIP_TIMEOUT_S:.0f} s") from e
    logger.debug("pip stdout:\n%s\npip stderr:\n%s", proc.stdout, proc.stderr)
    if proc.returncode != 0:
        tail = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        why = tail[-1] if tail else f"exit status {proc.returncode}"
        raise PoseModelError(f"`pip download {WHEEL_REQUIREMENT}` failed: {why}")
    wheels = sorted(dest.glob("mediapipe-*.whl"))
    if not wheels:
        raise PoseModelError(f"`pip download {WHEEL_REQUIREMENT}` gave no wheel")
    return wheels[0]


def _download_official(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "zsar-studio"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
        data = response.read(MAX_TASK_BYTES + 1)
    if len(data) > MAX_TASK_BYTES:
        raise PoseModelError(f"{url}: more than {MAX_TASK_BYTES >> 20} MiB, not a pose model")
    return data


def provision_pose_model(path: str | os.PathLike | None = None, allow_download: bool = True,
                         log: Callable[[str], None] | None = None) -> Path:
    """Find or make the MediaPipe pose model and return its path in the cache.

    Args:
        path: a file the user gives: a pose ``.task`` (validated, loaded once, then copied into the
            cache so later calls find it), or a mediapipe 0.10.21 ``.whl`` to build the model from
            without network. Errors in it are reported, never silently replaced by another source.
        allow_download: may use the network (pip and the package index, then Google storage).
        log: called with each progress message (the CLI prints them, the GUI shows them); every
            message also goes to this module's logger.
    Returns:
        path of the ``.task`` in the cache (:func:`cached_model_path`).
    Raises:
        InvalidPoseModel: ``path`` is missing or not a pose model.
        PoseModelUnavailable: no source gave a model; the message lists what was tried and what
            the user can do.
    """

    def say(message: str) -> None:
        logger.info(message)
        if log is not None:
            log(message)

    # 1. The user's file.
    if path is not None:
        user = Path(path).expanduser()
        if not user.exists():
            raise InvalidPoseModel(f"{user}: no such file")
        if user.suffix == ".whl":
            return _from_wheel(user, say)
        validate_task_file(user)
        data = user.read_bytes()
        dst = _accept_candidate(data, hashlib.sha256(data).hexdigest(), SOURCE_USER,
                                str(user.resolve()))
        say(f"Using the pose model {user}, copied to {dst}")
        return dst

    attempts: list[str] = []

    # 2. The cache.
    cached = cached_model_path()
    if cached.exists():
        sha = task_builder.sha256_file(cached)
        if sha == KNOWN_TASK_SHA256 or sha == _read_record().get("sha256"):
            logger.debug("pose model from the cache: %s", cached)
            return cached
        logger.warning("cached pose model %s is damaged (sha256 %s matches no record); replacing it",
                       cached, sha)
        attempts.append(f"cache {cached}: damaged (sha256 mismatch), removed")
        cached.unlink(missing_ok=True)
    else:
        attempts.append(f"cache {cached}: not there")

    if not allow_download:
        attempts.append("building from the mediapipe wheel and downloading: not tried (network not allowed)")
        raise PoseModelUnavailable(attempts)

    # 3. Built from the mediapipe 0.10.21 wheel.
    say(f"Fetching the {WHEEL_REQUIREMENT} wheel with pip (about 36 MB) to build the pose model...")
    try:
        with tempfile.TemporaryDirectory(prefix="zsar-mediapipe-wheel-") as tmp:
            wheel = _pip_download_wheel(Path(tmp))
            return _from_wheel(wheel, say)
    except PoseModelError as e:
        logger.warning("building the pose model from the wheel failed: %s", e)
        attempts.append(f"build from the {WHEEL_REQUIREMENT} wheel: {e}")

    # 4. The official model from Google storage.
    say(f"Downloading the official pose model from {OFFICIAL_URL} ...")
    try:
        data = _download_official(OFFICIAL_URL)
        dst = _accept_candidate(data, hashlib.sha256(data).hexdigest(), SOURCE_DOWNLOAD,
                                OFFICIAL_URL)
        say(f"Downloaded the pose model: {dst}")
        return dst
    except (OSError, HTTPException, PoseModelError) as e:  # URLError and timeouts are OSErrors
        reason = getattr(e, "reason", e)
        logger.warning("downloading the official pose model failed: %s", reason)
        attempts.append(f"download {OFFICIAL_URL}: {reason}")

    raise PoseModelUnavailable(attempts)


def pose_model_status() -> dict:
    """What the cache holds now, without provisioning anything (for the GUI and ``zsar pose-model``).

    Returns:
        ``{"path": str | None, "source": "user_file" | "built_from_wheel" | "downloaded" | None,
        "detail": str | None (the user's file, the wheel or the URL), "sha256": str | None,
        "verified": bool (sha256 equals the bundle this project tested), "cache_dir": str,
        "problem": str | None}``. ``path`` is None when no usable model is cached.
    """
    path = cached_model_path()
    status = {"path": None, "source": None, "detail": None, "sha256": None, "verified": False,
              "cache_dir": str(path.parent), "problem": None}
    if not path.exists():
        status["problem"] = "no pose model in the cache"
        return status
    sha = task_builder.sha256_file(path)
    record = _read_record()
    status["sha256"] = sha
    if sha != KNOWN_TASK_SHA256 and sha != record.get("sha256"):
        status["problem"] = "the cached pose model is damaged (sha256 mismatch); run `zsar pose-model`"
        return status
    default_source = SOURCE_WHEEL if sha == KNOWN_TASK_SHA256 else None  # a known file with no record
    status.update(path=str(path), source=record.get("source", default_source),
                  detail=record.get("detail"), verified=sha == KNOWN_TASK_SHA256)
    return status
