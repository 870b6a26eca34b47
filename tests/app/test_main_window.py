"""The main window with the default bundle: tabs, the class-set editor changing what is recognised,
real files playing in the 3D view, the Live pipeline on a video of real photo frames, and every
failure the window must survive (each shows its message and leaves the window usable)."""

from __future__ import annotations

import numpy as np

from app.main import demo_clips, save_screenshots
from app.services.live_service import SourceSpec
from engine.types import ClassSet
from tests.app.conftest import ARTIFACTS, needs_gl
from tests.conftest import shared_path

UTD_FILE = ("utd_mhad", "Skeleton", "a10_s1_t1_skeleton.mat")


def test_window_has_live_files_and_trainer_tabs_and_a_status_bar(fresh):
    w = fresh
    assert [w.tabs.tabText(i) for i in range(w.tabs.count())] == ["Live", "Files", "Trainer"]
    assert w.model_label.text().startswith("default.zsar") and w.device_label.text() == "device cpu"
    assert w.editor.class_set == ClassSet.from_dataset("everyday_actions")


def test_typing_a_new_class_set_changes_the_ranked_names(fresh, qtbot):
    w = fresh
    w.tabs.setCurrentWidget(w.files_tab)
    with qtbot.waitSignal(w.recognizer.sequence_recognised, timeout=60_000):
        w.files_tab.show_sequences(demo_clips(), "demo clips")
    assert set(w.files_tab.bars.names()) <= set(ClassSet.from_dataset("everyday_actions").names)
    w.editor.text.clear()
    qtbot.keyClicks(w.editor.text, "juggling; swimming; playing guitar")
    qtbot.waitUntil(lambda: set(w.files_tab.bars.names()) == {"juggling", "swimming", "playing guitar"},
                    timeout=30_000)
    probabilities = [bar.value() for bar in w.files_tab.bars._bars[:3]]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) > 900  # sum ~1000
    w.editor.set_class_set(ClassSet.from_dataset("everyday_actions"))


def test_a_real_file_opens_and_plays(fresh, qtbot):
    w = fresh
    path = shared_path(*UTD_FILE)
    w.files_tab.open_file(path)
    qtbot.waitUntil(lambda: w.files_tab.sequence is not None and w.files_tab.sequence.name == path.stem,
                    timeout=30_000)
    assert "labelled: right hand draw circle (counter clockwise)" in w.files_tab.info.text()
    start = w.files_tab.frames_played
    qtbot.waitUntil(lambda: w.files_tab.frames_played >= start + 5, timeout=10_000)
    assert w.files_tab.slider.value() == w.files_tab.frame
    w.files_tab.play_button.setChecked(True)  # pause
    paused = w.files_tab.frames_played
    qtbot.wait(300)
    assert w.files_tab.frames_played == paused
    w.files_tab.slider.setValue(10)  # scrub
    assert w.files_tab.frame == 10 and w.files_tab.frame_label.text().startswith("11/")
    w.files_tab.play_button.setChecked(False)
    qtbot.waitUntil(lambda: bool(w.files_tab.bars.names()), timeout=30_000)


