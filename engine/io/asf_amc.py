"""Acclaim ASF/AMC motion capture reader (HDM05, CMU mocap): parser, forward kinematics, NTU-25.

Follows the Acclaim skeleton/motion format as Vicon BodyLanguage writes it, the format of the HDM05
database (M. Mueller, T. Roeder, M. Clausen, B. Eberhardt, B. Krueger, A. Weber, "Documentation Mocap
Database HDM05", Technical report CG-2007-2, Universitaet Bonn, 2007) and of the CMU graphics lab
mocap database. Data from HDM05 must be acknowledged with "The data used in this project was
obtained from HDM05." (``hdm05_subset/README.txt``).

* The ``.asf`` file is the skeleton: ``:units`` (``length 0.45`` means one file unit is 1/0.45 inch;
  ``angle deg|rad``), ``:root`` (``order TX TY TZ RX RY RZ``: the root's values on an AMC line;
  ``axis XYZ``: its rotation order), ``:bonedata`` (per bone, between ``begin`` and ``end``: ``id``,
  ``name``, unit ``direction``, ``length``, ``axis ax ay az XYZ``, ``dof`` and ``limits``) and
  ``:hierarchy`` (lines ``parent child child ...``). The root's ``position`` and ``orientation``
  (zero in HDM05 and CMU files) are not used: the AMC gives the root's pose in every frame.
* The ``.amc`` file is the motion: a header (``#`` comments, ``:FULLY-SPECIFIED``,
  ``:DEGREES`` or ``:RADIANS``), then per frame a line with the frame number (1, 2, ...) and one
  line per bone: its name and its dof values in ``dof`` order (the root: its ``order``). Every bone
  with dofs must appear in every frame; bones without dofs may be left out. Read as latin-1 (the
  HDM05 header holds a Windows path with a 0xFC byte); CRLF and LF line ends may be mixed.

Forward kinematics (the CMU convention; ``hdm05_subset/README.txt`` checks it against the HDM05
MATLAB toolbox to 3.2e-7 m): an axis order ``XYZ`` means the rotation ``Rz @ Ry @ Rx`` (x applied
first). ``C_b`` is that rotation of the bone's ``axis`` angles, ``L_b`` that of its dof values in
the frame (missing dofs are 0); the root's rotation is ``L`` of its ``RX RY RZ`` in its ``axis``
order and its position ``(TX, TY, TZ)``. ``G_b = G_parent C_b L_b C_b^T`` and
``end_b = end_parent + G_b (direction_b * length_b)``, vectorised over frames (one Python step per
bone). That gives the root and the end of every bone, the 31 points of
:mod:`engine.skeleton.asf_layouts`, mapped to NTU-25 by their names in metres (``x 0.0254 / length``)
after a 180 degree turn about y (the mocap subject faces +z in the rest pose, NTU's faces the camera).

Skeleton file: ``asf=`` or found beside the motion: ``<stem>.asf``, ``HDM_<actor>.asf`` for HDM05's
``HDM_<actor>_<class>_<take>_<rate>.amc``, ``<subject>.asf`` for CMU's ``<subject>_<trial>.amc``,
else the only ``.asf`` in the folder (names matched case-insensitively).

Frame rate: the HDM05 name's last number (``_120``), else 120 (CMU); ``fps=`` overrides it. The
reader does not resample: the clips stay at 120 frames per second. Whole-clip recognition resamples
every clip to the model's window, but the live and sliding-window recognizers count windows in
frames at about 30 fps (``StreamingConfig.fps``), so a 120 Hz clip pushed frame by frame covers a
quarter of the intended time unless the recognizer is told the input rate (``input_fps``).

Labels: an HDM05 name gives the dataset ``"hdm05"``, the class (one of the 11 classes of our subset,
``assets/classes/hdm05.txt``; any other class code gives no label but the file still reads), and
``meta`` actor, take and the HDM05 class code.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np

from engine.assets import class_names
from engine.errors import SkeletonFileError
from engine.io.base import (
    SkeletonCollection,
    SkeletonFormat,
    check_finite,
    check_position_range,
    register_format,
    require_file,
)
from engine.io.names import NameLabel, label_fields
from engine.skeleton.asf_layouts import ACCLAIM31, ACCLAIM31_JOINTS
from engine.skeleton.layouts import to_ntu25
from engine.types import SkeletonSequence

FORMAT = "asf_amc"
DATASET = "hdm05"
DEFAULT_FPS = 120.0  # HDM05 and CMU both record at 120 Hz
INCH_M = 0.0254
ROOT_CHANNELS = ("TX", "TY", "TZ", "RX", "RY", "RZ")
ROTATION_DOFS = ("rx", "ry", "rz")
_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}

# The HDM05 cut-class codes of our 11-class subset (hdm05_subset/classes.csv), in class_folder
# order: index = line of assets/classes/hdm05.txt = label id.
HDM05_CLASS_CODES = (
    "depositFloorR", "elbowToKnee1RepsLelbowStart", "grabHighR", "hopBothLegs1hops",
    "jogLeftCircle4StepsRstart", "kickLFront1Reps", "lieDownFloor", "rotateArmsBothBackward1Reps",
    "sneak2StepsLStart", "squat1Reps", "throwBasketball",
)  # fmt: skip
# HDM_<actor>_<class>_<take>_<rate>: HDM_bd_depositFloorR_001_120. The class code may hold digits and
# hyphens (the uncut takes are HDM_bd_01-01_01_120), the actor is letters.
_HDM05_NAME = re.compile(r"^HDM_([A-Za-z]+)_(.+)_(\d+)_(\d+)$")


# --- skeleton -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ASFBone:
    """One bone of the ``:bonedata`` section.

    Attributes:
        name: the bone's name.
        parent: index of the parent bone in :attr:`ASFSkeleton.bones`, -1 for the root.
        direction: the bone's direction in the world frame of the rest pose (unit in HDM05/CMU).
        length: its length, file units.
        axis: the ``axis`` angles (x, y, z) in radians: the bone's local frame in the rest pose.
        axis_order: the ``axis`` rotation order (``"XYZ"``: ``Rz @ Ry @ Rx``); also the order of
            its dof rotations.
        dofs: its rotational degrees of freedom (``rx``, ``ry``, ``rz``) in file order, which is the
            order of its values on an AMC line.
        line: 1-based line of its ``begin``.
    """

    name: str
    parent: int
    direction: tuple[float, float, float]
    length: float
    axis: tuple[float, float, float]
    axis_order: str
    dofs: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class ASFSkeleton:
    """A parsed ``.asf`` file.

    Attributes:
        path: the file.
        length_unit: the ``:units length`` value: one file unit is ``1 / length_unit`` inch.
        degrees: ``:units angle`` is ``deg`` (else radians); AMC files without ``:DEGREES`` or
            ``:RADIANS`` use it too.
        root_order: the root's channels in AMC order (``TX TY TZ RX RY RZ``).
        root_axis: the root's rotation order (``"XYZ"``).
        bones: the bones, breadth-first from the root in ``:hierarchy`` order (parents first).
    """

    path: str
    length_unit: float
    degrees: bool
    root_order: tuple[str, ...]
    root_axis: str
    bones: tuple[ASFBone, ...]

    @property
    def metres_per_unit(self) -> float:
        return INCH_M / self.length_unit

    @cached_property
    def point_names(self) -> tuple[str, ...]:
        """Names of the FK points: ``"root"``, then the end of each bone in :attr:`bones` order."""
        return ("root",) + tuple(b.name for b in self.bones)

    @cached_property
    def columns(self) -> dict[str, slice]:
        """Where each AMC line's values go in :attr:`AMCMotion.values`: the root's channels first,
        then every bone's dofs in :attr:`bones` order (an empty slice for a bone without dofs)."""
        out = {"root": slice(0, len(self.root_order))}
        start = len(self.root_order)
        for bone in self.bones:
            out[bone.name] = slice(start, start + len(bone.dofs))
            start += len(bone.dofs)
        return out

    @property
    def num_columns(self) -> int:
        return len(self.root_order) + sum(len(b.dofs) for b in self.bones)

    @cached_property
    def dof_axes(self) -> tuple[tuple[tuple[int, np.ndarray, np.ndarray], ...], ...]:
        """Per bone, its dof rotations in the order they apply (``XYZ``: x first), each as
        ``(column in AMCMotion.values, K, K @ K)``: ``K`` the cross-product matrix of the rotation
        axis in the world, column ``a`` of the bone's ``C`` (:func:`forward_kinematics`)."""
        out = []
        columns = self.columns
        for bone in self.bones:
            frame = _axis_frame(bone)
            ordered = sorted(bone.dofs, key=lambda d: bone.axis_order.index(d[1].upper()))
            steps = []
            for dof in ordered:
                k = _cross_matrix(frame[:, _AXIS_INDEX[dof[1].upper()]])
                steps.append((columns[bone.name].start + bone.dofs.index(dof), k, k @ k))
            out.append(tuple(steps))
        return tuple(out)


