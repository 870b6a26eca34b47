"""Measure whether the installed PySide6 leaks references to ``None`` / ``True`` per signal emit or slot call.

Some PySide6 builds drop a reference to ``True`` on every ``emit()`` and to ``None`` on every call of a
``@Slot``-decorated method. On Python < 3.12 those objects are reference counted like any other, so the
count eventually runs out and the interpreter aborts at exit ("Fatal Python error: none_dealloc"); a
window playing a clip at 30 Hz gets there in minutes. Run with any interpreter that has PySide6::

    python scripts/pyside_refleak.py [N]

It prints, per case, how ``sys.getrefcount(None)`` and ``sys.getrefcount(True)`` changed over N emits
(default 100,000), and the change per emit; a case that changes by about -N leaks one reference per
emit. A second table does the same for N plain calls: a ``@Slot`` method called from Python, and Qt
methods that return nothing (``None`` back in Python) or a bool. Python >= 3.12 makes None/True immortal (the counts
stay fixed), so the leak is harmless there.
"""

from __future__ import annotations

import os
import sys

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, Slot

try:
    from shiboken6 import __version__ as shiboken_version
except ImportError:  # very old builds
    shiboken_version = "?"

CHUNK = 1000  # queued: let the event loop deliver after this many emits, so the queue stays short
BALLAST = 4_000_000  # extra references per object, so a leaking build cannot reach zero mid-run
_KEEP: list = []


class Sender(QObject):
    obj = Signal(object)
    dct = Signal(dict)
    bare = Signal()


class Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    @Slot(object)
    def slot_obj(self, _x) -> None:
        self.calls += 1

    def plain_obj(self, _x) -> None:
        self.calls += 1

    @Slot(dict)
    def slot_dict(self, _x) -> None:
        self.calls += 1

    def plain_dict(self, _x) -> None:
        self.calls += 1

    @Slot()
    def slot_bare(self) -> None:
        self.calls += 1

    def plain_bare(self) -> None:
        self.calls += 1


def measure(app: QCoreApplication, signal_name: str, slot_name: str | None, kind: Qt.ConnectionType,
            n: int) -> tuple[int, int, int]:
    sender, receiver = Sender(), Receiver()
    signal = getattr(sender, signal_name)
    if slot_name is not None:
        signal.connect(getattr(receiver, slot_name), kind)
    payload = {"fps": 30.0} if signal_name == "dct" else object()
    emit = (lambda: signal.emit()) if signal_name == "bare" else (lambda: signal.emit(payload))
    for _ in range(100):  # warm up: first-call caches
        emit()
    app.processEvents()
    receiver.calls = 0
    none0, true0 = sys.getrefcount(None), sys.getrefcount(True)
    for i in range(n):
        emit()
        if kind == Qt.ConnectionType.QueuedConnection and i % CHUNK == CHUNK - 1:
            app.processEvents()
    app.processEvents()
    none1, true1 = sys.getrefcount(None), sys.getrefcount(True)
    if slot_name is not None:
        signal.disconnect()
    return none1 - none0, true1 - true0, receiver.calls


def main(argv: list[str]) -> int:
    n = int(argv[1]) if len(argv) > 1 else 100_000
    app = QCoreApplication.instance() or QCoreApplication(argv[:1])
    # True starts with only a few hundred references: a leaking build would abort after that many
    # emits. Hold millions more for the measurement; main() then ends the process without tearing
    # down this list, which would hand back more references than a leaking run still owns.
    ballast = [None, True] * BALLAST
    print(f"PySide6 {pyside_version}, shiboken6 {shiboken_version}, Python {sys.version.split()[0]}; "
          f"N = {n} emits per case")
    if sys.version_info >= (3, 12):
        print("note: Python >= 3.12 keeps None and True immortal; the counts below cannot move")
    print(f"{'signal':<14} {'receiver':<16} {'connection':<10} {'calls':>7} {'d None':>9} {'d True':>9} "
          f"{'None/emit':>10} {'True/emit':>10}")
    cases = [
        ("obj", "slot_obj"), ("obj", "plain_obj"),
        ("dct", "slot_dict"), ("dct", "plain_dict"),
        ("bare", "slot_bare"), ("bare", "plain_bare"),
        ("obj", None), ("dct", None),
    ]
    signals = {"obj": "Signal(object)", "dct": "Signal(dict)", "bare": "Signal()"}
    kinds = (("direct", Qt.ConnectionType.DirectConnection), ("queued", Qt.ConnectionType.QueuedConnection))
    for signal_name, slot_name in cases:
        for kind_name, kind in kinds if slot_name is not None else kinds[:1]:
            d_none, d_true, calls = measure(app, signal_name, slot_name, kind, n)
            receiver = "(unconnected)" if slot_name is None else (
                ("@Slot " if slot_name.startswith("slot") else "plain ") + "method")
            print(f"{signals[signal_name]:<14} {receiver:<16} {kind_name if slot_name else '-':<10} {calls:>7} "
                  f"{d_none:>9} {d_true:>9} {d_none / n:>10.3f} {d_true / n:>10.3f}")
    print()
    print(f"{'call (from Python)':<42} {'d None':>9} {'d True':>9} {'None/call':>10} {'True/call':>10}")
    receiver, other = Receiver(), QObject()
    calls = [
        ("@Slot(object) method", lambda: receiver.slot_obj(1)),
        ("plain method", lambda: receiver.plain_obj(1)),
        ("QObject.setObjectName (returns None)", lambda: other.setObjectName("x")),
        ("QCoreApplication.processEvents (None)", app.processEvents),
        ("QObject.signalsBlocked (returns False)", other.signalsBlocked),
        ("QObject.blockSignals(True) (returns bool)", lambda: other.blockSignals(True)),
    ]
    for name, call in calls:
        call()
        none0, true0 = sys.getrefcount(None), sys.getrefcount(True)
        for _ in range(n):
            call()
        d_none, d_true = sys.getrefcount(None) - none0, sys.getrefcount(True) - true0
        print(f"{name:<42} {d_none:>9} {d_true:>9} {d_none / n:>10.3f} {d_true / n:>10.3f}")
    _KEEP.append(ballast)  # never released: the process ends with os._exit
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip finalisation: a leaking build would abort there (see BALLAST)
