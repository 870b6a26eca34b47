"""Damaged and hostile skeleton files for the fuzz tests, and the worker process that reads them.

Seeds are real files (the list of :mod:`tests.engine.io.test_every_reader`, under ``../shared/data``)
and, for the formats without a public sample, files built from the real NTU sample's joints, as their
own tests build them. Every mutant is a pure function of its seed and a case name: the same run makes
the same bytes.

Mutants are read in a separate process (``python -m tests.engine.io.mutants MANIFEST RESULTS``)
under an address-space limit, so that a reader that starts to inflate gigabytes fails the test with a
MemoryError instead of exhausting the machine; each file has a time limit too, and the worker
records each file's peak resident memory above what the process held before it (Linux resets the
peak on request, ``/proc/self/clear_refs``; tracemalloc would slow Python-heavy parsing tenfold).
"""

from __future__ import annotations

import bz2
import dataclasses
import io
import json
import os
import pickle
import random
import re
import resource
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[3]
GIB = 2**30
# Unpickling a hostile mutant's payload would create this folder: the tests check it never appears.
PWNED = Path(tempfile.gettempdir()) / "zsar-fuzz-pwned"


@dataclasses.dataclass(frozen=True)
class Seed:
    """A valid file of one format and the files that must lie beside it."""

    format: str
    name: str
    data: bytes
    side: tuple[tuple[str, bytes], ...] = ()
    kind: str = "text"  # text, json, mat, npz, npy: which mutations fit


@dataclasses.dataclass(frozen=True)
class Mutant:
    format: str
    case: str
    name: str
    data: bytes
    side: tuple[tuple[str, bytes], ...] = ()


# --- seeds ------------------------------------------------------------------------------------------


def _ntu_first_frames(text: str, frames: int) -> str:
    """An NTU .skeleton cut to its first ``frames`` frames, the frame count rewritten."""
    lines = text.split("\n")
    i = 1
    for _ in range(frames):
        bodies = int(lines[i])
        i += 1 + bodies * 27
    return "\n".join([str(frames)] + lines[1:i]) + "\n"


def _bvh_first_frames(text: str, frames: int) -> str:
    head, motion = text.split("MOTION", 1)
    lines = [line for line in motion.split("\n") if line.strip()]
    frame_time = next(line for line in lines if line.startswith("Frame Time"))
    rows = lines[lines.index(frame_time) + 1 :][:frames]
    return head + "MOTION\nFrames:\t" + str(frames) + "\n" + frame_time + "\n" + "\n".join(rows) + "\n"


def _amc_first_frames(text: str, frames: int) -> str:
    lines = text.split("\n")
    starts = [k for k, line in enumerate(lines) if line.strip().isdigit()]
    return "\n".join(lines[: starts[frames]]) + "\n"


def _msrc_rows(text: str, rows: int) -> str:
    lines = [line for line in text.split("\n") if line.strip()]
    tracked = next(k for k, line in enumerate(lines) if any(float(v) != 0 for v in line.split()[1:]))
    return "\n".join(lines[tracked : tracked + rows]) + "\n"


def _npz_bytes(arrays: dict[str, np.ndarray], compressed: bool) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def _bandai_small(path: Path, sequences: int) -> bytes:
    """The first ``sequences`` takes of a Bandai-Namco npz, every array cut to them (compressed, as
    the release)."""
    with np.load(path) as z:
        a = {k: z[k] for k in z.files}
    end = int(a["seq_start"][sequences - 1] + a["seq_len"][sequences - 1])
    out = {k: v for k, v in a.items()}
    out["positions_mm"] = a["positions_mm"][:end]
    for key in (
        "seq_start",
        "seq_len",
        "name",
        "content",
        "style",
        "take",
        "content_id",
        "style_id",
        "skeleton_id",
    ):
        if key in out:
            out[key] = a[key][:sequences]
    return _npz_bytes(out, compressed=True)


def _msrc_small(path: Path, names: tuple[str, ...]) -> bytes:
    with np.load(path) as z:
        return _npz_bytes({k: z[k][:200] for n in names for k in (n, f"{n}__t_us")}, compressed=True)


def real_seeds(shared_path, real_files: dict, shrink: bool) -> list[Seed]:
    """One seed per format of ``real_files`` (``format -> (path under shared data, side files)``).

    Args:
        shared_path: ``tests.conftest.shared_path`` (skips the test when the data are absent).
        shrink: cut the text formats to a few frames (the quick run); the containers are always cut
            to a few sequences, re-packed as their release packs them.
    """
    seeds = []
    for fmt, (relative, side_names) in sorted(real_files.items()):
        path = shared_path(*relative.split("/"))
        data = path.read_bytes()
        side = tuple((n, (path.parent / n).read_bytes()) for n in side_names)
        kind = {"utd_mhad_mat": "mat", "nw_ucla_json": "json", "msrc12_npz": "npz", "bandai_npz": "npz"}.get(
            fmt, "text"
        )
        if fmt == "bandai_npz":
            data = _bandai_small(path, 3)
        elif fmt == "msrc12_npz":
            data = _msrc_small(path, ("P1_1_3A_p28", "P3_2_8_p29"))
        elif shrink:
            text = data.decode("latin-1")
            if fmt == "ntu_skeleton":
                text = _ntu_first_frames(text, 12)
            elif fmt == "bvh":
                text = _bvh_first_frames(text, 12)
            elif fmt == "asf_amc":
                text = _amc_first_frames(text, 12)
            elif fmt == "kinder_gator_csv":
                text = "\n".join(text.split("\n")[:16]) + "\n"
            elif fmt == "msrc12_csv":
                text = _msrc_rows(text, 16)
            data = text.encode("latin-1")
        seeds.append(Seed(fmt, path.name, data, side, kind))
        if fmt == "utd_mhad_mat":
            # the release is deflated; an uncompressed copy of its values lets mutations reach the
            # matrix headers instead of only breaking the deflate stream
            import scipy.io

            buffer = io.BytesIO()
            d_skel = scipy.io.loadmat(path, variable_names=["d_skel"])["d_skel"]
            scipy.io.savemat(buffer, {"d_skel": d_skel}, do_compression=False)
            seeds.append(Seed(fmt, path.name, buffer.getvalue(), (), "mat"))
    return seeds


