"""The camera or video picture with the pose landmarks on it, mirrored like a mirror for display only.

Pose estimation always sees the frame as captured (docs/live_input.md#mirroring-is-for-display-only: a mirrored frame
flips the skeleton's chirality); only this view flips it, so a user who raises their right hand sees
the hand on the right side of the picture, as in a mirror.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from engine.skeleton.layouts import MP33_PARENTS

_MP_BONES = np.array([(j, p) for j, p in enumerate(MP33_PARENTS) if p >= 0], dtype=np.int64)


class VideoView(pg.GraphicsLayoutWidget):
    def __init__(self, parent=None, mirror: bool = True) -> None:
        super().__init__(parent)
        self.setMinimumSize(240, 180)
        self.mirror = mirror
        self._box = self.addViewBox(lockAspect=True, invertY=True, enableMouse=False)
        self._image = pg.ImageItem(axisOrder="row-major")
        self._bones = pg.PlotCurveItem(pen=pg.mkPen((80, 220, 120), width=2), connect="pairs")
        self._points = pg.ScatterPlotItem(size=6, brush=pg.mkBrush(255, 220, 60), pen=None)
        for item in (self._image, self._bones, self._points):
            self._box.addItem(item)
        self._shape: tuple[int, int] | None = None

    def set_frame(self, rgb: np.ndarray | None, landmarks: np.ndarray | None = None) -> None:
        """Show ``rgb (H, W, 3)`` and, if given, normalised image landmarks ``(33, >=2)``."""
        if rgb is None:
            return
        h, w = rgb.shape[:2]
        self._image.setImage(rgb[:, ::-1] if self.mirror else rgb, autoLevels=False, levels=(0, 255))
        if self._shape != (h, w):
            self._shape = (h, w)
            self._box.setRange(xRange=(0, w), yRange=(0, h), padding=0)
        if landmarks is None:
            self._bones.setData([], [])
            self._points.setData([], [])
            return
        x = np.asarray(landmarks[:, 0]) * w
        y = np.asarray(landmarks[:, 1]) * h
        if self.mirror:
            x = w - x
        pairs = _MP_BONES.reshape(-1)
        self._bones.setData(x[pairs], y[pairs])
        self._points.setData(x, y)
