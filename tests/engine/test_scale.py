"""SCALE (engine/methods/scale.py): deterministic energies with the closed-form Gaussian KL, the
semantic and confidence parts of the listwise loss doing what they claim, reproducible training, a
bundle round trip, and zero-shot learning well above chance on the synthetic feature task."""

from __future__ import annotations

import pytest
import torch

from engine.methods import create_method, load_method_config
from engine.methods.scale import ScaleConfig, gaussian_kl
from tests.engine.fixtures import style_data, tiny_data
from trainer.loop import fit

TINY = {"latent_size": 8, "hidden_size": 32, "epochs": 3, "batch_size": 16}


def test_kl_is_the_closed_form_gaussian_kl():
    g = torch.Generator().manual_seed(0)
    mu_q, lv_q, mu_p, lv_p = (torch.randn(5, 7, generator=g) for _ in range(4))
    q = torch.distributions.Normal(mu_q, (0.5 * lv_q).exp())
    p = torch.distributions.Normal(mu_p, (0.5 * lv_p).exp())
    expected = torch.distributions.kl_divergence(q, p).sum(-1)
    assert torch.allclose(gaussian_kl(mu_q, lv_q, mu_p, lv_p), expected, atol=1e-5)


def test_scores_are_deterministic_negative_energies():
    m = create_method("scale", TINY, 24, 12).eval()
    x, _, text = tiny_data()
    prepared = m.prepare(text)
    a, b = m.scores(x, prepared), m.scores(x, prepared)
    assert torch.equal(a, b) and a.shape == (len(x), len(text))  # no sampling at test time
    mu_q, logvar_q = m.posterior(x)
    with torch.no_grad():
        energy = m.energy(x, mu_q, mu_q, logvar_q, prepared)
    assert torch.allclose(a, -energy / m.config.temperature)


def test_semantic_margin_makes_similar_negatives_harder():
    x, y, text = tiny_data()
    text = torch.cat([text[:1], text[:1] + 0.01 * torch.randn(1, text.shape[1]), text[2:]])  # a near-synonym
    batch = {"features": x, "labels": y, "class_embeddings": text}
    rank = {}
    for gamma in (0.0, 2.0):
        m = create_method("scale", {**TINY, "semantic_margin": gamma}, 24, 12)
        torch.manual_seed(0)
        rank[gamma] = float(m.training_step(batch)["rank"])
    assert rank[2.0] > rank[0.0]


def test_confidence_weights_follow_the_posterior_uncertainty():
    m = create_method("scale", TINY, 24, 12)
    x, y, text = tiny_data()
    batch = {"features": x, "labels": y, "class_embeddings": text}
    torch.manual_seed(0)
    aware = float(m.training_step(batch)["rank"])
    m.config = ScaleConfig(**{**m.config.to_dict(), "confidence_aware": False})
    torch.manual_seed(0)
    plain = float(m.training_step(batch)["rank"])
    assert aware != plain  # the weighting changes the loss ...
    with torch.no_grad():  # ... and an uncertain sample (wide posterior) gets less weight
        m.encoder[-1].bias[m.config.latent_size:] = 0.0
        mu, logvar = m.posterior(x)
    u = logvar.mean(-1) - logvar.mean()
    w = torch.exp(-u) / torch.exp(-u).mean()
    assert torch.isclose(w.mean(), torch.tensor(1.0)) and (w[u.argmax()] <= w).all()


def test_same_seed_same_weights():
    x, y, text = tiny_data()
    torch.manual_seed(1)
    a = create_method("scale", TINY, 24, 12)
    fit(a, x, y, text)
    torch.manual_seed(2)
    b = create_method("scale", TINY, 24, 12)
    fit(b, x, y, text)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_bundle_round_trip_gives_identical_scores(tmp_path):
    from tests.engine.fixtures import assert_bundle_round_trip

    assert_bundle_round_trip(tmp_path, "scale", TINY)


def test_learns_unseen_classes_well_above_chance():
    # 20 classes, 4 unseen (chance 0.25); measured here: 1.0 at 16 epochs on the 30-class task
    text, seen, unseen, xs, ys, xu, yu = style_data(seed=0, classes=20, unseen=4, per_class=60)
    m = create_method("scale", {"epochs": 8, "batch_size": 32, "hidden_size": 128}, xs.shape[1], text.shape[1])
    fit(m, xs, ys, text[seen])
    with torch.no_grad():
        acc = float((m.scores(xu, m.prepare(text[unseen])).argmax(1) == yu).float().mean())
    assert acc > 0.6, acc


def test_shipped_configs_load():
    for name in ("scale.ntu60_synse", "scale.ntu120_synse"):
        key, config, doc = load_method_config(name)
        assert key == "scale" and isinstance(config, ScaleConfig) and doc["source"]
    with pytest.raises(ValueError):
        ScaleConfig(temperature=0)
