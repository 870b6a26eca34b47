"""Atomic file writes: a temp file in the same folder, fsync, then rename over the target.

A crash or kill mid-write leaves either the old file or none, never a half-written one that looks
complete (recordings, checkpoints, results, bundles, cache shards).

Two details a plain ``mkstemp`` + ``os.replace`` gets wrong:

- ``mkstemp`` creates its file with mode 0600, and the rename carries that mode to the target, so every
  file we wrote was private whatever the user's umask said. The temp file is given the mode a plain
  ``open(path, "w")`` would have given (0666 less the umask), or the mode of the file it replaces.
- A ``kill -9`` between create and rename leaves the temp file behind, full size and hidden. Its name
  carries the writer's process id, so the next write to the same target removes the leftovers whose
  writer is gone (a live writer's temp file, e.g. another process saving the same path, is kept).
"""

from __future__ import annotations

import glob
import os
import re
import tempfile
import threading
import time
from pathlib import Path

_UMASK_LOCK = threading.Lock()
# A leftover whose name does not parse (an older naming scheme) is removed only once it is this old,
# so a writer we cannot identify is never raced.
_STALE_UNKNOWN_S = 3600.0


def _current_umask() -> int:
    # The only portable way to read the umask is to set it and put it back; the lock keeps two of our
    # threads from interleaving that pair.
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_current_umask()


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _remove_leftovers(path: Path) -> None:
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(?:p(\d+)\.)?[^.]+\.tmp$")
    try:
        candidates = list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    except OSError:
        return
    now = time.time()
    for tmp in candidates:
        m = pattern.match(tmp.name)
        if not m:
            continue
        try:
            if m.group(1) is not None:
                if _pid_alive(int(m.group(1))):
                    continue
            elif now - tmp.stat().st_mtime < _STALE_UNKNOWN_S:
                continue
            tmp.unlink()
        except OSError:  # gone already, or not ours to remove: never fail the write over it
            pass


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path)
    mode = _mode_for(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.p{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))