def _error(path: str | os.PathLike, reason: str, line: int | None = None) -> SkeletonFileError:
    return SkeletonFileError(path, reason, f"line {line}" if line is not None else "")


def _text_lines(path: Path) -> list[str]:
    """The file's lines, CR stripped. latin-1 decodes any byte, so a binary file fails later, on its
    first unexpected word, with that word (escaped) in the message."""
    require_file(path)
    return [line.rstrip("\r") for line in path.read_bytes().decode("latin-1").split("\n")]


def _numbers(path: Path, words: list[str], count: int, what: str, line: int) -> tuple[float, ...]:
    if len(words) != count:
        raise _error(path, f"{what} needs {count} number{'s' * (count != 1)}, found {len(words)}", line)
    try:
        values = tuple(float(w) for w in words)
    except ValueError:
        bad = next(w for w in words if not _is_float(w))
        raise _error(path, f"{what}: {bad[:40]!r} is not a number", line) from None
    if not all(math.isfinite(v) for v in values):
        raise _error(path, f"{what} {' '.join(words)} is not finite", line)
    return values


def _is_float(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _order(path: Path, word: str, what: str, line: int) -> str:
    order = word.upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise _error(path, f"{what} order {word[:20]!r} is not a permutation of XYZ", line)
    return order


def _sections(path: Path, lines: list[str]) -> dict[str, list[tuple[int, list[str]]]]:
    """``":keyword" -> [(line, words), ...]``: the words after the keyword on its own line (line 0
    of the list) and on every line up to the next keyword; comments and blank lines dropped."""
    sections: dict[str, list[tuple[int, list[str]]]] = {}
    current: list[tuple[int, list[str]]] | None = None
    for number, text in enumerate(lines, start=1):
        words = text.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0].startswith(":"):
            keyword = words[0].lower()
            if keyword in sections:
                raise _error(path, f"a second '{keyword}' section", number)
            current = sections[keyword] = [(number, words[1:])]
        elif current is None:
            found = text.strip()[:40]
            raise _error(path, f"not an ASF skeleton: expected a ':' keyword, found {found!r}", number)
        else:
            current.append((number, words))
    for keyword in (":root", ":bonedata", ":hierarchy"):
        if keyword not in sections:
            raise _error(path, f"not a complete ASF skeleton: no '{keyword}' section")
    return sections


