"""engine.pose: provisioning the real MediaPipe pose model, BlazePose on a real photo, frame sources.

The model is provisioned into the default cache the first time (``pip download`` of the 36 MB
mediapipe 0.10.21 wheel, then the build); later runs use the cache. No part is mocked: the
failure-path tests point the real code at a version or address that does not exist.
Reference values: docs/live_input.md#the-pose-model (astronaut photo, legacy and Tasks API agree to 0.01).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.pose import (
    CameraSource,
    InvalidPoseModel,
    MediaPipePoseEstimator,
    PoseEstimator,
    PoseModelUnavailable,
    PoseResult,
    SourceError,
    VideoFileSource,
    cached_model_path,
    ntu_confidence,
    pose_model_status,
    provision_pose_model,
)
from engine.pose import model as pose_model
from engine.pose.estimator import import_cv2
from engine.pose.task_builder import KNOWN_TASK_SHA256, KNOWN_WHEEL_NAME
from engine.skeleton.layouts import MEDIAPIPE33, NTU25_JOINTS, to_ntu25

J = {name: i for i, name in enumerate(NTU25_JOINTS)}  # 0-based NTU joints
MP_LEFT_SHOULDER, MP_RIGHT_SHOULDER, MP_LEFT_ELBOW, MP_RIGHT_ELBOW = 11, 12, 13, 14


def sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def chirality_z(ntu: np.ndarray) -> float:
    """``cross(J9 - J5, J21 - J1) . z`` in NTU 1-based numbers: > 0 for a correctly labelled person
    facing the camera (docs/live_input.md#the-pose-model)."""
    right = ntu[J["shoulder_right"]] - ntu[J["shoulder_left"]]
    up = ntu[J["spine_shoulder"]] - ntu[J["spine_base"]]
    return float(np.cross(right, up)[2])


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_path():
    """The real model in the default cache (built from the wheel the first time)."""
    return provision_pose_model()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()  # 512x512 RGB, ships in the scikit-image wheel


@pytest.fixture(scope="module")
def image_estimator(model_path):
    with MediaPipePoseEstimator(model_path, running_mode="image") as est:
        yield est


@pytest.fixture(scope="module")
def astronaut_pose(image_estimator, astronaut) -> PoseResult:
    result = image_estimator.estimate(astronaut, 0)
    assert result is not None, "no person found on the astronaut photo"
    return result


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty cache for tests that must not touch the default one."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("ZSAR_CACHE", str(cache))
    return cache


# ---------------------------------------------------------------------------------------------
# Provisioning
# ---------------------------------------------------------------------------------------------
def test_provisioned_model_in_default_cache(model_path):
    assert model_path == cached_model_path()
    status = pose_model_status()
    assert status["path"] == str(model_path) and status["problem"] is None
    assert status["sha256"] == sha256(model_path)
    with zipfile.ZipFile(model_path) as z:
        assert {"pose_detector.tflite", "pose_landmarks_detector.tflite"} <= set(z.namelist())
    if status["detail"] == KNOWN_WHEEL_NAME:  # built from the wheel our MediaPipe measurements used
        assert status["sha256"] == KNOWN_TASK_SHA256 and status["verified"]
    # The second call is the cache hit: no network, same file.
    assert provision_pose_model(allow_download=False) == model_path


def test_corrupt_cache_is_rebuilt(model_path, tmp_cache):
    cached = tmp_cache / "pose" / "pose_landmarker_full.task"
    cached.parent.mkdir(parents=True)
    shutil.copyfile(model_path, cached)
    assert provision_pose_model(allow_download=False) == cached  # known sha256, no record needed
    cached.write_bytes(cached.read_bytes()[:1000])  # a partial write
    assert pose_model_status()["problem"] and pose_model_status()["path"] is None

    messages = []
    assert provision_pose_model(log=messages.append) == cached  # rebuilt from the real wheel
    status = pose_model_status()
    assert status["source"] == "built_from_wheel" and status["sha256"] == sha256(cached)
    if status["detail"] == KNOWN_WHEEL_NAME:
        assert status["sha256"] == KNOWN_TASK_SHA256
    assert any("Built the pose model" in m for m in messages)


def test_user_task_file_is_validated_and_copied(model_path, tmp_cache):
    path = provision_pose_model(path=model_path, allow_download=False)
    assert path == tmp_cache / "pose" / "pose_landmarker_full.task"
    assert sha256(path) == sha256(model_path)
    status = pose_model_status()
    assert status["source"] == "user_file" and status["detail"] == str(model_path.resolve())


def test_user_wheel_builds_the_model_offline(tmp_path, tmp_cache):
    wheel = pose_model._pip_download_wheel(tmp_path)  # the user's own copy of the 0.10.21 wheel
    path = provision_pose_model(path=wheel, allow_download=False)
    assert path == tmp_cache / "pose" / "pose_landmarker_full.task"
    status = pose_model_status()
    assert status["source"] == "built_from_wheel" and status["detail"] == wheel.name
    if wheel.name == KNOWN_WHEEL_NAME:
        assert status["sha256"] == KNOWN_TASK_SHA256 and status["verified"]


@pytest.mark.parametrize("content", ["missing", "text", "zip_without_models"])
def test_invalid_user_path_gives_clear_error(tmp_path, tmp_cache, content):
    path = tmp_path / "my_pose.task"
    if content == "text":
        path.write_text("not a model")
    elif content == "zip_without_models":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", "hello")
    with pytest.raises(InvalidPoseModel) as err:
        provision_pose_model(path=path)
    message = str(err.value)
    assert str(path) in message
    expected = {"missing": "no such file", "text": "not a zip", "zip_without_models": "pose_detector.tflite"}
    assert expected[content] in message
    assert not (tmp_cache / "pose" / "pose_landmarker_full.task").exists()  # nothing else was tried


def test_offline_without_cache_says_what_to_do(tmp_cache):
    with pytest.raises(PoseModelUnavailable) as err:
        provision_pose_model(allow_download=False)
    message = str(err.value)
    assert "zsar pose-model --path" in message and "internet" in message
    assert str(tmp_cache / "pose") in message  # the cache that was looked at


def test_unavailable_lists_every_attempt(tmp_cache, monkeypatch):
    # The real pip and urllib code paths, aimed at a version that does not exist and a closed port.
    monkeypatch.setattr(pose_model, "WHEEL_REQUIREMENT", "mediapipe==0.0.0.999")
    monkeypatch.setattr(pose_model, "OFFICIAL_URL", "http://127.0.0.1:9/pose_landmarker_full.task")
    with pytest.raises(PoseModelUnavailable) as err:
        provision_pose_model()
    attempts = err.value.attempts
    assert len(attempts) == 3, attempts
    assert "not there" in attempts[0]
    assert "mediapipe==0.0.0.999" in attempts[1] and "No matching distribution" in attempts[1]
    assert "127.0.0.1:9" in attempts[2] and "refused" in attempts[2].lower()
    assert "zsar pose-model --path" in str(err.value)


# ---------------------------------------------------------------------------------------------
# PoseResult
# ---------------------------------------------------------------------------------------------
def test_ntu_confidence_is_min_over_source_landmarks():
    vis = np.linspace(0.0, 1.0, 33, dtype=np.float32)
    conf = ntu_confidence(vis)
    used = MEDIAPIPE33.mapping_matrix != 0
    for j in range(25):
        assert conf[j] == vis[used[j]].min()
    assert conf[J["shoulder_left"]] == vis[MP_LEFT_SHOULDER]  # a copied joint keeps its own
    assert conf[J["hand_tip_right"]] == min(vis[16], vis[18], vis[20])  # wrist, pinky, index


def test_pose_result_is_immutable(astronaut_pose):
    with pytest.raises(ValueError):
        astronaut_pose.ntu[0, 0] = 1.0
    with pytest.raises(AttributeError):
        astronaut_pose.ntu = None  # frozen dataclass
    with pytest.raises(ValueError, match="image"):
        PoseResult.from_landmarks(np.zeros((33, 3)), np.zeros((17, 3)), np.zeros(33))


# ---------------------------------------------------------------------------------------------
# MediaPipe on the astronaut photo
# ---------------------------------------------------------------------------------------------
def test_image_mode_finds_the_astronaut(image_estimator, astronaut_pose):
    assert isinstance(image_estimator, PoseEstimator)
    r = astronaut_pose
    assert r.world.shape == (33, 3) and r.image.shape == (33, 3) and r.visibility.shape == (33,)
    assert r.ntu.shape == (25, 3) and r.ntu_confidence.shape == (25,)
    assert all(a.dtype == np.float32 for a in (r.world, r.image, r.visibility, r.ntu, r.ntu_confidence))
    assert np.isfinite(r.ntu).all() and np.isfinite(r.ntu_confidence).all()
    np.testing.assert_allclose(r.ntu, to_ntu25(r.world, "mediapipe33"))
    np.testing.assert_array_equal(r.ntu_confidence, ntu_confidence(r.visibility))

    # docs/live_input.md#the-pose-model, tolerance 0.03 (Tasks 1.2.2 vs legacy: <= 0.008)
    tol = 0.03
    np.testing.assert_allclose(r.image[0, :2], [0.435, 0.250], atol=tol)  # nose
    # The subject's left shoulder is on the image's right.
    np.testing.assert_allclose(r.image[MP_LEFT_SHOULDER, :2], [0.598, 0.501], atol=tol)
    np.testing.assert_allclose(r.image[MP_RIGHT_SHOULDER, :2], [0.220, 0.469], atol=tol)
    np.testing.assert_allclose(r.world[MP_LEFT_SHOULDER], [0.202, -0.460, -0.051], atol=tol)
    np.testing.assert_allclose(r.world[MP_RIGHT_SHOULDER], [-0.126, -0.458, -0.108], atol=tol)
    np.testing.assert_allclose(r.world[0], [0.061, -0.614, -0.273], atol=tol)  # nose nearer than the hips
    assert r.visibility[[0, 11, 12]].min() > 0.9 and r.visibility[25:].max() < 0.2  # legs out of frame

    # NTU camera axes: x to the sensor's left, y up, z away.
    ntu = r.ntu
    np.testing.assert_allclose(ntu[J["shoulder_left"]], [-0.202, 0.460, -0.051], atol=tol)
    assert ntu[J["shoulder_left"], 0] < ntu[J["shoulder_right"], 0]  # facing the camera
    assert ntu[J["head"], 1] > ntu[J["spine_shoulder"], 1] > ntu[J["spine_base"], 1] + 0.3  # y up
    assert chirality_z(ntu) == pytest.approx(0.149, abs=0.03)


def test_no_person_gives_none(image_estimator):
    assert image_estimator.estimate(np.full((240, 320, 3), 127, np.uint8), 0) is None


def test_mirrored_photo_swaps_which_arm_is_left(image_estimator, astronaut, astronaut_pose):
    """The estimator uses the frame as given. MediaPipe labels sides from the body it sees, so a
    mirrored frontal photo is still a correctly-handed person (chirality > 0) but its *left* arm is
    the astronaut's right one: a selfie-flipped webcam frame would swap the user's hands."""
    mirrored = image_estimator.estimate(np.ascontiguousarray(astronaut[:, ::-1]), 1)
    assert mirrored is not None
    a, m = astronaut_pose.image, mirrored.image
    for left, right in ((MP_LEFT_SHOULDER, MP_RIGHT_SHOULDER), (MP_LEFT_ELBOW, MP_RIGHT_ELBOW)):
        assert m[right, 0] == pytest.approx(1.0 - a[left, 0], abs=0.05)
        assert m[left, 0] == pytest.approx(1.0 - a[right, 0], abs=0.05)
        assert m[right, 1] == pytest.approx(a[left, 1], abs=0.05)
    # "Left" is on the image's right in both (a frontal person), but it is a different arm: the
    # astronaut's own left shoulder, on the right of the photo, is labelled right in the mirror.
    assert a[MP_LEFT_SHOULDER, 0] > 0.5 and m[MP_LEFT_SHOULDER, 0] > 0.5
    assert m[MP_RIGHT_SHOULDER, 0] == pytest.approx(1.0 - a[MP_LEFT_SHOULDER, 0], abs=0.05)
    assert chirality_z(mirrored.ntu) > 0


def test_video_mode_tracks_a_sequence(model_path, astronaut):
    with MediaPipePoseEstimator(model_path, running_mode="video") as est:
        results = [est.estimate(astronaut, 33 * i) for i in range(10)]
        assert all(r is not None for r in results)
        assert [r.timestamp_ms for r in results] == [33 * i for i in range(10)]
        for r in results:
            assert np.isfinite(r.ntu).all() and chirality_z(r.ntu) > 0.1
        # A repeated timestamp and one going back in time are bumped, not fatal.
        again = est.estimate(astronaut, 297)
        back = est.estimate(astronaut, 100)
        assert again is not None and again.timestamp_ms == 298
        assert back is not None and back.timestamp_ms == 299
        # The same still frame: the well-seen joints stay put (hallucinated legs may drift).
        seen = results[0].ntu_confidence > 0.9
        assert seen.sum() >= 5
        np.testing.assert_allclose(results[-1].ntu[seen], results[0].ntu[seen], atol=0.05)
    assert est.closed
    with pytest.raises(RuntimeError, match="closed"):
        est.estimate(astronaut, 1000)
    est.close()  # idempotent


def test_bad_frames_are_rejected(image_estimator, astronaut):
    with pytest.raises(ValueError, match="uint8"):
        image_estimator.estimate(astronaut.astype(np.float32), 0)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        image_estimator.estimate(astronaut[..., 0], 0)
    with pytest.raises(ValueError, match="running_mode"):
        MediaPipePoseEstimator("unused.task", running_mode="live")


# ---------------------------------------------------------------------------------------------
# Frame sources
# ---------------------------------------------------------------------------------------------
def test_video_file_source_feeds_the_estimator(tmp_path, model_path, astronaut):
    cv2 = import_cv2()
    video = tmp_path / "astronaut.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (512, 512))
    assert writer.isOpened()
    for _ in range(6):
        writer.write(cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    writer.release()

    with VideoFileSource(video) as source, MediaPipePoseEstimator(model_path) as est:
        assert (source.width, source.height, source.fps) == (512, 512, 10.0)
        frames = list(source)
        assert [t for _, t in frames] == [0, 100, 200, 300, 400, 500]
        frame = frames[0][0]
        assert frame.dtype == np.uint8 and frame.shape == (512, 512, 3)
        assert np.abs(frame.astype(int) - astronaut).mean() < 8  # RGB, not BGR (JPEG loss only)
        poses = [est.estimate(f, t) for f, t in frames]
        assert all(p is not None and chirality_z(p.ntu) > 0.1 for p in poses)
        assert len(list(source)) == 6  # iterating again starts over


def test_sources_give_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="no such video file"):
        VideoFileSource(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    with pytest.raises(SourceError, match="cannot open as a video"):
        VideoFileSource(junk)
    with pytest.raises(SourceError, match="camera 99"):
        CameraSource(99)


def test_import_is_light_and_keeps_qt_environment():
    code = (
        "import os, sys\n"
        "import engine.pose\n"
        "assert 'mediapipe' not in sys.modules and 'cv2' not in sys.modules, 'heavy import'\n"
        "os.environ.pop('QT_QPA_PLATFORM_PLUGIN_PATH', None)\n"
        "from engine.pose.estimator import import_cv2, import_mediapipe\n"
        "import_cv2(); import_mediapipe()\n"
        "assert 'QT_QPA_PLATFORM_PLUGIN_PATH' not in os.environ, os.environ['QT_QPA_PLATFORM_PLUGIN_PATH']\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=str(Path(__file__).resolve().parents[2]))
    assert proc.returncode == 0, proc.stderr
