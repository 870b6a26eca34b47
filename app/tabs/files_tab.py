"""Files tab: open any skeleton file the readers know (dialog or drag and drop), play it in 3D, scrub,
and recognise it with the current class set (the whole clip as bars, the sliding windows as a timeline).

Reading runs on a worker (a CTR-GCN or PKU-MMD file can take seconds); a file the readers reject
gives its one-line reason in the message bar and the tab keeps what it showed before.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.services.recognizer_service import RecognizerService, SequenceResult
from app.widgets.prediction_bars import PredictionBars
from app.widgets.score_timeline import ScoreTimeline
from app.widgets.skeleton_view import SkeletonView
from app.workers import Worker, start_worker
from engine.types import SkeletonSequence

MAX_SEQUENCES = 500  # a collection file (CTR-GCN .npz: ~40k clips) shows its first ones


def read_sequences(path: str) -> tuple[str, list[SkeletonSequence], int]:
    from engine.io import open_skeleton_file

    collection = open_skeleton_file(path)
    n = len(collection)
    return path, [collection[i] for i in range(min(n, MAX_SEQUENCES))], n


class FilesTab(QWidget):
    message = Signal(str, str)
    stats = Signal(dict)

    def __init__(self, recognizer: RecognizerService, parent=None) -> None:
        super().__init__(parent)
        self.recognizer = recognizer
        self.setAcceptDrops(True)
        self.open_button = QPushButton("Open file…")
        self.sequence_box = QComboBox()
        self.sequence_box.setMinimumWidth(240)
        self.play_button = QPushButton("Pause")
        self.play_button.setCheckable(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.frame_label = QLabel("")
        self.info = QLabel("open a skeleton file, or drop one here")
        self.info.setWordWrap(True)
        self.skeleton_view = SkeletonView()
        self.bars = PredictionBars()
        self.timeline = ScoreTimeline()

        top = QHBoxLayout()
        for w in (self.open_button, self.sequence_box, self.play_button):
            top.addWidget(w)
        top.addWidget(self.slider, 1)
        top.addWidget(self.frame_label)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.info)
        layout.addWidget(self.skeleton_view, 3)
        layout.addWidget(self.bars)
        layout.addWidget(self.timeline, 1)

        self.open_button.clicked.connect(self._choose)
        self.sequence_box.currentIndexChanged.connect(self._select)
        self.play_button.toggled.connect(lambda paused: self.play_button.setText("Play" if paused else "Pause"))
        self.slider.valueChanged.connect(self._scrubbed)
        recognizer.sequence_recognised.connect(self._on_recognised)
        recognizer.class_set_ready.connect(self._on_class_set_ready)
        recognizer.model_loaded.connect(self._on_class_set_ready)

        self.sequences: list[SkeletonSequence] = []
        self.sequence: SkeletonSequence | None = None
        self.result: SequenceResult | None = None
        self.frame = 0
        self.frames_played = 0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)

    # -- opening ---------------------------------------------------------------------------------
    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open skeleton file", "", "All files (*)")
        if path:
            self.open_file(path)

    def open_file(self, path: str | Path) -> None:
        self.info.setText(f"reading {Path(path).name}…")
        w = Worker(read_sequences, str(path))
        w.returned.connect(self._on_read)
        w.errored.connect(self._on_read_failed)
        start_worker(w)

    @Slot(object)
    def _on_read(self, result) -> None:
        path, sequences, total = result
        note = f" (first {len(sequences)} of {total} shown)" if total > len(sequences) else ""
        self.show_sequences(sequences, f"{Path(path).name}: {total} sequence(s){note}")

    @Slot(str)
    def _on_read_failed(self, message: str) -> None:
        self.info.setText("the file could not be opened; the previous one is still shown" if self.sequence
                          else "open a skeleton file, or drop one here")
        self.message.emit(message, "error")

    def show_sequences(self, sequences: list[SkeletonSequence], title: str) -> None:
        self.sequences = list(sequences)
        self._title = title
        self.sequence_box.blockSignals(True)
        self.sequence_box.clear()
        self.sequence_box.addItems([s.name or f"sequence {i + 1}" for i, s in enumerate(sequences)])
        self.sequence_box.blockSignals(False)
        self._select(0)

    def dragEnterEvent(self, event) -> None:  # Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # Qt override
        urls = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.open_file(urls[0].toLocalFile())

    # -- playing ---------------------------------------------------------------------------------
    def _select(self, index: int) -> None:
        if not 0 <= index < len(self.sequences):
            return
        seq = self.sequences[index]
        self.sequence, self.result, self.frame = seq, None, 0
        label = f", labelled: {seq.label}" if seq.label else ""
        self.info.setText(f"{self._title}. {seq.name}: {seq.num_frames} frames at {seq.fps:g} fps, "
                          f"{seq.num_bodies} body(ies), from {seq.source_layout}{label}")
        self.skeleton_view.set_origin(seq.joints)
        self.slider.blockSignals(True)
        self.slider.setRange(0, seq.num_frames - 1)
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.timeline.clear_history()
        self.bars.set_prediction(None)
        self._timer.start(max(5, round(1000 / seq.fps)))
        self._paint()
        self.recognise()

    def recognise(self) -> None:
        if self.sequence is not None and self.recognizer.loaded:
            self.bars.status.setText("recognising…")
            self.recognizer.recognise(self.sequence.joints, self.sequence.fps)

    def _tick(self) -> None:
        if self.sequence is None or self.play_button.isChecked():
            return
        self.frame = (self.frame + 1) % self.sequence.num_frames
        self.frames_played += 1
        self.slider.blockSignals(True)
        self.slider.setValue(self.frame)
        self.slider.blockSignals(False)
        self._paint()

    def _scrubbed(self, value: int) -> None:
        self.frame = value
        self._paint()

    def _paint(self) -> None:
        if self.sequence is None:
            return
        self.skeleton_view.set_frame(self.sequence.joints[self.frame])
        self.frame_label.setText(f"{self.frame + 1}/{self.sequence.num_frames}")
        self.timeline.set_cursor(self.frame)
        self.stats.emit({"fps": self.sequence.fps if not self.play_button.isChecked() else 0.0})

    # -- recognition results ---------------------------------------------------------------------
    @Slot(object)
    def _on_class_set_ready(self, _=None) -> None:
        self.recognise()

    @Slot(object)
    def _on_recognised(self, result: SequenceResult) -> None:
        self.result = result
        self.bars.set_prediction(result.prediction)
        self.timeline.clear_history()
        for p in result.windows:
            self.timeline.add(p)
        self.timeline.refresh()
        self.stats.emit({"latency_ms": result.prediction.latency_ms})
