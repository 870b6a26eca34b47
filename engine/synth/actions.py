"""Procedural everyday actions: one small function per action, joint angles over normalised time.

Each action writes the channels of :mod:`engine.synth.body` (degrees) over a clip whose time runs
``u`` = 0 -> 1 (and ``t`` in seconds), starting and ending in the neutral standing pose, or the
seated one for "stand up", so clips have a short neutral lead-in and lead-out. Discrete actions
(a squat, a bow) stretch to fill the clip; cyclic ones (waving, walking in place) repeat at a
tempo in hertz, so a faster subject or a longer clip shows more repetitions.

Sides: hand-named actions ("wave right hand") always use that hand. Actions that follow
handedness ("drink", "punch", "kick", "point forward") use ``clip.side``, the subject's dominant
side; they are written once with side variables, and the mirror-symmetric channels of
:mod:`engine.synth.body` make the left-handed version the mirror image, joint labels unchanged.

These motions are hand-written approximations for demos and tests, never real recordings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.registry import Registry
from engine.synth.body import neutral_pose
from engine.synth.curves import bump, ease, envelope, half_wave, keyframes, mix

Pose = dict[str, np.ndarray]


@dataclass(frozen=True)
class Clip:
    """What an action function gets to write one clip.

    Attributes:
        u: ``(T,)`` normalised time in [0, 1], already randomly re-timed.
        t: ``(T,)`` the same in seconds.
        speed: the subject's tempo factor (multiplies the frequency of cyclic movements).
        amp: the subject's range-of-motion factor.
        side: the acting side, ``"right"`` or ``"left"``.
        rng: generator for this clip's small variations (repetition count, depth, direction).
    """

    u: np.ndarray
    t: np.ndarray
    speed: float
    amp: float
    side: str
    rng: np.random.Generator

    @property
    def other(self) -> str:
        return "left" if self.side == "right" else "right"

    @property
    def sign(self) -> float:
        """+1 when acting with the right side, -1 with the left: multiplies lateral trunk channels
        (lean, twist) so that they mirror with the limbs."""
        return 1.0 if self.side == "right" else -1.0

    @property
    def seconds(self) -> float:
        return float(self.t[-1] - self.t[0]) if len(self.t) > 1 else 0.0

    def pose(self) -> Pose:
        """The neutral pose for this clip plus a little postural sway, which a standing person
        always has (a perfectly still skeleton looks like a mannequin)."""
        p = neutral_pose(len(self.u))
        f = self.rng.uniform(0.15, 0.35)  # hertz
        ph = self.rng.uniform(0, 2 * np.pi, 3)
        p["root_roll"] += 0.8 * np.sin(2 * np.pi * f * self.t + ph[0])
        p["root_pitch"] += 0.6 * np.sin(2 * np.pi * 0.7 * f * self.t + ph[1])
        p["neck_flex"] += 2.0 * np.sin(2 * np.pi * 0.5 * f * self.t + ph[2])
        return p

    def phase(self, hertz: float) -> np.ndarray:
        """Cycle phase in radians at ``hertz`` times the subject's tempo, random start."""
        return 2 * np.pi * hertz * self.speed * self.t + self.rng.uniform(0, 2 * np.pi)


@dataclass(frozen=True)
class ActionSpec:
    """A registered procedural action.

    Attributes:
        name: the label, plain lower-case words.
        fn: ``Clip -> Pose`` (channels in degrees); may add ``"lift"`` (metres above the floor)
            and ``"right_support"`` / ``"left_support"`` (the share of the weight on that foot,
            when the default, "the lower foot carries the body", is not right).
        duration_s: natural length of the clip at tempo 1.
        follows_handedness: acts with the subject's dominant side; otherwise with ``side``.
        side: the side of a hand-specific action (ignored when it follows handedness).
        description: one sentence, usable as a text prompt.
    """

    name: str
    fn: Callable[[Clip], Pose]
    duration_s: float
    follows_handedness: bool = False
    side: str = "right"
    description: str = ""


ACTIONS: Registry[ActionSpec] = Registry("procedural action")


