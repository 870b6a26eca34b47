"""MSRC-12 Kinect gesture dataset readers: the compact ``.npz`` of all recordings and the original ``.csv``.

Follows ``msrc12/README.txt`` of the shared data and the dataset's own description
(``MSRC_12_gesture_dataset.pdf``) for S. Fothergill, H. Mentis, P. Kohli, S. Nowozin, "Instructing People
for Training Gestural Interactive Systems", CHI 2012. 30 persons each repeat one of 12 gestures about ten
times in front of a Kinect v1; a recording is one continuous stream with *instant* tags (one time per
gesture instance, "when the gesture should be detected"), not segments. Both readers return the whole
stream as one sequence and give the tags as frame indices in ``meta["tags"]``; cutting windows around
them is left to the caller.

Two formats:

* ``msrc12_npz`` -- ``msrc12_joints_mm.npz``: per recording ``"<sequence>"`` int16 ``(T, 20, 3)``
  millimetres and ``"<sequence>__t_us"`` int64 ``(T,)`` frame times. Labels, person and instruction
  modality come from ``sequences.csv`` beside the file when present, else from the name; tags from
  ``tags.csv`` beside it (its ``frame_index`` column; ``-1`` = no frame, dropped). The archive is read
  lazily: opening reads the zip directory and the ``.npy`` header of each joints member (a few bytes
  decompressed each), items read their two members on access. The one recording without any tracked
  frame (``P1_1_12A_p19``, shape ``(0, 20, 3)``) cannot be a :class:`SkeletonSequence`: by default the
  collection leaves it out and names it in ``info["skipped"]``, so that a loader iterating all items
  needs no special case; ``skip_empty=False`` keeps it, and reading it raises "holds zero frames".
* ``msrc12_csv`` -- one release file ``<sequence>.csv``: space-separated rows of the time in microseconds
  then ``x y z state`` for 20 joints (metres); with ``<sequence>.tagstream`` beside it (``XQPCTick;Tag``
  lines, name matched case-insensitively). Converted exactly as the npz was made (the dataset's MATLAB
  ``load_file.m`` / ``load_tagstream.m``): leading frames whose 80 values are all ``|v| <= 1e-10`` are
  dropped, later all-zero frames are kept as "no body" (all zeros, the project's absent-body
  convention), tag ticks become microseconds as ``(tick * 1000 + 49875 // 2) // 49875`` and frame indices
  as the nearest frame time. The state column (1 for every joint with coordinates) adds nothing and is
  not kept.

Joints are in Kinect SDK v1 order (layout ``kinect_v1_20``); Kinect v1 camera space already has the NTU
axes, so mapping to NTU-25 is :func:`engine.skeleton.layouts.to_ntu25` on metres.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.assets import class_names
from engine.errors import SkeletonFileError
from engine.io.base import (
    DAMAGED_DATA_ERRORS,
    SkeletonCollection,
    SkeletonFormat,
    check_finite,
    check_position_range,
    register_format,
    require_file,
    text_lines,
)
from engine.io.npz_members import load_npy_member, npy_member_header
from engine.io.ntu_skeleton import decode_ascii, first_non_finite, parse_number_rows, read_bytes
from engine.skeleton.layouts import to_ntu25
from engine.types import SkeletonSequence

FORMAT_NPZ = "msrc12_npz"
FORMAT_CSV = "msrc12_csv"
LAYOUT = "kinect_v1_20"
DATASET = "msrc12"
FPS = 30.0  # nominal rate of the Kinect v1 (the PDF); the real steps vary, see meta["t_us"]
NUM_SOURCE_JOINTS = 20
MM_PER_M = 1000.0
TIME_SUFFIX = "__t_us"
SEQUENCES_CSV = "sequences.csv"
TAGS_CSV = "tags.csv"
CSV_FIELDS = 1 + NUM_SOURCE_JOINTS * 4  # time, then x y z state per joint
ZERO_TOLERANCE = 1e-10  # load_file.m's test for an empty frame
TICKS_PER_MS = 49875  # XQPC ticks per millisecond of the tagstream clock (load_tagstream.m)
TAGSTREAM_HEADER = "XQPCTick;Tag"
# Ticks become microseconds as tick * 1000 in int64 (ticks_to_us); the release's are ~1.5e12.
_MAX_TICK = (2**63 - 1 - TICKS_PER_MS) // 1000

MODALITY_NAMES = {
    "C1": "video",
    "C2": "images",
    "C3": "written description",
    "C4": "video + written description",
    "C5": "images + written description",
}
# Which instruction code means which modality, per gesture group (G1/G7, G2/G8, ..., G6/G12), from the
# table on page 3 of the PDF (README "INSTRUCTIONS"): the single-instruction modalities C1, C2, C3 as the
# prefix P<a> of both codes P<a>_1 and P<a>_2, then the two "A" codes of C4 and of C5.
_INSTRUCTIONS: tuple[tuple[str, str, str, tuple[str, str], tuple[str, str]], ...] = (
    ("P1", "P2", "P3", ("P1_1A", "P3_1A"), ("P2_1A", "P3_2A")),
    ("P3", "P1", "P2", ("P3_1A", "P2_1A"), ("P1_1A", "P2_2A")),
    ("P2", "P3", "P1", ("P2_1A", "P1_1A"), ("P3_1A", "P1_2A")),
    ("P1", "P2", "P3", ("P1_2A", "P3_2A"), ("P2_2A", "P3_1A")),
    ("P3", "P1", "P2", ("P3_2A", "P2_2A"), ("P1_2A", "P2_1A")),
    ("P2", "P3", "P1", ("P2_2A", "P1_2A"), ("P3_2A", "P1_1A")),
)
# P<a>_<b>_<gesture>[A]_p<person>; the release writes one tagstream with a lower-case first "p".
_NAME = re.compile(r"^[Pp](\d+)_(\d+)_(\d+)(A?)_p(\d+)$")
_SNIFF_BYTES = 8192  # one release row is at most ~1 kB
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


# --- names, modalities, labels -------------------------------------------------------------------------


@dataclass(frozen=True)
class Msrc12Name:
    """What a recording's name ``P<a>_<b>_<gesture>[A]_p<person>`` tells.

    Attributes:
        instruction_code: ``"P1_1"`` or ``"P1_1A"`` (``A``: the person got two kinds of instruction).
        gesture_id: 1..12 (``G1`` .. ``G12``).
        person: 1-based person number.
        modality: ``"C1"`` .. ``"C5"`` from the PDF's instruction table, None if the code is not in it.
    """

    instruction_code: str
    gesture_id: int
    person: int
    modality: str | None


def modality_of(gesture_id: int, instruction_code: str) -> str | None:
    """Instruction modality ``"C1"`` .. ``"C5"`` of a recording, or None when the table has no such pair."""
    if not 1 <= gesture_id <= 12:
        return None
    c1, c2, c3, c4, c5 = _INSTRUCTIONS[(gesture_id - 1) % 6]
    if instruction_code.endswith("A"):
        return "C4" if instruction_code in c4 else "C5" if instruction_code in c5 else None
    prefix, _, session = instruction_code.partition("_")
    if session not in ("1", "2"):
        return None
    return {c1: "C1", c2: "C2", c3: "C3"}.get(prefix)


def parse_msrc12_name(name: str) -> Msrc12Name | None:
    """Parse a recording name (with or without ``.csv``/``.tagstream``); None if it is not one."""
    stem = re.sub(r"\.(csv|tagstream)$", "", name.rsplit("/", 1)[-1], flags=re.IGNORECASE)
    m = _NAME.match(stem)
    if m is None:
        return None
    a, b, gesture, again, person = m.groups()
    gesture_id = int(gesture)
    if not 1 <= gesture_id <= len(class_names(DATASET)):
        return None
    code = f"P{int(a)}_{int(b)}{again}"
    return Msrc12Name(code, gesture_id, int(person), modality_of(gesture_id, code))


def _label_fields(gesture_id: int | None) -> dict[str, Any]:
    if gesture_id is None:
        return {"label": None, "label_id": None, "dataset": None}
    return {"label": class_names(DATASET)[gesture_id - 1], "label_id": gesture_id - 1, "dataset": DATASET}


def _name_meta(parsed: Msrc12Name) -> dict[str, Any]:
    return {
        "person": parsed.person,
        "gesture_id": parsed.gesture_id,
        "instruction_code": parsed.instruction_code,
        "modality": parsed.modality,
        "modality_name": MODALITY_NAMES.get(parsed.modality or ""),
    }


# --- tags ----------------------------------------------------------------------------------------------


def ticks_to_us(ticks: np.ndarray) -> np.ndarray:
    """Tagstream XQPC ticks -> microseconds on the clock of the CSV time column, in integer arithmetic as
    the dataset's ``load_tagstream.m`` (= ``round(tick / 49.875)``)."""
    ticks = np.asarray(ticks, dtype=np.int64)
    return (ticks * 1000 + TICKS_PER_MS // 2) // TICKS_PER_MS


def nearest_frames(t_us: np.ndarray, tag_us: np.ndarray) -> np.ndarray:
    """Index of the frame whose time is nearest to each tag time (the earlier one on a tie)."""
    t = np.asarray(t_us, dtype=np.int64)
    tags = np.asarray(tag_us, dtype=np.int64)
    if len(tags) == 0 or len(t) == 0:
        return np.zeros(len(tags), dtype=np.int64)
    # A binary search in the sorted times, not a tags x frames table of differences: a damaged
    # tagstream of a million lines would make that table gigabytes. The nearest time is the last one
    # below the tag or the first at or above it; among equal times (the stable sort keeps them in
    # frame order) and equal distances the lowest frame index wins, as an argmin over all frames.
    order = np.argsort(t, kind="stable")
    ts = t[order]
    after = np.searchsorted(ts, tags, side="left")
    candidates = []
    for k in (np.maximum(after - 1, 0), np.minimum(after, len(ts) - 1)):
        first = np.searchsorted(ts, ts[k], side="left")
        candidates.append((np.abs(ts[k] - tags), order[first]))
    (d0, i0), (d1, i1) = candidates
    return np.where(d0 < d1, i0, np.where(d1 < d0, i1, np.minimum(i0, i1)))


def read_tagstream(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """A ``.tagstream`` file as ``(ticks int64, gesture ids int64)``, one entry per tag line.

    Raises:
        SkeletonFileError: naming the tagstream, for a missing header or a line that is not
            ``<tick>;G<n> <name>``.
    """
    p = Path(path)
    text = decode_ascii(p, read_bytes(p))
    lines = [line.strip() for line in text_lines(p, text)]
    if lines[0].lstrip("\ufeff") != TAGSTREAM_HEADER:
        raise SkeletonFileError(
            p, f"first line is {lines[0][:40]!r}, expected {TAGSTREAM_HEADER!r}", "line 1"
        )
    ticks, gestures = [], []
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        tick, _, tag = line.partition(";")
        m = re.match(r"G(\d+)\b", tag.strip())
        if not _INTEGER.fullmatch(tick.strip()) or m is None:
            raise SkeletonFileError(p, f"{line[:40]!r} is not '<tick>;G<n> <gesture>'", f"line {number}")
        # lengths first: int() refuses numbers of over 4300 digits with a ValueError of its own
        if len(tick.strip().lstrip("+-")) > 19 or abs(int(tick)) > _MAX_TICK or len(m.group(1)) > 6:
            raise SkeletonFileError(
                p, f"{line[:40]!r}: the tick or the gesture number is out of range", f"line {number}"
            )
        ticks.append(int(tick))
        gestures.append(int(m.group(1)))
    return np.asarray(ticks, dtype=np.int64), np.asarray(gestures, dtype=np.int64)


def find_tagstream(csv_path: str | os.PathLike) -> Path | None:
    """The ``.tagstream`` beside a release ``.csv``, its name matched case-insensitively (the release
    has ``p2_1_2A_p12.tagstream`` for ``P2_1_2A_p12.csv``); None when there is none."""
    p = Path(csv_path)
    exact = p.with_suffix(".tagstream")
    if exact.is_file():
        return exact
    wanted = exact.name.lower()
    try:
        with os.scandir(p.parent) as entries:
            for entry in entries:
                if entry.name.lower() == wanted and entry.is_file():
                    return Path(entry.path)
    except OSError:
        return None
    return None


# --- the release .csv ------------------------------------------------------------------------------------


def _csv_rows(path: Path) -> list[str]:
    text = decode_ascii(path, read_bytes(path))
    return [line.rstrip("\r") for line in text_lines(path, text)]


def read_msrc12_csv(path: str | os.PathLike, tagstream: str | os.PathLike | None = None) -> SkeletonSequence:
    """One MSRC-12 release ``.csv`` as the NTU-25 sequence of the whole recording.

    Args:
        path: ``P<a>_<b>_<gesture>[A]_p<person>.csv``.
        tagstream: its tag file; by default the ``.tagstream`` beside it (any case), if there is one.
    Returns:
        ``joints (T, 1, 25, 3)`` metres after dropping the leading empty frames (later empty frames are
        all zeros); label, person, instruction code and modality from the name; ``meta`` with ``t_us``
        (int64 frame times), ``dropped_leading_zero_frames``, ``zero_frames_kept`` and, with a tagstream,
        ``tags`` (frame indices) and ``tag_t_us`` (tag times).
    Raises:
        SkeletonFileError: a row without 81 numbers, a non-number, NaN/inf, a time that is not a whole
            number of microseconds, no tracked frame at all, or a malformed tagstream (naming it).
    """
    p = Path(path)
    rows = _csv_rows(p)
    values = parse_number_rows(
        p, rows, CSV_FIELDS, lambda r: (r + 1, "in a frame row (time, then x y z state of 20 joints)")
    )
    bad = first_non_finite(values)
    if bad is not None:
        r, c = bad
        raise SkeletonFileError(p, f"value {values[r, c]} in field {c + 1} is not finite", f"line {r + 1}")
    times = values[:, 0]
    # float64 holds every integer below 2**53 exactly; the release's times are ~1e10..1e13
    not_whole = (times != np.round(times)) | (np.abs(times) >= 2.0**53)
    if not_whole.any():
        r = int(np.argmax(not_whole))
        raise SkeletonFileError(
            p, f"time {rows[r].split()[0][:40]!r} is not a whole number of microseconds", f"line {r + 1}"
        )
    empty = np.all(np.abs(values[:, 1:]) <= ZERO_TOLERANCE, axis=1)
    if empty.all():
        raise SkeletonFileError(p, f"holds zero frames: all {len(rows)} rows are empty (no skeleton tracked)")
    first = int(np.argmax(~empty))
    xyz = values[first:, 1:].reshape(-1, NUM_SOURCE_JOINTS, 4)[..., :3].copy()
    xyz[empty[first:]] = 0.0  # tolerance-zero frames become exact zeros: "no body"
    t_us = times[first:].astype(np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        joints = to_ntu25(xyz, LAYOUT)[:, None]
    check_finite(p, joints, "frames (beyond float32 range)")
    check_position_range(p, joints, "frames")

    parsed = parse_msrc12_name(p.name)
    meta: dict[str, Any] = _name_meta(parsed) if parsed else {}
    meta |= {
        "t_us": t_us,
        "dropped_leading_zero_frames": first,
        "zero_frames_kept": int(empty[first:].sum()),
    }
    tag_path = Path(tagstream) if tagstream is not None else find_tagstream(p)
    if tag_path is not None:
        ticks, gestures = read_tagstream(tag_path)
        tag_us = ticks_to_us(ticks)
        meta |= {
            "tags": nearest_frames(t_us, tag_us).tolist(),
            "tag_t_us": tag_us.tolist(),
            "tagstream": str(tag_path),
        }
        if parsed is not None and (gestures != parsed.gesture_id).any():
            named = sorted(set(gestures.tolist()))
            meta["note"] = f"the tagstream names gestures {named}, the file name G{parsed.gesture_id}"
    return SkeletonSequence(
        joints=joints,
        fps=FPS,
        source_format=FORMAT_CSV,
        source_layout=LAYOUT,
        name=p.stem,
        path=str(p),
        **_label_fields(parsed.gesture_id if parsed else None),
        meta=meta,
    )


def open_msrc12_csv(
    path: str | os.PathLike, tagstream: str | os.PathLike | None = None
) -> SkeletonCollection:
    """:func:`read_msrc12_csv` as a one-item collection (the registry's ``open``)."""
    sequence = read_msrc12_csv(path, tagstream=tagstream)
    return SkeletonCollection.of(path, FORMAT_CSV, [sequence], frames=sequence.num_frames)


def sniff_msrc12_csv(path: Path) -> bool:
    """The first line is an integer time then 80 numbers, separated by single spaces (the Kinder-Gator
    CSV starts with a ``Timestamp, HipCenterX`` header, NTU-style text files with a count)."""
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError:
        return False
    line, newline, _ = head.partition(b"\n")
    if not newline:
        return False
    try:
        tokens = line.rstrip(b"\r").decode("ascii").split(" ")
    except UnicodeDecodeError:
        return False
    return (
        len(tokens) == CSV_FIELDS
        and _INTEGER.fullmatch(tokens[0]) is not None
        and all(_DECIMAL.fullmatch(t) for t in tokens[1:])
    )


# --- the compact .npz -------------------------------------------------------------------------------------


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except DAMAGED_DATA_ERRORS as exc:
        raise SkeletonFileError(path, f"not a readable .npz archive ({type(exc).__name__}: {exc})") from None


def _side_table(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]] | None:
    """``(line number, row)`` of a side CSV, or None when the file is not there."""
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SkeletonFileError(path, f"cannot be read ({exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise SkeletonFileError(path, f"missing columns {missing}", "line 1")
    return [(n, row) for n, row in enumerate(reader, start=2)]


def _side_int(path: Path, line: int, row: dict[str, str], column: str) -> int:
    value = (row.get(column) or "").strip()
    # a length cap: int() refuses numbers of over 4300 digits with a ValueError of its own
    if not _INTEGER.fullmatch(value) or len(value) > 20:
        raise SkeletonFileError(path, f"{column} {value[:40]!r} is not an integer", f"line {line}")
    return int(value)


@dataclass
class _SideFiles:
    """What ``sequences.csv`` and ``tags.csv`` beside the npz say, by sequence name."""

    meta: dict[str, dict[str, Any]]
    gesture: dict[str, int]
    tags: dict[str, tuple[list[int], list[int]]] | None
    sequences_csv: Path | None
    tags_csv: Path | None


def _read_side_files(folder: Path, names: set[str]) -> _SideFiles:
    seq_path, tag_path = folder / SEQUENCES_CSV, folder / TAGS_CSV
    meta: dict[str, dict[str, Any]] = {}
    gesture: dict[str, int] = {}
    seq_rows = _side_table(seq_path, ("sequence", "instruction_code", "modality", "gesture_id", "person"))
    for line, row in seq_rows or []:
        name = row["sequence"]
        if name not in names:
            continue  # a row of another archive: the name scheme still labels ours
        gid = _side_int(seq_path, line, row, "gesture_id")
        if not 1 <= gid <= len(class_names(DATASET)):
            raise SkeletonFileError(seq_path, f"gesture_id {gid} is not 1..12", f"line {line}")
        gesture[name] = gid
        modality = row["modality"].strip() or None
        meta[name] = {
            "person": _side_int(seq_path, line, row, "person"),
            "gesture_id": gid,
            "instruction_code": row["instruction_code"].strip(),
            "modality": modality,
            "modality_name": row.get("modality_name") or MODALITY_NAMES.get(modality or ""),
        }
        if (row.get("dropped_leading_zero_frames") or "").strip():
            meta[name]["dropped_leading_zero_frames"] = _side_int(
                seq_path, line, row, "dropped_leading_zero_frames"
            )
    tags: dict[str, tuple[list[int], list[int]]] | None = None
    tag_rows = _side_table(tag_path, ("sequence", "tag_time_us", "frame_index"))
    if tag_rows is not None:
        tags = {}
        for line, row in tag_rows:
            name = row["sequence"]
            if name not in names:
                continue
            frames, times = tags.setdefault(name, ([], []))
            index = _side_int(tag_path, line, row, "frame_index")
            if index >= 0:  # -1: the recording has no frame to put the tag on
                frames.append(index)
                times.append(_side_int(tag_path, line, row, "tag_time_us"))
    return _SideFiles(
        meta,
        gesture,
        tags,
        sequences_csv=seq_path if seq_rows is not None else None,
        tags_csv=tag_path if tag_rows is not None else None,
    )


class _Msrc12Npz:
    """One archive: member pairs and headers checked at open, members read on access.

    The zip is kept open between items (re-parsing its directory of ~1,200 entries per item would cost
    more than reading the item) and re-opened in another process, whose file offset must not be shared.
    """

    def __init__(self, path: Path, skip_empty: bool) -> None:
        self.path = path
        self._zf: zipfile.ZipFile | None = None
        self._pid = -1
        try:
            self._read_directory(skip_empty)
        except BaseException:
            self.close()  # a refused file leaves no handle open behind the error
            raise

    def close(self) -> None:
        if self._zf is not None:
            self._zf.close()
            self._zf = None

    def _read_directory(self, skip_empty: bool) -> None:
        """Pair the members, check each joints header, read the side CSVs."""
        path = self.path
        zf = self._zip()
        members = zf.namelist()
        not_npy = [m for m in members if not m.endswith(".npy")]
        if not_npy:
            raise SkeletonFileError(path, f"member {not_npy[0]!r} is not a .npy array")
        keys = [m[: -len(".npy")] for m in members]
        key_set = set(keys)
        names = [k for k in keys if not k.endswith(TIME_SUFFIX)]
        if not names:
            raise SkeletonFileError(path, "holds no sequences (no '<name>' and '<name>__t_us' arrays)")
        for k in keys:
            if k.endswith(TIME_SUFFIX) and k[: -len(TIME_SUFFIX)] not in key_set:
                raise SkeletonFileError(path, f"frame times without joints '{k[: -len(TIME_SUFFIX)]}'", k)
        self.frames: dict[str, int] = {}
        for name in names:
            if name + TIME_SUFFIX not in key_set:
                raise SkeletonFileError(path, f"no frame times '{name}{TIME_SUFFIX}' for these joints", name)
            header = npy_member_header(zf, f"{name}.npy", path)
            shape, dtype = header.shape, header.dtype
            if len(shape) != 3 or shape[1:] != (NUM_SOURCE_JOINTS, 3):
                raise SkeletonFileError(path, f"array has shape {shape}, expected (frames, 20, 3)", name)
            if dtype.kind not in "iuf":
                raise SkeletonFileError(path, f"holds {dtype}, expected millimetres as numbers", name)
            self.frames[name] = shape[0]
        self.empty = [n for n in names if self.frames[n] == 0]
        self.names = [n for n in names if not (skip_empty and self.frames[n] == 0)]
        self.num_in_file = len(names)
        self.side = _read_side_files(path.parent, key_set)

    def __getstate__(self) -> dict[str, Any]:
        # picklable for DataLoader workers: the open zip stays behind
        return {**self.__dict__, "_zf": None, "_pid": -1}

    def _zip(self) -> zipfile.ZipFile:
        if self._zf is None or self._pid != os.getpid():
            # a forked worker closes its copy of the parent's handle (the parent's stays open)
            self.close()
            self._zf = _open_zip(self.path)
            self._pid = os.getpid()
        return self._zf

    def sequence(self, index: int) -> SkeletonSequence:
        name = self.names[index]
        path = self.path
        if self.frames[name] == 0:
            raise SkeletonFileError(
                path, "holds zero frames (no skeleton was tracked in this recording)", name
            )
        zf = self._zip()
        mm = load_npy_member(zf, f"{name}.npy", path)
        if mm.shape != (self.frames[name], NUM_SOURCE_JOINTS, 3):
            raise SkeletonFileError(path, "changed since it was opened", name)
        t_key = name + TIME_SUFFIX
        t_us = load_npy_member(zf, f"{t_key}.npy", path)
        if t_us.ndim != 1 or t_us.dtype.kind not in "iu":
            raise SkeletonFileError(
                path, f"is {t_us.dtype} {t_us.shape}, expected integer microseconds (T,)", t_key
            )
        if len(t_us) != len(mm):
            raise SkeletonFileError(path, f"holds {len(t_us)} times for {len(mm)} frames", t_key)
        where = f"{name} (frame, joint, coord)"
        if mm.dtype.kind == "f":
            check_finite(path, mm, where)
        # float members beyond float32 range overflow to inf: caught below, not warned about
        with np.errstate(over="ignore", invalid="ignore"):
            joints = to_ntu25(np.asarray(mm, dtype=np.float32) / np.float32(MM_PER_M), LAYOUT)[:, None]
        if mm.dtype.kind == "f":
            check_finite(path, joints, f"{where}, beyond float32 range")
        check_position_range(path, joints, where)

        side = self.side
        parsed = parse_msrc12_name(name)
        if name in side.meta:
            meta = dict(side.meta[name])
            gesture_id: int | None = side.gesture[name]
        elif parsed is not None:
            meta, gesture_id = _name_meta(parsed), parsed.gesture_id
        else:
            meta, gesture_id = {}, None
        meta["t_us"] = np.asarray(t_us, dtype=np.int64)
        meta["zero_frames_kept"] = int((~np.any(mm != 0, axis=(1, 2))).sum())
        if side.tags is not None:
            frames, times = side.tags.get(name, ([], []))
            meta["tags"], meta["tag_t_us"] = list(frames), list(times)
        return SkeletonSequence(
            joints=joints,
            fps=FPS,
            source_format=FORMAT_NPZ,
            source_layout=LAYOUT,
            name=name,
            path=str(path),
            **_label_fields(gesture_id),
            meta=meta,
        )


def open_msrc12_npz(path: str | os.PathLike, skip_empty: bool = True) -> SkeletonCollection:
    """Every recording of ``msrc12_joints_mm.npz``, each the NTU-25 sequence of its whole stream.

    Args:
        path: the archive; ``sequences.csv`` and ``tags.csv`` beside it are used when present.
        skip_empty: leave recordings with zero frames out of the collection (named in
            ``info["skipped"]``); with False they stay and reading one raises "holds zero frames".
    Returns:
        a lazy collection in archive order; item ``joints (T, 1, 25, 3)`` metres (untracked frames all
        zeros), ``fps`` 30, the gesture label of ``msrc12``, ``meta`` with person, gesture_id,
        instruction_code, modality, modality_name, ``t_us`` (int64 frame times), zero_frames_kept,
        ``dropped_leading_zero_frames`` (from ``sequences.csv`` only) and, with ``tags.csv``, ``tags``
        (frame indices) and ``tag_t_us``. The archive stays open while the collection lives (re-opened
        in a forked worker); ``info`` says where labels and tags came from and what was skipped.
    Raises:
        SkeletonFileError: not a zip, members without their pair, a joints array that is not
            ``(T, 20, 3)`` numbers, a damaged member (when its item is read), bad side CSVs (naming them).
    """
    p = Path(path)
    require_file(p)
    data = _Msrc12Npz(p, skip_empty)
    info: dict[str, Any] = {
        "frames_total": sum(data.frames[n] for n in data.names),
        "fps": FPS,
        "source_layout": LAYOUT,
        "sequences_in_file": data.num_in_file,
        "labels_from": str(data.side.sequences_csv) if data.side.sequences_csv else "file names",
        "tags_from": str(data.side.tags_csv) if data.side.tags_csv else None,
    }
    if skip_empty and data.empty:
        info["skipped"] = {name: "holds zero frames" for name in data.empty}
    return SkeletonCollection(p, FORMAT_NPZ, len(data.names), data.sequence, info)


def sniff_msrc12_npz(path: Path) -> bool:
    """The zip directory pairs ``<name>.npy`` with ``<name>__t_us.npy`` (nothing is decompressed)."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except DAMAGED_DATA_ERRORS:
        return False
    suffix = f"{TIME_SUFFIX}.npy"
    return any(n.endswith(suffix) and f"{n[: -len(suffix)]}.npy" in names for n in names)


register_format(
    SkeletonFormat(
        name=FORMAT_NPZ,
        description="MSRC-12 Kinect gestures .npz (<sequence> mm + <sequence>__t_us)",
        suffixes=(".npz",),
        open=open_msrc12_npz,
        sniff=sniff_msrc12_npz,
    )
)
register_format(
    SkeletonFormat(
        name=FORMAT_CSV,
        description="MSRC-12 Kinect gesture release .csv (time + 20 x (x y z state))",
        suffixes=(".csv",),
        open=open_msrc12_csv,
        sniff=sniff_msrc12_csv,
    )
)
