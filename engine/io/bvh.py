"""BVH (Biovision Hierarchy) motion capture reader: parser and forward kinematics.

Follows the BVH format as Biovision defined it and as mocap tools write it (M. Meredith and
S. Maddock, "Motion Capture File Formats Explained", University of Sheffield, 2001): a ``HIERARCHY`` of one
``ROOT`` and nested ``JOINT`` blocks, each with an ``OFFSET`` from its parent and ``CHANNELS``
naming, in file order, which of ``Xposition Yposition Zposition Xrotation Yrotation Zrotation``
each frame line carries for it; ``End Site`` blocks close chains with an ``OFFSET`` only. Then
``MOTION``, ``Frames: N``, ``Frame Time: seconds`` and N lines of numbers, one per frame.

Forward kinematics, vectorised over frames: a joint's local rotation is the product of its
rotation channels in the order the file lists them (``Zrotation Xrotation Yrotation`` gives
``Rz @ Rx @ Ry``; angles in degrees); its local translation is its position channels where it has
them and its OFFSET for the axes it has none; ``global = parent_global @ local``. This is the
convention the Bandai-Namco conversion used (``bandai_namco_motion/README.txt``, checked there
against the ``bvhio`` package), and the reader reproduces that data's positions.

Units are not stated in a BVH file. ``units="auto"`` picks metres, centimetres or millimetres,
whichever gives the body in the first frame a size closest to a person's (the Bandai-Namco files are
centimetres: their hips stand ~93 units above the floor, and 10x their positions equals the
millimetre ``.npz`` made from them). The skeleton is then mapped to NTU-25 by its joint names
(:mod:`engine.skeleton.bvh_layouts`); BVH is right-handed with y up, so no axis change is needed.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from engine.errors import SkeletonFileError
from engine.io.base import (
    SkeletonCollection,
    SkeletonFormat,
    check_finite,
    check_position_range,
    register_format,
    require_file,
)
from engine.io.names import label_fields, label_from_name
from engine.skeleton.bvh_layouts import match_bvh_skeleton
from engine.skeleton.layouts import to_ntu25
from engine.types import SkeletonSequence

FORMAT = "bvh"
POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254}
# "auto" units: the candidate that puts the body's largest extent nearest this size. Inches are not
# a candidate: a body 67 in tall and a child 110 cm tall cannot be told apart by size.
_AUTO_UNITS = ("m", "cm", "mm")
_TYPICAL_BODY_SIZE_M = 1.7

_FRAMES = re.compile(r"^Frames\s*:\s*(\S+)$")
_FRAME_TIME = re.compile(r"^Frame\s+Time\s*:\s*(\S+)$")


@dataclass(frozen=True)
class BVHJoint:
    """One ``ROOT``, ``JOINT`` or ``End Site`` of the hierarchy.

    Attributes:
        name: the joint's name (``"End Site"`` for end sites).
        parent: index of the parent in :attr:`BVHMotion.joints`, -1 for the root.
        offset: the OFFSET from the parent, file units.
        channels: channel names in file order; empty for end sites.
        first_column: column of the first channel in a frame line.
        end_site: the block is an ``End Site``.
        line: 1-based line of the block's keyword.
    """

    name: str
    parent: int
    offset: tuple[float, float, float]
    channels: tuple[str, ...]
    first_column: int
    end_site: bool
    line: int


@dataclass(frozen=True)
class BVHMotion:
    """A parsed BVH file.

    Attributes:
        joints: the hierarchy in file order (a parent always comes before its children).
        frame_time: seconds per frame.
        values: float64 ``(T, channels)``, one row per frame line.
    """

    joints: tuple[BVHJoint, ...]
    frame_time: float
    values: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.values.shape[0])

    @property
    def fps(self) -> float:
        fps = 1.0 / self.frame_time
        # Frame times are written with ~6 digits (0.0333333): report 30, not 30.000003.
        nearest = round(fps)
        return float(nearest) if nearest > 0 and abs(fps - nearest) < 1e-4 * fps else fps

    @cached_property
    def joint_names(self) -> tuple[str, ...]:
        """Names of the ROOT and JOINTs, End Sites excluded, in file order."""
        return tuple(j.name for j in self.joints if not j.end_site)

    def positions(self) -> np.ndarray:
        """Global positions ``(T, len(joints), 3)``, file units: :func:`forward_kinematics`."""
        return forward_kinematics(self)


# --- rotations ----------------------------------------------------------------------------------


# The plane each axis turns, ordered so that +angle is counter-clockwise seen from the +axis side.
_PLANES = {0: (1, 2), 1: (2, 0), 2: (0, 1)}


def _axis_rotations(axis: int, degrees: np.ndarray) -> np.ndarray:
    """Right-handed rotations ``(T, 3, 3)`` about x (0), y (1) or z (2)."""
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    r = np.zeros(a.shape + (3, 3))
    i, j = _PLANES[axis]
    r[:, axis, axis] = 1.0
    r[:, i, i] = c
    r[:, i, j] = -s
    r[:, j, i] = s
    r[:, j, j] = c
    return r


def forward_kinematics(motion: BVHMotion) -> np.ndarray:
    """Global joint positions of every frame, End Sites included.

    Args:
        motion: a parsed file.
    Returns:
        float64 ``(T, len(motion.joints), 3)`` in file units.
    """
    t_frames = motion.num_frames
    values = motion.values
    positions = np.empty((t_frames, len(motion.joints), 3))
    rotations: list[np.ndarray | None] = []  # global rotation per joint; None = identity
    for index, joint in enumerate(motion.joints):
        local_t = np.broadcast_to(np.asarray(joint.offset, dtype=np.float64), (t_frames, 3))
        local_r: np.ndarray | None = None
        for k, channel in enumerate(joint.channels):
            column = values[:, joint.first_column + k]
            if channel in POSITION_CHANNELS:
                if not local_t.flags.writeable:
                    local_t = local_t.copy()
                local_t[:, POSITION_CHANNELS.index(channel)] = column
            else:
                r = _axis_rotations(ROTATION_CHANNELS.index(channel), column)
                local_r = r if local_r is None else local_r @ r
        if joint.parent < 0:
            positions[:, index] = local_t
            rotations.append(local_r)
            continue
        parent_r = rotations[joint.parent]
        if parent_r is None:
            positions[:, index] = positions[:, joint.parent] + local_t
            rotations.append(local_r)
        else:
            positions[:, index] = positions[:, joint.parent] + np.einsum("tij,tj->ti", parent_r, local_t)
            rotations.append(parent_r if local_r is None else parent_r @ local_r)
    return positions


# --- parsing ------------------------------------------------------------------------------------


@dataclass
class _Block:
    """A ROOT, JOINT or End Site while its braces are open."""

    name: str
    parent: int
    line: int
    end_site: bool
    offset: tuple[float, float, float] | None = None
    channels: tuple[str, ...] | None = None
    first_column: int = 0


class _Hierarchy:
    """Parses the HIERARCHY block from ``(token, line)`` pairs, braces split off as tokens.

    Iterative (an explicit stack of open blocks), so a damaged file of thousands of nested braces
    cannot exhaust Python's recursion limit.
    """

    def __init__(self, path: Path, tokens: list[tuple[str, int]], end_what: str) -> None:
        self.path = path
        self.tokens = tokens
        self.pos = 0
        self.end_what = end_what  # what follows the tokens: "MOTION" or "the end of the file"
        self.blocks: list[_Block] = []
        self.lines_of_names: dict[str, int] = {}
        self.columns = 0

    def error(self, reason: str, line: int) -> SkeletonFileError:
        return SkeletonFileError(self.path, reason, f"line {line}")

    def next(self) -> tuple[str, int] | None:
        if self.pos >= len(self.tokens):
            return None
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def rest_of_line(self, line: int) -> list[str]:
        """The remaining tokens on ``line`` up to a brace (``End Site { OFFSET 0 0 1 }`` is one line)."""
        out = []
        while self.pos < len(self.tokens):
            word, at = self.tokens[self.pos]
            if at != line or word in ("{", "}"):
                break
            out.append(word)
            self.pos += 1
        return out

    def open_block(self, keyword: str, line: int, parent: int) -> int:
        words = self.rest_of_line(line)
        if keyword == "End":
            if words != ["Site"]:
                raise self.error("expected 'End Site'", line)
            name = "End Site"
        else:
            name = " ".join(words)
            if not name:
                raise self.error(f"{keyword} has no name", line)
            if name in self.lines_of_names:
                first = self.lines_of_names[name]
                raise self.error(f"joint name '{name}' is used twice (first at line {first})", line)
            self.lines_of_names[name] = line
        token = self.next()
        if token is None or token[0] != "{":
            raise self.error(f"expected '{{' after {keyword} {name}", token[1] if token else line)
        self.blocks.append(_Block(name, parent, line, end_site=keyword == "End", first_column=self.columns))
        return len(self.blocks) - 1

    def close_block(self, block: _Block, line: int) -> None:
        what = "End Site" if block.end_site else f"joint '{block.name}'"
        if block.offset is None:
            raise self.error(f"{what} has no OFFSET", line)
        if block.channels is None:
            if not block.end_site:
                raise self.error(f"{what} has no CHANNELS", line)
            block.channels = ()

    def offset(self, block: _Block, line: int) -> None:
        words = self.rest_of_line(line)
        if block.offset is not None:
            raise self.error("a second OFFSET in the same block", line)
        if len(words) != 3:
            raise self.error(f"OFFSET needs 3 numbers, found {len(words)}", line)
        try:
            x, y, z = (float(w) for w in words)
        except ValueError:
            raise self.error(f"OFFSET {' '.join(words)}: not numbers", line) from None
        if not all(math.isfinite(v) for v in (x, y, z)):
            raise self.error(f"OFFSET {' '.join(words)} is not finite", line)
        block.offset = (x, y, z)

    def channels(self, block: _Block, line: int) -> None:
        words = self.rest_of_line(line)
        if block.end_site:
            raise self.error("an End Site cannot have CHANNELS", line)
        if block.channels is not None:
            raise self.error("a second CHANNELS in the same block", line)
        if not words or not words[0].isdecimal() or len(words[0]) > 6:
            found = repr(words[0][:40]) if words else "nothing"
            raise self.error(f"CHANNELS needs a count, found {found}", line)
        count, names = int(words[0]), words[1:]
        if count != len(names):
            raise self.error(f"CHANNELS says {count} but names {len(names)}", line)
        for name in names:
            if name not in POSITION_CHANNELS + ROTATION_CHANNELS:
                raise self.error(f"unknown channel {name!r} (expected X/Y/Z position/rotation)", line)
        if len(set(names)) != len(names):
            raise self.error(f"a channel is repeated in {' '.join(names)}", line)
        block.channels = tuple(names)
        block.first_column = self.columns
        self.columns += count

    def parse(self) -> tuple[BVHJoint, ...]:
        first = self.next()
        if first is None or first[0] != "HIERARCHY":
            raise self.error("not a BVH file: expected 'HIERARCHY'", first[1] if first else 1)
        token = self.next()
        if token is None or token[0] != "ROOT":
            raise self.error("expected 'ROOT' after HIERARCHY", token[1] if token else first[1])
        stack = [self.open_block("ROOT", token[1], -1)]
        while stack:
            token = self.next()
            current = self.blocks[stack[-1]]
            if token is None:
                raise self.error(
                    f"unbalanced braces: '{current.name}' (line {current.line}) is not closed "
                    f"before {self.end_what}",
                    self.tokens[-1][1],
                )
            word, line = token
            if word == "OFFSET":
                self.offset(current, line)
            elif word == "CHANNELS":
                self.channels(current, line)
            elif word in ("JOINT", "End"):
                if current.end_site:
                    raise self.error(f"{word} inside an End Site", line)
                stack.append(self.open_block(word, line, stack[-1]))
            elif word == "}":
                self.close_block(self.blocks[stack.pop()], line)
            elif word == "ROOT":
                raise self.error("ROOT inside a joint (unbalanced braces?)", line)
            elif word == "{":
                raise self.error("unexpected '{'", line)
            else:
                raise self.error(f"unknown keyword {word!r}", line)
        token = self.next()
        if token is not None:
            word, line = token
            if word == "ROOT":
                raise self.error("a second ROOT: files with several skeletons are not supported", line)
            if word == "}":
                raise self.error("unbalanced braces: '}' with no open block", line)
            raise self.error(f"unexpected {word!r} after the skeleton (expected MOTION)", line)
        if self.end_what != "MOTION":
            raise self.error("no MOTION section", self.tokens[-1][1])
        return tuple(
            BVHJoint(b.name, b.parent, b.offset, b.channels, b.first_column, b.end_site, b.line)
            for b in self.blocks
        )


def _tokens(lines: list[str], start: int, stop: int) -> list[tuple[str, int]]:
    tokens = []
    for i in range(start, stop):
        for word in lines[i].replace("{", " { ").replace("}", " } ").split():
            tokens.append((word, i + 1))
    return tokens


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SkeletonFileError(
            path, f"not a text file (byte {exc.start} is {data[exc.start]:#04x})", f"line {line}"
        ) from exc


def _header_value(path: Path, lines: list[str], i: int, pattern: re.Pattern, what: str) -> tuple[str, int]:
    """The value of the next non-blank line from ``i`` matching ``pattern``, and the next line index."""
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines):
        raise SkeletonFileError(path, f"truncated: no '{what}' line after MOTION", f"line {len(lines)}")
    m = pattern.match(lines[i].strip())
    if not m:
        raise SkeletonFileError(
            path, f"expected '{what} ...', found {lines[i].strip()[:40]!r}", f"line {i + 1}"
        )
    return m.group(1), i + 1


def _motion(path: Path, lines: list[str], start: int, num_columns: int) -> tuple[float, np.ndarray]:
    """Frame time and the ``(T, num_columns)`` values of the lines after ``MOTION``."""
    text, i = _header_value(path, lines, start, _FRAMES, "Frames:")
    frames_line = i
    # a length cap first: int() refuses numbers of over 4300 digits with a ValueError of its own
    if not text.isdecimal() or len(text) > 12:
        raise SkeletonFileError(path, f"Frames: {text[:40]!r} is not a frame count", f"line {frames_line}")
    num_frames = int(text)
    if num_frames == 0:
        raise SkeletonFileError(path, "holds zero frames (Frames: 0)", f"line {frames_line}")
    text, i = _header_value(path, lines, i, _FRAME_TIME, "Frame Time:")
    try:
        frame_time = float(text)
    except ValueError:
        frame_time = math.nan
    # 1 / frame_time is the frame rate: it must be finite too (1e-320 is a positive float)
    if not (math.isfinite(frame_time) and frame_time > 0 and math.isfinite(1.0 / frame_time)):
        raise SkeletonFileError(
            path, f"Frame Time: {text[:40]!r} is not a positive number of seconds", f"line {i}"
        )
    if num_columns == 0:
        raise SkeletonFileError(path, "the skeleton has no CHANNELS, so its frames carry no motion")

    numbers = [(n + 1, words) for n in range(i, len(lines)) if (words := lines[n].split())]
    if len(numbers) < num_frames:
        raise SkeletonFileError(
            path,
            f"truncated: 'Frames: {num_frames}' but only {len(numbers)} frame lines follow",
            f"line {len(lines)}",
        )
    if len(numbers) > num_frames:
        raise SkeletonFileError(
            path,
            f"'Frames: {num_frames}' (line {frames_line}) but {len(numbers)} frame lines follow",
            f"line {numbers[num_frames][0]}",
        )
    for line, words in numbers:
        if len(words) != num_columns:
            raise SkeletonFileError(
                path,
                f"frame line has {len(words)} numbers, the skeleton's CHANNELS need {num_columns}",
                f"line {line}",
            )
    try:
        values = np.array([float(w) for _, words in numbers for w in words], dtype=np.float64)
    except ValueError:
        for line, words in numbers:
            for w in words:
                try:
                    float(w)
                except ValueError:
                    raise SkeletonFileError(path, f"{w[:40]!r} is not a number", f"line {line}") from None
        raise  # unreachable: the loop above finds the word float() refused
    values = values.reshape(num_frames, num_columns)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = (int(k) for k in np.argwhere(bad)[0])
        raise SkeletonFileError(
            path, f"value {values[row, col]} (column {col + 1}) is not finite", f"line {numbers[row][0]}"
        )
    return frame_time, values


def parse_bvh(path: str | os.PathLike) -> BVHMotion:
    """Parse a BVH file (hierarchy and motion), without mapping it to any layout.

    Args:
        path: the ``.bvh`` file.
    Returns:
        the hierarchy, frame time and channel values.
    Raises:
        SkeletonFileError: anything malformed, with its line: a bad keyword, unbalanced braces, a
            frame line whose count differs from the channels, a non-number, NaN/inf, fewer frame
            lines than ``Frames:`` says (truncated) or more, zero frames.
    """
    p = Path(path)
    require_file(p)
    text = _decode(p, p.read_bytes())
    # split("\n"), not splitlines(): line numbers must match what an editor shows, and splitlines()
    # also breaks at form feeds and other control characters.
    lines = [line.rstrip("\r") for line in text.split("\n")]
    motion_at = next((i for i, line in enumerate(lines) if line.strip() == "MOTION"), None)
    stop = len(lines) if motion_at is None else motion_at
    tokens = _tokens(lines, 0, stop)
    hierarchy = _Hierarchy(p, tokens, "MOTION" if motion_at is not None else "the end of the file")
    joints = hierarchy.parse()
    frame_time, values = _motion(p, lines, stop + 1, hierarchy.columns)
    return BVHMotion(joints, frame_time, values)


def _unit_scale(path: Path, units: str | float, keypoints: np.ndarray) -> tuple[float, str]:
    """Metres per file unit and its name."""
    if not isinstance(units, str):
        if not (isinstance(units, (int, float)) and math.isfinite(units) and units > 0):
            raise ValueError(
                f"units must be one of {sorted(UNITS)}, 'auto' or a positive scale, got {units!r}"
            )
        return float(units), f"x{units} m"
    if units != "auto":
        if units not in UNITS:
            raise ValueError(
                f"units must be one of {sorted(UNITS)}, 'auto' or a positive scale, got {units!r}"
            )
        return UNITS[units], units
    size = float(np.ptp(keypoints[0], axis=0).max())
    if not size > 0:
        raise SkeletonFileError(
            path, "all joints of the first frame coincide: cannot tell the units (pass units='cm' or similar)"
        )
    best = min(_AUTO_UNITS, key=lambda u: abs(math.log(size * UNITS[u] / _TYPICAL_BODY_SIZE_M)))
    return UNITS[best], best


def read_bvh(path: str | os.PathLike, units: str | float = "auto") -> SkeletonSequence:
    """A BVH file as an NTU-25 sequence.

    Args:
        path: the ``.bvh`` file.
        units: file units: ``"m"``, ``"cm"``, ``"mm"``, ``"in"``, metres per unit as a number, or
            ``"auto"`` (module docstring); ``meta["units"]`` says which was used.
    Returns:
        ``joints (T, 1, 25, 3)`` in metres; fps = 1 / Frame Time; the label from the file name when
        it follows a known scheme (the Bandai-Namco names do).
    Raises:
        SkeletonFileError: malformed file (:func:`parse_bvh`), or a skeleton whose joint names
            match no known layout.
    """
    p = Path(path)
    motion = parse_bvh(p)
    names = motion.joint_names
    match = match_bvh_skeleton(names)
    if match is None:
        raise SkeletonFileError(
            p,
            f"BVH skeleton with joints [{', '.join(names[:40])}{', ...' if len(names) > 40 else ''}] has no "
            "NTU-25 mapping (known: "
            "the Bandai-Namco 22 joints; CMU/Mixamo-style Hips, Spine, Neck, Head, LeftArm, "
            "LeftForeArm, LeftHand, LeftUpLeg, LeftLeg, LeftFoot, LeftToeBase and Right twins)",
        )
    layout, order = match
    joint_rows = [i for i, j in enumerate(motion.joints) if not j.end_site]
    # Finite but huge channel values (1e300) can add up to inf, or overflow float32 once scaled:
    # the results are checked instead of letting numpy warn.
    with np.errstate(over="ignore", invalid="ignore"):
        keypoints = motion.positions()[:, [joint_rows[k] for k in order]]
    check_finite(p, keypoints, "joint positions from the channels (values too large)")
    scale, unit = _unit_scale(p, units, keypoints)
    with np.errstate(over="ignore", invalid="ignore"):
        joints = to_ntu25(keypoints * scale, layout)[:, None]
    check_finite(p, joints, "joint positions in metres (beyond float32 range)")
    check_position_range(p, joints, f"joint positions in metres ({unit})")
    named = label_from_name(p.name)
    meta = dict(named.meta) if named else {}
    meta |= {"units": unit, "frame_time": motion.frame_time, "bvh_joints": len(names)}
    return SkeletonSequence(
        joints=joints,
        fps=motion.fps,
        source_format=FORMAT,
        source_layout=layout,
        name=p.stem,
        path=str(p),
        **label_fields(named),
        meta=meta,
    )


def open_bvh(path: str | os.PathLike, units: str | float = "auto") -> SkeletonCollection:
    """:func:`read_bvh` as a one-item collection (the registry's ``open``)."""
    sequence = read_bvh(path, units=units)
    return SkeletonCollection.of(path, FORMAT, [sequence], frames=sequence.num_frames)


def sniff_bvh(path: Path) -> bool:
    """BVH files start with the word ``HIERARCHY``."""
    try:
        with open(path, "rb") as f:
            return f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"HIERARCHY")
    except OSError:
        return False


register_format(
    SkeletonFormat(
        name=FORMAT,
        description="BVH motion capture (.bvh)",
        suffixes=(".bvh",),
        open=open_bvh,
        sniff=sniff_bvh,
    )
)
