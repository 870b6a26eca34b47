"""Training curves: one per loss name, created when the name first appears; bounded buffers,
downsampling and clip-to-view keep long runs cheap to draw (style principle 7)."""

from __future__ import annotations

from collections import deque

import numpy as np
import pyqtgraph as pg

from app.widgets.score_timeline import COLOURS

MAX_POINTS = 20000


class LossPlot(pg.PlotWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(160)
        self.setLabel("bottom", "step")
        self.addLegend(offset=(5, 5))
        self.setClipToView(True)
        self.setDownsampling(auto=True, mode="peak")
        self._data: dict[str, tuple[deque, deque]] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._dirty = False

    def names(self) -> list[str]:
        return list(self._curves)

    def clear_curves(self) -> None:
        for curve in self._curves.values():
            self.removeItem(curve)
        self.plotItem.legend.clear()
        self._data.clear()
        self._curves.clear()

    def add(self, step: float, losses: dict[str, float]) -> None:
        for name, value in losses.items():
            if name not in self._curves:
                colour = COLOURS[len(self._curves) % len(COLOURS)]
                self._curves[name] = self.plot(pen=pg.mkPen(colour, width=1.5), name=name)
                self._data[name] = (deque(maxlen=MAX_POINTS), deque(maxlen=MAX_POINTS))
            xs, ys = self._data[name]
            xs.append(step)
            ys.append(value)
        self._dirty = True

    def refresh(self) -> None:
        if not self._dirty:
            return
        for name, curve in self._curves.items():
            xs, ys = self._data[name]
            curve.setData(np.fromiter(xs, float), np.fromiter(ys, float))
        self._dirty = False
