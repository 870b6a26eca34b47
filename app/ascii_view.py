"""Terminal drawing of NTU-25 skeletons, front view as the sensor sees them (no Qt).

Used by the headless demo. NTU x grows to the sensor's left, so the viewer's right is -x.
"""

from __future__ import annotations

import numpy as np

from engine.skeleton.layouts import NTU25

HEAD = 3


def _line(grid: list[list[str]], r0: int, c0: int, r1: int, c1: int, ch: str) -> None:
    n = max(abs(r1 - r0), abs(c1 - c0), 1)
    for k in range(n + 1):
        r = round(r0 + (r1 - r0) * k / n)
        c = round(c0 + (c1 - c0) * k / n)
        if 0 <= r < len(grid) and 0 <= c < len(grid[0]) and grid[r][c] == " ":
            grid[r][c] = ch


def draw_frames(frames: list[np.ndarray], rows: int = 22, cols: int = 26, titles: list[str] | None = None) -> str:
    """Draw body 1 of each ``(M, 25, 3)`` frame side by side, all on one scale."""
    bodies = [f[0] for f in frames]
    pts = np.concatenate([b for b in bodies if np.any(b)], axis=0) if any(np.any(b) for b in bodies) else None
    if pts is None:
        return "(no body)"
    x_min, x_max = float(-pts[:, 0].max()), float(-pts[:, 0].min())
    y_min, y_max = float(pts[:, 1].min()), float(pts[:, 1].max())
    # characters are about twice as tall as wide: one scale for both axes keeps proportions
    scale = min((cols - 3) / max(x_max - x_min, 1e-6) / 2.0, (rows - 2) / max(y_max - y_min, 1e-6))
    panels = []
    for body in bodies:
        grid = [[" "] * cols for _ in range(rows)]
        col = lambda x: int(round((-x - x_min) * scale * 2.0)) + 1  # noqa: E731
        row = lambda y: int(round((y_max - y) * scale)) + 1  # noqa: E731
        for parent, child in NTU25.bones:
            a, b = body[parent], body[child]
            _line(grid, row(a[1]), col(a[0]), row(b[1]), col(b[0]), ".")
        for j, p in enumerate(body):
            r, c = row(p[1]), col(p[0])
            if 0 <= r < rows and 0 <= c < cols:
                grid[r][c] = "@" if j == HEAD else "o"
        panels.append(["".join(line) for line in grid])
    header = "".join(f"{(t or '')[:cols]:<{cols}}  " for t in (titles or [""] * len(panels)))
    body_lines = ["  ".join(p[r] for p in panels) for r in range(rows)]
    return "\n".join([header.rstrip()] + [line.rstrip() for line in body_lines])