def _units(path: Path, section: list[tuple[int, list[str]]]) -> tuple[float, bool]:
    length, degrees = 1.0, True  # Acclaim's defaults when a unit is not given
    for line, words in section:
        for key, value in zip(words[::2], words[1::2]):
            if key.lower() == "length":
                (length,) = _numbers(path, [value], 1, "units length", line)
                if length <= 0:
                    raise _error(path, f"units length {value!r} is not positive", line)
            elif key.lower() == "angle":
                if value.lower() not in ("deg", "degree", "degrees", "rad", "radian", "radians"):
                    raise _error(path, f"units angle {value[:20]!r} is neither 'deg' nor 'rad'", line)
                degrees = value.lower().startswith("deg")
    return length, degrees


def _root(path: Path, section: list[tuple[int, list[str]]]) -> tuple[tuple[str, ...], str]:
    order: tuple[str, ...] | None = None
    axis = "XYZ"
    for line, words in section:
        if not words:
            continue
        key = words[0].lower()
        if key == "order":
            order = tuple(w.upper() for w in words[1:])
            unknown = [w for w in order if w not in ROOT_CHANNELS]
            if unknown or len(set(order)) != len(order) or not order:
                given = " ".join(words[1:])[:60]
                raise _error(path, f"root order {given!r}: expected distinct TX TY TZ RX RY RZ", line)
        elif key == "axis":
            if len(words) != 2:
                raise _error(path, "root axis needs one rotation order such as XYZ", line)
            axis = _order(path, words[1], "root axis", line)
        elif key in ("position", "orientation"):
            _numbers(path, words[1:], 3, f"root {key}", line)
        else:
            raise _error(path, f"unknown root keyword {words[0][:40]!r}", line)
    if order is None:
        raise _error(path, "the ':root' section has no 'order' line", section[0][0])
    return order, axis


@dataclass
class _BoneBlock:
    line: int
    name: str | None = None
    direction: tuple[float, float, float] | None = None
    length: float | None = None
    axis: tuple[float, float, float] | None = None
    axis_order: str = "XYZ"
    dofs: tuple[str, ...] = ()


def _bone_line(path: Path, bone: _BoneBlock, line: int, words: list[str], seen: set[str]) -> None:
    key = words[0].lower()
    if key in seen and key in ("name", "direction", "length", "axis", "dof"):
        raise _error(path, f"a second '{key}' line in one bone", line)
    seen.add(key)
    if key == "name":
        if len(words) != 2:
            raise _error(path, "a bone name is one word", line)
        bone.name = words[1]
    elif key == "direction":
        bone.direction = _numbers(path, words[1:], 3, "direction", line)  # type: ignore[assignment]
    elif key == "length":
        (bone.length,) = _numbers(path, words[1:], 1, "length", line)
        if bone.length < 0:
            raise _error(path, f"length {words[1]} is negative", line)
    elif key == "axis":
        if len(words) not in (4, 5):
            raise _error(path, "axis needs 3 angles and a rotation order such as XYZ", line)
        bone.axis = _numbers(path, words[1:4], 3, "axis", line)  # type: ignore[assignment]
        if len(words) == 5:
            bone.axis_order = _order(path, words[4], "axis", line)
    elif key == "dof":
        dofs = tuple(w.lower() for w in words[1:])
        for dof in dofs:
            if dof not in ROTATION_DOFS:
                raise _error(path, f"dof {dof[:20]!r} is not supported (only rotations rx, ry, rz)", line)
        if len(set(dofs)) != len(dofs):
            raise _error(path, f"a dof is repeated in {' '.join(words[1:])}", line)
        bone.dofs = dofs
    elif key == "id":
        if len(words) != 2:
            raise _error(path, "id needs one number", line)
    elif key in ("limits", "bodymass", "cofmass") or key.startswith("("):
        pass  # joint limits (continued on lines starting with '(') and masses: not needed for FK
    else:
        raise _error(path, f"unknown bone keyword {words[0][:40]!r}", line)


