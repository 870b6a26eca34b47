"""Trainer tab: choose a preset, a method, the data root and the device; run ``zsar train`` as a
subprocess and follow it: the five stages, a progress bar, live loss curves per loss name, the log;
cancel and resume; the results beside the paper's numbers; "use this model" exports the run's bundle
and loads it into the Live and Files tabs.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.services.trainer_service import TrainerService, train_arguments
from app.widgets.loss_plot import LossPlot
from trainer.events import EpochEnded, Event, RunFailed, StageFinished, StageStarted, StepLogged
from trainer.presets import preset_documents
from trainer.stages import STAGES

# results.json figure -> row label
FIGURES = (("zsl", "top1", "ZSL top-1"), ("gzsl", "seen", "GZSL seen"), ("gzsl", "unseen", "GZSL unseen"),
           ("gzsl", "h", "GZSL H"), ("held_out_subjects", "top1", "held-out subjects top-1"))


def paper_figure(paper: dict, section: str, key: str):
    """The paper's number for a figure from a run's ``paper`` block (``{"zsl": 82.37, "gzsl": {...}}``)."""
    value = (paper or {}).get(section)
    if isinstance(value, dict):
        value = value.get(key)
    elif key != "top1":
        value = None
    return value if isinstance(value, (int, float)) else None


class TrainerTab(QWidget):
    message = Signal(str, str)
    use_model = Signal(str)  # a bundle path, for the Live and Files tabs

    def __init__(self, service: TrainerService, parent=None) -> None:
        super().__init__(parent)
        self.service = service
        self.presets = preset_documents()
        self.preset_box = QComboBox()
        self.preset_box.addItems(list(self.presets))
        self.method_box = QComboBox()
        self.data_root = QLineEdit()
        self.data_root.setPlaceholderText("folder holding the datasets (default: ../shared/data or $ZSAR_DATA_ROOT)")
        browse = QPushButton("…")
        browse.clicked.connect(self._browse_data)
        self.device_box = QComboBox()
        self.device_box.addItems(["auto", "cpu", "cuda"])
        self.out_dir = QLineEdit()
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel")
        self.resume_button = QPushButton("Resume")
        self.use_button = QPushButton("Use this model")
        self.stages = QListWidget()
        self.progress = QProgressBar()
        self.progress.setFormat("%p%")
        self.loss_plot = LossPlot()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.results = QTableWidget(0, 3)
        self.results.setHorizontalHeaderLabels(["figure", "this run", "paper"])

        form = QFormLayout()
        form.addRow("preset", self.preset_box)
        form.addRow("method", self.method_box)
        root_row = QHBoxLayout()
        root_row.addWidget(self.data_root, 1)
        root_row.addWidget(browse)
        form.addRow("data root", root_row)
        form.addRow("device", self.device_box)
        form.addRow("run folder", self.out_dir)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.cancel_button, self.resume_button, self.use_button):
            buttons.addWidget(b)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.addLayout(form)
        lv.addLayout(buttons)
        lv.addWidget(self.stages)
        lv.addWidget(self.progress)
        lv.addWidget(self.results)
        right = QSplitter()
        right.setOrientation(right.orientation().Vertical)
        right.addWidget(self.loss_plot)
        right.addWidget(self.log)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        QVBoxLayout(self).addWidget(split)

        self.preset_box.currentTextChanged.connect(self._preset_changed)
        self.start_button.clicked.connect(lambda: self.start(resume=False))
        self.resume_button.clicked.connect(lambda: self.start(resume=True))
        self.cancel_button.clicked.connect(service.cancel)
        self.use_button.clicked.connect(self._use_model)
        service.event_received.connect(self._on_event)
        service.log_line.connect(self.log.appendPlainText)
        service.finished.connect(self._on_finished)
        service.errored.connect(lambda m: self.message.emit(m, "error"))
        service.exported.connect(self.use_model.emit)
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self.loss_plot.refresh)
        self._timer.start()
        self._step_offset: dict[str, int] = {}
        self.last_results: dict | None = None
        self._preset_changed(self.preset_box.currentText())
        self.stages.addItems([f"○ {s}" for s in STAGES])
        self._set_running(False)

    # -- form ------------------------------------------------------------------------------------
    def _browse_data(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Data root")
        if path:
            self.data_root.setText(path)

    def _preset_changed(self, name: str) -> None:
        doc = self.presets.get(name, {})
        self.method_box.clear()
        self.method_box.addItems(list(doc.get("method_configs", {})))
        self.preset_box.setToolTip(doc.get("source", ""))
        stamp = time.strftime("%Y%m%d_%H%M%S")
        self.out_dir.setText(str(Path(tempfile.gettempdir()) / "zsar-runs" / f"{name}_{stamp}"))

    def _set_running(self, running: bool) -> None:
        for w in (self.start_button, self.resume_button, self.preset_box, self.method_box):
            w.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.use_button.setEnabled(not running and self.last_results is not None)

    def start(self, resume: bool = False) -> None:
        out = self.out_dir.text().strip()
        if not out:
            self.message.emit("choose a run folder", "error")
            return
        args = train_arguments(self.preset_box.currentText(), self.method_box.currentText(), out,
                               self.data_root.text().strip() or None, self.device_box.currentText(), resume)
        self.stages.clear()
        self.stages.addItems([f"○ {s}" for s in STAGES])
        if not resume:
            self.loss_plot.clear_curves()
            self._step_offset.clear()
        self.results.setRowCount(0)
        self.last_results = None
        self.progress.setValue(0)
        self.log.appendPlainText("$ zsar " + " ".join(args))
        self.service.start(args, out)
        self._set_running(True)

    # -- events ----------------------------------------------------------------------------------
    def _stage_row(self, stage: str, mark: str, detail: str = "") -> None:
        base = stage.split(":")[0]
        if base in STAGES:
            item = self.stages.item(STAGES.index(base))
            if item is not None:
                item.setText(f"{mark} {base}{(' ' + detail) if detail else ''}")

    @Slot(object)
    def _on_event(self, e: Event) -> None:
        stage = e.stage
        if isinstance(e, StageStarted):
            self._stage_row(stage, "▶", "running")
        elif isinstance(e, StageFinished):
            self._stage_row(stage, "✓", f"{e.seconds:.1f} s")
        elif isinstance(e, RunFailed):
            self._stage_row(stage, "✗", e.message)
        elif isinstance(e, StepLogged):
            per = max(int(e.steps_per_epoch or 1), 1)
            step = int(e.epoch) * per + int(e.step)
            losses = {f"{stage.split(':', 1)[-1]}/{k}": float(v) for k, v in (e.losses or {}).items()
                      if isinstance(v, (int, float))}
            self.loss_plot.add(step, losses)
        elif isinstance(e, EpochEnded):
            epochs = max(int(e.epochs or 1), 1)
            self.progress.setValue(round(100 * (int(e.epoch) + 1) / epochs))
            self.progress.setFormat(f"{stage}: epoch {int(e.epoch) + 1}/{epochs}")
            self._stage_row(stage, "▶", f"epoch {int(e.epoch) + 1}/{epochs}")

    @Slot(int, str)
    def _on_finished(self, code: int, run_dir: str) -> None:
        results = Path(run_dir) / "results.json"
        if code == 0 and results.exists():
            self.show_results(json.loads(results.read_text(encoding="utf-8")))
            self.progress.setValue(100)
            self.progress.setFormat("done")
            self.message.emit(f"training finished: {run_dir}", "info")
        elif code == 130:
            self.progress.setFormat("cancelled: Resume continues from the last checkpoint")
        self._set_running(False)

    def show_results(self, r: dict) -> None:
        self.last_results = r
        paper = r.get("paper") or {}
        rows = [(label, (r.get(sec) or {}).get(key), paper_figure(paper, sec, key)) for sec, key, label in FIGURES]
        rows = [row for row in rows if row[1] is not None]
        self.results.setRowCount(len(rows))
        for i, (label, ours, theirs) in enumerate(rows):
            for j, text in enumerate((label, f"{ours:.2f}", "" if theirs is None else f"{theirs:.2f}")):
                self.results.setItem(i, j, QTableWidgetItem(text))
        self.results.resizeColumnsToContents()

    def _use_model(self) -> None:
        if self.service.run_dir is not None:
            run_dir = self.service.run_dir
            self.log.appendPlainText(f"$ zsar export {run_dir} --out {run_dir / 'model.zsar'}")
            self.service.export(self.service.run_dir)
