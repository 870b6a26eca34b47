"""Data types shared by every package, and the one tensor convention.

Tensor convention (stated once, asserted at public boundaries):

* A skeleton **sequence** is ``joints: float32 (T, M, V, 3)``: T frames, M bodies, V = 25 NTU joints,
  xyz in metres in NTU camera axes (x to the sensor's left, i.e. the subject's right when facing the
  sensor; y up; z away from the sensor). An absent body in a frame is all zeros, as in every NTU
  pipeline.
* A **batch** for a skeleton encoder is ``(N, C=3, T, V=25, M)``, as in pyskl / CTR-GCN.
  :func:`to_nctvm` converts sequences to it.
* Keypoints from a pose estimator are ``(V, 3)`` per frame, ``(T, V, 3)`` for a clip, in the
  estimator's own layout until :mod:`engine.skeleton.layouts` maps them to NTU-25.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

NUM_JOINTS = 25  # NTU RGB+D / Kinect v2
#: a prediction whose best name has at least this (calibrated) probability is shown as confident: it is
#: then more likely right than wrong
CONFIDENT = 0.5
NUM_COORDS = 3


@dataclass(frozen=True)
class SkeletonSequence:
    """One skeleton clip in NTU-25 form, whatever file or sensor it came from.

    Attributes:
        joints: float32 ``(T, M, 25, 3)``, metres, NTU camera axes; absent bodies are zeros.
        fps: frames per second of the source.
        source_format: the reader that produced it (``"ntu_skeleton"``, ``"utd_mhad_mat"``, ...).
        source_layout: the joint layout of the source before mapping (``"ntu25"``,
            ``"kinect_v1_20"``, ``"bandai_22"``, ``"mediapipe33"``); tells which joints were measured.
        name: sample name (file stem, or the instance name inside a collection).
        path: the file it was read from, if any.
        label: class name when the file name or a label file carries one.
        label_id: 0-based class index within ``dataset``.
        dataset: the dataset the label refers to (``"ntu120"``, ``"utd_mhad"``, ...).
        confidence: optional float32 ``(T, M, 25)`` per-joint confidence (1 = tracked).
        meta: anything else the source tells (subject, view, camera, trial, style ...).
    """

    joints: np.ndarray
    fps: float
    source_format: str
    source_layout: str = "ntu25"
    name: str = ""
    path: str | None = None
    label: str | None = None
    label_id: int | None = None
    dataset: str | None = None
    confidence: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        j = self.joints
        if not isinstance(j, np.ndarray) or j.dtype != np.float32:
            raise TypeError("SkeletonSequence.joints must be a float32 numpy array")
        if j.ndim != 4 or j.shape[2] != NUM_JOINTS or j.shape[3] != NUM_COORDS or j.shape[0] < 1:
            raise ValueError(f"SkeletonSequence.joints must be (T>=1, M, 25, 3), got {j.shape}")
        if self.confidence is not None and self.confidence.shape != j.shape[:3]:
            raise ValueError(f"confidence must be {j.shape[:3]}, got {self.confidence.shape}")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def num_bodies(self) -> int:
        """Bodies that appear in at least one frame."""
        return int(self.body_present().any(axis=0).sum())

    def body_present(self) -> np.ndarray:
        """bool ``(T, M)``: the body has at least one non-zero joint in that frame."""
        return np.any(self.joints != 0, axis=(2, 3))

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps


def to_nctvm(joints: np.ndarray, num_bodies: int = 2) -> np.ndarray:
    """Sequence(s) ``(T, M, V, C)`` or ``(N, T, M, V, C)`` -> batch ``(N, C, T, V, num_bodies)``.

    Bodies beyond ``num_bodies`` are dropped (readers order bodies by importance), missing ones are
    zero-padded.
    """
    x = np.asarray(joints, dtype=np.float32)
    if x.ndim == 4:
        x = x[None]
    if x.ndim != 5 or x.shape[-1] != NUM_COORDS:
        raise ValueError(f"expected (T, M, V, 3) or (N, T, M, V, 3), got {x.shape}")
    n, t, m, v, c = x.shape
    out = np.zeros((n, c, t, v, num_bodies), dtype=np.float32)
    k = min(m, num_bodies)
    out[..., :k] = x[:, :, :k].transpose(0, 4, 1, 3, 2)
    return out


def from_nctvm(x: np.ndarray) -> np.ndarray:
    """Batch ``(N, C, T, V, M)`` -> sequences ``(N, T, M, V, C)``."""
    if x.ndim != 5:
        raise ValueError(f"expected (N, C, T, V, M), got {x.shape}")
    return np.ascontiguousarray(x.transpose(0, 2, 4, 3, 1))


def _clean(text: str) -> str:
    return " ".join(str(text).split())


@dataclass(frozen=True)
class ClassSet:
    """The actions a user asks about: names, and optionally one description per name.

    A class set can change at any moment (open vocabulary, the architecture). It is a value:
    two sets with the same names and descriptions are equal and share :attr:`key`, which caches
    (text embeddings, refitted classifiers) are keyed by.

    Attributes:
        names: action names, unique, non-empty, in the user's order (the index is the class id).
        descriptions: empty, or one text per name (``""`` where there is none).
    """

    names: tuple[str, ...]
    descriptions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = tuple(_clean(n) for n in self.names)
        descriptions = tuple(_clean(d or "") for d in self.descriptions)
        if not names:
            raise ValueError("a class set needs at least one action name")
        if any(not n for n in names):
            raise ValueError("action names must not be empty")
        seen: set[str] = set()
        dupes = [n for n in names if n.lower() in seen or seen.add(n.lower())]
        if dupes:
            raise ValueError(f"action names must be unique: {', '.join(sorted(set(dupes)))} repeated")
        if descriptions and len(descriptions) != len(names):
            raise ValueError(f"{len(descriptions)} descriptions for {len(names)} names")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "descriptions", descriptions if any(descriptions) else ())

    @classmethod
    def parse(cls, text: str) -> ClassSet:
        """``"wave; clap: hands meet in front of the chest; squat"`` -> a class set.

        Names are separated by ``;`` or new lines; ``name: description`` gives a description.
        """
        names, descriptions = [], []
        for part in text.replace("\n", ";").split(";"):
            if not part.strip():
                continue
            name, _, description = part.partition(":")
            names.append(name)
            descriptions.append(description)
        return cls(tuple(names), tuple(descriptions))

    @classmethod
    def from_dataset(cls, dataset: str, ids: list[int] | tuple[int, ...] | None = None) -> ClassSet:
        """The class names of a dataset (``assets/classes``), or the ``ids`` subset in that order."""
        from engine.assets import class_names

        names = class_names(dataset)
        return cls(tuple(names if ids is None else (names[i] for i in ids)))

    def __len__(self) -> int:
        return len(self.names)

    def description(self, i: int) -> str:
        return self.descriptions[i] if self.descriptions else ""

    @property
    def key(self) -> str:
        """A short stable digest of names and descriptions (cache key)."""
        import hashlib

        blob = "\x1f".join(self.names) + "\x1e" + "\x1f".join(self.descriptions)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "descriptions": list(self.descriptions)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClassSet:
        return cls(tuple(d["names"]), tuple(d.get("descriptions") or ()))


@dataclass(frozen=True)
class Prediction:
    """What the recognizer says about one window of frames.

    Attributes:
        names: class names, best first (all classes of the set, or the top k).
        probabilities: probability of each name in ``names`` (sums to 1 over the whole set).
        latency_ms: time from the window being complete to this prediction (preprocessing,
            encoder, scoring), in milliseconds.
        window: ``(first, last)`` frame index of the window, counted from the stream's start.
        person: False when the window held no person: ``names`` is then empty.
        class_set_key: :attr:`ClassSet.key` of the set that answered.
    """

    names: tuple[str, ...]
    probabilities: tuple[float, ...]
    latency_ms: float
    window: tuple[int, int]
    person: bool = True
    class_set_key: str = ""

    @property
    def top(self) -> tuple[str, float] | None:
        return (self.names[0], self.probabilities[0]) if self.names else None

    @property
    def confidence(self) -> str:
        """``"confident"`` when the best name's probability is at least :data:`CONFIDENT`, else
        ``"unsure"`` (``""`` without a person). With a calibrated bundle a probability reads as "right
        this often", so a confident answer is right more often than not; an unsure one is a guess
        between the names listed first."""
        if not self.names:
            return ""
        return "confident" if self.probabilities[0] >= CONFIDENT else "unsure"

    def summary(self) -> str:
        """One line for people: the answer and how sure it is, or the leading candidates when unsure."""
        if not self.person or not self.names:
            return "nobody in view"
        if self.confidence == "confident":
            return f"{self.names[0]} ({self.probabilities[0]:.0%}, confident)"
        lead = ", ".join(f"{n} {p:.0%}" for n, p in list(zip(self.names, self.probabilities))[:3])
        return f"unsure: {lead}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "confidence": self.confidence,
            "ranked": [{"name": n, "probability": round(float(p), 6)} for n, p in zip(self.names, self.probabilities)],
            "latency_ms": round(self.latency_ms, 3),
            "window": list(self.window),
            "person": self.person,
            "class_set_key": self.class_set_key,
        }
