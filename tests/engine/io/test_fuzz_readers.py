"""Fuzzing every skeleton-file reader: damaged and hostile copies of real files must read as a valid
result or fail with one clear line naming the file, in bounded time and memory.

Every mutant goes through the front door (:func:`engine.io.open_skeleton_file`, then the first items
and the last) in a worker process (:mod:`tests.engine.io.mutants`) whose address space may grow by
:data:`HEADROOM` only, so that a reader which starts to inflate gigabytes fails the test with a
MemoryError instead of taking the machine down. Outcomes:

* ``loaded``: the file read, and its sequences are float32 ``(T, M, 25, 3)``, finite, within
  ``MAX_ABS_METRES``, at a finite positive frame rate (a mutation can leave a valid file);
* ``error``: a :class:`~engine.errors.SkeletonFileError` of one line naming the file (or the side file
  that is broken), not caused by a MemoryError;
* ``timeout`` and ``other`` (any other exception, a multi-line or anonymous message, an invalid
  result): failures.

The default run reads about 250 mutants of shrunk seeds (a few frames each) and the crafted bombs;
``pytest -m fuzz`` reads over 2,000 mutants of the full-size seeds and prints a table per format.
The last four tests pin the defects the fuzzing found, each on a mutant of a real file.
"""

from __future__ import annotations

import collections
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from engine.errors import SkeletonFileError
from engine.io import open_skeleton_file
from engine.io.ntu_skeleton import read_ntu_skeleton
from tests.conftest import PROJECT_ROOT, shared_path
from tests.engine.io import mutants
from tests.engine.io.test_every_reader import REAL_FILES

HEADROOM = 2 * mutants.GIB  # address space a worker may add after its imports
MAX_PEAK_BYTES = mutants.GIB  # resident memory one file under 10 MB may add
QUICK_PER_SEED = 16
LONG_PER_SEED = 150
SECONDS_PER_FILE = 30.0  # the worker's alarm: a file still reading by then is a hang
MAX_SECONDS_PER_FILE = 10.0  # what the long run allows (the slowest real seed reads in 0.1 s)


# --- running mutants ----------------------------------------------------------------------------------


def write_mutants(items: list[mutants.Mutant], folder: Path) -> list[dict]:
    """Each mutant in a folder of its own, with its side files; the manifest entries."""
    entries = []
    for i, m in enumerate(items):
        where = folder / m.format / f"{i:05d}-{m.case}"
        where.mkdir(parents=True)
        path = where / m.name
        path.write_bytes(m.data)
        names = []
        for side_name, side_data in m.side:
            side = where / side_name
            side.parent.mkdir(parents=True, exist_ok=True)
            side.write_bytes(side_data)
            names.append(str(side))
        entries.append(
            {"format": m.format, "case": m.case, "path": str(path), "names": names, "size": len(m.data)}
        )
    return entries


def run_mutants(items: list[mutants.Mutant], folder: Path, timeout: float = 600) -> tuple[list[dict], int]:
    """Read ``items`` in a worker process; ``(one row per mutant, the worker's peak resident memory)``.

    A worker that dies (killed by the memory limit, a crash in C code) or overruns ``timeout`` fails
    the test naming the file it was reading.
    """
    shutil.rmtree(mutants.PWNED, ignore_errors=True)
    entries = write_mutants(items, folder)
    manifest, results = folder / "manifest.json", folder / "results.jsonl"
    spec = {"files": entries, "seconds": SECONDS_PER_FILE, "headroom_bytes": HEADROOM}
    manifest.write_text(json.dumps(spec))
    # one BLAS thread (no per-thread buffers in the address space); a fixed mmap threshold, so that
    # freed arrays go back to the system and each file's peak resident memory is its own
    env = dict(
        os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
        MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072",
    )  # fmt: skip
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.engine.io.mutants", str(manifest), str(results)],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        failure = (
            None if proc.returncode == 0 else f"worker exited with {proc.returncode}: {proc.stderr[-2000:]}"
        )
    except subprocess.TimeoutExpired:
        failure = f"worker still running after {timeout} s"
    lines = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    rows = [r for r in lines if "outcome" in r]
    if failure or len(rows) != len(entries):
        culprit = entries[len(rows)] if len(rows) < len(entries) else None
        pytest.fail(f"{failure}; {len(rows)} of {len(entries)} files read; next: {culprit}")
    assert not mutants.PWNED.exists(), "a reader unpickled a hostile payload"
    return rows, lines[-1]["peak_rss_bytes"]


