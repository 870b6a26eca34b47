"""FS-VAE (Wu et al., ICCV 2025, arXiv 2506.22179): Frequency-Semantic enhanced VAE.

As ``wenhanwu95/FS-VAE`` (``model.py``, ``train.py``, ``fsvae_60.sh``, ``fsvae_120.sh``; code base
``EHZ9NIWI7/MSF-GZSSAR``) implements it (docs/methods.md#fs-vae): a CADA-VAE-style pair of VAEs on
pre-extracted features, with two changes.

* **Frequency enhancement** in both encoders (:class:`DCTEnhancement`): the orthonormal DCT-II of the
  input vector over its feature axis, 30 bands with edges ``linspace(0, D - 1, 31).long()`` (band i is
  ``[edge_i, edge_{i+1})``, so the last coefficient is never touched), each band scaled by::

      1 + w_i k (1 - i / 30)             if edge_{i+1} <= split_freq (30)   # boost
      1 - w_i k (1 - (i - 30 // m) / 30) otherwise                          # damp

  with learnable band weights ``w`` (init 1) and a learnable ``k`` (init 0.3), then the inverse DCT,
  then the linear mu / log sigma^2 heads. The rule compares a band's end *coefficient index* with
  ``split_freq``, so only 256-d skeleton features get three boosted bands (x1.30/1.29/1.28, the rest
  x0.43-0.69); 512-d CLIP text gets one; 1024-d and wider texts (``ad_md``, ``lb_ad_md``) get none.
* **Calibrated cross-alignment** instead of CADA-VAE's cross-reconstruction MSEs (commented out in
  ``train.py``), with a random permutation pi of the batch::

      L_t_cali = mean_i sigmoid((|t_i - Dec_t(z_s,i)|^2 - |t_i - Dec_t(z_s,pi(i))|^2) / lambda)
      L_s_cali = mean_i sigmoid(|s_i - Dec_s(z_t,i)|^2 / lambda)
      L = MSE(s, s_hat) + MSE(t, t_hat) + k_fact KL_s + k_fact2 KL_t
          + lambda alpha cr (L_t_cali + L_s_cali)

  lambda (``--lmd``) = 100 is both the sigmoids' temperature and a factor of the weight; alpha is 0.5
  (NTU-60 script) or 0.1 (NTU-120); ``--use_cr_fact 1`` gates the term with cr. Schedules are SynSE's
  (docs/methods.md#the-synse-family-of-vaes): ``k_fact = max(0.1 (i - 1000) / 3000, 0)``,
  ``cr = [i > cr_start]``, ``k_fact2 = max(0.1 (i - cr_start) / 3000, 0) [c > 1]`` at iteration i of
  cycle c (CADA-VAE's k_fact2 differs).

Where this differs from the code, and why:

* The sigmoid terms have floors (``L_s_cali >= 1/2``; ``L_t_cali`` is about 1/2 at any alignment, since
  squared distances of unit text vectors are far below lambda), so the code's loss never goes below
  about ``lambda alpha`` (50 on NTU-60) and a loss curve shows mostly that constant. The ``loss``
  returned here is the code's minus ``lambda alpha cr`` (the two floors): identical gradients and
  training, an informative curve. ``t_cali`` and ``s_cali`` are reported as the code computes them.
* The code draws pi from torch's global RNG; here it comes from the method's own generator, seeded
  from the config seed and the batch's (epoch, step), so a run is reproducible and a resumed run
  draws the same permutations. (The code also draws an unused ``s_perm``; not drawn here.)
* ``torch_dct`` computes the DCT by FFT; here it is one fixed orthonormal matrix (inverse = its
  transpose), the same transform.

Options: ``enhancement="weights_only"`` is the paper's ablation FS-VAE-dagger ("only w_i"), read as
each band scaled by its learnable ``w_i`` alone (no k, no boost/damp rule; identity at init), an
interpretation: the ablation is not in the released code. ``enhancement="none"`` is the code's
``dct_enhancement=False`` (plain linear encoders). The paper's own description of the band rule was not
available to check against the code (docs/methods.md#fs-vae), so no separate paper variant is offered.

Unseen classifier, :meth:`prepare` and :meth:`scores` as the rest of the family
(:mod:`engine.methods.vae_blocks`); both go through the enhanced encoders.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from engine.methods.base import METHODS
from engine.methods.vae_blocks import CrossAlignedVAE, Encoder, VAEStep, reparameterize
from engine.methods.vae_method import Position, VAEMethod, VAEMethodConfig, batch_position

ENHANCEMENTS = ("code", "weights_only", "none")


@dataclasses.dataclass(frozen=True)
class FSVAEConfig(VAEMethodConfig):
    """Defaults: NTU-60 as ``fsvae_60.sh`` runs ``train.py`` (``--alpha 0.5 --lmd 100 --use_cr_fact 1``,
    ``nepc=1700 ls=100 nc=10``; Adam 1e-4, batch 64, seed 5 in ``train.py``).

    Attributes:
        iterations_per_epoch: iterations (random mini-batches) of a cycle: 1700 for NTU-60, 1900 for
            NTU-120 (the scripts' ``nepc``).
        kl_start, kl_ramp: ``k_fact = max(0.1 (i - kl_start) / kl_ramp, 0)`` (SynSE's constants).
        cr_start: cr on after this iteration of a cycle; None: the code's rule, 1400 for cycles of 1700
            and 1500 otherwise.
        calibration_weight: alpha (``--alpha``).
        calibration_temperature: lambda (``--lmd``): the sigmoids' temperature, also a factor of the
            calibrated terms' weight ``lambda alpha`` (as in the code).
        calibration_gated: weight the calibrated terms by cr (``--use_cr_fact 1``, both scripts);
            False: on from the first iteration.
        cross_reconstruction_weight: weight (times cr) of CADA-VAE's MSE cross-reconstruction terms,
            which the code computes but has commented out of the loss (0); always reported.
        enhancement: ``"code"`` (the boost/damp rule), ``"weights_only"`` (FS-VAE-dagger) or ``"none"``.
        dct_k: initial k (learnable). dct_bands: number of bands. dct_split_freq: the boost/damp
            split, compared with a band's end coefficient index. dct_m: the damp rule's
            ``num_bands // m`` offset (1 in the code).
    """

    lr: float = 1e-4
    batch_size: int = 64
    epochs: int = 10  # cycles
    seed: int = 5
    latent_size: int = 100  # 200 for NTU-120
    iterations_per_epoch: int | None = 1700
    kl_start: int = 1000
    kl_ramp: int = 3000
    cr_start: int | None = None
    calibration_weight: float = 0.5  # 0.1 in the NTU-120 script
    calibration_temperature: float = 100.0
    calibration_gated: bool = True
    cross_reconstruction_weight: float = 0.0
    enhancement: str = "code"
    dct_k: float = 0.3
    dct_bands: int = 30
    dct_split_freq: int = 30
    dct_m: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.iterations_per_epoch is None:
            raise ValueError("FS-VAE's cycles are counted in random mini-batches: set iterations_per_epoch")
        if self.kl_ramp <= 0:
            raise ValueError("kl_ramp must be positive")
        if self.calibration_temperature <= 0:
            raise ValueError("calibration_temperature must be positive")
        if self.enhancement not in ENHANCEMENTS:
            raise ValueError(f"enhancement must be one of {', '.join(ENHANCEMENTS)}, "
                             f"got {self.enhancement!r}")
        if self.dct_bands < 1 or self.dct_m < 1:
            raise ValueError("dct_bands and dct_m must be at least 1")

    @property
    def cross_alignment_start(self) -> int:
        if self.cr_start is not None:
            return self.cr_start
        return 1400 if self.iterations_per_epoch == 1700 else 1500


def fs_vae_schedule(config: FSVAEConfig, epoch: int, step: int) -> dict[str, float]:
    """k_fact, k_fact2 and cr at iteration ``step`` of cycle ``epoch`` (``train_one_cycle``)."""
    cr_start = config.cross_alignment_start
    k_fact = max(0.1 * (step - config.kl_start) / config.kl_ramp, 0)
    k_fact2 = max(0.1 * (step - cr_start) / config.kl_ramp, 0) * (epoch > 1)
    return {"k_fact": float(k_fact), "k_fact2": float(k_fact2), "cr": 1.0 * (step > cr_start)}


# --- the frequency enhancement ----------------------------------------------------------------------


def dct_matrix(n: int) -> torch.Tensor:
    """The orthonormal DCT-II matrix ``C (n, n)``: ``x @ C.T`` is ``torch_dct.dct(x, norm='ortho')`` and,
    C being orthogonal, ``X @ C`` its inverse (computed in float64, returned as float32)."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    c = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    c[0] /= math.sqrt(2.0)
    return c.float()


def band_edges(dim: int, bands: int = 30) -> torch.Tensor:
    """``linspace(0, dim - 1, bands + 1).long()`` as the code computes it (float32, truncated)."""
    return torch.linspace(0, dim - 1, bands + 1).long()


def band_rule(dim: int, bands: int = 30, split_freq: int = 30, m: int = 1) -> list[float]:
    """The signed decay of each band: ``+(1 - i / bands)`` for a boosted band (its end coefficient
    ``<= split_freq``), ``-(1 - (i - bands // m) / bands)`` for a damped one; the band's factor is
    ``1 + w_i k * rule_i``."""
    edges = band_edges(dim, bands).tolist()
    return [(1 - i / bands) if edges[i + 1] <= split_freq else -(1 - (i - bands // m) / bands)
            for i in range(bands)]


class DCTEnhancement(nn.Module):
    """FS-VAE's ``dct_enhance``: DCT, per-band scaling with learnable weights, inverse DCT.

    Args:
        dim: size D of the feature axis.
        k, bands, split_freq, m: as :class:`FSVAEConfig` (``dct_*``).
        rule: ``"code"`` (factor ``1 + w_i k rule_i``, :func:`band_rule`) or ``"weights_only"``
            (factor ``w_i``, FS-VAE-dagger).

    The factor of every coefficient is one vector ``(D,)`` built from the band parameters by one
    matmul with a band-membership matrix (the last coefficient, in no band, keeps factor 1), so the
    whole module is two ``D x D`` matmuls and a product. The DCT matrix and the band tables are
    derived from D: non-persistent buffers, not saved with the weights.
    """

    def __init__(self, dim: int, k: float = 0.3, bands: int = 30, split_freq: int = 30, m: int = 1,
                 rule: str = "code") -> None:
        super().__init__()
        if rule not in ("code", "weights_only"):
            raise ValueError(f"rule must be 'code' or 'weights_only', got {rule!r}")
        self.dim, self.bands, self.rule = int(dim), int(bands), rule
        self.freq_weights = nn.Parameter(torch.ones(bands))
        if rule == "code":
            self.k = nn.Parameter(torch.tensor(float(k)))
        else:
            self.register_parameter("k", None)  # the ablation has no k
        edges = band_edges(dim, bands)
        membership = torch.zeros(bands, dim)
        for i in range(bands):
            membership[i, edges[i]:edges[i + 1]] = 1
        self.register_buffer("_dct", dct_matrix(dim), persistent=False)
        self.register_buffer("_membership", membership, persistent=False)
        self.register_buffer("_rule", torch.tensor(band_rule(dim, bands, split_freq, m)), persistent=False)

    def factors(self) -> torch.Tensor:
        """``(D,)`` the multiplier of each DCT coefficient at the current parameters."""
        if self.rule == "code":
            per_band = self.freq_weights * self._rule * self.k
        else:
            per_band = self.freq_weights - 1
        return 1 + per_band @ self._membership

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (..., D)`` -> ``idct(dct(x) * factors)``."""
        return ((x @ self._dct.t()) * self.factors()) @ self._dct


class FrequencyEnhancedEncoder(Encoder):
    """FS-VAE's ``Encoder``: the frequency enhancement of the input, then the family's linear mu and
    log sigma^2 heads (no hidden layer). The heads are built first and the enhancement draws no random
    numbers, so a seed gives the same head weights as the code."""

    def __init__(self, in_features: int, latent: int, enhancement: DCTEnhancement) -> None:
        super().__init__(in_features, latent)
        self.enhance = enhancement

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return super().forward(self.enhance(x))

    def mu(self, x: torch.Tensor, dims: int | None = None) -> torch.Tensor:
        return super().mu(self.enhance(x), dims)


class FrequencyEnhancedVAE(CrossAlignedVAE):
    """The skeleton and text VAEs of FS-VAE (no style latent) and the terms of its loss.

    :attr:`TERMS` (MSEs per element, KLs as positive divergences averaged over the batch, the calibrated
    terms as in the module docstring): ``s_recon``, ``t_recon``, ``kl_s``, ``kl_t``, ``t_cali``,
    ``s_cali``, and the unused MSE cross-reconstructions ``s_from_t``, ``t_from_s``.

    Args:
        feature_dim, text_dim, latent, per_dimension_noise: as :class:`CrossAlignedVAE`.
        config: the enhancement fields and lambda.
    """

    TERMS = ("s_recon", "t_recon", "kl_s", "kl_t", "t_cali", "s_cali", "s_from_t", "t_from_s")

    def __init__(self, feature_dim: int, text_dim: int, latent: int, per_dimension_noise: bool,
                 config: FSVAEConfig) -> None:
        def encoder(d: int, latent_: int) -> Encoder:
            if config.enhancement == "none":
                return Encoder(d, latent_)
            rule = "weights_only" if config.enhancement == "weights_only" else "code"
            return FrequencyEnhancedEncoder(d, latent_, DCTEnhancement(
                d, config.dct_k, config.dct_bands, config.dct_split_freq, config.dct_m, rule))

        super().__init__(feature_dim, text_dim, latent, 0, per_dimension_noise, encoder=encoder)
        self.temperature = float(config.calibration_temperature)

    def forward(  # type: ignore[override]
        self, s: torch.Tensor, t: torch.Tensor, perm: torch.Tensor
    ) -> VAEStep:
        """Skeleton features ``s (B, D)``, their classes' text embeddings ``t (B, D_t)`` and the
        permutation ``perm (B,)`` of the text-side negatives."""
        B, L = s.shape[0], self.latent
        mu_s, logvar_s = self.skeleton_encoder(s)
        mu_t, logvar_t = self.text_encoder(t)
        eps = self.noise(B, s)
        z_s = reparameterize(mu_s, logvar_s, eps[:, :L])
        z_t = reparameterize(mu_t, logvar_t, eps[:, L:])
        # one matmul per decoder: [Dec_s(z_s), Dec_s(z_t)] and [Dec_t(z_t), Dec_t(z_s)]
        s_hat = self.skeleton_decoder(torch.cat([z_s, z_t], dim=0)).view(2, B, -1)
        t_hat = self.text_decoder(torch.cat([z_t, z_s], dim=0)).view(2, B, -1)
        s_sq = (s_hat - s).square().sum(2)  # (2, B) squared distances: [recon, from t]
        t_sq = (t_hat - t).square().sum(2)  # [recon, from s]
        t_neg = (t_hat[1].index_select(0, perm) - t).square().sum(1)  # |t_i - Dec_t(z_s,pi(i))|^2
        t_cali = torch.sigmoid((t_sq[1] - t_neg) / self.temperature).mean()
        s_cali = torch.sigmoid(s_sq[1] / self.temperature).mean()
        s_mse = s_sq.mean(1) / s.shape[1]  # [s_recon, s_from_t]
        t_mse = t_sq.mean(1) / t.shape[1]  # [t_recon, t_from_s]
        kl_s = (mu_s.square() + logvar_s.exp() - logvar_s - 1).sum() * (0.5 / B)  # -code_kl
        kl_t = (mu_t.square() + logvar_t.exp() - logvar_t - 1).sum() * (0.5 / B)
        terms = torch.stack([s_mse[0], t_mse[0], kl_s, kl_t, t_cali, s_cali, s_mse[1], t_mse[1]])
        return VAEStep(terms, mu_s, logvar_s, mu_t, logvar_t, z_s)


@METHODS.register("fs_vae")
class FSVAE(VAEMethod):
    """FS-VAE: frequency-enhanced encoders and the calibrated cross-alignment loss (module docstring)."""

    config_cls = FSVAEConfig

    def __init__(self, config: FSVAEConfig, feature_dim: int, text_dim: int) -> None:
        super().__init__(config, feature_dim, text_dim)
        self.names = FrequencyEnhancedVAE.TERMS
        self._perm_generator = torch.Generator()
        self._perm_generator.manual_seed(config.seed)

    def build_vae(self, feature_dim: int, text_dim: int, style: int) -> FrequencyEnhancedVAE:
        return FrequencyEnhancedVAE(feature_dim, text_dim, self.config.latent_size,
                                    self.config.per_dimension_noise, self.config)

    @property
    def steady_position(self) -> Position:  # the last iteration of a cycle after the first two
        return (2, self.config.iterations_per_epoch - 1, self.config.iterations_per_epoch)

    def schedule(self, position: Position) -> dict[str, float]:
        return fs_vae_schedule(self.config, position[0], position[1])

    def calibration_coefficient(self, f: dict[str, float]) -> float:
        """``lambda alpha cr`` (``lambda alpha`` without the cr gate)."""
        c = self.config
        return c.calibration_temperature * c.calibration_weight * (f["cr"] if c.calibration_gated else 1.0)

    def term_weights(self, f: dict[str, float]) -> list[float]:
        # [s_recon, t_recon, kl_s, kl_t, t_cali, s_cali, s_from_t, t_from_s]
        cal, cross = self.calibration_coefficient(f), self.config.cross_reconstruction_weight * f["cr"]
        return [1.0, 1.0, f["k_fact"], f["k_fact2"], cal, cal, cross, cross]

    def permutation(self, batch: int, position: Position | None) -> torch.Tensor:
        """pi of a step: from the method's generator, keyed by the seed and the batch position when
        there is one (the same permutation at the same step of any run, resumed or not)."""
        g = self._perm_generator
        if position is not None:
            epoch, step, _ = position
            g.manual_seed((self.config.seed * (1 << 40) + epoch * (1 << 20) + step) % (1 << 63))
        return torch.randperm(batch, generator=g)

    def training_step(self, batch: dict) -> dict[str, torch.Tensor]:
        self.check_batch(batch)
        position = batch_position(batch)
        factors = self.schedule(position or self.steady_position)
        s = batch["features"]
        perm = self.permutation(s.shape[0], position).to(s.device)
        out = self.vae(s, self.text_batch(batch), perm)
        weights = self.term_weights(factors)
        loss = out.terms @ torch.tensor(weights, dtype=out.terms.dtype, device=out.terms.device)
        # minus the sigmoid terms' floors (1/2 each): the code's loss shifted by a constant
        loss = loss - self.calibration_coefficient(factors)
        return self.named(loss, out.terms, factors)
