"""Every registered method: one training step runs on CPU, losses are finite and named, gradients
reach the parameters, and scores have the documented shape against any class set."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from engine.methods import METHODS, create_method, list_methods

FEATURE_DIM, TEXT_DIM = 32, 24


def batch(n: int = 16, k: int = 5) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "features": torch.randn(n, FEATURE_DIM, generator=g),
        "labels": torch.randint(0, k, (n,), generator=g),
        "class_embeddings": torch.nn.functional.normalize(torch.randn(k, TEXT_DIM, generator=g), dim=1),
    }


@pytest.mark.parametrize("name", list_methods())
def test_training_step_forward_backward(name):
    method = create_method(name, None, FEATURE_DIM, TEXT_DIM).train()
    losses = method.training_step(batch())
    assert "loss" in losses and losses["loss"].ndim == 0
    assert all(math.isfinite(float(v.detach())) for v in losses.values())
    if not method.manual_optimization:
        losses["loss"].backward()
    grads = [p.grad for p in method.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)


@pytest.mark.parametrize("name", list_methods())
def test_scores_shape_for_any_class_set(name):
    method = create_method(name, None, FEATURE_DIM, TEXT_DIM).eval()
    for k in (1, 3, 60):
        prepared = method.prepare(torch.randn(k, TEXT_DIM))
        assert method.scores(torch.randn(7, FEATURE_DIM), prepared).shape == (7, k)


#: the floor of the mean accuracy over classifier seeds below, per method (default: FIT_FLOOR). The toy's
#: data and every seed are fixed, yet the trained weights still depend on floating-point rounding: the
#: thread count (1 and 2 threads agree, 3 and more differ) and the CPU kernels (AVX-512, AVX2 or none)
#: change the order of sums. Measured over 45 rounding-level variants (threads 1, 2, 3, 4, 8 x those
#: kernels, and the features moved by 1e-6): CADA-VAE, SA-DVAE, its ablation and the naive alignment
#: 0.933-0.983 (sd <= 0.004), whatever the variant; FS-VAE 0.843-0.880 (mean 0.862, sd 0.012, two
#: modes, 0.847 and 0.87, as one classifier seed's class dies or not), so 0.85 failed on 17 of the 45.
#: 0.80 is five of its standard deviations below its mean. (Over 40 other data seeds FS-VAE's mean is
#: 0.62-0.96, median 0.84: lower than the rest of the family on this toy, not an accident of seed 0.)
FIT_FLOOR = 0.85
FIT_FLOORS = {"fs_vae": 0.80}


@pytest.fixture
def one_thread():
    """One intra-op thread, so that a machine's core count cannot change the trained weights (see
    FIT_FLOORS); matrices this small are also faster so on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", list_methods())
def test_a_few_steps_fit_seen_classes(name, one_thread):
    """Training lowers the loss on a separable toy problem (features = noisy copies of text)."""
    torch.manual_seed(0)
    method = create_method(name, {"lr": 1e-2}, FEATURE_DIM, TEXT_DIM).train()
    proj = torch.randn(TEXT_DIM, FEATURE_DIM)
    text = torch.nn.functional.normalize(torch.randn(6, TEXT_DIM), dim=1)
    labels = torch.arange(6).repeat(20)
    feats = text[labels] @ proj + 0.05 * torch.randn(len(labels), FEATURE_DIM)
    b = {"features": feats, "labels": labels, "class_embeddings": text}
    opt = method.configure_optimizers()
    first = float(method.training_step(b)["loss"].detach())
    for _ in range(100):
        for o in opt:
            o.zero_grad()
        loss = method.training_step(b)["loss"]
        if not method.manual_optimization:
            loss.backward()
            for o in opt:
                o.step()
    assert float(method.training_step(b)["loss"].detach()) < 0.5 * first
    method.eval()
    if not method.prepare_is_slow:
        pred = method.scores(feats, method.prepare(text)).argmax(1)
        assert (pred == labels).float().mean() > 0.9
        return
    # A classifier fitted in prepare (the SynSE family's C_u) ends in a ReLU on its logits
    # (docs/methods.md#the-synse-family-of-vaes): on this 6-class toy, where the text posterior's sigma
    # stays near 1, about one initialisation in four leaves a class's logit dead at 0, as in the official code. So the
    # mean over ten classifier seeds is what must fit, above the method's measured floor (FIT_FLOORS);
    # and some seed must fit every class (1.0 in all 45 variants: the latent separates them).
    accs = []
    for seed in range(10):
        method.config = dataclasses.replace(method.config, seed=seed)
        pred = method.scores(feats, method.prepare(text)).argmax(1)
        accs.append(float((pred == labels).float().mean()))
    assert max(accs) >= 0.95, accs
    assert sum(accs) / len(accs) > FIT_FLOORS.get(name, FIT_FLOOR), accs


def test_bad_batch_and_config_are_clear_errors():
    method = create_method("contrastive", None, FEATURE_DIM, TEXT_DIM)
    b = batch()
    b["features"] = b["features"][:, :-1]
    with pytest.raises(ValueError, match=f"features must be \\(B, {FEATURE_DIM}\\)"):
        method.training_step(b)
    with pytest.raises(ValueError, match="unknown field"):
        create_method("contrastive", {"learning_rate": 1}, FEATURE_DIM, TEXT_DIM)
    with pytest.raises(KeyError, match="unknown method"):
        METHODS.get("nope")
