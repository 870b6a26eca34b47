"""Kinder-Gator skeleton reader: one Kinect v1 ``.csv`` per clip.

Follows the dataset's release and its description (A. Aloba et al., "Kinder-Gator: The UF Kinect
Database of Child and Adult Motion", Eurographics 2018 short papers; ``kinder_gator/README.txt``): a
comma-separated text file whose header row is ``Timestamp,HipCenterX,HipCenterY,...,FootRightZ,
User-ID,Action,`` followed by one row a frame: a running-clock time in milliseconds, 20 joints x
(x, y, z) of Kinect v1 camera space in metres in Kinect SDK v1 order, the participant id, the motion
name and an empty trailing field. Kinect v1 camera space has the NTU axes, so the mapping to NTU-25
is :func:`engine.skeleton.layouts.to_ntu25` with layout ``kinect_v1_20``.

Labels come from the file name ``POSE-p<PID>_<NN>-<Motion-Name>-<unixms>.csv`` (NN is the order in
which the person performed the motion, not a class). Ten pairs of instructions are relative to the
person ("Raise your hand" / "Raise your other hand"); they are resolved to the side that actually
moved, measured from the motion as the dataset README's SIDE section describes (:func:`side_moved`),
and labelled with side-specific classes ("raise your left hand"): ``assets/classes/kinder_gator.txt``.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from engine.assets import class_names
from engine.errors import SkeletonFileError
from engine.io.base import (
    SkeletonCollection,
    SkeletonFormat,
    check_position_range,
    register_format,
    require_file,
    text_lines,
)
from engine.skeleton.layouts import KINECT_V1_JOINTS, to_ntu25
from engine.types import SkeletonSequence

FORMAT = "kinder_gator_csv"
LAYOUT = "kinect_v1_20"
DATASET = "kinder_gator"
FPS = 30.0  # Kinect v1; README: mean time step 33.4 ms, clip rates 29.9-30.3 fps

# The CSV's joint column groups are the Kinect SDK v1 order, i.e. the kinect_v1_20 layout's joints in
# CamelCase ("hip_center" -> "HipCenter").
CSV_JOINTS = tuple("".join(word.capitalize() for word in name.split("_")) for name in KINECT_V1_JOINTS)
HEADER = ("Timestamp", *(f"{joint}{axis}" for joint in CSV_JOINTS for axis in "XYZ"), "User-ID", "Action")
NUM_VALUES = 1 + 3 * len(CSV_JOINTS)  # the time stamp and the coordinates; User-ID and Action follow

_NAME = re.compile(r"^POSE-p(\d+)_(\d+)-(.+)-(\d+)$")
_GROUPS = {"adults": "adult", "children": "child"}
_SNIFF = re.compile(rb"^(?:\xef\xbb\xbf)?Timestamp[ \t]*,[ \t]*HipCenterX[ \t]*,")
_SNIFF_BYTES = 64

# The ten relative pairs (file-name motions, README SIDE section): which body part's motion tells the
# side, and the side-specific class both members map to. The side is the person's own (anatomical).
SIDE_PAIRS: tuple[tuple[tuple[str, str], str, str], ...] = (
    (("Raise-your-hand", "Raise-your-other-hand"), "hand", "raise your {side} hand"),
    (("Wave-your-hand", "Wave-your-other-hand"), "hand", "wave your {side} hand"),
    (
        ("Raise-your-arm-to-one-side", "Raise-your-arm-to-the-other-side"),
        "hand",
        "raise your {side} arm to the side",
    ),
    (
        ("Lift-your-leg-to-one-side", "Lift-your-leg-to-the-other-side"),
        "foot",
        "lift your {side} leg to the side",
    ),
    (
        ("Bend-your-knee-while-raising-your-leg", "Bend-your-other-knee-while-raising-your-leg"),
        "foot",
        "raise your {side} leg and bend the knee",
    ),
    (
        (
            "Put-your-hands-on-your-hips-and-lean-to-the-side",
            "Put-your-hands-on-your-hips-and-lean-to-the-other-side",
        ),
        "lean",
        "put your hands on your hips and lean to the {side}",
    ),
    (("Kick-a-ball", "Kick-a-ball-with-the-other-leg"), "foot", "kick a ball with your {side} leg"),
    (
        ("Kick-a-ball-as-far-as-you-can", "Kick-a-ball-as-far-as-you-can-with-the-other-leg"),
        "foot",
        "kick a ball as far as you can with your {side} leg",
    ),
    (("Throw-a-ball", "Throw-a-ball-with-your-other-arm"), "hand", "throw a ball with your {side} arm"),
    (
        ("Throw-a-ball-as-far-as-you-can", "Throw-a-ball-as-far-as-you-can-with-the-other-arm"),
        "hand",
        "throw a ball as far as you can with your {side} arm",
    ),
)
_SIDED: dict[str, tuple[str, str]] = {
    motion: (measure, text) for pair, measure, text in SIDE_PAIRS for motion in pair
}
# Wording fixed where the file names have a typo (README CAVEATS).
_TEXT_FIXES = {"Climb-and-imaginary-ladder": "climb an imaginary ladder"}

_J = {name: k for k, name in enumerate(KINECT_V1_JOINTS)}
_LEAN_BASELINE_FRAMES = 10


# --- names and classes -----------------------------------------------------------------------------


def parse_name(name: str) -> dict[str, Any] | None:
    """What a Kinder-Gator file name tells, or ``None`` when it does not follow the scheme.

    Args:
        name: ``POSE-p<PID>_<NN>-<Motion-Name>-<unixms>`` with or without ``.csv``.
    Returns:
        ``{"subject", "order", "motion", "start_unix_ms"}``; ``motion`` has the release's trailing
        ``-`` stripped (``Throw-a-ball--<ms>`` names the motion ``Throw-a-ball``).
    """
    stem = name.rsplit("/", 1)[-1]
    if stem.lower().endswith(".csv"):
        stem = stem[:-4]
    m = _NAME.match(stem)
    if m is None:
        return None
    pid, order, motion, start = m.groups()
    motion = motion.rstrip("-")
    if not motion:
        return None
    return {"subject": int(pid), "order": int(order), "motion": motion, "start_unix_ms": int(start)}


def side_measure(motion: str) -> str | None:
    """``"hand"``, ``"foot"`` or ``"lean"`` for the 20 motions of the relative pairs, else ``None``."""
    entry = _SIDED.get(motion)
    return entry[0] if entry else None


def class_for(motion: str, side: str | None = None) -> str | None:
    """The class name of a file-name motion, resolved to ``side`` for the relative pairs.

    Returns ``None`` for a paired motion without a side (the class would be ambiguous).
    """
    entry = _SIDED.get(motion)
    if entry is not None:
        return entry[1].format(side=side) if side in ("right", "left") else None
    return _TEXT_FIXES.get(motion, motion.replace("-", " ").lower())


@lru_cache(maxsize=1)
def _class_ids() -> dict[str, int]:
    return {name: i for i, name in enumerate(class_names(DATASET))}


# --- the side that moved ---------------------------------------------------------------------------


def _path_length(track: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(track, axis=0), axis=-1).sum())


def side_moved(frames: np.ndarray, measure: str) -> tuple[str | None, float, float]:
    """Which side of the body did a relative instruction, by the dataset README's SIDE method.

    ``"hand"`` / ``"foot"``: total path length of HandRight vs HandLeft (FootRight vs FootLeft) over
    the clip. ``"lean"``: the hands rest on the hips, so the measure is the largest sideways
    displacement of the Head relative to HipCenter along the hip axis (HipLeft -> HipRight), towards
    the subject's right vs left, both taken relative to the first 10 frames.

    Args:
        frames: ``(T, 20, 3)`` in Kinect SDK v1 order.
        measure: ``"hand"``, ``"foot"`` or ``"lean"``.
    Returns:
        ``(side, right_m, left_m)``: ``side`` is the side with the larger measure (``None`` on a tie,
        e.g. a one-frame clip, or when the hips coincide), and the two measures in metres.
    """
    if measure in ("hand", "foot"):
        right = _path_length(frames[:, _J[f"{measure}_right"]])
        left = _path_length(frames[:, _J[f"{measure}_left"]])
    elif measure == "lean":
        first = slice(0, _LEAN_BASELINE_FRAMES)
        lean = frames[:, _J["head"]] - frames[:, _J["hip_center"]]
        lean = lean - lean[first].mean(axis=0)
        axis = (frames[first, _J["hip_right"]] - frames[first, _J["hip_left"]]).mean(axis=0)
        norm = float(np.linalg.norm(axis))
        if not norm > 0:
            return None, 0.0, 0.0
        sideways = lean @ (axis / norm)  # > 0: towards the subject's right
        right, left = max(float(sideways.max()), 0.0), max(float(-sideways.min()), 0.0)
    else:
        raise ValueError(f"unknown side measure {measure!r} (hand, foot or lean)")
    side = "right" if right > left else "left" if left > right else None
    return side, right, left


# --- parsing ---------------------------------------------------------------------------------------


def _check_header(path: Path, line: str) -> int:
    """Check the header row; return its number of fields (64 with the release's trailing comma)."""
    fields = [f.strip() for f in line.split(",")]
    named = fields[:-1] if len(fields) > 1 and fields[-1] == "" else fields  # the trailing comma
    for k, (got, want) in enumerate(zip(named, HEADER)):
        if got != want:
            shown = got if len(got) <= 40 else got[:40] + "..."
            raise SkeletonFileError(
                path,
                f"header column {k + 1} is {shown!r}, expected {want!r} (not a Kinder-Gator CSV)",
                "line 1",
            )
    if len(named) < len(HEADER):
        raise SkeletonFileError(
            path, f"header ends after column {len(named)}, expected {HEADER[len(named)]!r} next", "line 1"
        )
    if len(named) > len(HEADER):
        extra = named[len(HEADER)] if len(named[len(HEADER)]) <= 40 else named[len(HEADER)][:40] + "..."
        raise SkeletonFileError(
            path,
            f"header has {len(named)} columns, expected {len(HEADER)} ({extra!r} after 'Action')",
            "line 1",
        )
    return len(fields)


def _is_number(text: str) -> bool:
    # float() also takes "1_000"; numpy's parser (the fast path) does not, and a CSV should not either.
    if "_" in text:
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def _first_bad_number(path: Path, rows: list[str], reason: str) -> SkeletonFileError:
    """Name the line and column of the first field that is not a number (slow; failures only)."""
    for t, row in enumerate(rows):
        if "\r" in row.rstrip("\r"):
            # numpy's parser takes a lone CR for a line end; a CRLF line end is fine
            return SkeletonFileError(path, "carriage return inside a row", f"line {t + 2}")
        for k, text in enumerate(row.split(",")[:NUM_VALUES]):
            if not _is_number(text):
                shown = text.strip() if len(text) <= 40 else text[:40] + "..."
                what = f"{shown!r} is not a number" if shown else "empty field where a number belongs"
                return SkeletonFileError(path, f"{what} (column {k + 1}, {HEADER[k]})", f"line {t + 2}")
    # numpy refused something float() accepts: still one line, with numpy's reason.
    return SkeletonFileError(path, f"not a table of numbers ({reason})")


def _values(path: Path, rows: list[str], num_fields: int) -> np.ndarray:
    """The time stamp and 60 coordinates of every row, float64 ``(T, 61)``, checked."""
    commas = num_fields - 1
    for t, row in enumerate(rows):
        if row.count(",") != commas:
            raise SkeletonFileError(
                path,
                f"row has {row.count(',') + 1} fields, expected {num_fields} as in the header",
                f"line {t + 2}",
            )
    try:
        # numpy's C parser was the fastest measured on the release (12 M numbers in 1159 files: ~2.5 s;
        # float() per field ~3.3 s, np.fromstring ~3.6 s); the slow path below only names a failure.
        values = np.loadtxt(
            rows, delimiter=",", usecols=range(NUM_VALUES), comments=None, dtype=np.float64, ndmin=2
        )
    except ValueError as exc:
        raise _first_bad_number(path, rows, str(exc).splitlines()[0] if str(exc) else "unreadable") from exc
    _check_finite(path, values)
    return values


def _check_finite(path: Path, values: np.ndarray) -> None:
    """Raise naming the line and column of the first NaN or infinite value."""
    bad = ~np.isfinite(values)
    if bad.any():
        t, k = (int(i) for i in np.argwhere(bad)[0])
        raise SkeletonFileError(
            path, f"{HEADER[k]} is {values[t, k]}, not a finite number (column {k + 1})", f"line {t + 2}"
        )


def _check_float32_range(path: Path, values: np.ndarray) -> None:
    """Raise naming the first coordinate that is finite but beyond float32 (it would become inf)."""
    too_big = np.abs(values[:, 1:]) > np.finfo(np.float32).max
    if too_big.any():
        t, k = (int(i) for i in np.argwhere(too_big)[0])
        raise SkeletonFileError(
            path,
            f"{HEADER[k + 1]} is {values[t, k + 1]}, beyond float32 range (column {k + 2})",
            f"line {t + 2}",
        )


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SkeletonFileError(
            path, f"not a text file (byte {exc.start} is {data[exc.start]:#04x})", f"line {line}"
        ) from exc


# --- the reader ------------------------------------------------------------------------------------


def _label(path: Path, frames: np.ndarray, first_row: str) -> tuple[str | None, dict[str, Any]]:
    """The class name and the metadata the file name and the motion tell."""
    meta: dict[str, Any] = {}
    group = _GROUPS.get(path.parent.name.lower())
    if group:
        meta["group"] = group
    named = parse_name(path.name)
    if named is None:
        return None, meta
    motion = named["motion"]
    meta |= {
        "subject": named["subject"],
        "order": named["order"],
        "instruction": motion.replace("-", " "),
        "start_unix_ms": named["start_unix_ms"],
    }
    notes = []
    side = None
    measure = side_measure(motion)
    if measure is not None:
        side, right_m, left_m = side_moved(frames, measure)
        meta |= {"side_right_m": round(right_m, 4), "side_left_m": round(left_m, 4)}
        if side is None:
            notes.append("the side that moved cannot be told from the motion (both measure the same)")
        else:
            meta["side_moved"] = side
    # User-ID and Action repeat the file name in every row of the release (Action keeps the trailing
    # "-" of "Throw-a-ball-"); a renamed copy can disagree: noted, the name wins.
    user_id, action = (s.strip() for s in first_row.split(",")[NUM_VALUES : NUM_VALUES + 2])
    if (user_id, action.rstrip("-")) != (str(named["subject"]), motion):
        notes.append(
            f"the file's User-ID, Action ({user_id}, {action}) disagree with its name; the name is used"
        )
    if notes:
        meta["note"] = "; ".join(notes)
    return class_for(motion, side), meta


def read_kinder_gator(path: str | os.PathLike) -> SkeletonSequence:
    """One Kinder-Gator ``.csv`` file as an NTU-25 sequence.

    Args:
        path: ``POSE-p<PID>_<NN>-<Motion-Name>-<unixms>.csv`` (any name reads; the label, subject and
            order come from a name that follows the scheme, the group from an ``Adults`` or
            ``Children`` parent folder).
    Returns:
        ``joints (T, 1, 25, 3)`` in metres, NTU axes; ``meta`` holds subject, group, order,
        instruction (the file name's wording), side_moved for the relative instructions and the
        time stamps (``timestamps_ms``, a list).
    Raises:
        SkeletonFileError: a wrong header (naming the first wrong column), a row with too few or
            too many fields, a non-number, NaN/inf, no frames; always naming the line.
    """
    p = Path(path)
    require_file(p)
    lines = text_lines(p, _decode(p, p.read_bytes()))
    num_fields = _check_header(p, lines[0])
    rows = lines[1:]
    if not rows:
        raise SkeletonFileError(p, "holds zero frames (only the header)", "line 2")
    values = _values(p, rows, num_fields)
    frames = values[:, 1:].reshape(len(rows), len(CSV_JOINTS), 3)
    # Finite float64 values beyond ~3.4e38 would become inf in float32. The mapping to NTU-25 only
    # copies joints and averages two (the neck), so checking the inputs is enough.
    _check_float32_range(p, values)
    joints = to_ntu25(frames, LAYOUT)[:, None]
    check_position_range(p, joints, "coordinates")
    label, meta = _label(p, frames, rows[0])
    label_id = _class_ids().get(label) if label is not None else None
    if label_id is None:
        label = None
    meta["timestamps_ms"] = values[:, 0].tolist()
    return SkeletonSequence(
        joints=joints,
        fps=FPS,
        source_format=FORMAT,
        source_layout=LAYOUT,
        name=p.stem,
        path=str(p),
        label=label,
        label_id=label_id,
        dataset=DATASET if label is not None else None,
        meta=meta,
    )


def open_kinder_gator(path: str | os.PathLike) -> SkeletonCollection:
    """:func:`read_kinder_gator` as a one-item collection (the registry's ``open``)."""
    sequence = read_kinder_gator(path)
    return SkeletonCollection.of(path, FORMAT, [sequence], frames=sequence.num_frames)


def sniff_kinder_gator(path: Path) -> bool:
    """The header starts ``Timestamp,HipCenterX,`` (other ``.csv`` formats hold numbers only)."""
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError:
        return False
    return _SNIFF.match(head) is not None


register_format(
    SkeletonFormat(
        name=FORMAT,
        description="Kinder-Gator Kinect v1 skeleton .csv",
        suffixes=(".csv",),
        open=open_kinder_gator,
        sniff=sniff_kinder_gator,
    )
)
