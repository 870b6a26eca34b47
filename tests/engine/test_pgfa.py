"""PGFA (engine/methods/pgfa.py): the KL loss as KLLoss.py defines it, the warm-up schedule,
prototype-guided alignment (transductive) against text-only scoring, a bundle round trip, and
zero-shot learning well above chance on the synthetic feature task."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from engine.methods import create_method, load_method_config
from engine.methods.pgfa import PGFAConfig, kl_loss, prototype_scores
from tests.engine.fixtures import style_data, tiny_data
from trainer.loop import fit


def test_kl_loss_is_batch_times_mean_kl_to_the_softened_targets():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 4, generator=g)
    y = torch.tensor([0, 1, 0, 2])
    same = (y[:, None] == y[None]).float()
    p = F.softmax(10 * same, 1)
    expected = (p * (p.log() - F.log_softmax(logits, 1))).sum() / 16 * 4
    assert torch.isclose(kl_loss(logits, same, 10.0), expected, atol=1e-6)


def test_warm_up_starts_at_zero_and_steps_later():
    m = create_method("pgfa", {"lr": 0.05}, 8, 6)
    (opt,) = m.configure_optimizers()
    lrs = []
    for epoch in (0, 1, 4, 5, 49, 50, 80):
        m.on_epoch_start(epoch, 100, [opt])
        lrs.append(round(opt.lr, 6))
    assert lrs == [0.0, 0.01, 0.04, 0.05, 0.05, 0.005, 0.0005]


def test_prototypes_correct_texts_that_sit_off_their_clusters():
    g = torch.Generator().manual_seed(1)
    centres = F.normalize(torch.randn(3, 16, generator=g), dim=1)
    y = torch.arange(3).repeat_interleave(40)
    feats = F.normalize(centres[y] + 0.15 * torch.randn(120, 16, generator=g), dim=1)
    # texts near their classes but rotated towards a neighbour: text-only scoring confuses 0 and 1
    text = F.normalize(centres + 0.9 * centres[[1, 0, 2]], dim=1)
    text_only = (feats @ text.t()).argmax(1)
    guided = prototype_scores(feats, text, alpha=0.9).argmax(1)
    assert (guided == y).float().mean() >= (text_only == y).float().mean()
    assert (guided == y).float().mean() > 0.9


def test_none_mode_scores_by_text_similarity_only():
    x, y, text = tiny_data()
    a = create_method("pgfa", {"prototypes": "none"}, x.shape[1], text.shape[1])
    b = create_method("pgfa", {"prototypes": "transductive"}, x.shape[1], text.shape[1])
    b.load_state_dict(a.state_dict())
    t = a.prepare(text)
    with torch.no_grad():
        expected = a.config.logit_scale * F.normalize(a.adapter(x), dim=1) @ t.t()
        assert torch.allclose(a.scores(x, t), expected)
        assert torch.allclose(b.scores(x[:1], t), expected[:1])  # one window: nothing to build prototypes from


def test_learns_unseen_classes_well_above_chance():
    text, seen, unseen, xs, ys, xu, yu = style_data(seed=0, classes=20, unseen=4, per_class=60)
    m = create_method("pgfa", {"epochs": 20, "batch_size": 64}, xs.shape[1], text.shape[1])
    fit(m, xs, ys, text[seen])
    with torch.no_grad():
        acc = float((m.scores(xu, m.prepare(text[unseen])).argmax(1) == yu).float().mean())
    assert acc > 0.5, acc  # chance 0.25


def test_bundle_round_trip_gives_identical_scores(tmp_path):
    from tests.engine.fixtures import assert_bundle_round_trip

    assert_bundle_round_trip(tmp_path, "pgfa", {"epochs": 3})


def test_shipped_configs():
    for name, alpha in (("pgfa.ntu60_synse", 0.9), ("pgfa.ntu120_synse", 0.4), ("pgfa.pku51_random", 1.0)):
        key, config, doc = load_method_config(name)
        assert key == "pgfa" and isinstance(config, PGFAConfig) and config.support_factor == alpha
        assert doc["source"] and math.isfinite(config.lr)
