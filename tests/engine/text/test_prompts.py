"""Prompt building for a class set: the three text modes, template averaging, what a bundle records."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import TextEncoderError
from engine.text import (
    DEFAULT_TEMPLATES,
    TEXT_MODES,
    class_prompts,
    encode_class_set,
    l2_normalize,
    text_mode_spec,
)
from engine.types import ClassSet

from .stubs import CountingTextEncoder

CLASSES = ClassSet.parse("wave; clap: hands meet in front of the chest; sit down")


def test_modes_are_data():
    assert TEXT_MODES[:4] == ("name", "name_description", "name_and_global", "templates")
    assert set(TEXT_MODES[4:]) == {"global", "local", "name+global", "name+local", "global+local",
                                   "name+global+local"}
    assert all("{name}" in t for t in DEFAULT_TEMPLATES) and len(DEFAULT_TEMPLATES) >= 5


def test_name_and_global_averages_the_two_embeddings():
    assert class_prompts(CLASSES, "name_and_global") == [
        ["wave", "wave"], ["clap", "hands meet in front of the chest"], ["sit down", "sit down"]]


def test_known_descriptions_reach_mirrored_names_and_skip_excluded_datasets():
    from engine.text.descriptions import load_descriptions, with_known_descriptions

    utd = {e["name"]: e for e in load_descriptions("utd_mhad")}
    typed = ClassSet(("left hand wave", "right hand wave"))
    cs, _ = with_known_descriptions(typed)
    # UTD-MHAD describes only the right-hand wave: the left one borrows it, sides swapped
    assert cs.description(1) == utd["right hand wave"]["global"]
    assert "left" in cs.description(0) and "right" not in cs.description(0)
    cs, _ = with_known_descriptions(typed, exclude=("utd_mhad",))
    assert cs.description(1) != utd["right hand wave"]["global"]


def test_name_and_name_description_prompts():
    assert class_prompts(CLASSES, "name") == [["wave"], ["clap"], ["sit down"]]
    assert class_prompts(CLASSES, "name_description") == [
        ["wave"],
        ["clap: hands meet in front of the chest"],
        ["sit down"],
    ]
    # A set without any description reads as its names.
    plain = ClassSet(("wave", "clap"))
    assert class_prompts(plain, "name_description") == class_prompts(plain, "name")


def test_templates_are_averaged_and_renormalised():
    enc = CountingTextEncoder()
    templates = ["a person {name}", "{name} {{literally}}"]
    out = encode_class_set(enc, CLASSES, mode="templates", templates=templates)
    assert enc.calls == [[t.replace("{name}", n) for n in CLASSES.names for t in templates]]
    expected = l2_normalize(
        np.stack([l2_normalize(np.stack([enc.vector(t.replace("{name}", n)) for t in templates])).mean(0)
                  for n in CLASSES.names])
    )
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert class_prompts(CLASSES, "templates")[0] == [t.replace("{name}", "wave") for t in DEFAULT_TEMPLATES]


def test_encode_class_set_name_mode_matches_encode():
    enc = CountingTextEncoder()
    np.testing.assert_allclose(encode_class_set(enc, CLASSES), enc.encode(list(CLASSES.names)), atol=1e-6)


def test_bad_mode_and_templates():
    with pytest.raises(TextEncoderError, match="unknown text mode 'labels'"):
        class_prompts(CLASSES, "labels")
    with pytest.raises(TextEncoderError, match="no {name} placeholder"):
        class_prompts(CLASSES, "templates", ["a person"])
    with pytest.raises(TextEncoderError, match="at least one template"):
        encode_class_set(CountingTextEncoder(), CLASSES, "templates", [])


def test_text_mode_spec_spells_out_templates():
    assert text_mode_spec("name") == {"mode": "name"}
    assert text_mode_spec("templates") == {"mode": "templates", "templates": list(DEFAULT_TEMPLATES)}
    assert text_mode_spec("templates", ["x {name}"])["templates"] == ["x {name}"]


def test_real_minilm_modes(minilm):
    by_name = encode_class_set(minilm, CLASSES, "name")
    by_template = encode_class_set(minilm, CLASSES, "templates")
    by_description = encode_class_set(minilm, CLASSES, "name_description")
    for out in (by_name, by_template, by_description):
        assert out.shape == (3, 384)
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # Templates keep each class nearest its own name.
    assert (np.argmax(by_template @ by_name.T, axis=1) == np.arange(3)).all()
    np.testing.assert_allclose(by_description[[0, 2]], by_name[[0, 2]], atol=1e-6)