def _action(
    name: str, duration_s: float, description: str, follows_handedness: bool = False, side: str = "right"
) -> Callable[[Callable[[Clip], Pose]], Callable[[Clip], Pose]]:
    def decorator(fn: Callable[[Clip], Pose]) -> Callable[[Clip], Pose]:
        ACTIONS.register(name)(ActionSpec(name, fn, duration_s, follows_handedness, side, description))
        return fn

    return decorator


def _blend(p: Pose, channel: str, target: np.ndarray | float, w: np.ndarray | float) -> None:
    p[channel] = mix(p[channel], target, w)


# --- arms -------------------------------------------------------------------------------------


def _wave(c: Clip, side: str) -> Pose:
    p, u = c.pose(), c.u
    up = envelope(u, (0.05, 0.25), (0.76, 0.96))
    waving = envelope(u, (0.2, 0.3), (0.7, 0.8))
    elev = 100.0 + 15.0 * (c.amp - 1.0) + c.rng.uniform(-8, 8)
    _blend(p, f"{side}_sh_elev", elev, up)
    _blend(p, f"{side}_sh_plane", 25.0, up)
    _blend(p, f"{side}_sh_rot", 65.0, up)
    # Forearm upright (elbow angle = 180 - upper-arm elevation), rocked side to side by the elbow.
    swing = 25.0 * c.amp * np.sin(c.phase(c.rng.uniform(1.8, 2.4))) * waving
    _blend(p, f"{side}_elbow_flex", 180.0 - elev, up)
    p[f"{side}_elbow_flex"] += swing
    p[f"{side}_wrist_flex"] += 0.4 * swing
    p["spine_lat"] -= (3.0 if side == "right" else -3.0) * up  # lean away from the raised arm
    return p


@_action("wave right hand", 3.5, "raising the right hand and waving it from side to side", side="right")
def wave_right_hand(c: Clip) -> Pose:
    return _wave(c, "right")


@_action("wave left hand", 3.5, "raising the left hand and waving it from side to side", side="left")
def wave_left_hand(c: Clip) -> Pose:
    return _wave(c, "left")


@_action("clap", 3.0, "clapping both hands together in front of the chest")
def clap(c: Clip) -> Pose:
    p, u = c.pose(), c.u
    up = envelope(u, (0.08, 0.25), (0.78, 0.93))
    clapping = envelope(u, (0.22, 0.3), (0.72, 0.8))
    # 0 = hands together; the clap opens by ~20 cm on each side. The two key poses were solved
    # for with the body model: palms meeting 33 cm in front of the chest, elbows out and down.
    opening = (0.5 + 0.5 * np.cos(c.phase(c.rng.uniform(2.0, 2.8)))) * clapping * c.amp
    for s in ("right", "left"):
        _blend(p, f"{s}_sh_elev", mix(36.0, 40.0, opening), up)
        _blend(p, f"{s}_sh_plane", mix(53.0, 14.0, opening), up)
        _blend(p, f"{s}_sh_rot", mix(-36.0, -5.0, opening), up)
        _blend(p, f"{s}_elbow_flex", mix(103.0, 113.0, opening), up)
    return p


@_action("arm circles", 4.0, "holding both arms out to the sides and circling them")
def arm_circles(c: Clip) -> Pose:
    p, u = c.pose(), c.u
    up = envelope(u, (0.06, 0.22), (0.8, 0.94))
    circling = envelope(u, (0.18, 0.3), (0.72, 0.84))
    phase = c.phase(c.rng.uniform(1.0, 1.4)) * c.rng.choice([-1.0, 1.0])  # forwards or backwards
    radius = 22.0 * c.amp * circling
    for s in ("right", "left"):
        _blend(p, f"{s}_sh_elev", 90.0 + radius * np.sin(phase), up)
        _blend(p, f"{s}_sh_plane", 5.0 + radius * np.cos(phase), up)
        _blend(p, f"{s}_elbow_flex", 4.0, up)
    return p


@_action("raise both hands", 3.5, "raising both hands high above the head")
def raise_both_hands(c: Clip) -> Pose:
    p, u = c.pose(), c.u
    up = envelope(u, (0.12, 0.4), (0.62, 0.88))
    for s in ("right", "left"):
        _blend(p, f"{s}_sh_elev", min(168.0 * c.amp, 178.0), up)
        _blend(p, f"{s}_sh_plane", 25.0, up)
        _blend(p, f"{s}_sh_rot", 15.0, up)
        _blend(p, f"{s}_elbow_flex", 8.0, up)
        p[f"{s}_clav_elev"] += 12.0 * up  # the shoulders rise with the arms
    p["neck_flex"] -= 10.0 * up  # and the head tips back to look up
    return p


