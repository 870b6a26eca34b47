"""Atomic writes: the mode follows the umask (or the replaced file), and a writer killed with SIGKILL
mid-write leaves a temp file that the next write to the same target removes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.atomic import atomic_write_bytes, atomic_write_text

ROOT = Path(__file__).resolve().parents[2]


def _with_umask(mask: int, fn):
    old = os.umask(mask)
    try:
        return fn()
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_new_file_mode_follows_the_umask(tmp_path, mask, expected):
    target = tmp_path / "result.json"
    _with_umask(mask, lambda: atomic_write_text(target, "{}\n"))
    assert target.stat().st_mode & 0o777 == expected


def test_replacing_a_file_keeps_its_mode(tmp_path):
    target = tmp_path / "model.zsar"
    target.write_bytes(b"old")
    target.chmod(0o604)
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o604


# The writer blocks inside fsync, after the temp file holds all its bytes and before the rename: the
# moment a kill leaves the largest leftover.
_WRITER = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
import engine.atomic as atomic
def stuck(fd):
    print("writing", flush=True)
    time.sleep(600)
atomic.os.fsync = stuck
atomic.atomic_write_bytes(sys.argv[2], b"x" * 1_000_000)
"""


def test_a_killed_writers_leftover_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "export.zsar"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(ROOT), str(target)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        leftovers = list(tmp_path.glob(".export.zsar.*.tmp"))
        assert len(leftovers) == 1 and leftovers[0].stat().st_size == 1_000_000
        # While its writer lives, the temp file is not ours to remove.
        atomic_write_bytes(tmp_path / "export.zsar", b"first")
        assert leftovers[0].exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    assert not target.exists() or target.read_bytes() == b"first"
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert list(tmp_path.glob(".export.zsar.*.tmp")) == []


def test_unparseable_leftovers_are_removed_only_when_old(tmp_path):
    target = tmp_path / "a.json"
    fresh = tmp_path / ".a.json.abc123.tmp"
    stale = tmp_path / ".a.json.def456.tmp"
    other = tmp_path / ".b.json.p1.abc.tmp"
    for f in (fresh, stale, other):
        f.write_bytes(b"?")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    atomic_write_text(target, "{}")
    assert fresh.exists() and not stale.exists() and other.exists()