def _bonedata(path: Path, section: list[tuple[int, list[str]]]) -> list[tuple[_BoneBlock, int]]:
    """``[(bone, line of its 'end'), ...]`` in file order."""
    bones: list[tuple[_BoneBlock, int]] = []
    current: _BoneBlock | None = None
    seen: set[str] = set()
    lines_of_names: dict[str, int] = {}
    for line, words in section:  # the first entry: the words after ':bonedata' on its own line
        if not words:
            continue
        key = words[0].lower()
        if current is None:
            if key != "begin":
                raise _error(path, f"expected 'begin' of a bone, found {words[0][:40]!r}", line)
            current, seen = _BoneBlock(line), set()
        elif key == "begin":
            raise _error(path, f"'begin' inside the bone that begins at line {current.line} (no 'end')", line)
        elif key == "end":
            for field, what in ((current.name, "name"), (current.direction, "direction"),
                                (current.length, "length"), (current.axis, "axis")):  # fmt: skip
                if field is None:
                    raise _error(path, f"the bone that begins at line {current.line} has no '{what}'", line)
            assert current.name is not None
            if current.name == "root":
                raise _error(path, "a bone cannot be named 'root'", current.line)
            if current.name in lines_of_names:
                first = lines_of_names[current.name]
                raise _error(path, f"bone name {current.name!r} is used twice (first at line {first})", line)
            lines_of_names[current.name] = current.line
            bones.append((current, line))
            current = None
        else:
            _bone_line(path, current, line, words, seen)
    if current is not None:
        raise _error(path, f"the bone that begins at line {current.line} has no 'end'", section[-1][0])
    if not bones:
        raise _error(path, "the ':bonedata' section holds no bones", section[0][0])
    return bones


def _hierarchy(path: Path, section: list[tuple[int, list[str]]], names: set[str]) -> dict[str, list[str]]:
    """``parent -> children`` in file order, checked: every bone has exactly one parent."""
    body = [(line, words) for line, words in section if words]
    if not body or body[0][1][0].lower() != "begin":
        raise _error(path, "the ':hierarchy' section does not start with 'begin'", section[0][0])
    children: dict[str, list[str]] = {}
    parent_of: dict[str, tuple[str, int]] = {}
    closed = False
    for line, words in body[1:]:
        if closed:
            raise _error(path, f"{' '.join(words)[:40]!r} after the hierarchy's 'end'", line)
        if words[0].lower() == "end" and len(words) == 1:
            closed = True
            continue
        parent = words[0]
        if parent != "root" and parent not in names:
            raise _error(path, f"hierarchy names unknown bone {parent[:40]!r} (not in ':bonedata')", line)
        if len(words) < 2:
            raise _error(path, f"hierarchy line for {parent!r} names no children", line)
        for child in words[1:]:
            if child == "root":
                raise _error(path, "the root cannot be a child in the hierarchy", line)
            if child not in names:
                raise _error(path, f"hierarchy names unknown bone {child[:40]!r} (not in ':bonedata')", line)
            if child in parent_of:
                first_parent, first_line = parent_of[child]
                raise _error(
                    path,
                    f"bone {child!r} has two parents: {first_parent!r} (line {first_line}) and {parent!r}",
                    line,
                )
            parent_of[child] = (parent, line)
            children.setdefault(parent, []).append(child)
    if not closed:
        raise _error(path, "the ':hierarchy' section has no 'end'", body[-1][0])
    return children


def _parse_asf(path: Path) -> ASFSkeleton:
    lines = _text_lines(path)
    sections = _sections(path, lines)
    length_unit, degrees = _units(path, sections.get(":units", []))
    root_order, root_axis = _root(path, sections[":root"])
    blocks = {block.name: block for block, _ in _bonedata(path, sections[":bonedata"])}
    children = _hierarchy(path, sections[":hierarchy"], set(blocks))
    to_radians = math.pi / 180.0 if degrees else 1.0
    # Breadth-first from the root: every parent before its children (the order FK needs), and the
    # point order of HDM05's reference positions.
    order: list[tuple[str, int]] = []
    queue: list[tuple[str, int]] = [(child, -1) for child in children.get("root", [])]
    while queue:
        name, parent = queue.pop(0)
        order.append((name, parent))
        queue += [(child, len(order) - 1) for child in children.get(name, [])]
    attached = {name for name, _ in order}
    loose = [name for name in blocks if name not in attached]
    if loose:
        first = blocks[loose[0]]
        raise _error(
            path,
            f"bone {first.name!r} is not connected to the root by ':hierarchy' (left out, or in a loop)"
            + (f"; also {', '.join(repr(n) for n in loose[1:4])}{' ...' if len(loose) > 4 else ''}"
               if len(loose) > 1 else ""),  # fmt: skip
            first.line,
        )
    bones = tuple(
        ASFBone(
            name=name,
            parent=parent,
            direction=blocks[name].direction,  # type: ignore[arg-type]
            length=float(blocks[name].length),  # type: ignore[arg-type]
            axis=tuple(a * to_radians for a in blocks[name].axis),  # type: ignore[union-attr]
            axis_order=blocks[name].axis_order,
            dofs=blocks[name].dofs,
            line=blocks[name].line,
        )
        for name, parent in order
    )
    return ASFSkeleton(str(path), length_unit, degrees, root_order, root_axis, bones)


@lru_cache(maxsize=64)
def _parse_asf_cached(path: str, mtime_ns: int, size: int) -> ASFSkeleton:
    return _parse_asf(Path(path))


def parse_asf(path: str | os.PathLike) -> ASFSkeleton:
    """Parse an ``.asf`` skeleton file.

    HDM05 repeats each actor's skeleton beside every clip; parses are cached by path, size and
    modification time, so reading a folder of clips parses each skeleton once.

    Args:
        path: the ``.asf`` file.
    Returns:
        the skeleton, bones in breadth-first order.
    Raises:
        SkeletonFileError: with its line: a missing section, an unknown keyword, a bone without
            name/direction/length/axis, a repeated name, a non-number, an unsupported dof, a
            hierarchy naming unknown bones, giving a bone two parents, or leaving one unconnected.
    """
    p = Path(path)
    require_file(p)
    stat = p.stat()
    return _parse_asf_cached(str(p), stat.st_mtime_ns, stat.st_size)


