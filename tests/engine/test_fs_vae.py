"""FS-VAE (engine/methods/fs_vae.py): the DCT is the orthonormal DCT-II, the band rule gives the
factors docs/methods.md#fs-vae states (and equals the code's per-band loop), the loss is the code's
(shifted by its floors), the band parameters learn, runs are reproducible, a bundle keeps the scores
bit-exact, and it learns the synthetic zero-shot task well above chance."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from engine.methods import create_method, load_method_config
from engine.methods.fs_vae import (
    DCTEnhancement,
    FSVAEConfig,
    band_edges,
    dct_matrix,
    fs_vae_schedule,
)
from tests.engine.fixtures import style_data, tiny_data, zsl_top1
from trainer.loop import fit

TINY = {"lr": 1e-3, "latent_size": 16, "batch_size": 16, "epochs": 3, "iterations_per_epoch": 40,
        "kl_start": 5, "kl_ramp": 30, "cr_start": 20}


def code_dct_enhance(x: torch.Tensor, weights: torch.Tensor, k: float, bands: int = 30,
                     split_freq: int = 30, m: int = 1) -> torch.Tensor:
    """The code's ``dct_enhance`` band loop, written out (scipy's orthonormal DCT for torch_dct's)."""
    from scipy.fft import dct, idct

    edges = band_edges(x.shape[1], bands)
    X = torch.from_numpy(dct(x.double().numpy(), norm="ortho", axis=1))
    for i in range(bands):
        start, end = edges[i], edges[i + 1]
        if end <= split_freq:
            X[:, start:end] *= 1 + weights[i] * k * (1 - i / bands)
        else:
            X[:, start:end] *= 1 - weights[i] * k * (1 - (i - bands // m) / bands)
    return torch.from_numpy(idct(X.numpy(), norm="ortho", axis=1))


# --- the frequency enhancement ----------------------------------------------------------------------


@pytest.mark.parametrize("n", [7, 24, 256, 1536])
def test_dct_is_orthonormal_and_invertible(n):
    pytest.importorskip("scipy")
    from scipy.fft import dct

    c = dct_matrix(n).double()
    assert torch.allclose(c @ c.t(), torch.eye(n, dtype=torch.float64), atol=1e-5)
    x = torch.randn(5, n, dtype=torch.float64, generator=torch.Generator().manual_seed(n))
    assert torch.allclose(x @ c.t(), torch.from_numpy(dct(x.numpy(), norm="ortho", axis=1)), atol=1e-5)
    assert torch.allclose((x @ c.t()) @ c, x, atol=1e-5)
    # at init the ablation's factors are all 1: the module is the identity (DCT then inverse)
    identity = DCTEnhancement(n, rule="weights_only")
    x32 = x.float()
    assert torch.allclose(identity(x32), x32, atol=1e-4)


def test_band_factors_match_methods_md():
    f256 = DCTEnhancement(256).factors().detach()
    edges = band_edges(256).tolist()
    assert edges[:4] == [0, 8, 17, 25]  # bands 0-2 are coefficients 0-24
    for band, factor in enumerate((1.30, 1.29, 1.28)):
        assert torch.allclose(f256[edges[band]:edges[band + 1]], torch.tensor(factor), atol=1e-6)
    damped = f256[25:255]
    assert float(damped.min()) == pytest.approx(0.43, abs=1e-6)
    assert float(damped.max()) == pytest.approx(0.69, abs=1e-6)
    assert float(f256[255]) == 1.0  # the last coefficient is in no band
    # 512-d (one CLIP text mode): only band 0 (coefficients 0-16) is boosted
    f512 = DCTEnhancement(512).factors().detach()
    assert torch.allclose(f512[:17], torch.tensor(1.30)) and bool((f512[17:511] < 0.7).all())
    # 1024-d and wider (ad_md, lb_ad_md): every band damped, band 0 x0.40
    for d in (1024, 1536):
        f = DCTEnhancement(d).factors().detach()
        assert bool((f[:-1] < 0.7).all()) and float(f[-1]) == 1.0
        assert float(f[0]) == pytest.approx(0.40, abs=1e-6)


@pytest.mark.parametrize("dim", [24, 256, 512])
def test_enhancement_equals_the_codes_band_loop(dim):
    pytest.importorskip("scipy")
    g = torch.Generator().manual_seed(dim)
    module = DCTEnhancement(dim)
    with torch.no_grad():
        module.freq_weights.copy_(torch.rand(30, generator=g) + 0.5)
        module.k.fill_(0.27)
    x = torch.randn(6, dim, generator=g)
    expected = code_dct_enhance(x, module.freq_weights.detach().double(), 0.27)
    assert torch.allclose(module(x).double(), expected, atol=1e-4)


def test_band_parameters_receive_gradients():
    x, y, text = tiny_data(feature_dim=256, text_dim=512)
    method = create_method("fs_vae", TINY, 256, 512)
    method.training_step({"features": x[:16], "labels": y[:16], "class_embeddings": text})["loss"].backward()
    for encoder in (method.vae.skeleton_encoder, method.vae.text_encoder):
        assert float(encoder.enhance.freq_weights.grad.abs().sum()) > 0
        assert float(encoder.enhance.k.grad.abs()) > 0
    # the ablation has learnable band weights only
    ablation = create_method("fs_vae", {**TINY, "enhancement": "weights_only"}, 256, 512)
    assert ablation.vae.skeleton_encoder.enhance.k is None
    batch = {"features": x[:16], "labels": y[:16], "class_embeddings": text}
    ablation.training_step(batch)["loss"].backward()
    assert float(ablation.vae.skeleton_encoder.enhance.freq_weights.grad.abs().sum()) > 0
    plain = create_method("fs_vae", {**TINY, "enhancement": "none"}, 256, 512)
    assert not hasattr(plain.vae.skeleton_encoder, "enhance")


# --- the loss and its schedule ----------------------------------------------------------------------


def test_schedule_is_synse():
    c = FSVAEConfig()  # 1700 iterations a cycle, cr after 1400
    assert c.cross_alignment_start == 1400
    assert FSVAEConfig(iterations_per_epoch=1900).cross_alignment_start == 1500
    assert fs_vae_schedule(c, 0, 1000) == {"k_fact": 0.0, "k_fact2": 0.0, "cr": 0.0}
    assert fs_vae_schedule(c, 0, 1300)["k_fact"] == pytest.approx(0.01)
    assert fs_vae_schedule(c, 1, 1600) == pytest.approx({"k_fact": 0.02, "k_fact2": 0.0, "cr": 1.0})
    f = fs_vae_schedule(c, 2, 1600)  # k_fact2 from cycle 2 on, ramping from cr_start (not k_fact * cr)
    assert f == pytest.approx({"k_fact": 0.02, "k_fact2": 0.1 * 200 / 3000, "cr": 1.0})
    assert fs_vae_schedule(c, 2, 1400)["cr"] == 0.0


@pytest.mark.parametrize("epoch,step", [(0, 0), (0, 25), (3, 39)])
def test_loss_is_the_codes_minus_its_floors(epoch, step):
    """train.py's loss, written out from the step's own draws, minus lambda alpha cr."""
    x, y, text = tiny_data()
    method = create_method("fs_vae", TINY, x.shape[1], text.shape[1])
    batch = {"features": x[:16], "labels": y[:16], "class_embeddings": text,
             "epoch": epoch, "step": step, "steps_per_epoch": 40}
    torch.manual_seed(0)
    losses = method.training_step(batch)
    f = method.schedule((epoch, step, 40))
    for name, value in f.items():
        assert float(losses[name]) == pytest.approx(value)
    # the reference, with the same noise and permutation
    torch.manual_seed(0)
    vae, s, t = method.vae, x[:16], F.normalize(text, dim=1)[y[:16]]
    with torch.no_grad():
        smu, slv = vae.skeleton_encoder(s)
        tmu, tlv = vae.text_encoder(t)
        eps = vae.noise(16, s)
        sz = smu + eps[:, :16] * torch.exp(0.5 * slv)
        tz = tmu + eps[:, 16:] * torch.exp(0.5 * tlv)
        perm = method.permutation(16, (epoch, step, 40))
        sout, tout = vae.skeleton_decoder(sz), vae.text_decoder(tz)
        sfromt, tfroms = vae.skeleton_decoder(tz), vae.text_decoder(sz)
        lmd, alpha = 100.0, 0.5
        t_cali_temp0 = (t - tfroms[perm]).square().sum(1) - (t - tfroms).square().sum(1)
        t_cali = torch.mean(1 / (1 + torch.exp(t_cali_temp0 / lmd)))
        s_cali = torch.mean(1 / (1 + torch.exp(-(s - sfromt).square().sum(1) / lmd)))
        kl = lambda mu, lv: 0.5 * torch.sum(-(mu**2) + 1 + lv - torch.exp(lv)) / mu.shape[0]  # noqa: E731
        code_loss = (lmd * alpha * f["cr"] * (t_cali + s_cali) + F.mse_loss(sout, s) + F.mse_loss(tout, t)
                     - (f["k_fact"] * kl(smu, slv) + f["k_fact2"] * kl(tmu, tlv)))
    assert float(losses["t_cali"]) == pytest.approx(float(t_cali), rel=1e-5)
    assert float(losses["s_cali"]) == pytest.approx(float(s_cali), rel=1e-5)
    assert float(losses["s_from_t"]) == pytest.approx(float(F.mse_loss(sfromt, s)), rel=1e-5)
    expected = float(code_loss) - lmd * alpha * f["cr"]
    assert float(losses["loss"].detach()) == pytest.approx(expected, rel=1e-5, abs=1e-5)


def test_permutation_is_keyed_by_the_position():
    method = create_method("fs_vae", TINY, 24, 12)
    a = method.permutation(64, (1, 7, 40))
    method.permutation(64, None)
    assert torch.equal(a, method.permutation(64, (1, 7, 40)))
    assert not torch.equal(a, method.permutation(64, (1, 8, 40)))
    assert sorted(a.tolist()) == list(range(64))


# --- reproducibility, scores and bundles ------------------------------------------------------------


def test_same_seed_same_weights_and_scores():
    x, y, text = tiny_data()
    torch.manual_seed(123)  # the caller's RNG state must not matter
    a = create_method("fs_vae", TINY, x.shape[1], text.shape[1])
    fit(a, x, y, text)
    torch.manual_seed(456)
    b = create_method("fs_vae", TINY, x.shape[1], text.shape[1])
    fit(b, x, y, text)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["vae.skeleton_encoder.enhance.freq_weights"], torch.ones(30))  # it learnt
    unseen = torch.randn(4, text.shape[1])
    scores = a.scores(x, a.prepare(unseen))
    assert scores.shape == (len(x), 4) and torch.isfinite(scores).all()
    assert torch.equal(scores, b.scores(x, b.prepare(unseen)))


def test_bundle_round_trip_gives_identical_scores(tmp_path):
    from tests.engine.fixtures import assert_bundle_round_trip

    assert_bundle_round_trip(tmp_path, "fs_vae", TINY)


# --- learning -----------------------------------------------------------------------------------------


def test_learns_the_synthetic_zero_shot_task_well_above_chance():
    # style_data (the SA-DVAE tests' generator) with a milder style (scale 1): 25 seen classes, 5 unseen,
    # chance 0.20. Cycles of 300 random batches, SynSE's schedule constants scaled to them. Measured
    # (1 thread) over data seeds 0-2 x method seeds 5-7: 0.47-0.84; at the seeds here 0.73.
    text, seen, unseen, xs, ys, xu, yu = style_data(seed=0, style_scale=1.0)
    n = 300
    config = {"lr": 1e-3, "latent_size": 32, "epochs": 4, "batch_size": 64, "iterations_per_epoch": n,
              "kl_start": n * 1000 // 1700, "kl_ramp": n * 3000 // 1700, "cr_start": n * 1400 // 1700}
    method = create_method("fs_vae", config, xs.shape[1], text.shape[1])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 64 x 64 matmuls: one thread is ~10x faster on a busy 2-core machine
    try:
        result = fit(method, xs, ys, text[seen])
        acc = zsl_top1(method, text, unseen, xu, yu)
    finally:
        torch.set_num_threads(threads)
    assert result.epochs_run == 4
    assert acc > 0.5, acc
    assert math.isfinite(float(method.vae.skeleton_encoder.enhance.k.detach()))


# --- configs ----------------------------------------------------------------------------------------


def test_shipped_configs_and_validation():
    _, c60, doc60 = load_method_config("fs_vae.ntu60_synse")
    assert (c60.latent_size, c60.iterations_per_epoch, c60.cross_alignment_start) == (100, 1700, 1400)
    assert (c60.calibration_weight, c60.calibration_temperature) == (0.5, 100.0)
    assert (c60.lr, c60.batch_size, c60.epochs, c60.seed) == (1e-4, 64, 10, 5)
    assert doc60["gate"] == {"threshold": 0.5, "temperature": 2, "variant": "msf"}
    assert doc60["paper"]["ntu60_55_5"]["zsl"] == 86.9
    assert doc60["paper"]["ntu60_55_5"]["gzsl"] == {"seen": 77.0, "unseen": 74.5, "h": 75.7}
    assert doc60["paper"]["ntu60_48_12"]["weights_only"]["zsl"] == 52.6
    _, c120, doc120 = load_method_config("fs_vae.ntu120_synse")
    assert (c120.latent_size, c120.iterations_per_epoch, c120.cross_alignment_start) == (200, 1900, 1500)
    assert c120.calibration_weight == 0.1 and doc120["paper"]["ntu120_96_24"]["zsl"] == 62.5
    assert dataclasses.replace(c60, cr_start=None) == FSVAEConfig()  # the defaults: the NTU-60 script
    with pytest.raises(ValueError, match="enhancement"):
        FSVAEConfig(enhancement="paper")
    with pytest.raises(ValueError, match="iterations_per_epoch"):
        FSVAEConfig(iterations_per_epoch=None)
