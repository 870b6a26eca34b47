"""A timeline of the top classes: each one's probability over the last predictions.

Bounded: a ring of ``length`` predictions; the curves (``curves`` of them, one per class that was
best most recently) are built once and updated with ``setData`` from a timer (style principle 7).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pyqtgraph as pg

from engine.types import Prediction

COLOURS = ((80, 180, 255), (255, 150, 60), (120, 220, 120), (230, 90, 200), (240, 230, 90))


class ScoreTimeline(pg.PlotWidget):
    def __init__(self, length: int = 300, curves: int = 5, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(120)
        self.setYRange(0, 1)
        self.setLabel("left", "probability")
        self.setLabel("bottom", "frame")
        self.legend = self.addLegend(offset=(5, 5))
        self._history: deque[tuple[int, dict[str, float]]] = deque(maxlen=length)
        self._curves = [self.plot(pen=pg.mkPen(c, width=2), name=" ") for c in COLOURS[:curves]]
        self._cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen((200, 200, 200, 120)))
        self._cursor.setVisible(False)
        self.addItem(self._cursor)
        self._key = ""

    def clear_history(self) -> None:
        self._history.clear()
        self.refresh()

    def add(self, p: Prediction) -> None:
        """Record a prediction (cheap: the drawing happens in :meth:`refresh`)."""
        if p.class_set_key != self._key:  # another class set: the old curves mean nothing now
            self._history.clear()
            self._key = p.class_set_key
        self._history.append((p.window[1], dict(zip(p.names, p.probabilities)) if p.person else {}))

    def set_cursor(self, frame: int | None) -> None:
        """A playhead at ``frame`` (the Files tab), or none."""
        self._cursor.setVisible(frame is not None)
        if frame is not None:
            self._cursor.setValue(frame)

    def top_classes(self) -> list[str]:
        """Classes drawn, most recently best first."""
        order: list[str] = []
        for _, probs in reversed(self._history):
            if probs:
                best = max(probs, key=probs.get)
                if best not in order:
                    order.append(best)
            if len(order) == len(self._curves):
                break
        return order

    def refresh(self) -> None:
        frames = np.array([f for f, _ in self._history], dtype=float)
        names = self.top_classes()
        for i, curve in enumerate(self._curves):
            if i < len(names):
                curve.setData(frames, np.array([probs.get(names[i], np.nan) for _, probs in self._history]))
            else:
                curve.setData([], [])
        for i, (_, label) in enumerate(self.legend.items):
            label.setText(names[i] if i < len(names) else "")