def summary(rows: list[dict], peak_rss: int) -> str:
    """A table: files and outcomes per format, the slowest file and the largest peak of resident memory."""
    by_format: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    slowest: dict[str, float] = collections.defaultdict(float)
    peak: dict[str, int] = collections.defaultdict(int)
    for r in rows:
        by_format[r["format"]][r["outcome"]] += 1
        slowest[r["format"]] = max(slowest[r["format"]], r["seconds"])
        peak[r["format"]] = max(peak[r["format"]], r["peak_bytes"])
    head = f"{'format':<17}{'files':>7}{'loaded':>8}{'error':>8}{'other':>7}{'timeout':>8}{'max s':>8}{'max MiB':>9}"
    out = [head, "-" * len(head)]
    for fmt in sorted(by_format):
        c = by_format[fmt]
        out.append(
            f"{fmt:<17}{sum(c.values()):>7}{c['loaded']:>8}{c['error']:>8}{c['other']:>7}{c['timeout']:>8}"
            f"{slowest[fmt]:>8.2f}{peak[fmt] / 2**20:>9.1f}"
        )
    total = collections.Counter(r["outcome"] for r in rows)
    out.append("-" * len(head))
    out.append(
        f"{'all':<17}{len(rows):>7}{total['loaded']:>8}{total['error']:>8}{total['other']:>7}{total['timeout']:>8}"
        f"{max(slowest.values()):>8.2f}{max(peak.values()) / 2**20:>9.1f}"
    )
    out.append(f"the worker's peak resident memory, its imports included: {peak_rss / 2**20:.0f} MiB")
    return "\n".join(out)


def assert_clean(rows: list[dict], max_seconds: float) -> None:
    bad = [r for r in rows if r["outcome"] not in ("loaded", "error")]
    assert not bad, "\n".join(f"{r['format']} {r['case']}: {r['outcome']}: {r['detail']}" for r in bad[:20])
    slow = [r for r in rows if r["seconds"] > max_seconds]
    assert not slow, [(r["format"], r["case"], round(r["seconds"], 2)) for r in slow]
    heavy = [r for r in rows if r["size"] < 10 * 2**20 and r["peak_bytes"] > MAX_PEAK_BYTES]
    assert not heavy, [(r["format"], r["case"], r["peak_bytes"]) for r in heavy]


# --- seeds ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def body(ntu_sample) -> np.ndarray:
    return read_ntu_skeleton(ntu_sample).joints[:, 0]


@pytest.fixture(scope="module")
def quick_seeds(body) -> list[mutants.Seed]:
    return mutants.real_seeds(shared_path, REAL_FILES, shrink=True) + mutants.built_seeds(body)


def test_seeds_cover_every_format_and_read(quick_seeds, tmp_path):
    from engine.io import FORMATS

    assert {s.format for s in quick_seeds} == set(FORMATS.names())
    rows, _ = run_mutants(
        [mutants.Mutant(s.format, "seed", s.name, s.data, s.side) for s in quick_seeds], tmp_path
    )
    assert all(r["outcome"] == "loaded" for r in rows), [(r["format"], r["detail"]) for r in rows]


# --- the fuzz runs ------------------------------------------------------------------------------------


def test_quick_fuzz_every_reader(quick_seeds, tmp_path):
    items = [m for s in quick_seeds for m in mutants.random_mutants(s, QUICK_PER_SEED, salt="quick")]
    items += mutants.bomb_mutants(quick_seeds)
    assert 200 <= len(items) <= 320
    start = time.perf_counter()
    rows, rss = run_mutants(items, tmp_path)
    print(f"\n{len(rows)} mutants in {time.perf_counter() - start:.1f} s\n{summary(rows, rss)}")
    assert_clean(rows, max_seconds=SECONDS_PER_FILE)


