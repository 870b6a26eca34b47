"""The embedded default model (assets/models/default.zsar) on the two clips a new user meets first:
the procedural demo's "wave right hand" among the everyday actions, and the NTU RGB+D sample
(a person drinking water) among five typed names. Both go through the real MiniLM encoder and the
streaming recognizer exactly as the app runs them."""

from __future__ import annotations

import numpy as np
import pytest

from engine import synth
from engine.assets import class_names
from engine.bundle import load_bundle
from engine.io import read_sequence
from engine.streaming import StreamingRecognizer
from engine.types import ClassSet
from tests.conftest import PROJECT_ROOT

DEFAULT = PROJECT_ROOT / "assets" / "models" / "default.zsar"


@pytest.fixture(scope="module")
def bundle():
    assert DEFAULT.exists(), f"the default bundle {DEFAULT} is missing"
    return load_bundle(DEFAULT)


def test_the_default_model_names_the_demo_clip_wave_right_hand(bundle):
    everyday = ClassSet(class_names("everyday_actions"))
    assert "wave right hand" in everyday.names and len(everyday.names) == 14
    with StreamingRecognizer(bundle, everyday) as rec:
        p = rec.predict_sequence(synth.generate("wave right hand", seed=0).joints)
    assert p.names[0] == "wave right hand", list(zip(p.names[:4], np.round(p.probabilities[:4], 3)))


def test_the_default_model_names_the_ntu_sample_drink_water(bundle, ntu_sample):
    seq = read_sequence(ntu_sample)
    with StreamingRecognizer(bundle, ClassSet.parse("drink water; wave; clap; sit down; kick")) as rec:
        p = rec.predict_sequence(seq.joints)
    assert p.names[0] == "drink water", list(zip(p.names, np.round(p.probabilities, 3)))


def test_the_default_models_scores_are_calibrated(bundle):
    # The temperature fitted on the cross-dataset benchmark's held-out scores travels in the bundle;
    # without it the softmax of the contrastive logits is not a probability anyone measured.
    assert bundle.method_name == "contrastive"
    assert "temperature" in bundle.calibration and bundle.temperature != 1.0, bundle.calibration
