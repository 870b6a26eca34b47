"""Training runs as a ``zsar train`` subprocess, followed through its ``RUN/events.jsonl``.

A crash in training never takes the window down, and a cancel is a clean stop: SIGINT, which the
trainer turns into "interrupted" after its last checkpoint (``--resume`` then continues the run).
Events are read by a timer from where the last read ended; a line still being written is left for the
next read.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal, Slot

from trainer.events import event_from_dict

POLL_MS = 250
KILL_AFTER_MS = 15000  # a cancel that has not ended the process by then becomes a kill


def train_arguments(preset: str, method: str, out: str, data_root: str | None = None, device: str = "auto",
                    resume: bool = False) -> list[str]:
    args = ["train", "--preset", preset, "--method", method, "--out", out]
    if data_root:
        args += ["--data-root", data_root]
    if device and device != "auto":
        args += ["--device", device]
    if resume:
        args.append("--resume")
    return args


class TrainerService(QObject):
    event_received = Signal(object)  # one events.jsonl line, as its trainer.events type
    log_line = Signal(str)  # the process's output, a line at a time
    finished = Signal(int, str)  # exit code (0 = done), run folder
    exported = Signal(str)  # the bundle written by export()
    errored = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.run_dir: Path | None = None
        self._proc: QProcess | None = None
        self._offset = 0
        self._partial = b""
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._kill = QTimer(self)
        self._kill.setSingleShot(True)
        self._kill.timeout.connect(self._force_kill)
        self._export: QProcess | None = None
        self._last_error = ""

    @property
    def running(self) -> bool:
        return self._proc is not None

    def _process(self, args: list[str]) -> QProcess:
        proc = QProcess(self)
        proc.setProgram(sys.executable)
        proc.setArguments(["-m", "app", *args])
        proc.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        proc.setProcessEnvironment(env)
        return proc

    def start(self, args: list[str], run_dir: str | Path) -> None:
        if self._proc is not None:
            self.errored.emit("a training run is already going: cancel it first")
            return
        self.run_dir = Path(run_dir)
        events = self.run_dir / "events.jsonl"
        # a resumed run appends to its events: follow from the end of what is there
        self._offset = events.stat().st_size if "--resume" in args and events.exists() else 0
        self._partial = b""
        self._last_error = ""
        proc = self._process(args)
        proc.readyReadStandardOutput.connect(self._read_output)
        proc.finished.connect(self._on_finished)
        proc.errorOccurred.connect(self._on_process_error)
        self._proc = proc
        proc.start()
        self._timer.start()

    def cancel(self) -> None:
        if self._proc is None:
            return
        pid = int(self._proc.processId())
        if pid > 0 and hasattr(signal, "SIGINT") and os.name == "posix":
            os.kill(pid, signal.SIGINT)
        else:
            self._proc.terminate()
        self._kill.start(KILL_AFTER_MS)

    def wait_stopped(self) -> None:
        """Block until the training and export processes have ended (after a cancel at window close,
        once the event loop has ended: the kill timer no longer fires, so this applies the same limit).
        Qt would otherwise kill a process still running when its QProcess is destroyed, before the
        trainer has written its last checkpoint."""
        for proc in (self._proc, self._export):
            running = proc is not None and proc.state() != QProcess.ProcessState.NotRunning
            if running and not proc.waitForFinished(KILL_AFTER_MS):
                proc.kill()
                proc.waitForFinished(5000)

    def _force_kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()

    @Slot()
    def _read_output(self) -> None:
        if self._proc is None:
            return
        text = bytes(self._proc.readAllStandardOutput()).decode("utf-8", "replace")
        for line in text.replace("\r", "\n").splitlines():
            if line.strip():
                if line.startswith("zsar: error:"):
                    self._last_error = line[len("zsar: error:"):].strip()
                self.log_line.emit(line)

    @Slot()
    def _poll(self) -> None:
        if self.run_dir is None:
            return
        path = self.run_dir / "events.jsonl"
        try:
            with open(path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            return
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()  # b"" after a complete line; else a line still being written
        for raw in lines:
            try:
                event = event_from_dict(json.loads(raw))
            except (ValueError, TypeError):  # a line of another kind, or from an incompatible version
                continue
            self.event_received.emit(event)

    @Slot(int, QProcess.ExitStatus)
    def _on_finished(self, code: int, status) -> None:
        self._read_output()
        self._poll()
        self._timer.stop()
        self._kill.stop()
        self._proc = None
        if code != 0 and self._last_error:
            self.errored.emit(f"training stopped: {self._last_error}")
        elif status != QProcess.ExitStatus.NormalExit:
            self.errored.emit("training process crashed (see the log)")
        self.finished.emit(code if status == QProcess.ExitStatus.NormalExit else -1, str(self.run_dir))

    @Slot(QProcess.ProcessError)
    def _on_process_error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._timer.stop()
            self._proc = None
            self.errored.emit(f"could not start the trainer ({sys.executable} -m app)")

    # -- export ------------------------------------------------------------------------------------
    def export(self, run_dir: str | Path) -> None:
        """``zsar export RUN --out RUN/model.zsar`` as a subprocess; ``exported`` gives the bundle."""
        out = Path(run_dir) / "model.zsar"
        proc = self._process(["export", str(run_dir), "--out", str(out)])
        proc.finished.connect(lambda code, _status: self._on_exported(proc, code, out))
        self._export = proc
        proc.start()

    def _on_exported(self, proc: QProcess, code: int, out: Path) -> None:
        output = bytes(proc.readAllStandardOutput()).decode("utf-8", "replace").strip()
        self._export = None
        if code == 0 and out.exists():
            self.exported.emit(str(out))
        else:
            last = output.splitlines()[-1] if output else f"exit status {code}"
            self.errored.emit(f"export failed: {last.removeprefix('zsar: error: ')}")