@pytest.mark.fuzz
def test_long_fuzz_every_reader(body, tmp_path):
    seeds = mutants.real_seeds(shared_path, REAL_FILES, shrink=False) + mutants.built_seeds(body)
    items = [m for s in seeds for m in mutants.random_mutants(s, LONG_PER_SEED, salt="long")]
    items += mutants.bomb_mutants(seeds, gigabytes=3, bzip2_mib=256)
    assert len(items) >= 2000
    start = time.perf_counter()
    rows, rss = run_mutants(items, tmp_path, timeout=3600)
    print(f"\n{len(rows)} mutants in {time.perf_counter() - start:.1f} s\n{summary(rows, rss)}")
    outcomes = collections.Counter((r["format"], r["outcome"]) for r in rows)
    for fmt in {r["format"] for r in rows}:
        assert outcomes[(fmt, "error")] > 0, f"no mutant of {fmt} was refused: the mutations miss it"
    assert_clean(rows, max_seconds=MAX_SECONDS_PER_FILE)


# --- the defects the fuzzing found, each pinned on a mutant of a real file -------------------------------

# numpy's header parser gives up on this with tokenize.TokenError ("EOF in multi-line statement"),
# which is neither a ValueError nor an OSError: it used to escape the readers with a traceback.
TOKEN_ERROR_HEADER = "{'descr': '<f4', 'fortran_order': False, 'shape': ((2, 3), }"


def _read_all(path: Path) -> None:
    collection = open_skeleton_file(path)
    for i in sorted({0, len(collection) - 1} & set(range(len(collection)))):
        collection[i]


def _one_line_error(path: Path, *names: Path) -> str:
    """Reading fails with one line naming ``path`` (or one of ``names``); the message."""
    with pytest.raises(SkeletonFileError) as info:
        _read_all(path)
    message = str(info.value)
    assert len(message.splitlines()) == 1, message
    assert any(str(n) in message for n in (path, *names)), message
    return message


def _write(folder: Path, name: str, data: bytes, side: tuple = ()) -> Path:
    folder.mkdir(parents=True)
    for side_name, side_data in side:
        (folder / side_name).parent.mkdir(parents=True, exist_ok=True)
        (folder / side_name).write_bytes(side_data)
    (folder / name).write_bytes(data)
    return folder / name


def test_defect1_a_damaged_npy_header_is_one_line_not_a_tokenize_error(quick_seeds, tmp_path):
    import tokenize

    damaged = mutants.npy_raw_header(TOKEN_ERROR_HEADER) + bytes(24)
    with pytest.raises(tokenize.TokenError):  # numpy's own behaviour, which the readers must contain
        np.lib.format.read_array(io.BytesIO(damaged))
    containers = [s for s in quick_seeds if s.kind in ("npz", "npy")]
    assert {s.format for s in containers} == {"ctrgcn_npz", "bandai_npz", "msrc12_npz", "aimclr_npy"}
    for s in containers:
        if s.kind == "npy":
            path = _write(tmp_path / f"{s.format}-data", s.name, damaged, s.side)
            assert "TokenError" in _one_line_error(path)
            label = (("train_label.npy", damaged),)  # SMIE's label arrays
            path = _write(tmp_path / f"{s.format}-label", s.name, s.data, label)
            _one_line_error(path, path.parent / "train_label.npy")
            continue
        members = mutants.zip_members(s.data)
        main = max(members, key=lambda m: len(m[1]))[0]
        for k, (name, _, method) in enumerate(members):
            copy = list(members)
            copy[k] = (name, damaged, method)
            path = _write(tmp_path / f"{s.format}-{method}-{name}", s.name, mutants.pack(copy), s.side)
            try:
                _read_all(path)  # a member the reader never reads may be damaged harmlessly
            except SkeletonFileError as exc:
                assert len(str(exc).splitlines()) == 1 and str(path) in str(exc), str(exc)
            else:
                assert name != main, f"{s.format}: a damaged {name} header read without error"


