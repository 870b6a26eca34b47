"""engine.zsl.gating on synthetic classifier outputs: class-agnostic sorted features, a gate that
separates unseen from seen samples and lifts GZSL H above trivial and random routing, determinism,
fixed (theta, T), JSON round trip, input checks, and the multinomial-C equivalence of the fit."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import logsumexp

from engine.zsl import Gate, fit_gate, gate_features, temperature_softmax
from engine.zsl.gating import _best_threshold, _fit_logistic
from trainer.metrics import gzsl_accuracies

K = 5  # unseen classes
C_SEEN = 20  # seen classes
UNSEEN_IDS = np.array([3, 8, 14, 19, 22])
SEEN_IDS = np.setdiff1d(np.arange(K + C_SEEN), UNSEEN_IDS)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def synthetic_outputs(n_unseen: int, n_seen: int, seed: int):
    """(zsl softmax (N, K), seen logits (N, C_SEEN), labels (N,) global ids), unseen samples first.

    Unseen samples: a peaked ZSL softmax (mostly at the right class) and flat seen logits. Seen
    samples: a flatter ZSL softmax and seen logits peaked at the right class. Noise makes them overlap
    a little, as real outputs do.
    """
    rng = np.random.default_rng(seed)
    yu = rng.integers(0, K, n_unseen)
    ys = rng.integers(0, C_SEEN, n_seen)
    zl_u = rng.normal(0, 1, (n_unseen, K))
    zl_u[np.arange(n_unseen), yu] += 3.5
    sl_u = rng.normal(0, 1, (n_unseen, C_SEEN))
    sl_u[np.arange(n_unseen), rng.integers(0, C_SEEN, n_unseen)] += 1.5  # a look-alike seen class
    zl_s = rng.normal(0, 1, (n_seen, K))
    zl_s[np.arange(n_seen), rng.integers(0, K, n_seen)] += 1.0
    sl_s = rng.normal(0, 1, (n_seen, C_SEEN))
    sl_s[np.arange(n_seen), ys] += 5.0
    zs = softmax(np.concatenate([zl_u, zl_s]))
    out = np.concatenate([sl_u, sl_s])
    labels = np.concatenate([UNSEEN_IDS[yu], SEEN_IDS[ys]])
    return zs, out, labels


@pytest.fixture(scope="module")
def val_outputs():
    zs, out, _ = synthetic_outputs(600, 900, seed=1)
    return zs[:600], out[:600], zs[600:], out[600:]


@pytest.fixture(scope="module")
def gate(val_outputs):
    return fit_gate(*val_outputs, seed=5)


def test_temperature_softmax_matches_reference_formula_and_is_stable():
    x = np.random.default_rng(0).normal(0, 3, (4, 7))
    for t in (1.0, 2.0, 9.0):
        ref = np.exp((x + 1e-12) / t) / np.exp((x + 1e-12) / t).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(temperature_softmax(x, t), ref, rtol=1e-12)
    big = temperature_softmax(np.array([[1e4, 0.0, -1e4]]), 1.0)
    assert np.isfinite(big).all() and big[0, 0] == 1.0
    with pytest.raises(ValueError):
        temperature_softmax(x, 0.0)


def test_features_are_sorted_and_class_agnostic():
    zs, out, _ = synthetic_outputs(50, 50, seed=2)
    f = gate_features(zs, out, temperature=2.0)
    assert f.shape == (100, 2 * K)
    assert np.all(np.diff(f[:, :K], axis=1) <= 0) and np.all(np.diff(f[:, K:], axis=1) <= 0)
    rng = np.random.default_rng(3)
    f_perm = gate_features(zs[:, rng.permutation(K)], out[:, rng.permutation(C_SEEN)], temperature=2.0)
    np.testing.assert_array_equal(f[:, :K], f_perm[:, :K])
    # The seen half differs only in the last bit: the softmax denominator sums in another order.
    np.testing.assert_allclose(f[:, K:], f_perm[:, K:], rtol=1e-12)
    # The seen half is the top-k of the tempered softmax over all seen classes.
    np.testing.assert_allclose(f[:, K:], np.sort(temperature_softmax(out, 2.0), axis=1)[:, ::-1][:, :K])


def test_gate_separates_unseen_from_seen(gate):
    assert gate.k == K and gate.variant == "sa_dvae"
    assert 1.0 <= gate.temperature <= 9.0 and 0.25 <= gate.threshold <= 0.74
    assert gate.held_out_accuracy > 0.9
    zs, out, labels = synthetic_outputs(400, 400, seed=11)
    p = gate.p_unseen(zs, out)
    assert p.shape == (800,) and np.all((p >= 0) & (p <= 1))
    routed_seen = gate.route(zs, out)
    assert np.mean(routed_seen == np.isin(labels, SEEN_IDS)) > 0.9


def test_gated_h_beats_trivial_and_random_routing(gate):
    zs, out, labels = synthetic_outputs(500, 1000, seed=12)
    pred = gate.predict(zs, out, SEEN_IDS, UNSEEN_IDS)
    assert pred.dtype == np.int64 and set(np.unique(pred)) <= set(SEEN_IDS) | set(UNSEEN_IDS)
    gated = gzsl_accuracies(pred, labels, SEEN_IDS, UNSEEN_IDS)

    seen_pred, unseen_pred = SEEN_IDS[out.argmax(1)], UNSEEN_IDS[zs.argmax(1)]
    all_seen = gzsl_accuracies(seen_pred, labels, SEEN_IDS, UNSEEN_IDS)
    all_unseen = gzsl_accuracies(unseen_pred, labels, SEEN_IDS, UNSEEN_IDS)
    coin = np.random.default_rng(0).random(len(labels)) < 0.5
    random = gzsl_accuracies(np.where(coin, seen_pred, unseen_pred), labels, SEEN_IDS, UNSEEN_IDS)

    assert all_seen["unseen"] == 0.0 and all_seen["h"] == 0.0
    assert all_unseen["seen"] == 0.0 and all_unseen["h"] == 0.0
    assert gated["h"] > random["h"] + 0.2
    assert gated["h"] > 0.75


def test_same_seed_gives_identical_gate(val_outputs, gate):
    assert fit_gate(*val_outputs, seed=5) == gate
    assert fit_gate(*val_outputs, seed=6) != gate  # other held-out draws, other fit


def test_fixed_temperature_and_threshold_are_honoured(val_outputs):
    g = fit_gate(*val_outputs, fixed_temperature=3, fixed_threshold=0.54)
    assert g.temperature == 3.0 and g.threshold == 0.54
    g = fit_gate(*val_outputs, variant="msf", fixed_temperature=2, fixed_threshold=0.5)  # FS-VAE / MSF
    assert (g.temperature, g.threshold, g.variant) == (2.0, 0.5, "msf")
    assert g.held_out_accuracy > 0.9


def test_variants_hold_out_as_their_reference(val_outputs, caplog):
    with caplog.at_level(logging.INFO, logger="engine.zsl.gating"):
        fit_gate(*val_outputs, fixed_temperature=2)  # seen sub-sampled to 600; min(300, 600 // 6) = 100 each
        fit_gate(*val_outputs, variant="msf", fixed_temperature=2)  # 600 // 5 + 900 // 5, no sub-sampling
        fit_gate(*val_outputs, variant="synse", fixed_temperature=2)  # 300 + 400
    text = caplog.text
    assert "(1000 train, 200 held out)" in text
    assert "(1200 train, 300 held out)" in text
    assert "(800 train, 700 held out)" in text


def test_round_trip_through_json_gives_identical_predictions(gate):
    data = json.loads(json.dumps(gate.to_dict()))
    back = Gate.from_dict(data)
    assert back == gate
    zs, out, _ = synthetic_outputs(100, 100, seed=13)
    np.testing.assert_array_equal(back.predict(zs, out, SEEN_IDS, UNSEEN_IDS),
                                  gate.predict(zs, out, SEEN_IDS, UNSEEN_IDS))
    np.testing.assert_array_equal(back.p_unseen(zs, out), gate.p_unseen(zs, out))
    with pytest.raises(ValueError, match="format"):
        Gate.from_dict({**data, "format": "pickle"})
    with pytest.raises(ValueError, match="lacks"):
        Gate.from_dict({k: v for k, v in data.items() if k != "coef"})


def test_bad_inputs_raise_clear_errors(val_outputs, gate):
    zs_u, out_u, zs_s, out_s = val_outputs
    with pytest.raises(ValueError, match="rows"):
        fit_gate(zs_u, out_u[:-1], zs_s, out_s)
    with pytest.raises(ValueError, match="same k"):
        fit_gate(zs_u, out_u, zs_s[:, :-1], out_s)
    with pytest.raises(ValueError, match="seen logits"):
        fit_gate(zs_u, out_u, zs_s, out_s[:, :-1])
    with pytest.raises(ValueError, match="fewer than"):
        fit_gate(zs_u, out_u[:, :3], zs_s, out_s[:, :3])
    with pytest.raises(ValueError, match="unknown gate variant"):
        fit_gate(*val_outputs, variant="stacking")
    with pytest.raises(ValueError, match="too few"):
        fit_gate(zs_u[:5], out_u[:5], zs_s[:5], out_s[:5])
    with pytest.raises(ValueError, match="NaN"):
        fit_gate(np.full_like(zs_u, np.nan), out_u, zs_s, out_s)
    zs, out, _ = synthetic_outputs(10, 10, seed=14)
    with pytest.raises(ValueError, match="k=5"):
        gate.predict(zs[:, :4], out, SEEN_IDS, UNSEEN_IDS[:4])
    with pytest.raises(ValueError, match="seen_ids"):
        gate.predict(zs, out, SEEN_IDS[:-1], UNSEEN_IDS)
    with pytest.raises(ValueError, match="unseen_ids"):
        gate.predict(zs, out, SEEN_IDS, UNSEEN_IDS[:-1])
    with pytest.raises(ValueError, match="rows"):
        gate.p_unseen(zs[:-1], out)


def test_threshold_rules_differ_as_the_reference_does():
    # Held-out p_unseen: unseen samples at 0.72, seen ones at 0.35. The rule Gate.predict applies
    # (seen when 1 - p > theta) separates them for theta in [0.28, 0.65); gating_train.py's rule
    # (unseen when p > theta) for theta in [0.35, 0.72). Both keep the first best threshold.
    p = np.array([0.72, 0.72, 0.35, 0.35])
    y = np.array([0, 0, 1, 1])
    grid = [th / 100 for th in range(25, 75)]
    assert _best_threshold(p, y, grid, "consistent") == (0.28, 1.0)
    assert _best_threshold(p, y, grid, "reference") == (0.35, 1.0)


def test_binomial_fit_with_doubled_c_is_the_two_class_multinomial_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    y = (x[:, 0] - 0.7 * x[:, 2] + rng.normal(size=300) > 0).astype(int)
    d = x.shape[1]

    def multinomial_objective(p):  # scikit-learn's multinomial loss with C = 1: sum(CE) + |W|^2 / 2
        w, b = p[: 2 * d].reshape(2, d), p[2 * d:]
        z = x @ w.T + b
        return -(z[np.arange(len(y)), y] - logsumexp(z, axis=1)).sum() + 0.5 * (w**2).sum()

    r = minimize(multinomial_objective, np.zeros(2 * d + 2), method="L-BFGS-B",
                 options={"maxiter": 10000, "gtol": 1e-10})
    w, b = r.x[: 2 * d].reshape(2, d), r.x[2 * d:]
    coef, intercept = _fit_logistic(x, y, c_reference=1.0, max_iter=5000)
    np.testing.assert_allclose(coef, w[1] - w[0], atol=1e-3)
    assert intercept == pytest.approx(b[1] - b[0], abs=1e-3)
