"""The project's class descriptions (assets/descriptions), their loader, the description text modes
(global, local and their fusion as in FS-VAE) and the embed_texts stage that feeds them."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from engine.assets import asset_path, class_names
from engine.errors import TextEncoderError
from engine.text import (
    FUSED_TEXT_MODES,
    TEXT_MODES,
    class_prompts,
    encode_class_set,
    l2_normalize,
    text_mode_dim,
)
from engine.text.descriptions import (
    class_set_with_descriptions,
    description_datasets,
    descriptions_by_name,
    load_descriptions,
    local_descriptions,
)
from engine.text.prompts import text_mode_spec
from engine.types import ClassSet

from .stubs import CountingTextEncoder

FILES = ("ntu120", "pku51", "utd_mhad", "nw_ucla", "bandai_namco2", "kinder_gator", "msrc12", "hdm05")
SOURCE = ("zsar-studio: written for this project from the class names (plain physical descriptions of the "
          "motion); not copied")
# the three evaluation datasets' texts also drew on each dataset's own account of its motions
DOCUMENTED = ("kinder_gator", "msrc12", "hdm05")
SOURCE_DOCUMENTED = ("zsar-studio: written for this project from the class names and the dataset's own "
                     "documentation of the motions (plain physical descriptions); not copied")
SIDE = re.compile(r"\b(left|right)\b", re.IGNORECASE)


# -- the data ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dataset", FILES)
def test_file_covers_its_class_list_exactly(dataset):
    doc = json.loads(asset_path("descriptions", f"{dataset}.json").read_text(encoding="utf-8"))
    assert doc["dataset"] == dataset
    assert doc["source"] == (SOURCE_DOCUMENTED if dataset in DOCUMENTED else SOURCE)
    assert [c["name"] for c in doc["classes"]] == list(class_names(dataset))
    for c in doc["classes"]:
        assert set(c) == {"name", "global", "local"}
        assert c["global"].strip() and c["local"].strip(), c["name"]
        assert c["global"] != c["local"], c["name"]
        assert c["global"].strip().endswith(".") and c["local"].strip().endswith("."), c["name"]


@pytest.mark.parametrize("dataset", FILES)
def test_no_two_classes_share_a_description(dataset):
    entries = load_descriptions(dataset)
    for kind in ("global", "local"):
        texts = [e[kind].lower() for e in entries]
        assert len(set(texts)) == len(texts), f"{dataset}: repeated {kind} description"


@pytest.mark.parametrize("dataset", FILES)
def test_left_right_agree_with_the_class_name(dataset):
    """A side the name gives is in both texts; a side the name does not give is in neither."""
    for e in load_descriptions(dataset):
        sides = {w.lower() for w in SIDE.findall(e["name"])}
        for kind in ("global", "local"):
            assert {w.lower() for w in SIDE.findall(e[kind])} == sides, (dataset, e["name"], kind)


def test_side_classes_are_present():
    # the check above must have something to bite on
    named = [e["name"] for d in FILES for e in load_descriptions(d) if SIDE.search(e["name"])]
    assert "wave left hand" in named and "forward lunge (left foot forward)" in named and len(named) >= 15
    assert "raise your right hand" in named and "push right" in named and "jog in a circle to the left" in named
    # both sides named, so both in each text
    assert "swipe across an imaginary screen in front of you from left to right" in named


def test_ntu60_is_the_first_60_of_ntu120():
    ntu60 = load_descriptions("ntu60")
    assert len(ntu60) == 60 and ntu60 == load_descriptions("ntu120")[:60]
    assert [e["name"] for e in ntu60] == list(class_names("ntu60"))
    assert not asset_path("descriptions", "ntu60.json").exists()
    assert "ntu60" in description_datasets() and set(FILES) <= set(description_datasets())


def test_unknown_dataset_is_a_clear_key_error():
    with pytest.raises(KeyError, match=r"no descriptions for dataset 'kinetics'.*known: .*ntu120.*utd_mhad"):
        load_descriptions("kinetics")


def test_load_returns_fresh_entries():
    a = load_descriptions("nw_ucla")
    a[0]["global"] = "changed"
    assert load_descriptions("nw_ucla")[0]["global"] != "changed"


def test_class_set_with_descriptions():
    full = class_set_with_descriptions("utd_mhad")
    assert full.names == class_names("utd_mhad")
    assert full.descriptions == tuple(e["global"] for e in load_descriptions("utd_mhad"))
    sub = class_set_with_descriptions("ntu60", ids=[5, 0], kind="local")
    assert sub.names == ("pickup", "drink water")
    ntu120 = load_descriptions("ntu120")
    assert sub.descriptions == (ntu120[5]["local"], ntu120[0]["local"])
    assert local_descriptions("ntu60", [5, 0]) == sub.descriptions
    with pytest.raises(ValueError, match="unknown description kind"):
        class_set_with_descriptions("utd_mhad", kind="temporal")
    with pytest.raises(IndexError):
        class_set_with_descriptions("nw_ucla", ids=[10])
    bandai = load_descriptions("bandai_namco2")
    assert descriptions_by_name()["wave left hand"]["local"] == bandai[5]["local"]


# -- the text modes ---------------------------------------------------------------------------------

CLASSES = ClassSet(("wave", "clap", "sit down"),
                   ("a hand moves side to side", "", "the body lowers onto a seat"))
LOCAL = ["forearm swings at the elbow", "palms meet at the chest", ""]


def test_mode_prompts_and_name_fallback():
    assert class_prompts(CLASSES, "global") == [["a hand moves side to side"], ["clap"],
                                                ["the body lowers onto a seat"]]
    assert class_prompts(CLASSES, "local", local_descriptions=LOCAL) == [
        ["forearm swings at the elbow"], ["palms meet at the chest"], ["sit down"]]
    # no local descriptions at all (a user typed only names): every local text is the name
    assert class_prompts(CLASSES, "local") == [["wave"], ["clap"], ["sit down"]]
    assert class_prompts(CLASSES, "name+global+local", local_descriptions=LOCAL) == [
        ["wave", "a hand moves side to side", "forearm swings at the elbow"],
        ["clap", "clap", "palms meet at the chest"],
        ["sit down", "the body lowers onto a seat", "sit down"],
    ]
    # a mapping by name (case aside) works as well as a list
    by_name = {"WAVE": "forearm swings at the elbow", "clap": "palms meet at the chest"}
    assert class_prompts(CLASSES, "global+local", local_descriptions=by_name) == [
        ["a hand moves side to side", "forearm swings at the elbow"],
        ["clap", "palms meet at the chest"],
        ["the body lowers onto a seat", "sit down"],
    ]
    with pytest.raises(TextEncoderError, match="2 local descriptions for 3 classes"):
        class_prompts(CLASSES, "local", local_descriptions=LOCAL[:2])
    # the old modes are unchanged by local descriptions
    assert class_prompts(CLASSES, "name", local_descriptions=LOCAL) == [["wave"], ["clap"], ["sit down"]]


def test_fused_mode_is_the_concatenation_of_normalised_parts():
    enc = CountingTextEncoder(dim=8)
    out = encode_class_set(enc, CLASSES, "name+global+local", local_descriptions=LOCAL)
    assert out.shape == (3, 24) and out.dtype == np.float32
    by_part = [encode_class_set(enc, CLASSES, m, local_descriptions=LOCAL)
               for m in ("name", "global", "local")]
    np.testing.assert_allclose(out, l2_normalize(np.concatenate(by_part, axis=1)), atol=1e-6)
    # each part weighs the same: its block has norm 1/sqrt(3) whatever the encoder's raw scale
    np.testing.assert_allclose(np.linalg.norm(out.reshape(3, 3, 8), axis=2), 3 ** -0.5, atol=1e-6)
    two = encode_class_set(enc, CLASSES, "global+local", local_descriptions=LOCAL)
    np.testing.assert_allclose(two, l2_normalize(np.concatenate(by_part[1:], axis=1)), atol=1e-6)
    assert all(text_mode_dim(m, 8) == 8 * len(m.split("+")) for m in TEXT_MODES)


def test_text_mode_spec_records_fused_parts():
    assert text_mode_spec("name+global+local") == {"mode": "name+global+local",
                                                   "parts": ["name", "global", "local"]}
    assert text_mode_spec("local") == {"mode": "local"}
    assert set(FUSED_TEXT_MODES) <= set(TEXT_MODES)
    with pytest.raises(TextEncoderError, match="unknown text mode 'lb_ad_md'"):
        text_mode_spec("lb_ad_md")


def test_real_minilm_fused_modes(minilm):
    classes = class_set_with_descriptions("utd_mhad", ids=[0, 1, 25])
    local = local_descriptions("utd_mhad", [0, 1, 25])
    full = encode_class_set(minilm, classes, "name+global+local", local_descriptions=local)
    assert full.shape == (3, 3 * 384)
    np.testing.assert_allclose(np.linalg.norm(full, axis=1), 1.0, atol=1e-5)
    name = encode_class_set(minilm, classes, "name")
    glob = encode_class_set(minilm, classes, "global")
    loc = encode_class_set(minilm, classes, "local", local_descriptions=local)
    np.testing.assert_allclose(full[:, :384] * 3 ** 0.5, name, atol=1e-5)
    np.testing.assert_allclose(full[:, 384:768] * 3 ** 0.5, glob, atol=1e-5)
    np.testing.assert_allclose(full[:, 768:] * 3 ** 0.5, loc, atol=1e-5)
    assert not np.allclose(glob, name, atol=1e-3) and not np.allclose(loc, glob, atol=1e-3)
    # live use with names only: each part falls back to the name, the dimension stays
    names_only = encode_class_set(minilm, ClassSet(classes.names), "name+global+local")
    assert names_only.shape == (3, 1152)
    np.testing.assert_allclose(names_only, l2_normalize(np.concatenate([name] * 3, axis=1)), atol=1e-5)


# -- the embed_texts stage --------------------------------------------------------------------------

def _run_stage(tmp_path, split: dict, mode: str):
    from trainer.config import RunConfig, TextSpec
    from trainer.runs import Run
    from trainer.stages import embed_texts

    path = tmp_path / f"{split['name']}.json"
    path.write_text(json.dumps(split))
    cfg = RunConfig(method="cada_vae", split=str(path), text=TextSpec(encoder="minilm", mode=mode))
    run = Run(tmp_path / f"run_{split['name']}_{mode.replace('+', '_')}")
    meta = embed_texts.run(run, cfg)
    return run.read_npy("text/class_embeddings.npy"), run.read_json("text/meta.json"), meta


def _split(name, dataset, n, class_names_=None):
    d = {"name": name, "dataset": dataset, "num_classes": n, "seen": list(range(1, n)), "unseen": [0],
         "source": "test fixture"}
    if class_names_:
        d["class_names"] = class_names_
    return d


def test_embed_texts_fused_mode_on_utd_mhad(tmp_path, minilm):
    emb, meta, _ = _run_stage(tmp_path, _split("utd_fused", "utd_mhad", 27), "name+global+local")
    assert emb.shape == (27, 1152) and meta["dim"] == 1152 and meta["classes"] == 27
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    assert meta["mode"] == "name+global+local" and meta["parts"] == ["name", "global", "local"]
    assert meta["descriptions"] == ["utd_mhad"] and meta["described"] == 27 and meta["missing"] == []
    assert "fallback" not in meta
    # the stage embedded the dataset's descriptions, not the names
    entries = load_descriptions("utd_mhad")
    glob = minilm.encode([entries[3]["global"]])[0]
    loc = minilm.encode([entries[3]["local"]])[0]
    np.testing.assert_allclose(emb[3, 384:768] * 3 ** 0.5, l2_normalize(glob), atol=1e-5)
    np.testing.assert_allclose(emb[3, 768:] * 3 ** 0.5, l2_normalize(loc), atol=1e-5)


def test_embed_texts_without_descriptions_falls_back_to_names(tmp_path, minilm):
    names = ["wave", "clap", "jump"]
    emb, meta, _ = _run_stage(tmp_path, _split("made_up", "made_up_dataset", 3, names), "global+local")
    assert emb.shape == (3, 768)
    assert meta["fallback"] == "names" and meta["descriptions"] == [] and meta["missing"] == names
    name = l2_normalize(minilm.encode(names))
    np.testing.assert_allclose(emb, l2_normalize(np.concatenate([name, name], axis=1)), atol=1e-5)


def test_embed_texts_combined_dataset_joins_its_parts():
    from trainer.data.splits import load_split
    from trainer.stages.embed_texts import split_descriptions

    split = load_split("zsar_default")
    names, descriptions, local, record = split_descriptions(split)
    datasets = ["utd_mhad", "nw_ucla", "bandai_namco2", "kinder_gator", "msrc12", "hdm05"]
    parts = [e for d in datasets for e in load_descriptions(d)]
    assert names == split.names() and len(parts) == 128 == len(names)
    assert [e["name"] for e in parts] == list(names)
    assert descriptions == tuple(e["global"] for e in parts)
    assert local == tuple(e["local"] for e in parts)
    assert record["descriptions"] == datasets
    assert record["described"] == 128 and record["missing"] == [] and "fallback" not in record


def test_live_class_sets_get_the_descriptions_training_saw():
    from engine.text.descriptions import load_descriptions, with_known_descriptions
    from engine.types import ClassSet

    drink = load_descriptions("ntu60")[0]
    cs, local = with_known_descriptions(ClassSet(("drink water", "juggling", "clap"),
                                                 ("", "", "hands meet in front of the chest")))
    assert cs.names == ("drink water", "juggling", "clap")
    assert cs.description(0) == drink["global"] and cs.description(1) == ""
    assert cs.description(2) == "hands meet in front of the chest"  # the user's own text wins
    assert local[0] == drink["local"] and local[1] == ""
