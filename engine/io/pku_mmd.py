"""PKU-MMD part I skeleton files (``XXXX-V.txt``), cut into action instances by their label file.

Format (docs/data_formats.md#item-6-pku-mmd-raw-files; the README of the PKU-MMD release): one line per frame of a long
untrimmed Kinect v2 video (30 fps), 150 numbers: person 1 joints 1-25 ``x y z``, then person 2, zeros
when absent; the joints are in NTU-25 (Kinect v2) order and metres. The label file
``Train_Label_PKU_final/XXXX-V.txt`` holds one action instance a line,
``class,start_frame,end_frame,confidence`` (class 1-51, frames 1-based and inclusive, confidence 1 or
2: the annotators' certainty).

Label files are found beside the skeleton in the release layouts we know of:
``Skeleton/PKU_Skeleton_Renew/XXXX-V.txt`` with ``Label/Train_Label_PKU_final/XXXX-V.txt`` (the two
archives extracted into ``Skeleton/`` and ``Label/``), ``PKU_Skeleton_Renew/`` beside
``Train_Label_PKU_final/`` (AimCLR's ``tools/pku_part1_skeleton.py``), and ``skeleton/`` beside
``label/`` (MAMP's ``pku_raw/v1``). Instances are cut as AimCLR does (``frames[start - 1:end]``).

Each instance becomes one :class:`SkeletonSequence` named ``XXXX-V_003`` (1-based instance number);
without a label file the whole video is one unlabelled sequence. The second body is kept only where
the instance has one (``M = 1`` otherwise).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from engine.assets import class_names
from engine.errors import SkeletonFileError
from engine.io.base import (
    MAX_ABS_METRES,
    SkeletonCollection,
    SkeletonFormat,
    register_format,
    require_file,
    text_lines,
)
from engine.io.ntu_skeleton import (
    decode_ascii,
    first_non_finite,
    parse_number_rows,
    read_bytes,
)
from engine.types import NUM_JOINTS, SkeletonSequence

FPS = 30.0  # Kinect v2; PKU-MMD README: "recording ratio set to 30FPS"
NUM_FIELDS = 2 * NUM_JOINTS * 3  # 150
NUM_CLASSES = 51

# Where a label file lies relative to the skeleton file's folder (first hit wins).
_LABEL_DIRS = (
    (
        "..",
        "..",
        "Label",
        "Train_Label_PKU_final",
    ),  # Skeleton/PKU_Skeleton_Renew + Label/Train_Label_PKU_final
    ("..", "Train_Label_PKU_final"),  # PKU_Skeleton_Renew beside Train_Label_PKU_final
    ("..", "Label", "Train_Label_PKU_final"),
    ("..", "Label"),
    ("..", "label"),  # skeleton/ beside label/
    ("Label",),  # a Label/ folder beside the skeleton files
    ("label",),
    ("Train_Label_PKU_final",),
)
_VIDEO = re.compile(r"^(\d{4})-([LMR])$")
_FIELD_NAMES = ("class", "start_frame", "end_frame", "confidence")


def find_label_file(path: str | os.PathLike) -> Path | None:
    """The label file of a PKU-MMD skeleton file in the usual release layouts, or None."""
    p = Path(path)
    own = p.resolve()
    for parts in _LABEL_DIRS:
        # normpath: messages should show ".../Label/..." rather than ".../Skeleton/x/../../Label/...".
        candidate = Path(os.path.normpath(p.parent.joinpath(*parts, p.name)))
        if candidate.is_file() and candidate.resolve() != own:
            return candidate
    return None


def _read_frames(path: Path) -> np.ndarray:
    """float32 ``(T, 2, 25, 3)`` from the skeleton file."""
    lines = text_lines(path, decode_ascii(path, read_bytes(path)))
    # A blank line inside would silently shift every later frame against the label file's numbers.
    for i, line in enumerate(lines):
        if not line.strip():
            raise SkeletonFileError(
                path, "blank line inside the file (one line per frame expected)", f"line {i + 1}"
            )

    def locate(r: int) -> tuple[int, str]:
        return r + 1, f"(2 bodies x 25 joints x xyz) in frame {r + 1}"

    values = parse_number_rows(path, lines, NUM_FIELDS, locate)
    bad = first_non_finite(values)
    if bad is not None:
        r, c = bad
        raise SkeletonFileError(
            path, f"{_describe(r, c)} is {values[r, c]}, not a finite number", f"line {r + 1}"
        )
    far = np.abs(values) > MAX_ABS_METRES
    if far.any():
        r, c = (int(i) for i in np.argwhere(far)[0])
        raise SkeletonFileError(
            path,
            f"{_describe(r, c)} is {values[r, c]:g}: not a position in metres (|value| > {MAX_ABS_METRES:g})",
            f"line {r + 1}",
        )
    return values.astype(np.float32).reshape(-1, 2, NUM_JOINTS, 3)


def _describe(r: int, c: int) -> str:
    body, rest = divmod(c, NUM_JOINTS * 3)
    joint, axis = divmod(rest, 3)
    return f"{'xyz'[axis]} of joint {joint + 1} of body {body + 1} in frame {r + 1}"


def read_label_file(path: str | os.PathLike, num_frames: int) -> list[dict]:
    """Action instances of a PKU-MMD label file.

    Args:
        path: the label file.
        num_frames: frames of the skeleton file, to check the ranges.
    Returns:
        One dict per line: ``class_id`` (0-based), ``start_frame``, ``end_frame`` (1-based,
        inclusive, as in the file), ``confidence``.
    Raises:
        SkeletonFileError: naming the label file and line, for a malformed line, an unknown class or a
            frame range outside the video.
    """
    p = Path(path)
    require_file(p)
    text = decode_ascii(p, read_bytes(p))
    instances = []
    for i, raw in enumerate(text.split("\n")):
        line = raw.strip()
        if not line:
            continue
        where = f"line {i + 1}"
        fields = [f.strip() for f in line.split(",")]
        if fields and fields[-1] == "":  # a trailing comma
            fields.pop()
        if len(fields) != 4:
            raise SkeletonFileError(
                p,
                "expected 4 comma-separated fields (class,start_frame,end_frame,confidence), "
                f"found {len(fields)}",
                where,
            )
        numbers = []
        for name, field in zip(_FIELD_NAMES, fields):
            if not re.fullmatch(r"[+-]?\d{1,12}", field):
                raise SkeletonFileError(
                    p, f"{name} must be a whole number (at most 12 digits), found {field[:40]!r}", where
                )
            numbers.append(int(field))
        cls, start, end, confidence = numbers
        if not 1 <= cls <= NUM_CLASSES:
            raise SkeletonFileError(p, f"class {cls} is not a PKU-MMD action (1-{NUM_CLASSES})", where)
        if not 1 <= start <= end <= num_frames:
            raise SkeletonFileError(
                p,
                f"frames {start}-{end} are not a range within the video's {num_frames} frames (1-based)",
                where,
            )
        instances.append(
            {"class_id": cls - 1, "start_frame": start, "end_frame": end, "confidence": confidence}
        )
        if len(instances) > num_frames:
            # each instance spans frames of the video; more of them than frames is a damaged file
            # (a real video of thousands of frames has tens of instances)
            raise SkeletonFileError(
                p, f"holds more action instances than the video's {num_frames} frames", where
            )
    if not instances:
        raise SkeletonFileError(p, "holds no action instances")
    return instances


def _trim_bodies(joints: np.ndarray) -> np.ndarray:
    """Drop trailing body slots that are zeros in every frame (keep at least one)."""
    present = np.any(joints != 0, axis=(0, 2, 3))
    m = int(np.flatnonzero(present)[-1]) + 1 if present.any() else 1
    return joints[:, :m]


def _open(path: Path, label_file: str | os.PathLike | bool | None = None) -> SkeletonCollection:
    """Open a PKU-MMD skeleton file.

    Args:
        path: ``XXXX-V.txt``.
        label_file: the label file; ``None`` (or ``True``) looks for it in the release layouts;
            ``False`` reads the whole video as one sequence even when a label file exists.
    """
    frames = _read_frames(path)
    stem = path.stem
    m = _VIDEO.match(stem)
    video_meta = {"video": stem, "view": m.group(2)} if m else {"video": stem}

    if label_file is None or label_file is True:
        label_path = find_label_file(path)
    elif label_file is False:
        label_path = None
    else:
        label_path = Path(label_file)

    if label_path is None:
        seq = SkeletonSequence(
            joints=np.array(_trim_bodies(frames)),
            fps=FPS,
            source_format="pku_mmd",
            name=stem,
            path=str(path),
            meta=dict(video_meta),
        )
        return SkeletonCollection.of(path, "pku_mmd", [seq], frames=len(frames))

    instances = read_label_file(label_path, len(frames))
    video = _Instances(path, frames, video_meta, instances, label_path)
    return SkeletonCollection(
        path, "pku_mmd", len(instances), video.item, {"frames": len(frames), "label_file": str(label_path)}
    )


class _Instances:
    """The action instances of one video, each cut from the frames when asked for: instances may
    overlap, so copying every one up front could take many times the video's size."""

    def __init__(
        self, path: Path, frames: np.ndarray, video_meta: dict, instances: list[dict], label_path: Path
    ) -> None:
        self.path, self.frames, self.video_meta = path, frames, video_meta
        self.instances, self.label_path = instances, label_path

    def item(self, index: int) -> SkeletonSequence:
        inst = self.instances[index]
        k = index + 1
        clip = self.frames[inst["start_frame"] - 1 : inst["end_frame"]]
        meta = dict(self.video_meta, instance=k, label_file=str(self.label_path))
        meta.update(
            start_frame=inst["start_frame"], end_frame=inst["end_frame"], confidence=inst["confidence"]
        )
        return SkeletonSequence(
            joints=np.array(_trim_bodies(clip)),  # a copy: instances may overlap
            fps=FPS,
            source_format="pku_mmd",
            name=f"{self.path.stem}_{k:03d}",
            path=str(self.path),
            label=class_names("pku51")[inst["class_id"]],
            label_id=inst["class_id"],
            dataset="pku51",
            meta=meta,
        )


def sniff_pku_mmd(path: Path) -> bool:
    """True when the first non-blank line holds exactly 150 numbers."""
    try:
        with open(path, "rb") as f:
            for _ in range(64):
                line = f.readline(1 << 16)
                if not line:
                    return False
                if line.strip():
                    break
            else:
                return False
        tokens = line.decode("ascii").split()
        if len(tokens) != NUM_FIELDS:
            return False
        np.array(tokens, dtype=np.float64)
        return True
    except (OSError, UnicodeDecodeError, ValueError):
        return False


register_format(
    SkeletonFormat(
        name="pku_mmd",
        description="PKU-MMD part I skeleton .txt",
        suffixes=(".txt",),
        open=_open,
        sniff=sniff_pku_mmd,
    )
)