# --- motion -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AMCMotion:
    """A parsed ``.amc`` file.

    Attributes:
        path: the file.
        degrees: its angles are in degrees (``:DEGREES``, or the skeleton's unit when the file does
            not say), else radians.
        values: float64 ``(T, skeleton.num_columns)``: per frame the root's channels in the ASF
            root ``order``, then every bone's dofs (:attr:`ASFSkeleton.columns`).
        first_frame: the number of the first frame (1 in HDM05 and CMU files).
    """

    path: str
    degrees: bool
    values: np.ndarray
    first_frame: int

    @property
    def num_frames(self) -> int:
        return int(self.values.shape[0])


# Bytes the fast path handles: printable ASCII, tab, LF, CR. Anything else (other control
# characters, latin-1 letters, which str.split() may treat as spaces) goes to the line-by-line path.
_ODD_BYTE = np.ones(256, dtype=bool)
_ODD_BYTE[32:127] = False
_ODD_BYTE[[9, 10, 13]] = False
_SPACE_BYTE = np.zeros(256, dtype=bool)
_SPACE_BYTE[[9, 10, 13, 32]] = True
_NUMBER_OR_SPACE_BYTE = _SPACE_BYTE.copy()
_NUMBER_OR_SPACE_BYTE[[ord(c) for c in "0123456789.+-eE"]] = True
_DIGIT_BYTE = np.zeros(256, dtype=bool)
_DIGIT_BYTE[ord("0") : ord("9") + 1] = True


