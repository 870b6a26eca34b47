"""CADA-VAE (Schonfeld et al., CVPR 2019) as the SynSE repository runs it for skeletons.

``skelemoa/synse-zsl:cada_vae/cada_vae_training.py`` (docs/methods.md#cada-vae): a skeleton VAE and a
label-text VAE of the same latent size, cross-aligned (each decodes the other's latent), trained on
single random mini-batches ("epochs" of the SynSE code are ``next(iter(train_loader))``) in cycles of
1700 iterations (NTU-60 55/5) or 1900 (the other splits). At iteration i of a cycle::

    k_fact  = max(0.1 (i - 1000) / 3000, 0)
    cr      = [i > cr_start]          # cr_start 1400 (cycles of 1700) or 1500 (1900)
    k_fact2 = k_fact * cr
    L = MSE(s, s_hat) + MSE(t, t_hat) + k_fact KL_s + k_fact2 KL_t
        + cr (MSE(s, Dec_s(z_t)) + MSE(t, Dec_t(z_s))) + 0 * Wasserstein(q_s, q_t)

The Wasserstein distribution-alignment term of the CADA-VAE paper is computed there but weighted 0
(``lw_fact = 0``); ``wasserstein_weight`` restores it (computed only when non-zero). Unseen
classifier and scores as the rest of the family (:mod:`engine.methods.vae_blocks`).
"""

from __future__ import annotations

import dataclasses

import torch

from engine.methods.base import METHODS
from engine.methods.vae_blocks import wasserstein_distance
from engine.methods.vae_method import Position, VAEMethod, VAEMethodConfig


@dataclasses.dataclass(frozen=True)
class CADAVAEConfig(VAEMethodConfig):
    """Defaults: NTU-60 55/5 as in ``cada_vae/README.md`` (``--num_epoch_per_cycle 1700
    --latent_size 100``) and ``cada_vae_training.py`` (Adam 1e-4, batch 64, seed 5).

    Attributes:
        iterations_per_epoch: iterations of a cycle (1700 for NTU-60 55/5, 1900 for the others).
        kl_start, kl_ramp: k_fact = max(0.1 (i - kl_start) / kl_ramp, 0).
        cr_start: cross-alignment (and the text KL) on after this iteration of a cycle; None: the
            code's rule, 1400 for cycles of 1700 and 1500 otherwise.
        wasserstein_weight: the weight of the distribution-alignment term (0 in the code).
    """

    lr: float = 1e-4
    batch_size: int = 64
    epochs: int = 10  # cycles
    seed: int = 5
    latent_size: int = 100
    iterations_per_epoch: int | None = 1700
    kl_start: int = 1000
    kl_ramp: int = 3000
    cr_start: int | None = None
    wasserstein_weight: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.iterations_per_epoch is None:
            raise ValueError("CADA-VAE's cycles are counted in random mini-batches: set iterations_per_epoch")
        if self.kl_ramp <= 0:
            raise ValueError("kl_ramp must be positive")

    @property
    def cross_alignment_start(self) -> int:
        if self.cr_start is not None:
            return self.cr_start
        return 1400 if self.iterations_per_epoch == 1700 else 1500


def cada_vae_schedule(config: CADAVAEConfig, step: int) -> dict[str, float]:
    """k_fact, k_fact2 and cr at iteration ``step`` of a cycle (``train_one_cycle``)."""
    k_fact = max(0.1 * (step - config.kl_start) / config.kl_ramp, 0)
    on = step > config.cross_alignment_start
    return {"k_fact": float(k_fact), "k_fact2": float(k_fact) * on, "cr": 1.0 * on}


@METHODS.register("cada_vae")
class CADAVAE(VAEMethod):
    """CADA-VAE: cross- and distribution-aligned VAEs (the distribution term off, as run by SynSE)."""

    config_cls = CADAVAEConfig

    def __init__(self, config: CADAVAEConfig, feature_dim: int, text_dim: int) -> None:
        super().__init__(config, feature_dim, text_dim)
        if config.wasserstein_weight:
            self.names = self.names + ("wasserstein",)

    @property
    def steady_position(self) -> Position:  # the last iteration of a cycle
        return (2, self.config.iterations_per_epoch - 1, self.config.iterations_per_epoch)

    def schedule(self, position: Position) -> dict[str, float]:
        return cada_vae_schedule(self.config, position[1])

    def term_weights(self, f: dict[str, float]) -> list[float]:
        # [s_recon, s_from_t, t_recon, t_from_s, kl_s, kl_style (none), kl_t]
        return [1.0, f["cr"], 1.0, f["cr"], f["k_fact"], 0.0, f["k_fact2"]]

    def training_step(self, batch: dict) -> dict[str, torch.Tensor]:
        out, factors, _ = self.vae_losses(batch)
        terms, weights = out.terms, self.term_weights(factors)
        if self.config.wasserstein_weight:
            w = wasserstein_distance(out.mu_s, out.logvar_s, out.mu_t, out.logvar_t)
            terms, weights = torch.cat([terms, w.unsqueeze(0)]), weights + [self.config.wasserstein_weight]
        loss = terms @ torch.tensor(weights, dtype=terms.dtype, device=terms.device)
        return self.named(loss, terms, factors)
