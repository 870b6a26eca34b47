"""``zsar demo --headless``: the demo without a window, on built-in procedural clips.

Shows the data path end to end in a terminal: procedural motion (synthetic, never real data) ->
an NTU ``.skeleton`` recording -> the reader -> preprocessing, with the skeleton drawn in text.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from app.ascii_view import draw_frames
from engine import synth
from engine.io import open_skeleton_file, write_ntu_skeleton
from engine.skeleton.preprocess import PreprocessConfig, preprocess

DEMO_ACTIONS = ("wave right hand", "squat", "jump", "clap")


def run_headless_demo(actions: tuple[str, ...] = DEMO_ACTIONS, seed: int = 0, out_dir: str | None = None) -> int:
    print("zsar-studio demo (headless): procedural clips, synthetic motion, not real recordings\n")
    folder = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="zsar-demo-"))
    for i, action in enumerate(actions):
        clip = synth.generate(action, seed=seed + i)
        path = folder / f"demo_{action.replace(' ', '_')}.skeleton"
        write_ntu_skeleton(clip, path)
        back = open_skeleton_file(path)[0]
        exact = np.array_equal(back.joints, clip.joints)
        x = preprocess(back.joints, PreprocessConfig(style="view", window=64))
        picks = np.linspace(0, back.num_frames - 1, 4).round().astype(int)
        print(f"== {action}: {back.num_frames} frames at {back.fps:g} fps, {back.num_bodies} body, "
              f"recorded to {path.name} and read back {'exactly' if exact else 'WITH DIFFERENCES'}; "
              f"encoder input {tuple(x.shape)} (C, T, V, M)")
        print(draw_frames([back.joints[k] for k in picks], titles=[f"frame {k}" for k in picks]))
        print()
    print(f"recordings in {folder}")
    print("try: zsar inspect " + str(folder / f"demo_{actions[0].replace(' ', '_')}.skeleton"))
    return 0