def _fast_frames(body: bytes, skeleton: ASFSkeleton) -> tuple[np.ndarray, int] | None:
    """The frames of a regular AMC body (every frame lists the same lines in the same order as the
    first, plain ASCII), parsed with whole-array operations; ``None`` when the body is not regular
    or anything in it is wrong, for :func:`_slow_frames` to read (or to locate the problem)."""
    buf = np.frombuffer(body, dtype=np.uint8)
    if _ODD_BYTE[buf].any():
        return None
    # Words: runs of non-space bytes. A word's line: the number of LFs before its start.
    edges = np.diff((~_SPACE_BYTE[buf]).view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if starts.size == 0:
        return None
    line_of = np.searchsorted(np.flatnonzero(buf == 10), starts)
    leads = np.flatnonzero(np.r_[True, line_of[1:] != line_of[:-1]])  # first word of each line
    words_per_line = np.diff(np.r_[leads, starts.size])
    frame_lines = np.flatnonzero((words_per_line == 1) & _DIGIT_BYTE[buf[starts[leads]]])
    num_frames, per_frame = frame_lines.size, (leads.size // max(frame_lines.size, 1))
    if num_frames == 0 or frame_lines[0] != 0 or per_frame * num_frames != leads.size:
        return None
    if not np.array_equal(frame_lines, np.arange(num_frames) * per_frame):
        return None
    # The first frame tells the line order; every other frame must repeat it exactly.
    names = [body[starts[leads[k]] : ends[leads[k]]].decode("ascii") for k in range(1, per_frame)]
    columns = skeleton.columns
    if len(set(names)) != len(names) or any(n not in columns for n in names):
        return None
    required = {"root"} | {b.name for b in skeleton.bones if b.dofs}
    if not required <= set(names):
        return None
    widths = [columns[n].stop - columns[n].start for n in names]
    pattern = np.array([1] + [1 + w for w in widths])
    if not (words_per_line.reshape(num_frames, per_frame) == pattern).all():
        return None
    # Every frame spells the names of the first; blanked out, they leave the numbers only.
    name_words = leads.reshape(num_frames, per_frame)[:, 1:]
    clean = buf.copy()
    for j, name in enumerate(names):
        first_bytes = starts[name_words[:, j]]
        if not np.array_equal(ends[name_words[:, j]] - first_bytes, np.full(num_frames, len(name))):
            return None
        at = first_bytes[:, None] + np.arange(len(name))
        if not (buf[at] == np.frombuffer(name.encode("ascii"), dtype=np.uint8)).all():
            return None
        clean[at] = 32
    if not _NUMBER_OR_SPACE_BYTE[clean].all():
        return None
    width = 1 + sum(widths)
    try:
        numbers = np.fromstring(clean.tobytes(), dtype=np.float64, sep=" ")
    except ValueError:
        return None
    if numbers.size != num_frames * width or not np.isfinite(numbers).all():
        return None
    table = numbers.reshape(num_frames, width)
    first_frame = table[0, 0]
    if first_frame != int(first_frame) or not (table[:, 0] == first_frame + np.arange(num_frames)).all():
        return None
    values = np.zeros((num_frames, skeleton.num_columns))
    at = 1
    for name, w in zip(names, widths):
        values[:, columns[name]] = table[:, at : at + w]
        at += w
    return values, int(first_frame)


def _slow_frames(
    path: Path, lines: list[str], first_line: int, skeleton: ASFSkeleton
) -> tuple[np.ndarray, int]:
    """The frames, line by line: any order of bone lines, and every problem with its line."""
    columns = skeleton.columns
    required = ["root"] + [b.name for b in skeleton.bones if b.dofs]
    asf_name = Path(skeleton.path).name
    dof_names = {"root": " ".join(skeleton.root_order)}
    dof_names |= {b.name: " ".join(b.dofs) or "none" for b in skeleton.bones}
    rows: list[np.ndarray] = []
    seen: dict[str, int] = {}
    frame: int | None = None
    first_frame = 0

    def close(line: int, last: bool) -> None:
        missing = [n for n in required if n not in seen]
        if missing:
            listed = ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
            end = " (truncated file?)" if last else ""
            raise _error(path, f"frame {frame} lacks {listed}{end}", line)

    last_line = first_line
    for k, text in enumerate(lines):
        number = first_line + k
        words = text.split()
        if not words:
            continue
        last_line = number
        head = words[0]
        if len(words) == 1 and head.isascii() and head.isdigit() and len(head) <= 12:
            if frame is not None:
                close(number, last=False)
                if int(head) != frame + 1:
                    reason = f"frame number {head} after frame {frame} (frames count up by one)"
                    raise _error(path, reason, number)
            else:
                first_frame = int(head)
            frame = int(head)
            rows.append(np.zeros(skeleton.num_columns))
            seen = {}
            continue
        slot = columns.get(head)
        if slot is None:
            if _is_float(head):
                found = text.strip()[:40]
                raise _error(path, f"expected a bone name or a frame number, found {found!r}", number)
            reason = f"unknown bone {head[:40]!r} (the skeleton {asf_name} has no such bone)"
            raise _error(path, reason, number)
        if head in seen:
            raise _error(path, f"{head!r} twice in frame {frame} (first at line {seen[head]})", number)
        seen[head] = number
        want = slot.stop - slot.start
        if len(words) - 1 != want:
            reason = f"{head!r} has {len(words) - 1} values, its dofs ({dof_names[head]}) need {want}"
            raise _error(path, reason, number)
        for w in words[1:]:
            if not _is_float(w):
                raise _error(path, f"{w[:40]!r} is not a number", number)
        values = np.array([float(w) for w in words[1:]])
        if not np.isfinite(values).all():
            bad = words[1 + int(np.argmin(np.isfinite(values)))][:40]
            raise _error(path, f"value {bad} is not finite", number)
        rows[-1][slot] = values
    close(last_line, last=True)
    return np.stack(rows), first_frame


def parse_amc(path: str | os.PathLike, skeleton: ASFSkeleton) -> AMCMotion:
    """Parse an ``.amc`` motion file against its skeleton.

    A regular file (the same bone lines in the same order in every frame, as Vicon writes them) is
    parsed with whole-array operations; anything else is read line by line, which accepts any bone
    order and reports the first problem with its line.

    Args:
        path: the ``.amc`` file.
        skeleton: its parsed ``.asf`` (:func:`parse_asf`).
    Returns:
        the root channels and dof values of every frame.
    Raises:
        SkeletonFileError: with its line: no frames, a line that is neither a frame number nor a
            bone of the skeleton, a bone with too few or too many values, a non-number, NaN/inf,
            frame numbers that do not count up by one, a bone twice in a frame, a frame lacking
            a bone (a truncated file).
    """
    p = Path(path)
    require_file(p)
    data = p.read_bytes()
    degrees = skeleton.degrees
    # The header, line by line up to the first frame number (latin-1: one byte per character).
    offset, line = 0, 1
    while True:
        stop = data.find(b"\n", offset)
        s = data[offset : len(data) if stop < 0 else stop].decode("latin-1").strip()
        if s.isascii() and s.isdigit():
            break
        if s.startswith(":"):
            keyword = s.split()[0].upper()
            if keyword == ":DEGREES":
                degrees = True
            elif keyword == ":RADIANS":
                degrees = False
            # :FULLY-SPECIFIED and other header keywords say nothing FK needs
        elif s and not s.startswith("#"):
            raise _error(p, f"not an AMC motion: expected a frame number, found {s[:40]!r}", line)
        if stop < 0:
            raise _error(p, "holds zero frames (no frame number after the header)", line)
        offset, line = stop + 1, line + 1
    parsed = _fast_frames(data[offset:], skeleton)
    if parsed is None:
        lines = [text.rstrip("\r") for text in data[offset:].decode("latin-1").split("\n")]
        parsed = _slow_frames(p, lines, line, skeleton)
    values, first_frame = parsed
    return AMCMotion(str(p), degrees, values, first_frame)


# --- forward kinematics -------------------------------------------------------------------------

_EYE3 = np.eye(3)


def _cross_matrix(axis: np.ndarray) -> np.ndarray:
    """``K`` with ``K @ v = axis x v``."""
    x, y, z = axis
    return np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])


def _turns(k: np.ndarray, k2: np.ndarray, radians: np.ndarray) -> np.ndarray:
    """Right-handed rotations ``(T, 3, 3)`` by ``radians (T,)`` about the unit axis of ``k``
    (Rodrigues: ``I + sin K + (1 - cos) K^2``)."""
    return _EYE3 + np.sin(radians)[:, None, None] * k + (1.0 - np.cos(radians))[:, None, None] * k2


