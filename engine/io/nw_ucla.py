"""NW-UCLA Multiview Action 3D skeleton reader: the ``all_sqe`` JSON files.

Follows the preprocessed release that CTR-GCN (Chen et al., ICCV 2021) points to and that most
NW-UCLA skeleton work uses (``nw_ucla/README.txt``): ``{"file_name": "a01_s01_e00_v01",
"skeletons": [T frames x 20 joints x [x, y, z]], "label": 1..10}``, Kinect v1 camera space of the
recording view in metres, joints in Kinect SDK v1 order. Kinect v1 camera space has the NTU axes,
so the mapping to NTU-25 is :func:`engine.skeleton.layouts.to_ntu25` with layout ``kinect_v1_20``.

Labels: the file name is authoritative (``aAA_sSS_eEE_vVV``, with subject, episode and view); the
``label`` inside the file is a cross-check whose disagreement is noted in ``meta``, not an error,
and it is used only when neither the file name nor ``file_name`` follows the scheme.
"""

from __future__ import annotations

import json
import math
import os
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
from engine.io.names import NameLabel, label_fields, label_from_name
from engine.skeleton.layouts import to_ntu25
from engine.types import SkeletonSequence

FORMAT = "nw_ucla_json"
LAYOUT = "kinect_v1_20"
DATASET = "nw_ucla"
NUM_SOURCE_JOINTS = 20
FPS = 30.0  # Kinect v1; the files do not say

# JSON literals that numpy would silently turn into numbers (true -> 1.0, null -> nan) once the
# parsed lists are converted; their presence sends a file to the element-by-element check.
_NON_NUMBER_LITERALS = (b"true", b"false", b"null")