def _skeleton_pixels(view) -> int:
    img = view.grabFramebuffer().convertToFormat(view.grabFramebuffer().format().Format_RGB32)
    ptr = img.constBits()
    a = np.frombuffer(ptr, np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine() // 4, 4)
    b, g, r = a[..., 0].astype(int), a[..., 1].astype(int), a[..., 2].astype(int)
    return int(((b > 180) & (g > 120) & (r < 140)).sum())  # body 1's blue, far from the dark background


@needs_gl
def test_the_3d_view_draws_the_skeleton(fresh, qtbot):
    w = fresh
    w.tabs.setCurrentWidget(w.files_tab)
    w.files_tab.show_sequences(demo_clips()[:1], "demo clip")
    view = w.files_tab.skeleton_view
    view.set_frame(None)
    empty = _skeleton_pixels(view)
    view.set_frame(w.files_tab.sequence.joints[0])
    drawn = _skeleton_pixels(view)
    assert empty == 0 and drawn > 200, (empty, drawn)


def test_live_pipeline_on_a_video_of_photo_frames_gives_ntu25_skeletons(fresh, qtbot, tmp_path, monkeypatch):
    from engine.io import open_skeleton_file
    from engine.pose.photo_video import write_photo_video

    monkeypatch.setenv("ZSAR_RECORDINGS", str(tmp_path / "recordings"))
    w = fresh
    video = write_photo_video(tmp_path / "astronaut.avi", frames=90)
    w.tabs.setCurrentWidget(w.live_tab)
    with qtbot.waitSignal(w.live_service.stopped, timeout=180_000) as stopped:
        w.live_tab.start(SourceSpec(video=str(video), realtime=False))
        w.live_tab.record_button.setChecked(True)
    assert stopped.args == [""], stopped.args
    tab = w.live_tab
    assert tab.frames_seen == 90 and tab.frames_with_person >= 80
    joints = tab.latest.joints
    assert joints.shape == (25, 3) and np.isfinite(joints).all()
    assert tab.bars.names()  # the recognizer answered once the 60-frame window was full
    qtbot.waitUntil(lambda: "recording saved" in w.message_bar.text, timeout=30_000)
    recording = open_skeleton_file(next((tmp_path / "recordings").glob("*.skeleton")))[0]
    assert recording.num_frames == 90 and recording.joints.shape[2:] == (25, 3)


def test_camera_unplugged_shows_a_message_and_the_window_stays_usable(fresh, qtbot):
    w = fresh
    with qtbot.waitSignal(w.live_service.stopped, timeout=60_000):
        w.live_tab.start(SourceSpec(camera=9))
    assert "camera 9" in w.message_bar.text and w.message_bar.kind == "error"
    assert w.live_tab.camera_button.isEnabled() and not w.live_tab.stop_button.isEnabled()


def test_missing_pose_model_says_what_to_do(fresh, qtbot, tmp_path, monkeypatch):
    from engine.pose.photo_video import write_photo_video

    monkeypatch.setenv("ZSAR_CACHE", str(tmp_path / "empty-cache"))
    w = fresh
    w.live_service.allow_download = False
    try:
        with qtbot.waitSignal(w.live_service.stopped, timeout=60_000):
            w.live_tab.start(SourceSpec(video=str(write_photo_video(tmp_path / "a.avi", frames=5))))
    finally:
        w.live_service.allow_download = True
    assert "zsar pose-model" in w.message_bar.text
    assert w.live_tab.video_button.isEnabled()


def test_unreadable_file_shows_its_reason_and_keeps_the_shown_one(fresh, qtbot, tmp_path):
    w = fresh
    w.files_tab.show_sequences(demo_clips()[:1], "demo clip")
    shown = w.files_tab.sequence
    bad = tmp_path / "S001C001P001R001A001.skeleton"
    bad.write_text("103\n1\nnot a body\n")
    w.files_tab.open_file(bad)
    qtbot.waitUntil(lambda: w.message_bar.kind == "error", timeout=30_000)
    assert bad.name in w.message_bar.text and w.files_tab.sequence is shown


def test_corrupt_bundle_is_refused_and_the_model_keeps_answering(fresh, qtbot, tmp_path):
    w = fresh
    before = w.recognizer.info
    bad = tmp_path / "broken.zsar"
    bad.write_bytes(b"\x00" * 64)
    with qtbot.waitSignal(w.recognizer.errored, timeout=60_000):
        w.load_model(str(bad))
    assert "model not loaded" in w.message_bar.text and "broken.zsar" in w.message_bar.text
    assert w.recognizer.info is before and w.model_label.text().startswith("default.zsar")
    with qtbot.waitSignal(w.recognizer.sequence_recognised, timeout=60_000):
        w.files_tab.show_sequences(demo_clips()[:1], "demo clip")


def test_screenshots_of_each_tab(fresh, qtbot):
    w = fresh
    w.files_tab.show_sequences(demo_clips(), "demo clips (procedural motion)")
    qtbot.waitUntil(lambda: bool(w.files_tab.bars.names()), timeout=60_000)
    qtbot.wait(500)
    paths = save_screenshots(w, ARTIFACTS / "screenshots")
    assert [p.name for p in paths] == ["live.png", "files.png", "trainer.png"]
    from PySide6.QtGui import QImage

    for p in paths:
        img = QImage(str(p))
        assert img.width() > 600 and img.height() > 400