def test_defect2_bombs_are_refused_before_inflating(quick_seeds, tmp_path):
    # A 3 MB deflate stream inflating to 3 GB behind a real file's members, the same size merely
    # declared, a bzip2 member of a few hundred bytes inflating to 96 MiB, a MAT-file variable
    # inflating to 3 GB, and object arrays (pickles) in every container.
    containers = [s for s in quick_seeds if s.kind in ("npz", "npy", "mat")]
    items = mutants.bomb_mutants(containers, gigabytes=3)
    # zipfile inflates a bzip2 member whole to give even its first bytes
    bandai = [s for s in containers if s.format == "bandai_npz"]
    items += [m for m in mutants.bomb_mutants(bandai, gigabytes=1, bzip2_mib=96) if m.case == "bzip2_bomb"]
    assert {m.format for m in items if "deflate_bomb" in m.case} >= {
        "bandai_npz",
        "ctrgcn_npz",
        "msrc12_npz",
        "utd_mhad_mat",
    }
    for s in (s for s in quick_seeds if s.kind == "npz"):
        members = mutants.zip_members(s.data)
        k = max(range(len(members)), key=lambda j: len(members[j][1]))
        payload = io.BytesIO()
        np.save(payload, np.array([mutants.Sentinel(str(mutants.PWNED))], dtype=object), allow_pickle=True)
        members[k] = (members[k][0], payload.getvalue(), members[k][2])
        items.append(mutants.Mutant(s.format, "object_array", s.name, mutants.pack(members), s.side))
    rows, _ = run_mutants(items, tmp_path)  # in a worker: a regression must not take the machine with it
    for r in rows:
        assert r["outcome"] == "error", (r["format"], r["case"], r["outcome"], r["detail"])
        assert r["seconds"] < 5, (r["format"], r["case"], r["seconds"])
        assert r["peak_bytes"] < 50 * 2**20, (r["format"], r["case"], r["peak_bytes"])
    bombs = {r["format"]: r["detail"] for r in rows if r["case"] == "deflate_bomb"}
    assert "would inflate" in bombs["bandai_npz"] and "inflate" in bombs["utd_mhad_mat"], bombs


def test_defect3_every_message_is_one_line(body, tmp_path):
    # numpy's own refusal of an over-long .npy header spans three lines; ours is one.
    long_header = mutants.npy_raw_header(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 30, 25, 2), }" + " " * 20_000
    )
    aim = np.zeros((2, 3, 30, 25, 2), dtype=np.float32)
    aim[0, :, :, :, 0] = body[:30].transpose(2, 0, 1)
    data = long_header + aim.tobytes()
    with pytest.raises(ValueError) as numpy_error:
        np.load(io.BytesIO(data))
    assert len(str(numpy_error.value).splitlines()) > 1
    path = _write(tmp_path / "long_header", "train_position.npy", data)
    _one_line_error(path)
    # what a reader quotes from a file, or another library's message, can hold any line break
    error = SkeletonFileError("clip.bvh", "found 'a\nb'\r\nthen\u2028c\x0bd\x1ce\x85f", "line\n3")
    assert (
        str(error).splitlines() == [str(error)] and str(error) == "clip.bvh: line 3: found 'a b' then c d e f"
    )
    named = _write(tmp_path / "name", "a\nb.skeleton", b"1\n0\n")
    message = _one_line_error(named, Path(str(named).replace("\n", "\\n")))
    assert "a\\nb.skeleton" in message


@pytest.mark.parametrize("value", [1e9, 1e20, 1e37])
def test_defect4_nw_ucla_and_bvh_refuse_positions_far_beyond_a_room(value, tmp_path):
    # Both read 1e9..1e37 m as valid positions; every other reader refused them.
    ucla = shared_path(*REAL_FILES["nw_ucla_json"][0].split("/"))
    doc = json.loads(ucla.read_bytes())
    doc["skeletons"][5][3][0] = value
    path = _write(tmp_path / "ucla", ucla.name, json.dumps(doc).encode())
    assert "not a position in metres" in _one_line_error(path)

    bvh = shared_path(*REAL_FILES["bvh"][0].split("/"))
    lines = bvh.read_text().split("\n")
    frame5 = next(k for k, line in enumerate(lines) if line.startswith("Frame Time")) + 5
    words = lines[frame5].split()
    lines[frame5] = " ".join([repr(value)] + words[1:])  # the root's Xposition, file units (cm)
    path = _write(tmp_path / "bvh", bvh.name, "\n".join(lines).encode())
    assert "not a position in metres" in _one_line_error(path)