def _decode(path: Path, data: bytes) -> Any:
    """Parse JSON bytes, turning decoding errors into a located :class:`SkeletonFileError`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SkeletonFileError(
            path, f"not a UTF-8 text file (byte {exc.start} is {data[exc.start]:#04x})", f"line {line}"
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SkeletonFileError(
            path, f"invalid JSON: {exc.msg}", f"line {exc.lineno}, column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        # A file of thousands of '[' nests deeper than the parser's stack: not a skeleton file.
        raise SkeletonFileError(path, "invalid JSON: nested too deeply") from exc
    except ValueError as exc:
        # int() behind json refuses integers of over 4300 digits (not a JSONDecodeError)
        raise SkeletonFileError(path, f"invalid JSON: {exc}") from exc


def _is_number(value: Any) -> bool:
    # bool is a subclass of int in Python, but JSON true/false are not coordinates.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _first_problem(path: Path, skeletons: list) -> SkeletonFileError | None:
    """Walk ``skeletons`` element by element and describe the first problem, if any (the slow path,
    taken only when the fast conversion cannot be trusted or has failed)."""
    where = "skeletons"
    for t, frame in enumerate(skeletons):
        if not isinstance(frame, list):
            return SkeletonFileError(
                path, f"frame {t} is a {type(frame).__name__}, expected a list of joints", where
            )
        if len(frame) != NUM_SOURCE_JOINTS:
            return SkeletonFileError(
                path, f"frame {t} has {len(frame)} joints, expected {NUM_SOURCE_JOINTS}", where
            )
        for j, joint in enumerate(frame):
            if not isinstance(joint, list) or len(joint) != 3:
                got = f"{len(joint)} values" if isinstance(joint, list) else f"a {type(joint).__name__}"
                return SkeletonFileError(path, f"frame {t}, joint {j} has {got}, expected [x, y, z]", where)
            for value in joint:
                if not _is_number(value):
                    return SkeletonFileError(
                        path, f"frame {t}, joint {j}: {json.dumps(value)[:40]} is not a number", where
                    )
    return None


def _skeleton_array(path: Path, skeletons: Any, suspicious: bool) -> np.ndarray:
    """``skeletons`` as float64 ``(T, 20, 3)``, checked."""
    if not isinstance(skeletons, list):
        raise SkeletonFileError(
            path, f"is a {type(skeletons).__name__}, expected a list of frames", "skeletons"
        )
    if not skeletons:
        raise SkeletonFileError(path, "holds zero frames", "skeletons")
    if suspicious and (problem := _first_problem(path, skeletons)):
        raise problem
    try:
        x = np.array(skeletons)
    except (ValueError, TypeError):
        x = None  # numpy refuses ragged nesting: find the frame to name below
    if x is None or x.dtype.kind not in "iuf" or x.shape[1:] != (NUM_SOURCE_JOINTS, 3):
        # integers too large for int64 make an object array without any element being wrong
        raise _first_problem(path, skeletons) or SkeletonFileError(
            path, "is not a (frames, 20, 3) array of numbers within range", "skeletons"
        )
    x = x.astype(np.float64, copy=False)
    check_finite(path, x, "skeletons (index is frame, joint, coord)")
    return x


def _label(path: Path, doc: dict) -> tuple[NameLabel | None, dict[str, Any]]:
    """Label from the file name (authoritative), else ``file_name``, else the json ``label``."""
    meta: dict[str, Any] = {}
    file_name = doc.get("file_name")
    if file_name is not None and not isinstance(file_name, str):
        raise SkeletonFileError(path, f"is a {type(file_name).__name__}, expected a string", "file_name")
    if file_name is not None and file_name != path.stem:
        meta["file_name_in_file"] = file_name
    json_label = doc.get("label")
    if json_label is not None:
        # floats checked as floats: math.isfinite() of an int beyond float range raises OverflowError
        whole_float = isinstance(json_label, float) and math.isfinite(json_label) and json_label.is_integer()
        if not _is_number(json_label) or not (isinstance(json_label, int) or whole_float):
            raise SkeletonFileError(path, f"{json.dumps(json_label)[:40]} is not a class number", "label")
        json_label = int(json_label)
        if not 1 <= json_label <= len(class_names(DATASET)):
            raise SkeletonFileError(
                path, f"{json_label} is not a class number 1..{len(class_names(DATASET))}", "label"
            )
    named = label_from_name(path.name) or (label_from_name(file_name) if file_name else None)
    if named is None and json_label is not None:
        named = NameLabel(DATASET, json_label - 1, class_names(DATASET)[json_label - 1])
    elif named is not None and json_label is not None and named.label_id != json_label - 1:
        meta["label_in_file"] = json_label
        meta["note"] = (
            f"the file's label {json_label} ({class_names(DATASET)[json_label - 1]}) disagrees with "
            f"its name ({named.label}); the name is used"
        )
    return named, meta


def read_nw_ucla(path: str | os.PathLike) -> SkeletonSequence:
    """One NW-UCLA ``all_sqe`` JSON file as an NTU-25 sequence.

    Args:
        path: ``aAA_sSS_eEE_vVV.json``.
    Returns:
        ``joints (T, 1, 25, 3)`` in metres, NTU axes; label, subject, episode and view from the name.
    Raises:
        SkeletonFileError: invalid JSON (with line and column), a missing key, ragged frames or a
            wrong joint count (naming the frame), non-numbers, NaN/inf, zero frames.
    """
    p = Path(path)
    require_file(p)
    data = p.read_bytes()
    doc = _decode(p, data)
    if not isinstance(doc, dict):
        raise SkeletonFileError(
            p, f"the JSON top level is a {type(doc).__name__}, expected an object with 'skeletons'"
        )
    if "skeletons" not in doc:
        raise SkeletonFileError(
            p,
            f"missing key 'skeletons' (keys found: {', '.join(map(str, list(doc)[:20])) or 'none'}"
            f"{', ...' if len(doc) > 20 else ''})",
        )
    suspicious = any(literal in data for literal in _NON_NUMBER_LITERALS)
    frames = _skeleton_array(p, doc["skeletons"], suspicious)
    # Finite float64 values beyond ~3.4e38 overflow to inf in float32: caught here, not warned about.
    with np.errstate(over="ignore", invalid="ignore"):
        joints = to_ntu25(frames, LAYOUT)[:, None]
    check_finite(p, joints, "skeletons (beyond float32 range)")
    check_position_range(p, joints, "skeletons")
    named, meta = _label(p, doc)
    if named is not None:
        meta = {**named.meta, **meta}
    return SkeletonSequence(
        joints=joints,
        fps=FPS,
        source_format=FORMAT,
        source_layout=LAYOUT,
        name=p.stem,
        path=str(p),
        **label_fields(named),
        meta=meta,
    )


def open_nw_ucla(path: str | os.PathLike) -> SkeletonCollection:
    """:func:`read_nw_ucla` as a one-item collection (the registry's ``open``)."""
    sequence = read_nw_ucla(path)
    return SkeletonCollection.of(path, FORMAT, [sequence], frames=sequence.num_frames)


def sniff_nw_ucla(path: Path) -> bool:
    """A JSON object with a ``"skeletons"`` key near its start (``file_name`` comes first)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return head.lstrip().startswith(b"{") and b'"skeletons"' in head


register_format(
    SkeletonFormat(
        name=FORMAT,
        description="NW-UCLA Kinect v1 skeleton .json (all_sqe)",
        suffixes=(".json",),
        open=open_nw_ucla,
        sniff=sniff_nw_ucla,
    )
)