@_action("punch", 3.0, "punching forward with the fist from a guard", follows_handedness=True)
def punch(c: Clip) -> Pose:
    p, u = c.pose(), c.u
    guard = envelope(u, (0.04, 0.22), (0.78, 0.96))
    for s in ("right", "left"):  # fists in front of the chin (solved for with the body model)
        _blend(p, f"{s}_sh_plane", 82.0, guard)
        _blend(p, f"{s}_sh_elev", 38.0, guard)
        _blend(p, f"{s}_sh_rot", -14.0, guard)
        _blend(p, f"{s}_elbow_flex", 128.0, guard)
    n = int(c.rng.integers(2, 4))
    starts = np.linspace(0.24, 0.72 - 0.14, n)
    strike = sum(bump(u, s0, s0 + 0.14) for s0 in starts)
    arm = c.side
    _blend(p, f"{arm}_sh_elev", min(88.0 * c.amp, 100.0), strike)
    _blend(p, f"{arm}_sh_plane", 95.0, strike)  # a little across the body, at the chin's height
    _blend(p, f"{arm}_elbow_flex", 3.0, strike)
    p["spine_rot"] -= 20.0 * c.sign * strike  # the punching shoulder drives forward
    return p


@_action("drink", 3.5, "lifting a cup to the mouth with one hand and drinking", follows_handedness=True)
def drink(c: Clip) -> Pose:
    p, u = c.pose(), c.u
    arm = c.side
    at_mouth = envelope(u, (0.12, 0.38), (0.66, 0.88))
    sip = bump(u, 0.38, 0.66)
    # Hand a few cm in front of the mouth with the elbow low and forward (solved for with the
    # body model); the elbow lifts a little to tip the cup.
    _blend(p, f"{arm}_sh_plane", 81.0, at_mouth)
    _blend(p, f"{arm}_sh_elev", 50.0 + 8.0 * sip, at_mouth)
    _blend(p, f"{arm}_sh_rot", -26.0, at_mouth)
    _blend(p, f"{arm}_elbow_flex", 136.0, at_mouth)
    p[f"{arm}_wrist_flex"] += 20.0 * sip  # tip the cup
    p["neck_flex"] -= 12.0 * sip  # and the head back
    return p


@_action("point forward", 3.0, "pointing straight ahead with one outstretched arm", follows_handedness=True)
def point_forward(c: Clip) -> Pose:
    p, u = c.pose(), c.u
    arm = c.side
    out = envelope(u, (0.12, 0.32), (0.7, 0.88))
    _blend(p, f"{arm}_sh_plane", 82.0 + c.rng.uniform(-10, 10), out)
    _blend(p, f"{arm}_sh_elev", 85.0 + c.rng.uniform(-8, 8), out)
    _blend(p, f"{arm}_sh_rot", 0.0, out)
    _blend(p, f"{arm}_elbow_flex", 3.0, out)
    p[f"{arm}_wrist_flex"] -= 10.0 * out  # the hand in line with the arm, finger out
    p["spine_rot"] -= 6.0 * c.sign * out  # reaching the shoulder forward a little
    return p


# --- whole body -------------------------------------------------------------------------------


@_action("squat", 3.5, "bending the knees to squat down and standing back up")
def squat(c: Clip) -> Pose:
    p, u = c.pose(), c.u
    d = envelope(u, (0.14, 0.42), (0.55, 0.84)) * min(c.amp, 1.1) * c.rng.uniform(0.85, 1.0)
    p["root_pitch"] += 28.0 * d  # the trunk leans forward to keep the weight over the feet
    p["spine_flex"] += 8.0 * d
    p["neck_flex"] -= 20.0 * d  # eyes stay on the horizon
    for s in ("right", "left"):
        p[f"{s}_hip_flex"] += 100.0 * d
        p[f"{s}_knee_flex"] += 112.0 * d
        _blend(p, f"{s}_sh_plane", 90.0, d)  # arms forward for balance
        _blend(p, f"{s}_sh_elev", 75.0, d)
    return p


