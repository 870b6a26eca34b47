import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.skeleton.geometry import chirality
from engine.skeleton.preprocess import (
    SPINE_MID,
    SPINE_SHOULDER,
    PreprocessConfig,
    preprocess,
    preprocess_many,
    resize_time,
)

from .clips import rot_x, rot_y, transform, waving_clip

FULL = dict(p_interval=(1.0,))


@pytest.mark.parametrize("t,window", [(40, 64), (103, 64), (64, 64), (7, 50), (300, 50)])
def test_resize_time_matches_torch_bilinear_and_cv2_linear(t, window):
    x = np.random.default_rng(0).normal(size=(t, 2, 25, 3)).astype(np.float32)
    ours = resize_time(x, window)
    # CTR-GCN: (C*V*M, T) image, bilinear, align_corners=False
    img = torch.from_numpy(x.reshape(t, -1).T.copy())[None, None]
    ref = F.interpolate(img, size=(img.shape[2], window), mode="bilinear", align_corners=False)[0, 0].T
    np.testing.assert_allclose(ours.reshape(window, -1), ref.numpy(), atol=1e-5)
    # AimCLR: cv2.resize of a (T, V, C) image to (window, V)
    body = x[:, 0]
    ref_cv = cv2.resize(body, (25, window), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(ours[:, 0], ref_cv, atol=1e-5)


def test_ctr_gcn_origin_is_spine_mid_of_the_first_valid_frame_and_absent_stays_zero():
    clip = waving_clip(40, bodies=2)
    clip[:5] = 0.0  # frames with no body are dropped first
    clip[10:20, 1] = 0.0  # actor 2 missing for a while
    out = preprocess(clip, PreprocessConfig(window=35, **FULL))
    assert out.shape == (3, 35, 25, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0, SPINE_MID, 0], 0.0, atol=1e-6)
    # actor 2's absent frames 10..19 of the 35 kept frames (5..14 after the drop) stay exactly zero
    assert np.all(out[:, 6:14, :, 1] == 0)
    assert np.any(out[:, 20:, :, 1] != 0)


def test_ctr_gcn_is_translation_invariant_and_keeps_the_view():
    clip = waving_clip(50)
    cfg = PreprocessConfig(window=64)
    a = preprocess(clip, cfg)
    b = preprocess(transform(clip, np.eye(3), (1.0, -0.5, 2.0)), cfg)
    np.testing.assert_allclose(a, b, atol=1e-5)
    c = preprocess(transform(clip, rot_y(1.0)), cfg)
    assert np.abs(a - c).max() > 0.1  # CTR-GCN does not normalise the view


def test_centre_crop_and_random_crop():
    clip = waving_clip(100)
    centre = preprocess(clip, PreprocessConfig(window=50, p_interval=(0.5,)))
    # a centre crop of 0.5 keeps frames 25..74; resampled to 50 frames they are those frames exactly,
    # still relative to the spine mid of frame 0 (the translation precedes the crop)
    expected = clip[25:75, 0] - clip[0, 0, SPINE_MID]
    np.testing.assert_allclose(centre[:, :, :, 0], expected.transpose(2, 0, 1), atol=1e-5)
    cfg = PreprocessConfig(window=64, p_interval=(0.5, 1.0), min_crop=64)
    r1 = preprocess(clip, cfg, np.random.default_rng(7))
    r2 = preprocess(clip, cfg, np.random.default_rng(7))
    r3 = preprocess(clip, cfg, np.random.default_rng(8))
    np.testing.assert_array_equal(r1, r2)
    assert not np.array_equal(r1, r3)


def test_aimclr_relative_to_spine_shoulder_and_shoulders_on_x():
    clip = transform(waving_clip(60, bodies=2), rot_y(0.7), (0.3, 0.0, 1.0))
    out = preprocess(clip, PreprocessConfig(style="aimclr", window=50))
    assert out.shape == (3, 50, 25, 2)
    np.testing.assert_allclose(out[:, :, SPINE_SHOULDER, :], 0.0, atol=1e-6)
    shoulders = out[:, :, 8, 0] - out[:, :, 4, 0]  # right - left, per frame
    assert np.all(shoulders[0] > 0.3) and np.abs(shoulders[2]).max() < 1e-3
    # a rotation about y leaves y untouched, so the heights are those of the relative input
    other = transform(waving_clip(60, bodies=2), rot_y(-0.5))
    other = preprocess(other, PreprocessConfig(style="aimclr", window=50))
    np.testing.assert_allclose(out[1], other[1], atol=1e-5)
    # and the yaw is undone (both yaws keep the shoulder z sign constant, so the sign quirk is moot)
    # (to within the 1e-4 the reference adds to the norm before arccos)
    np.testing.assert_allclose(out, other, atol=1e-3)


def test_view_normalisation_undoes_camera_yaw_pitch_and_position_but_not_a_mirror():
    clip = waving_clip(45)
    cfg = PreprocessConfig(style="view", window=32)
    ref = preprocess(clip, cfg)
    for yaw, pitch in [(0.4, 0.0), (2.5, 0.2), (-1.2, -0.3)]:
        moved = transform(clip, rot_x(pitch) @ rot_y(yaw), (0.5, 0.2, -1.0))
        np.testing.assert_allclose(preprocess(moved, cfg), ref, atol=1e-4)
    mirrored = clip * np.array([-1, 1, 1], dtype=np.float32)
    assert np.abs(preprocess(mirrored, cfg) - ref).max() > 0.1
    body = ref[:, :, :, 0].transpose(1, 2, 0)
    assert chirality(body, forward=(0, 0, -1)) > 0.9  # faces the sensor, left still left


def test_view_torso_scale():
    clip = waving_clip(30)
    cfg = PreprocessConfig(style="view", window=30, torso_length=1.0, **FULL)
    a = preprocess(clip, cfg)
    b = preprocess(transform(clip * 1.0, np.eye(3) * 1.7), cfg)
    np.testing.assert_allclose(a, b, atol=1e-4)
    torso = np.linalg.norm(a[:, :, 20, 0] - a[:, :, 0, 0], axis=0).mean()
    assert torso == pytest.approx(1.0, rel=1e-3)


def test_all_styles_handle_empty_and_single_frame_input_and_batches():
    for style in ("ctr_gcn", "aimclr", "view"):
        cfg = PreprocessConfig(style=style, window=16)
        assert np.all(preprocess(np.zeros((5, 1, 25, 3), np.float32), cfg) == 0)
        one = preprocess(waving_clip(1), cfg)
        assert one.shape == (3, 16, 25, 2) and np.isfinite(one).all()
        batch = preprocess_many([waving_clip(20), waving_clip(33, bodies=2)], cfg)
        assert batch.shape == (2, 3, 16, 25, 2)


def test_config_validation():
    with pytest.raises(ValueError):
        PreprocessConfig(style="pyskl")
    with pytest.raises(ValueError):
        PreprocessConfig(p_interval=(0.5, 1.0, 2.0))
    assert PreprocessConfig.from_dict({"style": "view", "p_interval": [0.5, 1.0]}).p_interval == (0.5, 1.0)
