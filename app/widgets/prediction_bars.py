"""The top predictions as bars with their scores: a fixed number of rows, built once, updated in place."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QWidget

from engine.types import Prediction


class PredictionBars(QWidget):
    def __init__(self, rows: int = 5, parent=None) -> None:
        super().__init__(parent)
        layout = QGridLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self._names, self._bars = [], []
        for r in range(rows):
            name = QLabel("")
            name.setMinimumWidth(160)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            bar.setFormat("")
            layout.addWidget(name, r, 0)
            layout.addWidget(bar, r, 1)
            self._names.append(name)
            self._bars.append(bar)
        self.status = QLabel("no prediction yet")
        layout.addWidget(self.status, rows, 0, 1, 2)

    def names(self) -> list[str]:
        """The names shown, best first (empty rows left out)."""
        return [n.text() for n in self._names if n.text()]

    def set_prediction(self, p: Prediction | None) -> None:
        ranked = list(zip(p.names, p.probabilities)) if p is not None else []
        for r, (name, bar) in enumerate(zip(self._names, self._bars)):
            if r < len(ranked):
                name.setText(ranked[r][0])
                bar.setValue(round(ranked[r][1] * 1000))
                bar.setFormat(f"{ranked[r][1]:.1%}")
            else:
                name.setText("")
                bar.setValue(0)
                bar.setFormat("")
        if p is None:
            self.status.setText("no prediction yet")
        elif not p.person:
            self.status.setText("nobody in view")
        else:
            self.status.setText(f"{p.summary()}   (frames {p.window[0]}-{p.window[1]}, {p.latency_ms:.1f} ms)")
