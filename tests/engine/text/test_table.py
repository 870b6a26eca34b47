"""The ``table`` encoder: pre-computed class-text features looked up by text (MSF's CLIP features of
the NTU labels from ``../shared/data/text_feats``, and small synthetic tables)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from engine.errors import TextEncoderError
from engine.text import create_text_encoder, l2_normalize
from engine.text.table import read_class_list
from tests.conftest import shared_path


def msf_table(name: str):
    return shared_path("text_feats", "msf_clip", "ViT-B-32", name)


def test_msf_label_features_with_the_ntu60_class_list(ntu60_names):
    path = msf_table("lb_60.npy")
    raw = np.load(path)
    enc = create_text_encoder("table", path=path, classes="ntu60")
    assert enc.dim == 512 and len(enc.texts) == 60
    assert re.fullmatch(r"table:lb_60:[0-9a-f]{12}", enc.id)
    out = enc.encode(["drink water", "  Drink   WATER ", ntu60_names[59]])
    np.testing.assert_allclose(out[0], l2_normalize(raw[0]), atol=1e-6)
    np.testing.assert_array_equal(out[1], out[0])  # whitespace and case do not matter
    np.testing.assert_allclose(out[2], l2_normalize(raw[59]), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(enc.encode(ntu60_names), axis=1), 1.0, atol=1e-5)


def test_unknown_text_names_the_text_and_the_table():
    path = msf_table("lb_60.npy")
    enc = create_text_encoder("table", path=path, classes="ntu60")
    with pytest.raises(TextEncoderError) as err:
        enc.encode(["drink water", "juggling three balls"])
    assert "'juggling three balls'" in str(err.value) and str(path) in str(err.value)


def test_description_table_with_msf_csv_class_list():
    path = msf_table("ad_60.npy")
    csv_file = shared_path("labels", "raw", "EHZ9NIWI7__MSF-GZSSAR__sem_info__ad_60.csv")
    texts = read_class_list(csv_file)
    assert len(texts) == 60 and texts[0].startswith("to take liquid into your mouth")
    enc = create_text_encoder("table", path=path, classes=csv_file)
    np.testing.assert_allclose(enc.encode([texts[1]])[0], l2_normalize(np.load(path)[1]), atol=1e-6)


def test_class_list_sources(tmp_path):
    table = tmp_path / "feats.npy"
    np.save(table, np.eye(3, 4, dtype=np.float32) * 7)
    # A list; a text file beside the table (the default); and the row count check.
    enc = create_text_encoder("table", path=table, classes=["wave", "clap", "sit down"])
    np.testing.assert_allclose(enc.encode(["clap"]), [[0, 1, 0, 0]])
    (tmp_path / "feats.txt").write_text("wave\nclap\nsit down\n", encoding="utf-8")
    assert create_text_encoder("table", path=table).texts == ["wave", "clap", "sit down"]
    with pytest.raises(TextEncoderError, match="3 rows but the class list has 2"):
        create_text_encoder("table", path=table, classes=["wave", "clap"])
    with pytest.raises(TextEncoderError, match="no class list for dataset 'ntu7'"):
        create_text_encoder("table", path=table, classes="ntu7")
    with pytest.raises(TextEncoderError, match="class list file not found"):
        create_text_encoder("table", path=table, classes=tmp_path / "none.txt")


def test_exact_match_wins_and_ambiguous_loose_keys_are_refused(tmp_path):
    table = tmp_path / "t.npy"
    np.save(table, np.eye(2, dtype=np.float32))
    enc = create_text_encoder("table", path=table, classes=["Wave", "wave"])
    np.testing.assert_allclose(enc.encode(["Wave", "wave"]), np.eye(2))
    with pytest.raises(TextEncoderError, match="'WAVE'"):
        enc.encode(["WAVE"])


def test_bad_tables(tmp_path):
    with pytest.raises(TextEncoderError, match="not found"):
        create_text_encoder("table", path=tmp_path / "none.npy", classes=["a"])
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(TextEncoderError, match="not a readable"):
        create_text_encoder("table", path=bad, classes=["a"])
    flat = tmp_path / "flat.npy"
    np.save(flat, np.zeros(4, dtype=np.float32))
    with pytest.raises(TextEncoderError, match=r"\(classes, dim\)"):
        create_text_encoder("table", path=flat, classes=["a"])
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((1, 2), np.nan, dtype=np.float32))
    with pytest.raises(TextEncoderError, match="NaN"):
        create_text_encoder("table", path=nan, classes=["a"])
    no_classes = tmp_path / "lonely.npy"
    np.save(no_classes, np.zeros((1, 2), dtype=np.float32))
    with pytest.raises(TextEncoderError, match="lonely.txt"):
        create_text_encoder("table", path=no_classes)
