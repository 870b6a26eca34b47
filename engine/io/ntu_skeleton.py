"""NTU RGB+D 60/120 ``.skeleton`` files: the reader (with the usual body denoising) and the writer
the app uses for its recordings.

Format (docs/data_formats.md#item-1-ntu-rgbd-skeleton-files, ``shared/data/ntu_samples/README.txt``): the frame
count; per
frame the body count; per body a 10-field info line (``bodyID clippedEdges handLeftConfidence
handLeftState handRightConfidence handRightState isRestricted leanX leanY trackingState``), the joint
count ``25``, then 25 lines of 12 numbers ``x y z depthX depthY colorX colorY orientW orientX orientY
orientZ trackingState``. We keep ``x y z`` (metres, already NTU camera axes) and the joint
``trackingState`` as confidence: tracked (2) -> 1.0, inferred (1) -> 0.5, not tracked (0) -> 0.0.

Several bodies: Kinect gives a new body ID whenever it loses and re-finds a person, and sometimes
tracks furniture or reflections. We keep at most two actors with the denoising of SGN
(``microsoft/SGN:data/ntu/get_raw_denoised_data.py``, which CTR-GCN and the ZSSAR feature extractors
reuse): drop bodies seen in <= 11 frames, drop bodies whose frames are mostly wider than tall, rank
the rest by motion, and fill actor 1 / actor 2 with bodies whose frame intervals do not overlap. Where
that code relies on an accident of its data layout we follow the evident intent instead; see
:func:`_denoise` for the three places.

Unlike SGN we keep the file's timeline: a frame without a body (or whose bodies were all noise) stays
as zeros, so frame numbers match the file and its video (``drop_empty_frames=True`` removes them as
SGN does).

Recordings: :func:`write_ntu_skeleton` writes the app's recordings in this format, with the body
slot as bodyID (0, 1, ...). Real Kinect trackingIds are never that small, so the reader recognises
a recording and puts each body back in its slot without denoising (which would drop a person seen
for less than 12 frames): write then read is bit-identical. The format has no frame rate; every file
reads as 30 fps.

Strictness: every malformed input (truncated, wrong counts, not a number, NaN/inf, a coordinate
beyond 100 m, tracking state other than 0/1/2, non-blank text after the last frame, a bodyID twice
in one frame) raises :class:`SkeletonFileError` with the line number. Trailing blank lines and a
missing final newline are fine.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write_text
from engine.errors import SkeletonFileError
from engine.io.base import (
    MAX_ABS_METRES,
    SkeletonCollection,
    SkeletonFormat,
    check_sequence_size,
    register_format,
    require_file,
    text_lines,
)
from engine.io.names import label_fields, label_from_name
from engine.types import NUM_JOINTS, SkeletonSequence

log = logging.getLogger(__name__)

FPS = 30.0  # Kinect v2

# SGN denoising thresholds. Source: microsoft/SGN data/ntu/get_raw_denoised_data.py
# (noise_len_thres, noise_spr_thres1, noise_spr_thres2); identical in Uason-Chen/CTR-GCN data/ntu/.
NOISE_LEN_THRES = 11  # a body seen in <= 11 frames is noise
NOISE_SPR_THRES1 = 0.8  # a frame is "noisy" when its x-spread > 0.8 * its y-spread
NOISE_SPR_THRES2 = 0.69754  # a body whose noisy-frame ratio is >= this is noise
# SGN's motion filter (noise_mot_thres_lo/hi) is commented out in its code: motion only ranks bodies.

_JOINT_FIELDS = (
    "x", "y", "z", "depthX", "depthY", "colorX", "colorY",
    "orientW", "orientX", "orientY", "orientZ", "trackingState",
)  # fmt: skip
_INFO_FIELDS = (
    "bodyID", "clippedEdges", "handLeftConfidence", "handLeftState", "handRightConfidence",
    "handRightState", "isRestricted", "leanX", "leanY", "trackingState",
)  # fmt: skip

# Joint trackingState (Kinect v2 TrackingState: 0 NotTracked, 1 Inferred, 2 Tracked) <-> confidence.
_STATE_TO_CONFIDENCE = np.array([0.0, 0.5, 1.0], dtype=np.float32)

# Recordings written by :func:`write_ntu_skeleton` use the body slot index as bodyID. Kinect v2
# trackingIds are 64-bit and never that small (NTU's are all 7205759403xxxxxxx), so a file whose IDs
# are all small canonical integers is a recording: each body goes back to its slot, with no
# denoising (it would drop a person seen briefly). The cap bounds memory for hostile files.
RECORDING_MAX_BODIES = 16

# No count in a real file has more digits; a longer one is refused before it is converted.
_MAX_COUNT_DIGITS = 12

# What the slow path accepts as a number: the syntax numpy's loadtxt accepts (Python's float() also
# takes "1_0", which no skeleton writer produces). nan/inf parse here and fail the finiteness check,
# so the message says "not finite" rather than "not a number".
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)", re.IGNORECASE)


# --- shared checked parsing of whitespace-separated number tables (also used by pku_mmd) ----------


def parse_number_rows(
    path: str | os.PathLike,
    rows: list[str],
    num_fields: int,
    locate: Callable[[int], tuple[int, str]],
) -> np.ndarray:
    """Parse text rows of exactly ``num_fields`` numbers each.

    numpy's C ``loadtxt`` parses and counts the whole table at once (about twice as fast as Python
    ``float`` per token, and it checks every row's field count); only when it refuses the table do
    we walk the rows in Python to say where and why.

    Args:
        path: the file, for error messages.
        rows: one string per row, without line ends.
        num_fields: numbers each row must hold.
        locate: row index -> (1-based line number, what the row is, e.g. "for joint 3 of body 1 in
            frame 2").
    Returns:
        float64 ``(len(rows), num_fields)``; may hold NaN/inf (the caller checks, to name the field).
    Raises:
        SkeletonFileError: a row with another count of fields, or a field that is not a number.
    """
    if not rows:
        return np.zeros((0, num_fields))
    try:
        with warnings.catch_warnings():  # "input contained no data" for all-blank rows: handled below
            warnings.simplefilter("ignore", UserWarning)
            values = np.loadtxt(rows, dtype=np.float64, comments=None, ndmin=2)
        # loadtxt skips blank rows, so the row count is checked too.
        if values.shape == (len(rows), num_fields):
            return values
    except ValueError:
        pass
    out = np.empty((len(rows), num_fields))
    for r, row in enumerate(rows):
        tokens = row.split()
        if len(tokens) != num_fields:
            line, what = locate(r)
            raise SkeletonFileError(
                path, f"expected {num_fields} numbers {what}, found {len(tokens)}", f"line {line}"
            )
        for c, token in enumerate(tokens):
            if not _NUMBER.fullmatch(token):
                line, what = locate(r)
                raise SkeletonFileError(
                    path, f"{_shorten(token)} is not a number (field {c + 1} {what})", f"line {line}"
                )
            out[r, c] = float(token)
    return out


def first_non_finite(values: np.ndarray) -> tuple[int, int] | None:
    """(row, column) of the first NaN/inf in a 2-D table, or None."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    r, c = np.argwhere(bad)[0]
    return int(r), int(c)


def _shorten(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def decode_ascii(path: str | os.PathLike, data: bytes) -> str:
    """The file's text; a non-ASCII byte means it is not one of the Kinect text formats."""
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SkeletonFileError(
            path,
            f"byte 0x{data[exc.start]:02x} is not ASCII text (not a skeleton text file?)",
            f"line {line}",
        ) from None


def read_bytes(path: Path) -> bytes:
    require_file(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SkeletonFileError(path, f"cannot be read ({exc.strerror or exc})") from None


# --- parsing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    """The body blocks of one file, in file order.

    Attributes:
        num_frames: the frame count the file declares.
        frame: int64 ``(B,)``: the frame of each body block.
        body_ids: ``B`` bodyID strings.
        xyz: float32 ``(B, 25, 3)``.
        state: int64 ``(B, 25)`` joint tracking states (0, 1, 2).
        first_line: int64 ``(B,)``: 0-based line of each block's info line (for messages).
    """

    num_frames: int
    frame: np.ndarray
    body_ids: list[str]
    xyz: np.ndarray
    state: np.ndarray
    first_line: np.ndarray


def _count_at(path: Path, lines: list[str], i: int, what: str) -> int:
    """The non-negative integer on line ``i`` (0-based)."""
    if i >= len(lines):
        raise SkeletonFileError(path, f"file ends early: expected {what}", f"line {i + 1}")
    text = lines[i].strip()
    if text.isdigit() and text.isascii():
        if len(text) > _MAX_COUNT_DIGITS:  # int() itself refuses over 4300 digits, with a ValueError
            raise SkeletonFileError(path, f"{what} {_shorten(text)} is far too large", f"line {i + 1}")
        return int(text)
    if text[:1] == "-" and text[1:].isdigit():
        raise SkeletonFileError(path, f"{what} is negative ({text})", f"line {i + 1}")
    raise SkeletonFileError(
        path, f"expected {what} (one whole number), found {_shorten(text)}", f"line {i + 1}"
    )


def _parse(path: Path, text: str) -> _Parsed:
    lines = text_lines(path, text)
    n = len(lines)

    num_frames = _count_at(path, lines, 0, "the frame count")
    if num_frames == 0:
        raise SkeletonFileError(path, "the frame count is 0: the file holds no frames", "line 1")

    i = 1
    block_frame: list[int] = []
    block_line: list[int] = []  # 0-based line of each block's info line
    body_ids: list[str] = []
    info_rows: list[str] = []
    joint_rows: list[str] = []
    for f in range(num_frames):
        num_bodies = _count_at(path, lines, i, f"the body count of frame {f + 1}")
        i += 1
        for b in range(num_bodies):
            where = f"body {b + 1} of frame {f + 1}"
            if i >= n:
                raise SkeletonFileError(
                    path, f"file ends early: expected the info line of {where}", f"line {i + 1}"
                )
            info = lines[i].split(None, 1)
            body_id = info[0] if info else ""
            if not (body_id.isdigit() and body_id.isascii()):
                raise SkeletonFileError(
                    path,
                    f"expected the info line of {where}, starting with a numeric bodyID, "
                    f"found {_shorten(lines[i].strip())}",
                    f"line {i + 1}",
                )
            block_line.append(i)
            block_frame.append(f)
            body_ids.append(body_id)
            info_rows.append(info[1] if len(info) > 1 else "")
            num_joints = _count_at(path, lines, i + 1, f"the joint count of {where}")
            if num_joints != NUM_JOINTS:
                raise SkeletonFileError(
                    path, f"expected {NUM_JOINTS} joints for {where}, found {num_joints}", f"line {i + 2}"
                )
            i += 2
            if i + NUM_JOINTS > n:
                raise SkeletonFileError(
                    path,
                    f"file ends early: {where} has {max(n - i, 0)} of its {NUM_JOINTS} joint lines",
                    f"line {n}",
                )
            joint_rows.extend(lines[i : i + NUM_JOINTS])
            i += NUM_JOINTS
    if i < n:
        raise SkeletonFileError(
            path,
            f"unexpected text after the last of the {num_frames} frames the first line announces: "
            f"{_shorten(lines[i].strip())}",
            f"line {i + 1}",
        )
    if not block_frame:
        raise SkeletonFileError(path, f"holds no body in any of its {num_frames} frames")

    first_line = np.asarray(block_line, dtype=np.int64)
    frame = np.asarray(block_frame, dtype=np.int64)

    def locate_info(r: int) -> tuple[int, str]:
        body = _body_in_frame(block_frame, r)
        what = f"after the bodyID in the info line of body {body} of frame {frame[r] + 1}"
        return int(first_line[r]) + 1, what

    def locate_joint(r: int) -> tuple[int, str]:
        k, j = divmod(r, NUM_JOINTS)
        return (
            int(first_line[k]) + 3 + j,
            f"for joint {j + 1} of body {_body_in_frame(block_frame, k)} in frame {frame[k] + 1}",
        )

    # The info line's numbers are not kept, but a corrupt one means a corrupt file.
    info = parse_number_rows(path, info_rows, len(_INFO_FIELDS) - 1, locate_info)
    bad = first_non_finite(info)
    if bad is not None:
        line, what = locate_info(bad[0])
        raise SkeletonFileError(
            path, f"{_INFO_FIELDS[bad[1] + 1]} is {info[bad]} {what}, not a finite number", f"line {line}"
        )

    values = parse_number_rows(path, joint_rows, len(_JOINT_FIELDS), locate_joint)
    bad = first_non_finite(values)
    if bad is not None:
        line, what = locate_joint(bad[0])
        raise SkeletonFileError(
            path, f"{_JOINT_FIELDS[bad[1]]} is {values[bad]} {what}, not a finite number", f"line {line}"
        )
    far = np.abs(values[:, :3]) > MAX_ABS_METRES
    if far.any():
        r, c = np.argwhere(far)[0]
        line, what = locate_joint(int(r))
        raise SkeletonFileError(
            path,
            f"{_JOINT_FIELDS[c]} is {values[r, c]:g} {what}: not a position in metres "
            f"(|value| > {MAX_ABS_METRES:g})",
            f"line {line}",
        )
    state = values[:, 11]
    wrong = (state != 0) & (state != 1) & (state != 2)
    if wrong.any():
        r = int(np.argmax(wrong))
        line, what = locate_joint(r)
        raise SkeletonFileError(
            path,
            f"trackingState must be 0, 1 or 2 {what}, found {_shorten(joint_rows[r].split()[-1])}",
            f"line {line}",
        )
    xyz = values[:, :3].astype(np.float32).reshape(-1, NUM_JOINTS, 3)
    return _Parsed(
        num_frames, frame, body_ids, xyz, state.astype(np.int64).reshape(-1, NUM_JOINTS), first_line
    )


def _body_in_frame(block_frame: list[int], k: int) -> int:
    """1-based position of block ``k`` among the bodies of its frame (only for messages)."""
    j = k
    while j > 0 and block_frame[j - 1] == block_frame[k]:
        j -= 1
    return k - j + 1


# --- choosing the actors ---------------------------------------------------------------------------


def _motion(xyz: np.ndarray) -> float:
    """SGN's motion amount: the summed variance of x, y and z over all joints of all frames."""
    return float(np.var(xyz.reshape(-1, 3).astype(np.float64), axis=0).sum())


def _denoise(xyz_of: list[np.ndarray], frames_of: list[np.ndarray]) -> list[list[int]]:
    """SGN's denoising: which bodies (by first-appearance index) fill actor 1 and actor 2.

    Follows ``denoising_bodies_data`` and ``get_two_actors_points`` of
    ``microsoft/SGN:data/ntu/get_raw_denoised_data.py``, with three deliberate departures where SGN
    relies on an accident of its data layout:

    1. SGN stores a body's frames as a contiguous interval starting at its first frame, so a body
       that disappears and comes back is shifted in time. We place every frame where it was seen.
    2. SGN's actor-2 interval starts as a virtual ``[0, 0]`` whose start never moves, so a body
       before actor 2's first body always counts as overlapping. Ours starts empty.
    3. If the length rule would drop every body SGN fails (empty list); we skip that rule instead.

    As in SGN, intervals sharing a single frame count as not overlapping (``min(end) - max(start)
    <= 0``), and in that frame the body placed later wins.

    Args:
        xyz_of: per body, float32 ``(n_frames, 25, 3)``.
        frames_of: per body, the sorted frame indices it appears in.
    Returns:
        One list of body indices per actor (one or two actors), in the order they are written.
    """
    alive = list(range(len(xyz_of)))

    # Step 1: frame length.
    long_enough = [k for k in alive if len(frames_of[k]) > NOISE_LEN_THRES]
    if long_enough:
        alive = long_enough
    if len(alive) == 1:
        return [alive]

    motion = {k: _motion(xyz_of[k]) for k in alive}

    # Step 2: spread. A frame is noisy when the body is wider (x) than 0.8 x its height (y): a
    # standing person is taller than wide, a mis-tracked object is not. In first-appearance order,
    # never dropping the last body left (SGN breaks out when one remains).
    for k in list(alive):
        if len(alive) == 1:
            break
        pts = xyz_of[k]
        spread_x = pts[:, :, 0].max(axis=1) - pts[:, :, 0].min(axis=1)
        spread_y = pts[:, :, 1].max(axis=1) - pts[:, :, 1].min(axis=1)
        valid = spread_x <= NOISE_SPR_THRES1 * spread_y
        num_noise = len(valid) - int(valid.sum())
        if num_noise == 0:
            continue
        if num_noise / len(valid) >= NOISE_SPR_THRES2:
            alive.remove(k)
        else:
            # Motion over the valid frames only, if smaller: noisy frames inflate it.
            motion[k] = min(motion[k], _motion(pts[valid]))
    if len(alive) == 1:
        return [alive]

    # Step 3: rank by motion (stable, so ties keep first-appearance order, as Python's sorted in SGN).
    ranked = sorted(alive, key=lambda k: motion[k], reverse=True)

    actor1 = [ranked[0]]
    start1, end1 = int(frames_of[ranked[0]][0]), int(frames_of[ranked[0]][-1])
    actor2: list[int] = []
    start2 = end2 = 0
    for k in ranked[1:]:
        start, end = int(frames_of[k][0]), int(frames_of[k][-1])
        if min(end1, end) - max(start1, start) <= 0:  # no overlap with actor 1: same person, new ID
            actor1.append(k)
            start1, end1 = min(start, start1), max(end, end1)
        elif not actor2 or min(end2, end) - max(start2, start) <= 0:  # actor 2, or actor 2 re-found
            start2, end2 = (min(start, start2), max(end, end2)) if actor2 else (start, end)
            actor2.append(k)
        # else: overlaps both actors: a third person or noise, dropped.
    return [actor1, actor2] if actor2 else [actor1]


def _recording_slots(ids: list[str]) -> list[int] | None:
    """Slot of each body ID if the IDs are those :func:`write_ntu_skeleton` writes, else None."""
    slots = []
    for s in ids:
        if not (s.isdigit() and len(s) <= 2 and s == str(int(s)) and int(s) < RECORDING_MAX_BODIES):
            return None
        slots.append(int(s))
    return slots


def _assemble(path: Path, parsed: _Parsed, denoise: bool | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """(joints (T, M, 25, 3), confidence (T, M, 25), facts) from the parsed body blocks."""
    ids: dict[str, int] = {}
    body = np.array([ids.setdefault(s, len(ids)) for s in parsed.body_ids], dtype=np.int64)
    unique_ids = list(ids)

    # One body ID twice in one frame cannot come from a tracker and would make the slots ambiguous.
    key = parsed.frame * len(unique_ids) + body
    if len(np.unique(key)) != len(key):
        order = np.argsort(key, kind="stable")
        dup = order[1:][np.diff(key[order]) == 0][0]
        raise SkeletonFileError(
            path,
            f"bodyID {parsed.body_ids[dup]} appears twice in frame {parsed.frame[dup] + 1}",
            f"line {parsed.first_line[dup] + 1}",
        )

    recording = _recording_slots(unique_ids)
    use_sgn = len(unique_ids) > 1 and (denoise is True or (denoise is None and recording is None))
    blocks_of = [np.flatnonzero(body == u) for u in range(len(unique_ids))]
    if use_sgn:
        actors = _denoise([parsed.xyz[b] for b in blocks_of], [parsed.frame[b] for b in blocks_of])
    elif recording is not None:
        actors = [[] for _ in range(max(recording) + 1)]
        for u, slot in enumerate(recording):
            actors[slot].append(u)
    else:
        actors = [[u] for u in range(len(unique_ids))]

    t, m = parsed.num_frames, len(actors)
    # The frame count and the body slots come from the file: a few bytes ("0" lines for empty
    # frames, one body numbered 15) could otherwise ask for gigabytes of zeros.
    check_sequence_size(path, t, m, "line 1")
    joints = np.zeros((t, m, NUM_JOINTS, 3), dtype=np.float32)
    confidence = np.zeros((t, m, NUM_JOINTS), dtype=np.float32)
    for slot, members in enumerate(actors):
        for u in members:  # in order: where intervals share a frame, the later body wins (as SGN)
            blocks = blocks_of[u]
            joints[parsed.frame[blocks], slot] = parsed.xyz[blocks]
            confidence[parsed.frame[blocks], slot] = _STATE_TO_CONFIDENCE[parsed.state[blocks]]
    kept = sum(len(a) for a in actors)
    facts = {
        "body_ids": unique_ids,
        "actor_body_ids": [[unique_ids[u] for u in a] for a in actors],
        "denoised": use_sgn,
        "recording": recording is not None,
    }
    if kept < len(unique_ids):
        log.debug("%s: kept %d of %d bodies", path, kept, len(unique_ids))
    return joints, confidence, facts


# --- public API ------------------------------------------------------------------------------------


def read_ntu_skeleton(
    path: str | os.PathLike, denoise: bool | None = None, drop_empty_frames: bool = False
) -> SkeletonSequence:
    """Read one NTU ``.skeleton`` file.

    Args:
        path: the file.
        denoise: ``None`` (default): SGN denoising for files with several body IDs, except the app's
            own recordings (body IDs 0, 1, ...: each body keeps its slot). ``True``: always denoise;
            ``False``: never (one slot per body ID, in order of first appearance).
        drop_empty_frames: remove frames where no kept body appears, as SGN does before training;
            by default they stay as zeros so the timeline matches the file.
    Returns:
        The sequence: joints ``(T, M, 25, 3)`` (M <= 2 when denoised, actor 1 first), confidence from
        the joint tracking states, label from the file name when it follows the NTU scheme.
    Raises:
        SkeletonFileError: anything wrong with the file, with its line number.
    """
    p = Path(path)
    parsed = _parse(p, decode_ascii(p, read_bytes(p)))
    joints, confidence, facts = _assemble(p, parsed, denoise)
    if not joints.any():
        raise SkeletonFileError(p, "every body in the file has all its joints at (0, 0, 0): nothing to show")
    if drop_empty_frames:
        keep = np.any(joints != 0, axis=(1, 2, 3))
        joints, confidence = joints[keep], confidence[keep]
    named = label_from_name(p.name)
    meta = dict(named.meta) if named else {}
    meta.update(facts)
    return SkeletonSequence(
        joints=joints,
        fps=FPS,
        source_format="ntu_skeleton",
        source_layout="ntu25",
        name=p.name[: -len(".skeleton")] if p.name.lower().endswith(".skeleton") else p.stem,
        path=str(p),
        **label_fields(named),
        confidence=confidence,
        meta=meta,
    )


def _open(path: Path, denoise: bool | None = None, drop_empty_frames: bool = False) -> SkeletonCollection:
    seq = read_ntu_skeleton(path, denoise=denoise, drop_empty_frames=drop_empty_frames)
    return SkeletonCollection.of(path, "ntu_skeleton", [seq], frames=seq.num_frames, bodies=seq.num_bodies)


def _format_float32(values: np.ndarray) -> list[str]:
    """Shortest decimal strings that read back (as the reader parses) to exactly these float32s."""
    out = []
    for v in values.tolist():  # Python floats holding float32 values exactly
        a = abs(v)
        if a == 0.0 or 1e-4 <= a < 1e7:
            out.append(np.format_float_positional(np.float32(v), unique=True, trim="-"))
        else:
            out.append(np.format_float_scientific(np.float32(v), unique=True, trim="-"))
    if out:
        # Decimal -> float64 -> float32 rounds twice; a shortest float32 string can in rare cases sit
        # on a float32 rounding midpoint. Check with the reader's own parser and fall back to the
        # float64 repr, which is exact.
        back = np.loadtxt(out, dtype=np.float64, comments=None, ndmin=1).astype(np.float32)
        for k in np.flatnonzero(back.view(np.uint32) != values.view(np.uint32)):
            out[k] = repr(float(values[k]))
    return out


def write_ntu_skeleton(seq: SkeletonSequence, path: str | os.PathLike) -> None:
    """Write a sequence as an NTU ``.skeleton`` file (the app's recordings), atomically.

    Every frame is written, with the bodies present in it (any non-zero joint). Body ``m`` gets
    bodyID ``m``, which tells :func:`read_ntu_skeleton` to put it back in slot ``m`` without
    denoising. xyz are written as the shortest decimals that read back bit-identical. The joint
    trackingState comes from the confidence (>= 0.75 -> 2 tracked, >= 0.25 -> 1 inferred, else 0;
    all 2 without confidence), so confidences of 0, 0.5 and 1 survive exactly. Colour, depth,
    orientation and the other info fields are zeros; the body trackingState is 2.

    A body slot that is empty in every frame after the last present one cannot be represented and
    is not read back.

    Args:
        seq: the sequence; joints are expected in NTU camera axes, metres.
        path: the target file (``.skeleton``).
    Raises:
        ValueError: non-finite joints or beyond 100 m, no body in any frame, or more than 16 bodies.
    """
    joints = seq.joints
    if not np.isfinite(joints).all():
        raise ValueError("cannot write non-finite joint positions to a .skeleton file")
    if np.abs(joints).max(initial=0.0) > MAX_ABS_METRES:
        raise ValueError(f"joint positions beyond {MAX_ABS_METRES:g} m: expected metres, NTU camera axes")
    t, m = joints.shape[:2]
    if m > RECORDING_MAX_BODIES:
        raise ValueError(f"a recording holds at most {RECORDING_MAX_BODIES} bodies, got {m}")
    present = seq.body_present()
    if not present.any():
        raise ValueError("nothing to write: no body is present in any frame")
    if seq.confidence is None:
        state = np.full((t, m, NUM_JOINTS), 2, dtype=np.int64)
    else:
        c = np.nan_to_num(seq.confidence, nan=0.0)
        state = np.where(c >= 0.75, 2, np.where(c >= 0.25, 1, 0))

    frame_idx, body_idx = np.nonzero(present)  # frame-major, then slot order
    numbers = _format_float32(np.ascontiguousarray(joints[frame_idx, body_idx], dtype=np.float32).ravel())
    states = state[frame_idx, body_idx].tolist()
    counts = present.sum(axis=1).tolist()

    out = [str(t)]
    b = 0
    for f in range(t):
        out.append(str(counts[f]))
        for _ in range(counts[f]):
            out.append(f"{int(body_idx[b])} 0 0 0 0 0 0 0 0 2")
            out.append(str(NUM_JOINTS))
            base = b * NUM_JOINTS * 3
            st = states[b]
            for j in range(NUM_JOINTS):
                k = base + 3 * j
                out.append(f"{numbers[k]} {numbers[k + 1]} {numbers[k + 2]} 0 0 0 0 0 0 0 0 {st[j]}")
            b += 1
    atomic_write_text(path, "\n".join(out) + "\n", encoding="ascii")


register_format(
    SkeletonFormat(
        name="ntu_skeleton",
        description="NTU RGB+D 60/120 .skeleton",
        suffixes=(".skeleton",),
        open=_open,
    )
)
