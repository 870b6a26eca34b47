"""Training augmentations: the left/right mirror of clips and of their texts, the temporal crop, the
turn and size change, and the jitter keep shapes and absent bodies, and change what they should."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.skeleton.geometry import chirality
from engine.skeleton.layouts import NTU25_JOINTS
from engine.skeleton.preprocess import PreprocessConfig, preprocess
from engine.synth import generate_dataset
from trainer.data import augment

J = {name: i for i, name in enumerate(NTU25_JOINTS)}


@pytest.mark.parametrize("text, mirrored", [
    ("wave right hand", "wave left hand"),
    ("right arm swipe to the left", "left arm swipe to the right"),
    ("right hand draw circle (clockwise)", "right hand draw circle (counter clockwise)".replace("right", "left")),
    ("right hand draw circle (counter clockwise)", "left hand draw circle (clockwise)"),
    ("Raise your Right hand", "Raise your Left hand"),
    ("walk turn left", "walk turn right"),
    ("clap", "clap"),
    ("bright lights", "bright lights"),  # "right" inside a word is no side
])
def test_mirror_text_swaps_sides_and_turning_directions(text, mirrored):
    assert augment.mirror_text(text) == mirrored
    assert augment.mirror_text(augment.mirror_text(text)) == text


def _clip() -> torch.Tensor:
    clip = next(c for c in generate_dataset(per_action=1, seed=3) if c.label == "wave right hand")
    x = preprocess(clip.joints, PreprocessConfig(style="view", window=32, num_bodies=1))
    return torch.as_tensor(x)[None]


def test_mirror_reflects_the_body_and_is_its_own_inverse():
    x = _clip()
    m = augment.mirror(x)
    assert torch.allclose(augment.mirror(m), x)
    joints = x[0, :, :, :, 0].permute(1, 2, 0).numpy()  # (T, V, 3)
    mirrored = m[0, :, :, :, 0].permute(1, 2, 0).numpy()
    # a mirror image of a person is a valid person: left and right stay correctly labelled, while a
    # reflection without the swap of labels would be a mislabelled body
    reflected_only = joints * np.array([-1.0, 1.0, 1.0], np.float32)
    assert chirality(joints) > 0 and chirality(mirrored) > 0 > chirality(reflected_only)
    # the waving right hand becomes a waving left hand: the moving joint changes side
    moving = lambda j, side: np.linalg.norm(np.diff(j[:, J[f"hand_{side}"]], axis=0), axis=1).sum()  # noqa: E731
    assert moving(joints, "right") > 2 * moving(joints, "left")
    assert moving(mirrored, "left") > 2 * moving(mirrored, "right")


def test_temporal_crop_keeps_the_window_and_samples_inside_the_clip():
    torch.manual_seed(0)
    x = torch.arange(32, dtype=torch.float32)[None, None, :, None, None].expand(4, 3, 32, 25, 1).contiguous()
    assert torch.equal(augment.temporal_crop(x, 1.0), x)
    y = augment.temporal_crop(x, 0.5)
    assert y.shape == x.shape
    frames = y[:, 0, :, 0, 0]
    assert (frames >= 0).all() and (frames <= 31).all()
    assert (torch.diff(frames, dim=1) >= 0).all()  # time still runs forwards
    span = frames[:, -1] - frames[:, 0]
    assert (span >= 0.5 * 32 - 2).all() and (span < 31).any()  # a crop of at least half the clip


def test_turn_size_and_jitter_keep_absent_bodies_zero():
    torch.manual_seed(0)
    x = torch.cat([_clip(), torch.zeros_like(_clip())], dim=4)
    y = augment.jitter(augment.rotate_scale(x, 30.0, 0.2), 0.01)
    assert torch.equal(y[..., 1], torch.zeros_like(y[..., 1]))
    assert not torch.allclose(y[..., 0], x[..., 0])
    # a turn about the vertical axis leaves heights alone (up to the size factor)
    ratio = y[:, 1, :, :, 0].abs().sum() / x[:, 1, :, :, 0].abs().sum()
    assert 0.75 < float(ratio) < 1.25