def built_seeds(body: np.ndarray) -> list[Seed]:
    """CTR-GCN, AimCLR and PKU-MMD files from the real NTU sample's joints ``(T, 25, 3)``, laid out as
    those releases lay them out (no public sample of them is small enough to keep beside us)."""
    t = 40
    x = np.zeros((2, 300, 150), dtype=np.float32)
    x[0, :t, :75] = body[:t].reshape(t, 75)
    x[1, :t, :75] = body[t : 2 * t].reshape(t, 75)
    x[1, :t, 75:] = (body[:t] + np.float32([0.7, 0, 0])).reshape(t, 75)
    y = np.zeros((2, 60), dtype=np.float32)
    y[[0, 1], [3, 50]] = 1
    ctrgcn = {"x_train": x, "y_train": y, "x_test": x[:1], "y_test": y[:1]}

    aim = np.zeros((2, 3, 30, 25, 2), dtype=np.float32)
    aim[0, :, :, :, 0] = body[:30].transpose(2, 0, 1)
    aim[1, :, :20, :, 0] = body[30:50].transpose(2, 0, 1)
    aim_buffer = io.BytesIO()
    np.save(aim_buffer, aim)
    labels = pickle.dumps((["S001C001P001R001A001", "S002C003P004R001A055"], [0, 54]), protocol=2)

    frames = np.zeros((30, 2, 25, 3), dtype=np.float32)
    frames[:, 0] = body[:30]
    frames[10:, 1] = body[10:30] + np.float32([0.8, 0, 0.2])
    pku = "".join(" ".join(repr(v) for v in row) + "\n" for row in frames.reshape(30, 150).tolist())
    return [
        Seed("ctrgcn_npz", "NTU60_CS.npz", _npz_bytes(ctrgcn, compressed=False), (), "npz"),
        Seed("ctrgcn_npz", "NTU60_CS.npz", _npz_bytes(ctrgcn, compressed=True), (), "npz"),
        Seed(
            "aimclr_npy", "train_position.npy", aim_buffer.getvalue(), (("train_label.pkl", labels),), "npy"
        ),
        Seed("pku_mmd", "0002-L.txt", pku.encode(), (("Label/0002-L.txt", b"8,1,12,1\n11,10,30,2\n"),)),
    ]


# --- building blocks of hostile containers ------------------------------------------------------------


def zip_bytes(members: list[tuple[str, bytes, int, int, int, int]]) -> bytes:
    """A zip written by hand, so that sizes, methods and flags can lie.

    Args:
        members: ``(name, stored bytes, method, crc, declared uncompressed size, flag bits)``.
    """
    out, central = io.BytesIO(), io.BytesIO()
    for name, stored, method, crc, size, flags in members:
        offset = out.tell()
        encoded = name.encode()
        fixed = (20, flags, method, 0, 0, crc, len(stored), size, len(encoded), 0)
        out.write(b"PK\x03\x04" + struct.pack("<HHHHHIIIHH", *fixed) + encoded + stored)
        fixed_c = (20, 20, flags, method, 0, 0, crc, len(stored), size, len(encoded), 0, 0, 0, 0, 0, offset)
        central.write(b"PK\x01\x02" + struct.pack("<HHHHHHIIIHHHHHII", *fixed_c) + encoded)
    directory = central.getvalue()
    count = len(members)
    end = struct.pack("<HHHHIIH", 0, 0, count, count, len(directory), out.tell(), 0)
    return out.getvalue() + directory + b"PK\x05\x06" + end


def zip_members(data: bytes) -> list[tuple[str, bytes, int]]:
    """``(name, uncompressed bytes, method)`` of a valid zip."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(i.filename, zf.read(i), i.compress_type) for i in zf.infolist()]


def pack(members: list[tuple[str, bytes, int]]) -> bytes:
    """A zip of ``(name, uncompressed bytes, method)``, methods 0 (stored), 8 (deflate), 12 (bzip2),
    14 (lzma; zipfile's framing) or any other number (stored bytes under an unknown method)."""
    rows = []
    for name, raw, method in members:
        if method == zipfile.ZIP_DEFLATED:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            stored = c.compress(raw) + c.flush()
        elif method == zipfile.ZIP_BZIP2:
            stored = bz2.compress(raw)
        elif method == zipfile.ZIP_LZMA:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_LZMA) as zf:
                zf.writestr(name, raw)
            with zipfile.ZipFile(buffer) as zf:
                info = zf.getinfo(name)
                start = info.header_offset + 30 + len(name.encode())
                stored = buffer.getvalue()[start : start + info.compress_size]
        else:
            stored = raw
        rows.append((name, stored, method, zlib.crc32(raw), len(raw), 0))
    return zip_bytes(rows)