@_action("jump", 3.0, "jumping straight up with both feet and landing")
def jump(c: Clip) -> Pose:
    p, u = c.pose(), c.u
    height = 0.18 * c.amp * c.rng.uniform(0.8, 1.2)  # metres of flight
    flight_s = 2.0 * np.sqrt(2.0 * height / 9.81)
    t0 = 0.45  # take-off (normalised time)
    t1 = t0 + flight_s / max(c.seconds, 1e-6)
    # Counter-movement: crouch, extend onto the toes at take-off, land toes first and absorb.
    crouch = keyframes(u, [(0.16, 0.0), (0.36, 1.0), (t0, 0.0)])
    absorb = keyframes(u, [(t1, 0.0), (t1 + 0.07, 0.7), (t1 + 0.26, 0.0)])
    toes = keyframes(u, [(t0 - 0.07, 0.0), (t0, 1.0), (t1 - 0.02, 1.0), (t1 + 0.04, 0.0)])
    p["root_pitch"] += 25.0 * crouch + 15.0 * absorb
    # Arms swing back in the crouch, forward and up through take-off, and down after landing.
    swing = keyframes(u, [(0.14, 0.0), (0.32, -35.0), (t0 + 0.06, 90.0), (t1 + 0.12, 40.0), (t1 + 0.3, 0.0)])
    arms = envelope(u, (0.08, 0.18), (t1 + 0.2, t1 + 0.34))
    for s in ("right", "left"):
        p[f"{s}_hip_flex"] += 65.0 * crouch + 45.0 * absorb
        p[f"{s}_knee_flex"] += 85.0 * crouch + 60.0 * absorb - 4.0 * toes
        p[f"{s}_foot_pitch"] += -40.0 * toes
        _blend(p, f"{s}_sh_plane", 88.0, arms)
        p[f"{s}_sh_elev"] += swing
    lift = np.where((c.t >= t0 * c.seconds) & (c.t <= t1 * c.seconds),
                    0.5 * 9.81 * (c.t - t0 * c.seconds) * (t1 * c.seconds - c.t), 0.0)  # fmt: skip
    p["lift"] = lift
    return p


@_action("kick", 3.0, "kicking forward with one foot", follows_handedness=True)
def kick(c: Clip) -> Pose:
    p, u = c.pose(), c.u
    leg, stance = c.side, c.other
    high = 70.0 * c.amp + c.rng.uniform(-10, 10)
    hip = keyframes(u, [(0.18, 2.0), (0.31, -12.0), (0.46, high), (0.57, 40.0), (0.78, 2.0)])
    knee = keyframes(u, [(0.18, 4.0), (0.31, 75.0), (0.46, 6.0), (0.57, 85.0), (0.78, 4.0)])
    foot = keyframes(u, [(0.18, 0.0), (0.31, -30.0), (0.46, high - 45.0), (0.57, 0.0), (0.78, 0.0)])
    p[f"{leg}_hip_flex"], p[f"{leg}_knee_flex"], p[f"{leg}_foot_pitch"] = hip, knee, foot
    on_one_leg = envelope(u, (0.16, 0.3), (0.6, 0.78))
    # The weight goes onto the standing foot before the kicking foot leaves the floor and comes
    # back only once it is down again, so the standing foot never slides.
    p[f"{leg}_support"] = 0.5 * (1.0 - envelope(u, (0.12, 0.18), (0.78, 0.86)))
    p[f"{stance}_knee_flex"] += 12.0 * on_one_leg
    p[f"{stance}_hip_flex"] += 8.0 * on_one_leg
    p["spine_flex"] -= 12.0 * bump(u, 0.33, 0.6)  # lean back against the kick
    for s in ("right", "left"):
        _blend(p, f"{s}_sh_elev", 28.0, on_one_leg)  # arms out for balance
    return p


