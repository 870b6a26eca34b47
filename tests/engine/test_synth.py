"""Procedural motion (engine.synth): shapes, labels, physical plausibility, handedness, views,
determinism, and that the actions differ from each other."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import numpy as np
import pytest

from engine.skeleton.geometry import chirality, facing_yaw
from engine.skeleton.layouts import NTU25_JOINTS, NTU25_PARENTS
from engine.synth import SubjectParams, generate, generate_dataset, list_actions, random_subject
from engine.synth.body import rot_y
from engine.synth.curves import keyframes, time_warp

J = {name: i for i, name in enumerate(NTU25_JOINTS)}
BONES = [(p, c) for c, p in enumerate(NTU25_PARENTS) if p >= 0]
FEET = [J["ankle_left"], J["foot_left"], J["ankle_right"], J["foot_right"]]
ACTIONS = list_actions()
# A level sensor, no jitter: geometry checks are then exact.
CLEAN = SubjectParams(noise=0.0, camera_pitch_deg=0.0)


def body(seq) -> np.ndarray:
    """(T, 25, 3) float64 joints of the only body."""
    return seq.joints[:, 0].astype(np.float64)


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """(T, num_bones)."""
    return np.stack([np.linalg.norm(joints[:, c] - joints[:, p], axis=-1) for p, c in BONES], axis=1)


def path_length(joints: np.ndarray, joint: str) -> float:
    """Distance a joint travels relative to the spine base (so whole-body motion does not count)."""
    rel = joints[:, J[joint]] - joints[:, J["spine_base"]]
    return float(np.linalg.norm(np.diff(rel, axis=0), axis=-1).sum())


def reach(joints: np.ndarray, hand: str) -> float:
    """Farthest a hand gets in front of the spine base (towards the sensor, for a subject facing it)."""
    return float((joints[:, J["spine_base"], 2] - joints[:, J[hand], 2]).max())


def test_at_least_twelve_actions_named_in_plain_words():
    assert len(ACTIONS) >= 12
    for name in ACTIONS:
        assert re.fullmatch(r"[a-z]+( [a-z]+)*", name), name
    for expected in ("wave right hand", "wave left hand", "clap", "squat", "jump", "kick", "bow",
                     "sit down", "stand up", "drink", "walk in place", "turn around"):  # fmt: skip
        assert expected in ACTIONS


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_generates_a_labelled_procedural_clip(action):
    seq = generate(action, seed=1)
    assert seq.joints.dtype == np.float32
    assert seq.joints.ndim == 4 and seq.joints.shape[1:] == (1, 25, 3)
    assert 45 <= seq.num_frames <= 160
    assert np.isfinite(seq.joints).all()
    assert seq.fps == 30.0
    assert seq.label == action and seq.label_id == ACTIONS.index(action)
    assert seq.source_format == "procedural" and seq.dataset == "procedural"
    assert seq.meta["procedural"] is True
    assert seq.num_bodies == 1
    # Plausible place in front of the sensor.
    assert 2.0 < np.median(seq.joints[..., 2]) < 4.0


def test_num_frames_and_fps_override():
    seq = generate("clap", seed=0, num_frames=64, fps=15.0)
    assert seq.num_frames == 64 and seq.fps == 15.0
    with pytest.raises(ValueError):
        generate("clap", num_frames=1)
    with pytest.raises(KeyError, match="procedural action"):
        generate("juggle")


@pytest.mark.parametrize("action", ACTIONS)
def test_bone_lengths_constant_within_a_clip(action):
    clean = bone_lengths(body(generate(action, seed=2, subject=CLEAN)))
    assert np.all(clean.std(axis=0) < 1e-5)  # rigid kinematics: float32 rounding only
    noisy = bone_lengths(body(generate(action, seed=2, subject=replace(CLEAN, noise=0.005))))
    long_bones = clean[0] > 0.2
    rel_std = noisy.std(axis=0) / noisy.mean(axis=0)
    assert np.all(rel_std[long_bones] < 0.04)  # ~5 mm of jitter on 20-50 cm bones


def test_bone_lengths_differ_between_subjects():
    first, second = (replace(random_subject(np.random.default_rng(k)), noise=0.0) for k in (1, 2))
    a = bone_lengths(body(generate("clap", seed=0, subject=first)))
    b = bone_lengths(body(generate("clap", seed=0, subject=second)))
    assert np.abs(a[0] - b[0]).max() > 0.01


@pytest.mark.parametrize("action", ACTIONS)
def test_feet_on_the_floor(action):
    j = body(generate(action, seed=3, subject=CLEAN))
    floor = -CLEAN.sensor_height
    lowest = j[:, FEET, 1].min(axis=1) - floor  # the lowest foot joint of each frame
    # Kinect's foot joint sits a few cm above the floor when standing.
    for t in (0, -1):  # lead-in and lead-out: both feet down
        for foot in ("foot_left", "foot_right"):
            assert 0.0 < j[t, J[foot], 1] - floor < 0.06, (t, foot)
    if action == "jump":
        assert lowest.max() > 0.1  # it leaves the floor
        assert np.mean(lowest < 0.06) > 0.6  # but only for the flight
    else:
        assert np.all((lowest > -0.01) & (lowest < 0.06))


@pytest.mark.parametrize("action", sorted(set(ACTIONS) - {"jump", "kick", "walk in place", "turn around"}))
def test_planted_feet_do_not_slide(action):
    j = body(generate(action, seed=5, subject=CLEAN))
    ankles = j[:, [J["ankle_left"], J["ankle_right"]]][..., [0, 2]]
    assert np.ptp(ankles, axis=0).max() < 0.01


def test_standing_foot_does_not_slide_during_a_kick():
    j = body(generate("kick", seed=0, subject=CLEAN))
    stance = j[:, J["ankle_left"]][:, [0, 2]]
    kicking = j[:, J["ankle_right"]][:, [0, 2]]
    assert np.ptp(stance, axis=0).max() < 0.02
    assert np.ptp(kicking, axis=0).max() > 0.3


def test_motion_is_smooth():
    for action in ACTIONS:
        j = body(generate(action, seed=4, subject=CLEAN))
        speed = np.linalg.norm(np.diff(j, axis=0), axis=-1) * 30.0
        assert speed.max() < 10.0, action  # m/s: a jump's arm swing is fast, but never a teleport
        # Neutral lead-in and lead-out: almost still at both ends.
        assert speed[:2].max() < 0.3 and speed[-2:].max() < 0.3, action


@pytest.mark.parametrize("action", ACTIONS)
def test_chirality_positive_for_random_subjects_and_views(action):
    rng = np.random.default_rng(7)
    for k in range(4):
        subject = random_subject(rng)
        if k == 0:
            subject = replace(subject, handedness="left", view_yaw_deg=80.0)
        seq = generate(action, seed=k, subject=subject)
        assert chirality(body(seq)) > 0.3, (action, subject)


@pytest.mark.parametrize("handedness", ["right", "left"])
def test_hand_named_waves_use_that_hand_whatever_the_handedness(handedness):
    subject = replace(CLEAN, handedness=handedness)
    right = body(generate("wave right hand", seed=0, subject=subject))
    assert path_length(right, "hand_right") > 5 * path_length(right, "hand_left")
    left = body(generate("wave left hand", seed=0, subject=subject))
    assert path_length(left, "hand_left") > 5 * path_length(left, "hand_right")
    # The waving hand is up, above the head, on the correct side of the body (subject's right = +x).
    top = right[np.argmax(right[:, J["hand_right"], 1])]
    assert top[J["hand_right"], 1] > top[J["head"], 1]
    assert top[J["hand_right"], 0] > top[J["spine_base"], 0]


@pytest.mark.parametrize("action", ["drink", "punch", "point forward"])
def test_one_handed_actions_follow_handedness(action):
    for handedness in ("right", "left"):
        active, idle = f"hand_{handedness}", "hand_left" if handedness == "right" else "hand_right"
        seq = generate(action, seed=0, subject=replace(CLEAN, handedness=handedness))
        assert seq.meta["acting_side"] == handedness
        j = body(seq)
        if action == "punch":  # both fists come up to guard; only the punching one reaches out
            assert reach(j, active) > reach(j, idle) + 0.15, handedness
        else:
            assert path_length(j, active) > 5 * path_length(j, idle), (action, handedness)


def test_kick_follows_footedness():
    right = body(generate("kick", seed=0, subject=CLEAN))
    left = body(generate("kick", seed=0, subject=replace(CLEAN, handedness="left")))
    assert path_length(right, "foot_right") > 5 * path_length(right, "foot_left")
    assert path_length(left, "foot_left") > 5 * path_length(left, "foot_right")


def test_deterministic_by_seed():
    a, b = generate("bow", seed=11), generate("bow", seed=11)
    np.testing.assert_array_equal(a.joints, b.joints)
    assert a.meta == b.meta
    c = generate("bow", seed=12)
    assert not np.array_equal(a.joints[: c.num_frames], c.joints[: a.num_frames])
    assert a.meta["subject"] != c.meta["subject"]
    # One seed is one made-up person, whatever the action.
    assert generate("clap", seed=11).meta["subject"] == a.meta["subject"]
    subject = random_subject(np.random.default_rng(0))
    np.testing.assert_array_equal(
        generate("jump", seed=5, subject=subject).joints, generate("jump", seed=5, subject=subject).joints
    )


@pytest.mark.parametrize("yaw", [-60.0, -20.0, 30.0, 90.0])
def test_view_yaw_turns_the_body_about_the_vertical(yaw):
    front = body(generate("clap", seed=0, subject=CLEAN))
    turned = body(generate("clap", seed=0, subject=replace(CLEAN, view_yaw_deg=yaw)))
    change = np.degrees(facing_yaw(turned[0]) - facing_yaw(front[0]))
    assert abs((change - yaw + 180) % 360 - 180) < 1.0
    # A pure rotation about y: heights and bone lengths unchanged.
    np.testing.assert_allclose(turned[..., 1], front[..., 1], atol=1e-5)
    np.testing.assert_allclose(bone_lengths(turned), bone_lengths(front), atol=1e-5)


def test_turn_around_ends_facing_away():
    j = body(generate("turn around", seed=0, subject=CLEAN))
    change = np.degrees(facing_yaw(j[-1]) - facing_yaw(j[0]))
    assert abs(abs((change + 180) % 360 - 180) - 180) < 10


def test_generate_dataset_same_subjects_across_actions():
    clips = generate_dataset(actions=["clap", "squat"], per_action=3, seed=0)
    assert [c.label for c in clips] == ["clap", "squat"] * 3
    assert [c.meta["subject_index"] for c in clips] == [0, 0, 1, 1, 2, 2]
    assert clips[0].meta["subject"] == clips[1].meta["subject"] != clips[2].meta["subject"]
    assert len(generate_dataset(per_action=1, num_frames=40)) == len(ACTIONS)


def _smooth(x: np.ndarray, k: int = 9) -> np.ndarray:
    padded = np.pad(x, ((k // 2, k // 2), (0, 0), (0, 0)), mode="edge")
    c = np.concatenate([np.zeros_like(padded[:1]), np.cumsum(padded, axis=0)])
    return (c[k:] - c[:-k]) / k


def _features(seq) -> np.ndarray:
    """Hand-crafted clip features: centred on the spine base and turned to face the sensor, then
    per joint the mean velocity, the mean speed and the spread of positions. Smoothing first keeps
    the per-frame jitter from dominating the velocities."""
    j = body(seq)
    j = j - j[:, :1]
    j = j @ rot_y(np.degrees(facing_yaw(j[:5].mean(axis=0))))  # row vectors: undoes the view yaw
    v = np.diff(_smooth(j), axis=0) * seq.fps
    speed = np.linalg.norm(v, axis=-1)
    return np.concatenate([v.mean(axis=0).ravel(), speed.mean(axis=0), j.std(axis=0).ravel()])


def test_actions_are_distinguishable_by_a_nearest_centroid_classifier():
    clips = generate_dataset(per_action=10, seed=0)
    x = np.array([_features(c) for c in clips])
    y = np.array([c.label_id for c in clips])
    subjects = np.array([c.meta["subject_index"] for c in clips])
    correct = 0
    for held_out in range(10):  # leave one made-up subject out
        train = subjects != held_out
        mu, sd = x[train].mean(axis=0), x[train].std(axis=0) + 1e-6
        z = (x - mu) / sd
        centroids = np.stack([z[train & (y == k)].mean(axis=0) for k in range(len(ACTIONS))])
        pred = np.argmin(((z[~train, None] - centroids[None]) ** 2).sum(axis=-1), axis=1)
        correct += int((pred == y[~train]).sum())
    accuracy = correct / len(clips)
    assert accuracy >= 0.8, accuracy  # chance is 1/16


def test_generation_is_fast():
    start = time.perf_counter()
    for k in range(32):
        generate(ACTIONS[k % len(ACTIONS)], seed=k)
    per_clip = (time.perf_counter() - start) / 32
    assert per_clip < 0.05  # a few ms in practice; loose for slow CI machines


def test_time_warp_is_monotonic_and_keeps_the_ends():
    u = np.linspace(0, 1, 200)
    for seed in range(20):
        w = time_warp(u, 0.15, np.random.default_rng(seed))
        assert w[0] == 0 and abs(w[-1] - 1) < 1e-12
        assert np.all(np.diff(w) > 0)


def test_keyframes_pass_through_knots():
    u = np.array([0.0, 0.2, 0.5, 0.8, 1.0])
    out = keyframes(u, [(0.2, 1.0), (0.5, 3.0), (0.8, -1.0)])
    np.testing.assert_allclose(out, [1.0, 1.0, 3.0, -1.0, -1.0])


def test_subject_params_validated():
    with pytest.raises(ValueError):
        SubjectParams(handedness="both")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SubjectParams(timing_jitter=0.5)