def _euler(angles: dict[str, np.ndarray], order: str) -> np.ndarray | None:
    """The rotation of ``angles`` (axis letter -> radians ``(T,)``) in ``order``: ``"XYZ"`` is
    ``Rz @ Ry @ Rx``, x applied first; axes without an angle are skipped; ``None`` = identity."""
    result = None
    for axis in order:
        if axis in angles:
            k = _cross_matrix(_EYE3[_AXIS_INDEX[axis]])
            r = _turns(k, k @ k, angles[axis])
            result = r if result is None else r @ result
    return result


def _axis_frame(bone: ASFBone) -> np.ndarray:
    """The bone's ``C``: its ``axis`` angles as a rotation, in its axis order."""
    c = _euler({a: np.array([bone.axis[k]]) for k, a in enumerate("XYZ")}, bone.axis_order)
    return _EYE3 if c is None else c[0]


def forward_kinematics(skeleton: ASFSkeleton, motion: AMCMotion) -> np.ndarray:
    """Positions of the root and of the end of every bone, in every frame.

    ``G_b = G_parent C_b L_b C_b^T``, computed as ``G_parent`` times the product of the dof turns
    about the axes of the bone's frame ``C_b`` (its columns): ``C R_a C^T`` is the turn about column
    ``a`` of ``C``. That spares multiplying every frame by the constant ``C`` twice, which is the
    slowest step of the literal formula.

    Args:
        skeleton: the parsed ``.asf``.
        motion: the parsed ``.amc``.
    Returns:
        float64 ``(T, 1 + len(skeleton.bones), 3)`` in file units and the mocap world axes, in
        :attr:`ASFSkeleton.point_names` order.
    """
    values = motion.values
    num_frames = values.shape[0]
    radians = values * (math.pi / 180.0) if motion.degrees else values
    root = {channel: k for k, channel in enumerate(skeleton.root_order)}
    positions = np.empty((num_frames, 1 + len(skeleton.bones), 3))
    for k, channel in enumerate(("TX", "TY", "TZ")):
        positions[:, 0, k] = values[:, root[channel]] if channel in root else 0.0
    angles = {c[1]: radians[:, root[c]] for c in ("RX", "RY", "RZ") if c in root}
    # Global rotation of each point's bone (G); None = identity, which saves the products for bones
    # that nothing has turned. Bones without children need only G times their offset.
    rotations: list[np.ndarray | None] = [_euler(angles, skeleton.root_axis)]
    has_children = {b.parent for b in skeleton.bones}
    for index, (bone, steps) in enumerate(zip(skeleton.bones, skeleton.dof_axes), start=1):
        parent = bone.parent + 1
        parent_rotation = rotations[parent]
        offset = np.asarray(bone.direction, dtype=np.float64) * bone.length
        local = None
        for column, k, k2 in steps:
            r = _turns(k, k2, radians[:, column])
            local = r if local is None else r @ local
        if local is None:
            rotation = parent_rotation  # C C^T = I
        elif parent_rotation is None:
            rotation = local
        elif index - 1 in has_children:
            rotation = parent_rotation @ local
        else:  # a leaf: two matrix-vector products instead of a matrix product
            step = (parent_rotation @ (local @ offset)[..., None])[..., 0]
            positions[:, index] = positions[:, parent] + step
            rotations.append(None)
            continue
        step = offset if rotation is None else rotation @ offset
        positions[:, index] = positions[:, parent] + step
        rotations.append(rotation)
    return positions


def acclaim_points(skeleton: ASFSkeleton, motion: AMCMotion) -> np.ndarray:
    """The 31 points of :data:`~engine.skeleton.asf_layouts.ACCLAIM31_JOINTS` in metres, in the
    mocap world axes (+y up; not turned to NTU axes).

    Raises:
        SkeletonFileError: the skeleton lacks one of the 30 HDM05/CMU bones (naming the ``.amc``).
    """
    names = skeleton.point_names
    missing = [n for n in ACCLAIM31_JOINTS if n not in names]
    if missing:
        raise SkeletonFileError(
            motion.path,
            f"its skeleton {Path(skeleton.path).name} lacks the bones {', '.join(missing[:8])}"
            f"{' ...' if len(missing) > 8 else ''} that the HDM05/CMU mapping to NTU-25 needs",
        )
    with np.errstate(over="ignore", invalid="ignore"):
        points = forward_kinematics(skeleton, motion)[:, [names.index(n) for n in ACCLAIM31_JOINTS]]
        points *= skeleton.metres_per_unit
    check_finite(motion.path, points, "joint positions (values too large)")
    return points


# --- files, labels, the registry entry ----------------------------------------------------------


def _asf_candidates(amc: Path) -> list[str]:
    stem = amc.name[: -len(amc.suffix)] if amc.suffix else amc.name
    names = [f"{stem}.asf"]
    hdm = _HDM05_NAME.match(stem)
    if hdm:
        names.append(f"HDM_{hdm.group(1)}.asf")
    elif "_" in stem:
        names.append(f"{stem.split('_')[0]}.asf")  # CMU: 86_01.amc -> 86.asf
    return names