@_action("bow", 3.5, "bowing forward from the hips and straightening up")
def bow(c: Clip) -> Pose:
    p, u = c.pose(), c.u
    d = envelope(u, (0.15, 0.42), (0.58, 0.86))
    depth = 40.0 * c.amp * c.rng.uniform(0.85, 1.1)
    p["root_pitch"] += depth * d
    p["spine_flex"] += 15.0 * d
    p["neck_flex"] += 10.0 * d
    for s in ("right", "left"):
        # Thighs tilt a little forward of vertical so the hips go back over the heels.
        p[f"{s}_hip_flex"] += (depth + 8.0) * d
        p[f"{s}_knee_flex"] += 4.0 * d
        _blend(p, f"{s}_sh_plane", 90.0, d)  # arms hang from the tilted trunk, half following it
        _blend(p, f"{s}_sh_elev", 0.45 * (depth + 15.0), d)
    return p


@_action("walk in place", 4.0, "walking on the spot, lifting the knees and swinging the arms")
def walk_in_place(c: Clip) -> Pose:
    p, u = c.pose(), c.u
    walking = envelope(u, (0.06, 0.2), (0.8, 0.94))
    phase = c.phase(c.rng.uniform(0.8, 1.0))  # strides per second
    lift = {"right": half_wave(phase) * walking, "left": half_wave(phase + np.pi) * walking}
    for s, arm_sign in (("right", -1.0), ("left", 1.0)):
        p[f"{s}_hip_flex"] += 45.0 * c.amp * lift[s]
        p[f"{s}_knee_flex"] += 75.0 * c.amp * lift[s]
        p[f"{s}_foot_pitch"] -= 15.0 * lift[s]
        # Each arm swings against its own leg.
        _blend(p, f"{s}_sh_plane", 90.0, walking)
        p[f"{s}_sh_elev"] += 22.0 * c.amp * arm_sign * np.sin(phase) * walking
        p[f"{s}_elbow_flex"] += 25.0 * walking
    p["root_roll"] += 3.0 * np.sin(phase + np.pi) * walking  # weight shifts onto the standing foot
    return p


@_action("turn around", 4.0, "turning on the spot to face the other way")
def turn_around(c: Clip) -> Pose:
    p, u = c.pose(), c.u
    direction = c.rng.choice([-1.0, 1.0])
    p["root_yaw"] += direction * 180.0 * ease(u, 0.15, 0.85)
    stepping = envelope(u, (0.1, 0.2), (0.8, 0.9))
    phase = c.phase(c.rng.uniform(0.8, 1.0))
    for s, offset in (("right", 0.0), ("left", np.pi)):
        step = half_wave(phase + offset) * stepping
        p[f"{s}_hip_flex"] += 28.0 * step
        p[f"{s}_knee_flex"] += 45.0 * step
        p[f"{s}_elbow_flex"] += 10.0 * stepping
    # root_yaw > 0 turns to the left, spine_rot > 0 to the right: the shoulders lead the turn.
    p["spine_rot"] -= direction * 8.0 * bump(u, 0.1, 0.9)
    return p


def _sitting(c: Clip, seated: np.ndarray, moving: np.ndarray) -> Pose:
    """Standing (``seated`` = 0) to seated on an unseen chair (1); ``moving`` (0..1) leans the
    trunk forward while the hips travel, which is how people keep their weight over the feet."""
    p = c.pose()
    p["root_pitch"] += 10.0 * seated + 28.0 * moving
    p["spine_flex"] += 6.0 * moving
    for s in ("right", "left"):
        thigh = 86.0 * seated + 20.0 * moving  # thigh angle from vertical: 90 = level on the seat
        p[f"{s}_hip_flex"] = p["root_pitch"] + thigh
        p[f"{s}_knee_flex"] = 4.0 + thigh + 6.0 * seated + 12.0 * moving  # knees a little forward
        _blend(p, f"{s}_sh_plane", 90.0, np.maximum(seated, moving))
        _blend(p, f"{s}_sh_elev", 25.0 * seated + 35.0 * moving, np.maximum(seated, moving))
        _blend(p, f"{s}_elbow_flex", 55.0 * seated + 20.0 * (1 - seated), seated)  # hands on thighs
    return p


@_action("sit down", 3.5, "sitting down on a chair from standing")
def sit_down(c: Clip) -> Pose:
    return _sitting(c, ease(c.u, 0.15, 0.78), bump(c.u, 0.12, 0.82))


@_action("stand up", 3.5, "standing up from a chair")
def stand_up(c: Clip) -> Pose:
    return _sitting(c, 1.0 - ease(c.u, 0.22, 0.85), bump(c.u, 0.18, 0.88))
