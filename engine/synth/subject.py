"""Who performs a procedural clip, and where the sensor sees them from.

:class:`SubjectParams` is the variation between performers (body size and proportions, tempo,
range of motion, handedness, sensor noise) and the recording geometry (view angle, distance,
sensor height and tilt). The people are made up: :func:`random_subject` draws them from ranges
chosen to look like the NTU RGB+D recording setups, not from any real person.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from engine.synth.body import BodyProportions


@dataclass(frozen=True)
class SubjectParams:
    """A made-up performer and how the sensor sees them.

    Attributes:
        height: standing height in metres; scales every bone.
        proportions: per-bone-group length factors on top of ``height``.
        speed: tempo factor: > 1 moves faster (shorter default clips, faster repetitions).
        amplitude: range-of-motion factor for the movements (1 = nominal).
        noise: standard deviation of the per-joint Gaussian jitter in metres, like Kinect v2's
            frame-to-frame noise (a few millimetres).
        view_yaw_deg: rotation of the subject about the vertical axis, degrees; 0 faces the sensor,
            positive turns the subject towards the sensor's right (their own left), NTU's cameras
            2 and 3 see subjects at about +-45.
        camera_pitch_deg: downward tilt of the sensor, degrees (the floor then slopes in camera y).
        sensor_height: sensor height above the floor in metres; the floor is at ``y = -sensor_height``
            when ``camera_pitch_deg`` is 0.
        distance: depth of the subject (their feet) from the sensor, metres (NTU: about 2.5-3.5).
        lateral_offset: sideways position of the subject in camera x, metres.
        handedness: ``"right"`` or ``"left"``; actions that follow handedness ("drink", "punch",
            "kick", "point forward") use this side; hand-named actions ("wave right hand") do not.
        timing_jitter: strength of the smooth random time warp of a clip (0 = none, ~0.1 = a
            clearly uneven tempo).
    """

    height: float = 1.72
    proportions: BodyProportions = field(default_factory=BodyProportions)
    speed: float = 1.0
    amplitude: float = 1.0
    noise: float = 0.005
    view_yaw_deg: float = 0.0
    camera_pitch_deg: float = 0.0
    sensor_height: float = 1.0
    distance: float = 3.0
    lateral_offset: float = 0.0
    handedness: Literal["right", "left"] = "right"
    timing_jitter: float = 0.05

    def __post_init__(self) -> None:
        if self.handedness not in ("right", "left"):
            raise ValueError(f"handedness must be 'right' or 'left', got {self.handedness!r}")
        if not (0.5 < self.height < 2.5):
            raise ValueError(f"height {self.height} m is not a person's height")
        if self.speed <= 0 or self.amplitude <= 0 or self.noise < 0:
            raise ValueError("speed and amplitude must be positive and noise non-negative")
        if not 0 <= self.timing_jitter <= 0.15:
            # Above ~0.16 the time warp could run backwards (see curves.time_warp).
            raise ValueError(f"timing_jitter must be in [0, 0.15], got {self.timing_jitter}")

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (for ``SkeletonSequence.meta``)."""
        return asdict(self)


def random_subject(rng: np.random.Generator) -> SubjectParams:
    """Draw a made-up performer and view.

    Ranges: adults 1.55-1.92 m, bone groups +-4 %, tempo 0.8-1.25x, range of motion 0.85-1.15x,
    3-8 mm jitter, views within +-50 degrees of frontal, 2.5-3.5 m away, a sensor 0.8-1.9 m high
    aimed at the person, 15 % left-handed.

    Args:
        rng: the generator to draw from (the caller owns seeding, so results are reproducible).
    """
    distance = float(rng.uniform(2.5, 3.5))
    sensor_height = float(rng.uniform(0.8, 1.9))
    # A sensor is aimed at the person: tilted down towards about 1 m above the floor where they
    # stand (a low sensor tilted down would see the feet in the middle of the image).
    pitch = float(np.degrees(np.arctan2(sensor_height - 1.0, distance)) + rng.uniform(-3.0, 3.0))
    return SubjectParams(
        height=float(rng.uniform(1.55, 1.92)),
        proportions=BodyProportions.random(rng),
        speed=float(rng.uniform(0.8, 1.25)),
        amplitude=float(rng.uniform(0.85, 1.15)),
        noise=float(rng.uniform(0.003, 0.008)),
        view_yaw_deg=float(rng.uniform(-50.0, 50.0)),
        camera_pitch_deg=pitch,
        sensor_height=sensor_height,
        distance=distance,
        lateral_offset=float(rng.uniform(-0.3, 0.3)),
        handedness="left" if rng.random() < 0.15 else "right",
        timing_jitter=float(rng.uniform(0.02, 0.08)),
    )
