"""The 3D skeleton: NTU-25 bones and joints of up to two bodies, each in its colour, with an orbit
camera (drag to orbit, wheel to zoom: pyqtgraph's GLViewWidget).

pyqtgraph's GL world is z-up and NTU's camera space is y-up with x to the sensor's left
(docs/live_input.md#the-3d-view): a joint ``(x, y, z)`` is drawn at ``(-x, z, y)``, a proper rotation
(no mirror), so people stand upright and the default camera looks at them as the sensor did.
Items are built once; :meth:`SkeletonView.set_frame` only moves them (style principle 7).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph.opengl as gl
from PySide6.QtGui import QVector3D

from engine.skeleton.layouts import NTU25_PARENTS

BONES = np.array([(j, p) for j, p in enumerate(NTU25_PARENTS) if p >= 0], dtype=np.int64)  # 24 bones
BODY_COLOURS = ((0.25, 0.75, 1.0, 1.0), (1.0, 0.6, 0.2, 1.0))  # body 1 blue, body 2 orange
_TO_VIEW = np.array([[-1, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=np.float32)  # NTU -> GL world, det +1


def to_view(joints: np.ndarray) -> np.ndarray:
    """NTU camera coordinates ``(..., 3)`` -> the GL view's z-up world."""
    return np.asarray(joints, dtype=np.float32) @ _TO_VIEW.T


class SkeletonView(gl.GLViewWidget):
    """A GL view of one frame ``(M, 25, 3)``; call :meth:`set_origin` once per sequence."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumSize(240, 240)  # a 0x0 GL widget captures nothing (docs/live_input.md#the-3d-view)
        self.setBackgroundColor((18, 20, 26))
        grid = gl.GLGridItem()
        grid.setSize(4, 4)
        grid.setSpacing(0.5, 0.5)
        grid.setColor((90, 90, 100, 120))
        self.addItem(grid)
        # looking at mid-body height (origin = the floor under the spine base), from the sensor's side
        self.setCameraPosition(pos=QVector3D(0.0, 0.0, 0.8), distance=4.6, elevation=8, azimuth=-90)
        self._origin = np.zeros(3, np.float32)
        self._bones, self._joints = [], []
        for colour in BODY_COLOURS:
            bones = gl.GLLinePlotItem(pos=np.zeros((2, 3)), mode="lines", color=colour, width=3, antialias=True)
            joints = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), color=colour, size=9)
            for item in (bones, joints):
                item.setVisible(False)
                self.addItem(item)
            self._bones.append(bones)
            self._joints.append(joints)

    def set_origin(self, frames: np.ndarray | None) -> None:
        """Centre the view on a sequence ``(T, M, 25, 3)``: its first body's mean spine base on the
        floor grid (the lowest foot of the sequence at height zero)."""
        if frames is None or not np.any(frames):
            self._origin = np.zeros(3, np.float32)
            return
        body = np.asarray(frames, np.float32)[:, 0]
        present = np.any(body != 0, axis=(1, 2))
        if not present.any():
            self._origin = np.zeros(3, np.float32)
            return
        base = body[present, 0].mean(axis=0)
        floor = body[present][:, :, 1].min()
        self._origin = np.array([base[0], floor, base[2]], np.float32)

    def set_frame(self, joints: np.ndarray | None) -> None:
        """Draw one frame: ``(25, 3)`` or ``(M, 25, 3)``; None or all-zero bodies hide them."""
        bodies = np.zeros((0, 25, 3), np.float32) if joints is None else np.asarray(joints, np.float32)
        if bodies.ndim == 2:
            bodies = bodies[None]
        for m, (bones, points) in enumerate(zip(self._bones, self._joints)):
            if m >= len(bodies) or not np.any(bodies[m]):
                bones.setVisible(False)
                points.setVisible(False)
                continue
            pos = to_view(bodies[m] - self._origin)
            bones.setData(pos=pos[BONES.reshape(-1)])
            points.setData(pos=pos)
            bones.setVisible(True)
            points.setVisible(True)