def npy_header(shape, descr: str = "<f4", fortran: bool = False, version: int = 1) -> bytes:
    text = f"{{'descr': {descr!r}, 'fortran_order': {fortran!r}, 'shape': {tuple(shape)!r}, }}"
    return npy_raw_header(text, version)


def npy_raw_header(text: str, version: int = 1, length: int | None = None) -> bytes:
    """Magic, version, length and ``text`` padded to 64 bytes as numpy pads it; ``length`` lies."""
    size_bytes = 2 if version == 1 else 4
    body = text.encode("latin-1")
    pad = (-(6 + 2 + size_bytes + len(body) + 1)) % 64
    body += b" " * pad + b"\n"
    field = (length if length is not None else len(body)).to_bytes(size_bytes, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + field + body


def deflate_bomb(megabytes: int, prefix: bytes = b"", zlib_wrapped: bool = False) -> bytes:
    """A deflate stream of ``prefix`` then ``megabytes`` MiB of zeros, made in milliseconds: one
    flushed block of 1 MiB of zeros (about 1 kB) repeated, as the stream may repeat a block."""
    c = zlib.compressobj(9, zlib.DEFLATED, 15 if zlib_wrapped else -15)
    zeros = bytes(2**20)
    first = c.compress(prefix) + c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    unit = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    return first + unit * (megabytes - 1) + c.flush()


def bzip2_bomb(prefix: bytes, zeros: int) -> bytes:
    """``prefix`` then ``zeros`` zero bytes, bzip2-compressed (a few hundred bytes for 256 MiB)."""
    c = bz2.BZ2Compressor(9)
    out = [c.compress(prefix)]
    block = bytes(2**24)
    for start in range(0, zeros, len(block)):
        out.append(c.compress(block[: min(len(block), zeros - start)]))
    return b"".join(out) + c.flush()


class Sentinel:
    """Unpickling this creates a folder: a mutant whose pickle runs must leave evidence."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def __reduce__(self):
        return (os.makedirs, (self.folder, 0o755, True))


def mat_v5_header() -> bytes:
    return b"MATLAB 5.0 MAT-file, written by the fuzz tests".ljust(116) + bytes(8) + b"\x00\x01IM"


def mat_matrix(dims: tuple[int, ...], data_bytes: int, name: bytes = b"d_skel", mx_class: int = 6) -> bytes:
    """A MAT v5 miMATRIX element's tag and sub-element headers, for ``data_bytes`` of doubles that
    the caller appends (element sizes declared to match)."""
    flags = struct.pack("<IIII", 6, 8, mx_class, 0)
    dims_bytes = struct.pack(f"<{len(dims)}i", *dims)
    dims_el = struct.pack("<II", 5, len(dims_bytes)) + dims_bytes + bytes(-len(dims_bytes) % 8)
    name_el = struct.pack("<II", 1, len(name)) + name + bytes(-len(name) % 8)
    data_tag = struct.pack("<II", 9, data_bytes)
    content = flags + dims_el + name_el + data_tag
    return struct.pack("<II", 14, len(content) + data_bytes) + content


# --- mutations -----------------------------------------------------------------------------------------

EXTREMES = (
    "nan", "NaN", "inf", "-inf", "Infinity", "1e9", "-3e12", "1e20", "1e37", "-1e37", "3.4e38", "1e39",
    "1e300", "-1e308", "1e400", "1e-320", "9" * 30, "9" * 5000, "0x10", "1_0", "", "--1", "1e", ".", "+",
)  # fmt: skip
_NUMBER = re.compile(rb"(?<![\w.])[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])")
_INTEGER_LINE = re.compile(rb"(?m)^[ \t]*\d+[ \t\r]*$")


def _flip(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 8))):
        b[rng.randrange(len(b))] ^= rng.randrange(1, 256)
    return bytes(b)


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


def _garbage_span(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data))
    return data[:at] + rng.randbytes(rng.randrange(1, 65)) + data[at + rng.randrange(0, 65) :]


def _zero_span(rng: random.Random, data: bytes) -> bytes:
    at, n = rng.randrange(len(data)), rng.randrange(1, 513)
    return data[:at] + bytes(min(n, len(data) - at)) + data[at + n :]


def _duplicate_span(rng: random.Random, data: bytes) -> bytes:
    a = rng.randrange(len(data))
    span = data[a : a + rng.randrange(1, 2049)]
    at = rng.randrange(len(data))
    return data[:at] + span * rng.choice((1, 2, 50)) + data[at:]


def _delete_span(rng: random.Random, data: bytes) -> bytes:
    a = rng.randrange(len(data))
    return data[:a] + data[a + rng.randrange(1, 4097) :]


def _random_file(rng: random.Random, data: bytes) -> bytes:
    n = rng.choice((1, 7, 100, 4096, len(data)))
    return (
        rng.randbytes(n)
        if rng.random() < 0.5
        else bytes(rng.choice(b" 0123456789.-e\n\t,;{}[]") for _ in range(n))
    )


GENERIC = (_flip, _flip, _truncate, _garbage_span, _zero_span, _duplicate_span, _delete_span, _random_file)


def _number_swap(rng: random.Random, data: bytes) -> bytes:
    spans = [m.span() for m in _NUMBER.finditer(data, 0, min(len(data), 400_000))]
    if not spans:
        return _flip(rng, data)
    out = data
    for a, b in sorted(rng.sample(spans, min(len(spans), rng.choice((1, 1, 3)))), reverse=True):
        out = out[:a] + rng.choice(EXTREMES).encode() + out[b:]
    return out


def _count_inflate(rng: random.Random, data: bytes) -> bytes:
    """An integer on a line of its own (a frame, body, joint count; a frame number), or the number
    after a ``Frames:``/``CHANNELS`` keyword, made huge."""
    spans = [m.span() for m in _INTEGER_LINE.finditer(data, 0, min(len(data), 400_000))]
    spans += [m.span(1) for m in re.finditer(rb"(?:Frames:\s*|CHANNELS )(\d+)", data)]
    if not spans:
        return _number_swap(rng, data)
    a, b = rng.choice(spans)
    new = rng.choice((b"1000000000000", b"99999", b"4294967296", b"9" * 25, b"-1", b"0"))
    return data[:a] + new + data[b:]


def _line_dup(rng: random.Random, data: bytes) -> bytes:
    lines = data.split(b"\n")
    k = rng.randrange(len(lines))
    return b"\n".join(lines[:k] + [lines[k]] * rng.choice((2, 100, 5000)) + lines[k + 1 :])


def _line_drop(rng: random.Random, data: bytes) -> bytes:
    lines = data.split(b"\n")
    del lines[rng.randrange(len(lines))]
    return b"\n".join(lines)


def _line_breaks(rng: random.Random, data: bytes) -> bytes:
    return data.replace(b"\n", rng.choice((b"\r", b"", b"\n\n", b"\x0b", b"\xe2\x80\xa8", b"\x1c")))


def _control_chars(rng: random.Random, data: bytes) -> bytes:
    at = rng.randrange(len(data))
    return (
        data[:at]
        + rng.choice((b"\x00", b"\r", b"\x0c", b"\xff\xfe", b"\xe2\x80\xa8", b"\xef\xbb\xbf"))
        + data[at:]
    )


TEXT = (_number_swap, _number_swap, _count_inflate, _line_dup, _line_drop, _line_breaks, _control_chars)


def _json_mutation(rng: random.Random, data: bytes) -> bytes:
    try:
        doc = json.loads(data)
    except ValueError:  # already damaged by another mutation
        return _flip(rng, data)
    if not isinstance(doc, dict):
        return _flip(rng, data)
    choice = rng.randrange(10)
    frames = doc.get("skeletons", [])
    if choice == 0 and frames:
        t, j, c = rng.randrange(len(frames)), rng.randrange(20), rng.randrange(3)
        frames[t][j][c] = rng.choice(
            [1e9, 1e20, 1e37, -1e37, 1e300, 10**400, float("nan"), float("inf"), "1", None, True, [], {}]
        )
    elif choice == 1:
        return b"[" * rng.choice((100, 5000, 200_000)) + b"]" * rng.choice((0, 100))
    elif choice == 2:
        doc["skeletons"] = rng.choice([{}, "x", 3, None, [[]], [[[0, 0, 0]] * 20] * 0, frames[:1] * 5000])
    elif choice == 3:
        doc["label"] = rng.choice([0, 11, -1, 1.5, 10**400, 1e400, "3", None, [1], float("nan")])
    elif choice == 4:
        doc.pop(rng.choice(list(doc) or ["x"]), None)
    elif choice == 5 and frames:
        frames[rng.randrange(len(frames))] = rng.choice(
            [[], [[0, 0, 0]] * 21, [[0, 0]] * 20, "frame", [[[[0]]]] * 20]
        )
    elif choice == 6:
        doc = {f"k{i}": i for i in range(rng.choice((10, 50_000)))} | doc
    elif choice == 7:
        doc["file_name"] = rng.choice([3, None, "a01_s01_e00_v01", "x" * 100_000, "\n\r\u2028"])
    elif choice == 8:
        return json.dumps(doc).replace("]", "]" * rng.choice((1, 2)), 1).encode()
    else:
        nested: object = [0, 0, 0]
        for _ in range(rng.choice((50, 900))):
            nested = [nested]
        doc["skeletons"] = [[nested] * 20]
    text = json.dumps(doc, allow_nan=True)
    return text.encode()


# --- npy / npz mutations ---------------------------------------------------------------------------------

_HEADER_TEXTS = (
    "{'descr': '<f4', 'fortran_order': False, 'shape': ((2, 3), }",  # tokenize.TokenError
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), '''}",  # unterminated triple quote
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }",  # Python 2 longs
    "{'descr': '<f4', 'fortran_order': False, 'shape': (-5, 3), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (10**12, 3), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5, 3), }",
    "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
    "{'descr': '<U0', 'fortran_order': False, 'shape': (1000000000000,), }",
    "{'descr': [('a', '<f4', (1000000, 1000000))], 'fortran_order': False, 'shape': (2,), }",
    "{'descr': '<f4', 'fortran_order': 'yes', 'shape': (2, 3), }",
    "{'descr': 'nonsense', 'fortran_order': False, 'shape': (2, 3), }",
    "{'descr': '<f4', 'shape': (2, 3), }",
    "{'descr': '<f4', 'fortran_order': False, 'shape': " + "(" * 5000 + ")" * 5000 + ", }",
    "{'descr': '<f4',\n 'fortran_order': False,\n 'shape': (2, 3)\n, 'x': '''a\nb'''}",  # lines in reprs
    "[" * 200,
    "\x00\xff" * 20,
)


def _replace_npy_header(npy: bytes, rng: random.Random) -> bytes:
    """The same data behind a damaged, lying or hostile header."""
    try:
        header_end = npy.index(b"\n") + 1
    except ValueError:
        header_end = min(len(npy), 128)
    data = npy[header_end:]
    choice = rng.randrange(6)
    if choice == 0:
        return npy_raw_header(rng.choice(_HEADER_TEXTS), rng.choice((1, 2))) + data
    if choice == 1:  # the declared header length lies
        return (
            npy_raw_header(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                2,
                rng.choice((0, 7, 100_000, 0xFFFFFFF0)),
            )
            + data
        )
    if choice == 2:  # the shape inflated: the data no longer account for it
        return (
            npy_header((rng.choice((10**6, 10**9, 10**12)), 22, 3), rng.choice(("<i2", "<f4", "<f8"))) + data
        )
    if choice == 3:  # another dtype over the same bytes
        return (
            npy_header((len(data) // 8,), rng.choice(("<f8", ">f8", "<i8", "|b1", "<c16", "|V8", "<M8[s]")))
            + data
        )
    if choice == 4:
        return b"\x93NUMPY" + bytes([rng.choice((0, 3, 9, 255)), rng.choice((0, 5))]) + npy[8:]
    return npy[:header_end] + rng.randbytes(len(data))


def _array_swap(rng: random.Random, npy: bytes) -> bytes:
    """A different array in the member's place: wrong shapes, non-finite or huge values, objects."""
    try:
        original = np.load(io.BytesIO(npy), allow_pickle=False)
    except Exception:  # noqa: BLE001  (a member the seed holds as objects: any array will do)
        original = np.zeros(3)
    choice = rng.randrange(7)
    buffer = io.BytesIO()
    if choice == 0 and original.dtype.kind in "fiu" and original.size:
        x = original.astype(np.float64)
        flat = x.reshape(-1)
        for _ in range(rng.choice((1, 5))):
            flat[rng.randrange(flat.size)] = rng.choice((np.nan, np.inf, -np.inf, 1e9, 1e37, 1e300, -1e300))
        with np.errstate(over="ignore"):
            np.save(buffer, x.astype(np.float32) if rng.random() < 0.5 else x)
    elif choice == 1 and original.ndim:
        np.save(buffer, np.moveaxis(original, 0, -1))
    elif choice == 2:
        np.save(buffer, original.reshape(-1)[: max(original.size - 1, 0)])
    elif choice == 3:
        np.save(
            buffer, original.astype(rng.choice((np.int64, np.float16, np.uint8, bool, "U3", np.complex64)))
        )
    elif choice == 4:
        np.save(buffer, np.array([Sentinel(str(PWNED)), 1], dtype=object), allow_pickle=True)
    elif choice == 5:
        np.save(buffer, np.full(original.shape, rng.choice((2**31 - 1, -(2**31), 2**62)), dtype=np.int64))
    else:
        np.save(buffer, original[..., None] if original.ndim < 6 else original)
    return buffer.getvalue()


def _npz_mutation(rng: random.Random, data: bytes) -> bytes:
    try:
        members = zip_members(data)
    except Exception:  # noqa: BLE001  (already damaged by another mutation)
        return _flip(rng, data)
    if not members:
        return _flip(rng, data)
    k = rng.randrange(len(members))
    name, raw, method = members[k]
    choice = rng.randrange(9)
    if choice in (0, 1):
        members[k] = (name, _replace_npy_header(raw, rng), method)
    elif choice in (2, 3):
        members[k] = (name, _array_swap(rng, raw), method)
    elif choice == 4:
        members[k] = (name, raw, rng.choice((0, 8, 12, 14, 99)))
    elif choice == 5:
        op = rng.randrange(4)
        if op == 0:
            del members[k]
        elif op == 1:
            members[k] = (rng.choice(("x.npy", name + ".bak", "", "a/b.npy", name.upper())), raw, method)
        elif op == 2:
            members.append(members[k])
        else:
            members.insert(0, ("README.txt", b"hello\n" * 10, 0))
    elif choice == 6:  # the directory lies about a member's size (no longer matching its data)
        rows = []
        for j, (n, r, m) in enumerate(members):
            size = rng.choice((0, 1, 2**31, 0xFFFFFFF0)) if j == k else len(r)
            c = zlib.compressobj(6, zlib.DEFLATED, -15) if m == 8 else None
            stored = (c.compress(r) + c.flush()) if c else r
            rows.append((n, stored, 8 if c else 0, zlib.crc32(r), size, 0))
        return zip_bytes(rows)
    elif choice == 7:  # flag bits: encrypted, data descriptor, utf-8 names
        rows = [(n, r, 0, zlib.crc32(r), len(r), rng.choice((1, 8, 0x800, 0xFFFF)) if j == k else 0)
                for j, (n, r, _) in enumerate(members)]  # fmt: skip
        return zip_bytes(rows)
    else:
        return _flip(rng, data)
    return pack(members)


def _npy_mutation(rng: random.Random, data: bytes) -> bytes:
    if rng.random() < 0.5:
        return _replace_npy_header(data, rng)
    return _array_swap(rng, data)


def _mat_mutation(rng: random.Random, data: bytes) -> bytes:
    choice = rng.randrange(6)
    if choice == 0 and len(data) > 136:  # the first element's byte count lies
        count = rng.choice((0, 1, 2**31 - 1, 2**32 - 1, len(data) * 2))
        return data[:132] + struct.pack("<I", count) + data[136:]
    if choice == 1:  # the version or endian indicator
        return (
            data[:124] + rng.choice((b"\x00\x02IM", b"\x01\x00MI", b"\x00\x00\x00\x00", b"XXXX")) + data[128:]
        )
    if choice == 2:  # v4: a zero in the first bytes
        return b"\x00" + data[1:]
    if choice == 3:
        pos = data.find(struct.pack("<II", 5, 12))  # the dims of an uncompressed 3-D array
        if pos > 0:
            dims = rng.choice(((20, 3, 10**9), (2**31 - 1, 2**31 - 1, 2), (-1, 3, 5), (0, 3, 10)))
            return data[: pos + 8] + struct.pack("<3i", *dims) + data[pos + 20 :]
    if choice == 4:
        pos = data.find(struct.pack("<II", 6, 8))  # array flags: the class byte
        if pos > 0:
            return data[: pos + 8] + bytes([rng.choice((1, 2, 3, 4, 5, 7, 12, 16, 255))]) + data[pos + 9 :]
    return rng.choice(GENERIC)(rng, data)


def _side_mutation(rng: random.Random, seed: Seed) -> tuple[tuple[str, bytes], ...]:
    """The side file (label file, tagstream, skeleton .asf) damaged instead of the main file."""
    k = rng.randrange(len(seed.side))
    name, data = seed.side[k]
    if name.endswith(".pkl"):
        choice = rng.randrange(5)
        if choice == 0:
            data = pickle.dumps(Sentinel(str(PWNED)))
        elif choice == 1:
            data = pickle.dumps((["S001C001P001R001A001"] * 2, [0, 1]) * rng.choice((1, 1000)))
        elif choice == 2:
            # lists nested n deep, then a pair: written as opcodes (pickle.dumps would recurse)
            n = rng.choice((100, 100_000))
            deep = b"\x80\x02" + b"]" * n + b"a" * (n - 1) + b"]\x86."
            data = deep if rng.random() < 0.5 else b"(" * 200_000 + b"."
        else:
            data = rng.choice(GENERIC)(rng, data)
    elif name.endswith(".tagstream"):
        choice = rng.randrange(4)
        if choice == 0:
            data = data + b"".join(
                b"%d;G8 Throw\n" % rng.randrange(10**13) for _ in range(rng.choice((10, 200_000)))
            )
        elif choice == 1:
            data = data.replace(b"1552", rng.choice((b"9" * 40, b"9" * 5000, b"-", b"1552.5")), 1)
        else:
            data = rng.choice(GENERIC + TEXT)(rng, data)
    elif name.endswith(".txt"):  # a PKU-MMD label file
        choice = rng.randrange(4)
        if choice == 0:
            data = data * rng.choice((50, 100_000))
        elif choice == 1:
            data = data + rng.choice(
                (b"1,1,99999999999999,1\n", b"1,1," + b"9" * 5000 + b",1\n", b"52,1,2,1\n", b"1,5,2,1\n")
            )
        else:
            data = rng.choice(GENERIC + TEXT)(rng, data)
    else:
        data = rng.choice(GENERIC + TEXT)(rng, data)
    return seed.side[:k] + ((name, data),) + seed.side[k + 1 :]


def random_mutants(seed: Seed, count: int, salt: str = "fuzz") -> list[Mutant]:
    """``count`` mutants of ``seed``, each from its own generator seeded by the seed and its number."""
    by_kind = {
        "text": GENERIC + TEXT + TEXT,
        "json": GENERIC + TEXT + (_json_mutation,) * 8,
        "mat": GENERIC + (_mat_mutation,) * 6,
        "npz": GENERIC + (_npz_mutation,) * 12,
        "npy": GENERIC + (_npy_mutation,) * 8,
    }[seed.kind]
    out = []
    for i in range(count):
        rng = random.Random(f"{salt}:{seed.format}:{seed.name}:{len(seed.data)}:{i}")
        if seed.side and rng.random() < 0.2:
            out.append(Mutant(seed.format, f"side{i}", seed.name, seed.data, _side_mutation(rng, seed)))
            continue
        op = rng.choice(by_kind)
        data = op(rng, seed.data)
        if rng.random() < 0.15:  # two mutations on top of each other
            data = rng.choice(by_kind)(rng, data or seed.data)
        out.append(Mutant(seed.format, f"{op.__name__.strip('_')}{i}", seed.name, data, seed.side))
    return out


# --- crafted hostile files, one set per format -----------------------------------------------------------


def bomb_mutants(
    seeds: list[Seed], gigabytes: int = 3, bzip2_mib: int = 0, ntu_frames: int = 500_000
) -> list[Mutant]:
    """Compressed bombs and huge declared sizes, from a few kB (or MB) each: the files that made
    the readers inflate gigabytes. ``bzip2_mib`` adds npz members that inflate that many MiB from a
    few hundred bytes with bzip2 (zipfile inflates those whole even to read a header; they take
    about a second per 100 MiB to make)."""
    out = []
    mib = gigabytes * 1024
    for seed in seeds:
        if seed.kind == "npz":
            members = zip_members(seed.data)
            target = max(members, key=lambda m: len(m[1]))  # the positions / x_train / joints member
            name, raw, _ = target
            npy = np.load(io.BytesIO(raw))
            per_row = int(np.prod(npy.shape[1:])) * npy.dtype.itemsize
            rows = (mib * 2**20 - 128) // per_row
            header = npy_header((rows, *npy.shape[1:]), npy.dtype.str)
            size = len(header) + rows * per_row
            others = [(n, zlib.compressobj(6, zlib.DEFLATED, -15), r) for n, r, _ in members if n != name]
            rows_out = [(n, c.compress(r) + c.flush(), 8, zlib.crc32(r), len(r), 0) for n, c, r in others]
            bomb = deflate_bomb(mib + 1, prefix=header)
            for case, declared in (("deflate_bomb", size), ("deflate_bomb_lying_size", len(raw))):
                if declared >= 2**32:
                    continue
                rows_all = [(name, bomb, 8, 0, declared, 0)] + rows_out
                out.append(Mutant(seed.format, case, seed.name, zip_bytes(rows_all), seed.side))
            # the size declared only: a header and a directory promising gigabytes over a few bytes
            small = [(name, header + bytes(64), 0, 0, min(size, 2**32 - 1), 0)] + rows_out
            out.append(Mutant(seed.format, "declared_bomb", seed.name, zip_bytes(small), seed.side))
            if bzip2_mib:
                bz_rows = (bzip2_mib * 2**20 - 128) // per_row
                bz_header = npy_header((bz_rows, *npy.shape[1:]), npy.dtype.str)
                bz = bzip2_bomb(bz_header, bzip2_mib * 2**20 - len(bz_header))
                rows_all = [(name, bz, 12, 0, len(bz_header) + bz_rows * per_row, 0)] + rows_out
                out.append(Mutant(seed.format, "bzip2_bomb", seed.name, zip_bytes(rows_all), seed.side))
        elif seed.kind == "mat":
            t = (mib * 2**20) // 480
            element = deflate_bomb(mib + 1, prefix=mat_matrix((20, 3, t), 480 * t), zlib_wrapped=True)
            data = mat_v5_header() + struct.pack("<II", 15, len(element)) + element
            out.append(Mutant(seed.format, "deflate_bomb", seed.name, data, seed.side))
            declared = mat_v5_header() + mat_matrix((20, 3, t), 480 * t) + bytes(4800)
            out.append(Mutant(seed.format, "declared_bomb", seed.name, declared, seed.side))
            cell = mat_v5_header() + mat_matrix((30000, 30000), 0, mx_class=1)
            out.append(Mutant(seed.format, "cell_bomb", seed.name, cell, seed.side))
            v4 = struct.pack("<5i", 0, 2**31 - 1, 2**31 - 1, 0, 7) + b"d_skel\x00" + bytes(64)
            out.append(Mutant(seed.format, "v4_declared_bomb", seed.name, v4, seed.side))
        elif seed.kind == "npy":
            header = npy_header((10**6, 3, 300, 25, 2), "<f4")
            out.append(Mutant(seed.format, "declared_bomb", seed.name, header + seed.data[128:], seed.side))
            label = npy_header((10**10,), "<i8") + bytes(80)
            side = (("train_label.npy", label),)
            out.append(Mutant(seed.format, "label_declared_bomb", seed.name, seed.data, side))
        elif seed.format == "ntu_skeleton":
            body = seed.data.decode("latin-1").split("\n")[1:29]  # one frame: count, info line, 25 joints
            body[1] = "15" + body[1][body[1].index(" ") :]  # a recording's body slot 15: 16 slots
            frames = ntu_frames
            text = f"{frames}\n" + "\n".join(body) + "\n" + "0\n" * (frames - 1)
            out.append(Mutant(seed.format, "empty_frames_bomb", seed.name, text.encode(), seed.side))
        elif seed.format == "bvh":
            head, motion = seed.data.split(b"MOTION", 1)
            out.append(Mutant(seed.format, "frames_count_bomb", seed.name,
                              head + b"MOTION\nFrames: 1000000000000\nFrame Time: 0.0333\n", seed.side))  # fmt: skip
            joints = b"".join(b"JOINT extra%d\n{\nOFFSET 0 0 0\nCHANNELS 0\n" % i for i in range(30_000))
            joints += b"}\n" * 30_000
            wide = head.replace(b"JOINT Hips", joints + b"JOINT Hips", 1) + b"MOTION" + motion
            out.append(Mutant(seed.format, "many_joints", seed.name, wide, seed.side))
        elif seed.format == "pku_mmd":
            side = (("Label/0002-L.txt", b"8,1,30,1\n" * 200_000),)
            out.append(Mutant(seed.format, "label_lines_bomb", seed.name, seed.data, side))
        elif seed.format == "msrc12_csv":
            tags = b"XQPCTick;Tag\n" + b"".join(
                b"%d;G8 Throw\n" % (1552111181823 + i) for i in range(300_000)
            )
            side = ((seed.side[0][0], tags),)
            out.append(Mutant(seed.format, "tagstream_lines_bomb", seed.name, seed.data, side))
        elif seed.format == "nw_ucla_json":
            out.append(Mutant(seed.format, "nesting_bomb", seed.name, b"[" * 5_000_000, seed.side))
    return out


# --- the worker: read every mutant in one process, under limits ---------------------------------------


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so that no reader's ``except Exception`` swallows it."""


def _on_alarm(signum, frame):
    raise _Timeout()


def _chain(exc: BaseException) -> list[BaseException]:
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _check_items(collection, max_abs: float) -> str | None:
    """What is wrong with a collection that loaded, or None."""
    n = len(collection)
    if n == 0:
        return "an empty collection"
    for i in sorted({0, 1, 2, n - 1} & set(range(n))):
        s = collection[i]
        j = s.joints
        if j.dtype != np.float32 or j.ndim != 4 or j.shape[0] < 1 or j.shape[2:] != (25, 3):
            return f"item {i}: joints {j.dtype} {j.shape}"
        if not np.isfinite(j).all():
            return f"item {i}: non-finite joints"
        if np.abs(j).max(initial=0.0) > max_abs:
            return f"item {i}: a coordinate of {np.abs(j).max():g} m"
        if not (np.isfinite(s.fps) and s.fps > 0):
            return f"item {i}: fps {s.fps}"
    return None


def _read_one(open_skeleton_file, SkeletonFileError, max_abs, path: str, names: list[str]) -> tuple[str, str]:
    """``(outcome, detail)``: ``loaded``, ``error`` (a one-line SkeletonFileError naming ``path`` or
    one of ``names``, its side files), ``timeout`` or ``other`` (anything else: the failures)."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            problem = _check_items(open_skeleton_file(path), max_abs)
        if problem:
            return "other", f"loaded an invalid result: {problem}"
        return "loaded", f"{len(caught)} warnings" if caught else ""
    except SkeletonFileError as exc:
        message = str(exc)
        memory = [type(e).__name__ for e in _chain(exc) if isinstance(e, (MemoryError, _Timeout))]
        if memory:
            return "other", f"clean error, but caused by {memory[0]}: {message[:300]}"
        if len(message.splitlines()) != 1:
            return "other", f"a message of {len(message.splitlines())} lines: {message[:300]!r}"
        named = [n for n in (path, *names) if n in message]
        if not named:
            return "other", f"the message does not name the file: {message[:300]}"
        return "error", message.replace(named[0], "<file>", 1)[:300]
    except _Timeout:
        return "timeout", ""
    except BaseException as exc:  # noqa: BLE001  (anything else is what the fuzz test looks for)
        frames = traceback.extract_tb(exc.__traceback__)[-3:]
        where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames))
        return "other", f"{type(exc).__name__}: {str(exc)[:300]} [{where}]"


def _status_bytes(field: str) -> int:
    """A ``/proc/self/status`` size (VmSize: address space, VmRSS: resident, VmHWM: peak resident)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return -1


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident size
        return True
    except OSError:
        return False


def worker(manifest: Path, results: Path) -> None:
    """Read every file of ``manifest`` (JSON: files, seconds per file, address-space headroom) and
    write one JSON line per file to ``results`` as soon as it is read."""
    spec = json.loads(manifest.read_text())
    import scipy.io  # noqa: F401  (imported before the limit: its import is not the reader's memory)

    from engine.errors import SkeletonFileError
    from engine.io import open_skeleton_file
    from engine.io.base import MAX_ABS_METRES

    # Every library is loaded; from here on the address space may grow by the headroom only.
    limit = _status_bytes("VmSize") + int(spec["headroom_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    signal.signal(signal.SIGALRM, _on_alarm)
    highest = _status_bytes("VmRSS")
    with open(results, "w") as out:
        for entry in spec["files"]:
            measured = _reset_peak()
            base = _status_bytes("VmRSS")
            start = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, float(spec["seconds"]))
            try:
                outcome, detail = _read_one(
                    open_skeleton_file, SkeletonFileError, MAX_ABS_METRES, entry["path"], entry["names"]
                )
            except _Timeout:  # the alarm rang between the read and the cancel
                outcome, detail = "timeout", ""
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            seconds = time.perf_counter() - start
            hwm = _status_bytes("VmHWM")
            peak = hwm - base if measured else -1
            highest = max(highest, hwm)
            row = {**entry, "outcome": outcome, "detail": detail, "seconds": seconds, "peak_bytes": peak}
            out.write(json.dumps(row) + "\n")
            out.flush()
        out.write(json.dumps({"done": True, "peak_rss_bytes": highest}) + "\n")


if __name__ == "__main__":
    worker(Path(sys.argv[1]), Path(sys.argv[2]))
