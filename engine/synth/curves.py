"""Smooth time curves that procedural actions are written with (numpy, vectorised over frames).

Every curve is at least C1 so that joint velocities never jump: a skeleton model sees velocity
spikes as motion, and a viewer sees them as glitches.
"""

from __future__ import annotations

import numpy as np


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 -> 1 on [0, 1] with zero first and second derivatives at both ends (quintic)."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (x * (6.0 * x - 15.0) + 10.0)


def ease(u: np.ndarray, start: float, end: float) -> np.ndarray:
    """0 before ``start``, 1 after ``end``, smooth in between."""
    return smoothstep((u - start) / (end - start))


def envelope(u: np.ndarray, up: tuple[float, float], down: tuple[float, float]) -> np.ndarray:
    """0 -> 1 over ``up``, held, 1 -> 0 over ``down`` (each an interval of normalised time)."""
    return ease(u, *up) * (1.0 - ease(u, *down))


def bump(u: np.ndarray, start: float, end: float) -> np.ndarray:
    """0 -> 1 -> 0 over [start, end], a raised cosine."""
    x = np.clip((u - start) / (end - start), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * x)


def mix(a: np.ndarray | float, b: np.ndarray | float, w: np.ndarray | float) -> np.ndarray:
    """Linear blend ``a`` -> ``b`` by weight ``w`` (arrays broadcast)."""
    return np.asarray(a) + (np.asarray(b) - np.asarray(a)) * w


def half_wave(phase: np.ndarray, power: float = 1.5) -> np.ndarray:
    """The positive half of a sine, smoothed at its zeros: 0 for half a cycle, a lift for the other.

    ``power`` > 1 makes it C1 where it leaves zero (a foot lifts off smoothly, not with a kink).
    """
    return np.maximum(np.sin(phase), 0.0) ** power


def time_warp(u: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth, monotonic random re-timing of normalised time that keeps 0 and 1 fixed.

    ``u + strength * (a sin(pi u) + b sin(2 pi u) / 2)`` with ``|a|, |b| <= 1`` has a derivative of
    at least ``1 - 2 pi strength``, positive for ``strength`` < 0.16, so time never runs backwards.
    """
    a, b = rng.uniform(-1.0, 1.0, 2)
    return u + strength * (a * np.sin(np.pi * u) + 0.5 * b * np.sin(2.0 * np.pi * u))


def keyframes(u: np.ndarray, knots: list[tuple[float, float]]) -> np.ndarray:
    """Through ``(u_k, value_k)`` knots (increasing ``u_k``), easing from one to the next.

    Each segment is a :func:`smoothstep`, so the motion comes to rest at every knot: right for key
    poses of a discrete action (wind up, kick, recoil), where a real limb reverses or pauses anyway.
    Holds the first value before the first knot and the last after the last.
    """
    out = np.full(np.shape(u), float(knots[0][1]))
    for (u0, v0), (u1, v1) in zip(knots, knots[1:]):
        out += (v1 - v0) * ease(u, u0, u1)
    return out
