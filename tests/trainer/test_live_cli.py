"""The Live pipeline without a window: ``zsar recognize VIDEO`` and ``zsar bench pose`` on a video of
real photo frames (the astronaut), with real MediaPipe and the default model."""

from __future__ import annotations

import json

import pytest

from tests.trainer.conftest import assert_one_line_error, zsar


@pytest.fixture(scope="module")
def photo_video(tmp_path_factory):
    pytest.importorskip("skimage")
    from engine.pose import provision_pose_model
    from engine.pose.photo_video import write_photo_video

    provision_pose_model()  # the real model in the cache (built from the wheel the first time)
    return write_photo_video(tmp_path_factory.mktemp("video") / "astronaut.avi", frames=75)


def test_recognize_a_video_runs_pose_and_the_streaming_recognizer(photo_video):
    result = zsar("recognize", str(photo_video), "--actions", "wave; squat; clap; jump", "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    seq = json.loads(result.stdout)["sequences"][0]
    assert seq["frames"] == 75 and seq["frames_with_person"] >= 65
    assert sorted(r["name"] for r in seq["ranked"]) == ["clap", "jump", "squat", "wave"]
    assert len(seq["windows"]) >= 1 and seq["windows"][0]["window"][1] >= 59  # a 60-frame window first


def test_bench_pose_prints_its_figures(photo_video):
    result = zsar("bench", "pose", "--video", str(photo_video), "--frames", "40", "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout)
    assert r["frames"] == 40 and r["frames_with_person"] >= 35 and r["end_to_end_fps"] > 0
    assert r["pose"]["median_ms"] > 0 and r["stride"] == 8


def test_a_video_that_is_not_one_is_a_clear_error(tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"not a video at all")
    assert_one_line_error(zsar("recognize", str(bad), "--actions", "wave; clap"), "clip.mp4")