def find_asf(amc: str | os.PathLike) -> Path:
    """The skeleton file beside a motion file (module docstring), names matched case-insensitively.

    Raises:
        SkeletonFileError: none found, naming the ``.amc`` and what was looked for.
    """
    p = Path(amc)
    candidates = _asf_candidates(p)
    for name in candidates:  # the usual case, without listing the folder
        if (p.parent / name).is_file():
            return p.parent / name
    try:
        found = {e.name.lower(): e for e in p.parent.iterdir() if e.suffix.lower() == ".asf" and e.is_file()}
    except OSError:
        found = {}
    for name in candidates:
        if name.lower() in found:
            return found[name.lower()]
    if len(found) == 1:
        return next(iter(found.values()))
    others = f" (the folder holds {len(found)} other .asf files)" if found else ""
    raise SkeletonFileError(
        p,
        f"no skeleton file for this motion: looked for {', '.join(candidates)} beside it{others}; "
        "put it beside the motion or pass asf=PATH to the reader",
    )


def hdm05_name(stem: str) -> tuple[NameLabel | None, dict[str, Any], float | None]:
    """What an HDM05 file name tells: ``HDM_<actor>_<class>_<take>_<rate>``.

    Returns:
        ``(label, meta, frame rate)``: the label when the class is one of the 11 of our subset
        (else ``None``), meta ``actor``, ``take``, ``hdm05_class``; ``(None, {}, None)`` for other
        names.
    """
    m = _HDM05_NAME.match(stem)
    if not m:
        return None, {}, None
    actor, code, take, rate = m.groups()
    meta: dict[str, Any] = {"actor": actor, "take": int(take), "hdm05_class": code}
    label = None
    if code in HDM05_CLASS_CODES:
        index = HDM05_CLASS_CODES.index(code)
        label = NameLabel(DATASET, index, class_names(DATASET)[index], meta)
    return label, meta, float(rate) if int(rate) > 0 else None


def read_acclaim_points(
    path: str | os.PathLike, asf: str | os.PathLike | None = None
) -> tuple[np.ndarray, ASFSkeleton, AMCMotion]:
    """An ``.amc`` file as its 31 FK points: float64 ``(T, 31, 3)`` metres in the raw mocap axes
    (:func:`acclaim_points`), with the parsed skeleton and motion.

    Args:
        path: the ``.amc`` file.
        asf: its skeleton; found beside it when omitted (:func:`find_asf`).
    Raises:
        SkeletonFileError: naming the ``.amc`` (and the ``.asf``, when that is the broken one).
    """
    p = Path(path)
    require_file(p)
    asf_path = Path(asf) if asf is not None else find_asf(p)
    try:
        skeleton = parse_asf(asf_path)
    except SkeletonFileError as exc:
        where = f"skeleton file {asf_path}" + (f", {exc.where}" if exc.where else "")
        raise SkeletonFileError(p, exc.reason, where) from exc
    motion = parse_amc(p, skeleton)
    return acclaim_points(skeleton, motion), skeleton, motion


def read_amc(
    path: str | os.PathLike, asf: str | os.PathLike | None = None, fps: float | None = None
) -> SkeletonSequence:
    """An ``.amc`` file as an NTU-25 sequence.

    Args:
        path: the ``.amc`` file.
        asf: its ``.asf`` skeleton; found beside it when omitted (module docstring).
        fps: frames per second; by default the HDM05 name's rate, else 120. Not resampled.
    Returns:
        ``joints (T, 1, 25, 3)`` float32 metres in NTU axes, layout ``acclaim_31``; label and meta
        from an HDM05 name; ``meta["asf"]`` the skeleton file used.
    Raises:
        SkeletonFileError: malformed ``.amc`` or ``.asf`` (:func:`parse_amc`, :func:`parse_asf`), no
            skeleton found, or a skeleton without the HDM05/CMU bones.
    """
    number = isinstance(fps, Real) and not isinstance(fps, bool)
    if fps is not None and not (number and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    p = Path(path)
    points, skeleton, motion = read_acclaim_points(p, asf)
    with np.errstate(over="ignore", invalid="ignore"):
        joints = to_ntu25(points, ACCLAIM31)[:, None]
    check_finite(p, joints, "joint positions in metres (beyond float32 range)")
    check_position_range(p, joints, "joint positions in metres")
    stem = p.name[: -len(p.suffix)] if p.suffix else p.name
    label, meta, name_fps = hdm05_name(stem)
    if fps is not None:
        rate, rate_from = float(fps), "option"
    elif name_fps is not None:
        rate, rate_from = name_fps, "file name"
    else:
        rate, rate_from = DEFAULT_FPS, "default (HDM05 and CMU record at 120 Hz)"
    meta = dict(meta) | {
        "asf": str(skeleton.path),
        "fps_from": rate_from,
        "length_unit": skeleton.length_unit,
        "first_frame": motion.first_frame,
    }
    return SkeletonSequence(
        joints=joints,
        fps=rate,
        source_format=FORMAT,
        source_layout=ACCLAIM31.name,
        name=stem,
        path=str(p),
        **label_fields(label),
        meta=meta,
    )


def open_amc(
    path: str | os.PathLike, asf: str | os.PathLike | None = None, fps: float | None = None
) -> SkeletonCollection:
    """:func:`read_amc` as a one-item collection (the registry's ``open``)."""
    sequence = read_amc(path, asf=asf, fps=fps)
    return SkeletonCollection.of(path, FORMAT, [sequence], frames=sequence.num_frames)


register_format(
    SkeletonFormat(
        name=FORMAT,
        description="Acclaim ASF/AMC motion capture (.amc with its .asf skeleton; HDM05, CMU)",
        suffixes=(".amc",),
        open=open_amc,
    )
)
