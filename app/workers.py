"""Work off the GUI thread: a :class:`Worker` runs a function (or a generator) on its own QThread and
reports through signals named as superqt's workers name them (``started``, ``yielded``,
``returned``, ``errored``, ``finished``).

Stopping is cooperative: :meth:`Worker.quit` sets a flag that a generator worker checks between items
and that a function can read through the ``should_stop`` callable it may accept. Connect the
signals to methods of objects that live on the GUI thread, so that Qt queues the calls there; a plain
lambda would run on the worker's thread.

A QThread must never be destroyed while it runs (Qt aborts the process: "QThread: Destroyed while
thread is still running"), and some work cannot be interrupted (a model load spends seconds inside
a library call). So every started worker stays referenced until its thread has ended, and shutting
down asks every worker to stop (:func:`request_stop_all`, at window close) and then waits for the
threads with no time limit (:func:`stop_all`, once the event loop has ended; an exit handler does the
same for any other way out of the process). A close during a model load therefore takes until the
load's current step ends, and then exits cleanly.
"""

from __future__ import annotations

import atexit
import inspect
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from engine.errors import ZsarError

logger = logging.getLogger(__name__)

_RUNNING: set[Worker] = set()  # workers whose thread has not finished: kept alive until then


def describe(exc: BaseException) -> str:
    """A one-paragraph message for the window: a user's mistake as it is, anything else with its type."""
    if isinstance(exc, ZsarError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class Worker(QObject):
    """Runs ``fn(*args, **kwargs)`` on a thread of its own (see :func:`start_worker`).

    If ``fn`` accepts a ``should_stop`` keyword it is given :meth:`abort_requested`.
    """

    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(str)
    finished = Signal()

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._abort = threading.Event()
        self.thread: QThread | None = None
        try:
            if "should_stop" in inspect.signature(fn).parameters:
                self._kwargs.setdefault("should_stop", self.abort_requested)
        except (TypeError, ValueError):  # builtins without a signature
            pass

    def abort_requested(self) -> bool:
        return self._abort.is_set()

    def quit(self) -> None:
        """Ask the work to stop at its next check; safe from any thread."""
        self._abort.set()

    @Slot()
    def run(self) -> None:
        self.started.emit()
        try:
            result = self._fn(*self._args, **self._kwargs)
            if inspect.isgenerator(result):
                gen, result = result, None
                try:
                    while not self._abort.is_set():
                        self.yielded.emit(next(gen))
                    gen.close()
                except StopIteration as stop:
                    result = stop.value
            self.returned.emit(result)
        except Exception as exc:  # noqa: BLE001 - every failure must reach the window, not kill the thread
            logger.warning("worker %s failed", getattr(self._fn, "__name__", self._fn), exc_info=True)
            self.errored.emit(describe(exc))
        finally:
            self.finished.emit()


class _Reaper(QObject):
    """Drops a worker once its thread has ended. It lives on the GUI thread, so the queued call comes
    after QThread.finished (emitted on the ending thread itself); wait() covers the last instants, and
    only then may Python let go of the QThread (destroying a running one aborts the process)."""

    @Slot()
    def reap(self) -> None:
        for worker in [w for w in _RUNNING if w.thread is not None and w.thread.isFinished()]:
            worker.thread.wait()
            _RUNNING.discard(worker)


_reaper: _Reaper | None = None


def start_worker(worker: Worker) -> Worker:
    """Start ``worker`` on a new QThread; the pair is kept alive until the thread ends.

    Call from the GUI thread."""
    global _reaper
    if _reaper is None:
        _reaper = _Reaper()
    thread = QThread()
    worker.thread = thread
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    # Direct: QThread.quit is thread-safe, and a queued call would need the GUI thread's event loop,
    # which is not running while stop_all() waits for this thread to end.
    worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    thread.finished.connect(_reaper.reap)
    _RUNNING.add(worker)
    thread.start()
    return worker


def running() -> list[str]:
    """The functions of the workers whose thread has not ended (diagnostics, tests)."""
    return sorted(getattr(w._fn, "__name__", repr(w._fn)) for w in _RUNNING
                  if w.thread is not None and not w.thread.isFinished())


def request_stop_all() -> None:
    """Ask every running worker to stop at its next check; returns at once (safe at window close)."""
    for worker in list(_RUNNING):
        worker.quit()


def stop_all(timeout_ms: int | None = None) -> bool:
    """Ask every running worker to stop and wait for its thread; True when all have ended.

    ``None`` waits as long as the work takes: what cannot be interrupted (a model load inside a
    library call) must still end before its thread may be destroyed. With a timeout, threads still
    running stay referenced (never destroyed). Blocks the calling thread, so call it from the GUI
    thread only once the event loop has ended (or from a test)."""
    request_stop_all()
    deadline = None if timeout_ms is None else time.monotonic() + timeout_ms / 1000
    names = running()
    if names:
        logger.info("waiting for %d worker(s) to finish: %s", len(names), ", ".join(names))
    for worker in list(_RUNNING):
        thread = worker.thread
        if thread is None:
            _RUNNING.discard(worker)
            continue
        if deadline is None:
            thread.wait()
        elif not thread.wait(max(0, int(1000 * (deadline - time.monotonic())))):
            continue
        _RUNNING.discard(worker)
    return not _RUNNING


@atexit.register
def _wait_at_exit() -> None:
    # Any way out of the process that skipped stop_all (app.quit() from elsewhere, a test session
    # ending): Python would otherwise destroy running QThreads while it tears down modules.
    # Exit handlers run before that teardown, in reverse order of registration, so this one (registered
    # after PySide6's import) runs while Qt is still whole.
    if _RUNNING:
        stop_all()
