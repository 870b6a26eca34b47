"""SA-DVAE (Li et al., ECCV 2024, arXiv 2407.13460) and the two ablations of its paper.

Semantic Alignment via Disentangled VAEs, as ``pha123661/SA-DVAE`` (``model.py``, ``train.py``)
implements it (docs/methods.md#sa-dvae):

* a skeleton VAE whose latent is split into a semantic part z_r (the first ``ls`` dimensions,
  aligned with the text) and a style part z_v (the last ``ils``), decoded from ``[z_r, z_v]``; a text
  VAE with latent z_t of size ``ls``; cross-alignment decodes the skeleton from ``[z_t, z_v]`` and the
  text from z_r (:class:`~engine.methods.vae_blocks.CrossAlignedVAE`);
* a discriminator on ``[z, z_v]`` that tells real pairs from pairs whose halves were permuted
  independently across the batch; its mean output on the real skeleton pairs is the total-correlation
  (TC) penalty that pushes z_r and z_v towards independence;
* per step i of cycle c (N steps a cycle): ``L = MSE(s, s_hat) + MSE(t, t_hat) + beta1 (KL_r + KL_v)
  + beta2 KL_t + cr (MSE(s, Dec_s([z_t, z_v])) + MSE(t, Dec_t(z_r))) + beta2 mean(D([z_r, z_v]))``
  with the schedules of :func:`sa_dvae_schedule`;
* the discriminator is stepped every ``dis_step`` iterations (the code's countdown, restarted each
  cycle: steps ``dis_step - 1``, ``2 dis_step - 1``, ...) on fresh samples, its BCE loss scaled by
  beta2 -- which is 0 in cycles 0 and 1, so there it takes Adam steps with zero gradients: its
  weights do not move but Adam's step count does, as in the code;
* zero-shot: an ``MLP([ls, k])`` fitted on text-posterior samples of the unseen classes, applied to
  the skeleton encoder's semantic mean.

``retain_graph``: the code back-propagates the discriminator loss with ``retain_graph=True`` through
the (non-detached) encoder outputs, then clears those encoder gradients with ``optimizer.zero_grad()``
before the VAE loss's backward, so the discriminator loss never trains the VAE. Here the
discriminator's inputs are built from detached posteriors instead: the same updates, without keeping
the graph. Likewise the TC penalty's backward in the code also writes gradients into the
discriminator, which its next ``zero_grad`` discards; here the penalty uses the discriminator's
weights detached.

Ablations (the paper's ablation study, trained with SA-DVAE's hyperparameters):

* ``sa_dvae_fd``: feature disentanglement (z_r / z_v) without the discriminator and TC penalty;
* ``naive_alignment``: no z_v and no discriminator: plain cross-aligned VAEs with SA-DVAE's
  schedules and full-pass cycles.

Where the paper and the code differ, the code is the default: ``beta_schedule="linear"`` is the
code's ``--beta_x/--beta_y`` option; ``beta_schedule="cyclical"`` is the paper's description of
cyclical annealing read as Fu et al. (NAACL 2019): within each cycle the weight rises linearly to its
maximum over the first ``cyclical_ratio`` of the cycle, then stays (constants not in the code,
hence explicit fields; unverified against the paper's text).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from engine.methods.base import METHODS
from engine.methods.vae_blocks import VAEStep, gaussian_noise, init_linear_
from engine.methods.vae_method import Position, VAEMethod, VAEMethodConfig, adam
from engine.optim import Adam

BETA_SCHEDULES = ("code", "linear", "cyclical")

# SynSE's cycle constants (KL ramp from iteration 1000 over 3000 of a 1700-iteration cycle), which
# SA-DVAE rescales to a cycle of N full-pass steps: N / 1700 * 1000 and N / 1700 * 3000.
_SYNSE_CYCLE, _SYNSE_KL_START, _SYNSE_KL_RAMP = 1700, 1000, 3000


@dataclasses.dataclass(frozen=True)
class NaiveAlignmentConfig(VAEMethodConfig):
    """SA-DVAE's training setup without z_v and the discriminator. Defaults: the NTU-60 SynSE-split
    script (``pha123661/SA-DVAE:scripts/train_eval_synse_split.sh``).

    Attributes:
        beta_schedule: ``"code"`` (default), ``"linear"`` (``--beta_x/--beta_y``) or ``"cyclical"``
            (the paper's description); see :func:`sa_dvae_schedule`.
        beta_x, beta_y: the linear / cyclical schedules' scales of beta1 and beta2.
        cyclical_ratio: fraction of a cycle over which the cyclical schedule rises.
    """

    lr: float = 3.389022400898623e-05
    batch_size: int = 32
    epochs: int = 10  # cycles (--num_cycles 10), each one shuffled pass over the training features
    seed: int = 5
    latent_size: int = 160  # ls
    beta_schedule: str = "code"
    beta_x: float | None = None
    beta_y: float | None = None
    cyclical_ratio: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.iterations_per_epoch is not None:
            raise ValueError("SA-DVAE's cycles are full passes over the data: "
                             "iterations_per_epoch must be None")
        if self.beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"beta_schedule must be one of {', '.join(BETA_SCHEDULES)}, "
                             f"got {self.beta_schedule!r}")
        if self.beta_schedule != "code" and (self.beta_x is None or self.beta_y is None):
            raise ValueError(f"beta_schedule {self.beta_schedule!r} needs both beta_x and beta_y")
        if not 0 < self.cyclical_ratio <= 1:
            raise ValueError("cyclical_ratio must be in (0, 1]")


@dataclasses.dataclass(frozen=True)
class SADVAEFDConfig(NaiveAlignmentConfig):
    """Feature disentanglement: adds the style latent z_v (``ils``)."""

    style_size: int = 8  # ils

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.style_size < 1:
            raise ValueError("style_size must be at least 1 (naive_alignment is the method without style)")


@dataclasses.dataclass(frozen=True)
class SADVAEConfig(SADVAEFDConfig):
    """SA-DVAE: adds the discriminator and its TC penalty."""

    dis_step: int = 5  # the discriminator trains every dis_step iterations

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dis_step < 1:
            raise ValueError("dis_step must be at least 1")


def sa_dvae_schedule(config: NaiveAlignmentConfig, epoch: int, step: int,
                     steps_per_epoch: int) -> dict[str, float]:
    """beta1 (KL of z_r and z_v), beta2 (KL of z_t, TC penalty, discriminator loss) and cr
    (cross-alignment) at step ``step`` of cycle ``epoch`` (0-based), N = ``steps_per_epoch``.

    ``"code"`` (``train.py``)::

        beta1 = max(0.1 (i - N/1700 * 1000) / (N/1700 * 3000), 0)
        beta2 = max(0.1 (i - int(0.8 N)) / (N/1700 * 3000), 0) * [c > 1]
        cr    = [i > int(0.8 N)]

    ``"linear"`` (``--beta_x/--beta_y``): 0 up to ``int(N/3)``, then ``1.5 (i/N - 1/3) beta_x`` and
    ``... beta_y`` (no cycle gate, as in the code). ``"cyclical"``: ``beta_x min(1, (i/N) / R)`` and
    ``beta_y min(1, (i/N) / R)`` with R = ``cyclical_ratio``. cr is the code's in every schedule.
    """
    i, n = step, steps_per_epoch
    cr_iter = int(0.8 * n)
    cr = 1.0 if i > cr_iter else 0.0
    if config.beta_schedule == "code":
        beta1 = max(0.1 * (i - (n / _SYNSE_CYCLE * _SYNSE_KL_START)) / (n / _SYNSE_CYCLE * _SYNSE_KL_RAMP), 0)
        beta2 = max(0.1 * (i - cr_iter) / (n / _SYNSE_CYCLE * _SYNSE_KL_RAMP), 0) * (epoch > 1)
    elif config.beta_schedule == "linear":
        if i <= int(n / 3):
            beta1 = beta2 = 0.0
        else:
            beta1 = 1.5 * (float(i) / n - 1 / 3) * config.beta_x
            beta2 = 1.5 * (float(i) / n - 1 / 3) * config.beta_y
    else:  # cyclical
        ramp = min(1.0, (i / n) / config.cyclical_ratio)
        beta1, beta2 = ramp * config.beta_x, ramp * config.beta_y
    return {"beta1": float(beta1), "beta2": float(beta2), "cr": cr}


class Discriminator(nn.Module):
    """``Discriminator(ls + ils)``: Linear(d, d // 4), ReLU, Linear(d // 4, 1), Sigmoid (``model.py``),
    the family's init. Input: ``[z, z_v]`` pairs."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim < 4:
            raise ValueError(f"the discriminator needs ls + ils >= 4, got {dim}")
        self.hidden = init_linear_(nn.Linear(dim, dim // 4))
        self.out = init_linear_(nn.Linear(dim // 4, 1))

    def forward(self, x: torch.Tensor, frozen: bool = False) -> torch.Tensor:
        """P(real) ``(B, 1)``; ``frozen``: with detached weights (the VAE's TC penalty)."""
        w1, b1, w2, b2 = self.hidden.weight, self.hidden.bias, self.out.weight, self.out.bias
        if frozen:
            w1, b1, w2, b2 = w1.detach(), b1.detach(), w2.detach(), b2.detach()
        return torch.sigmoid(F.linear(torch.relu(F.linear(x, w1, b1)), w2, b2))


class _SADVAEFamily(VAEMethod):
    """SA-DVAE with its components switched by the registered class (style latent, discriminator)."""

    config_cls = NaiveAlignmentConfig
    uses_style: ClassVar[bool] = False
    uses_discriminator: ClassVar[bool] = False

    def __init__(self, config: NaiveAlignmentConfig, feature_dim: int, text_dim: int) -> None:
        super().__init__(config, feature_dim, text_dim, style=config.style_size if self.uses_style else 0)
        self._optimizers: list[Adam] | None = None
        self._bce_targets: torch.Tensor | None = None
        self._last_dis: dict[str, torch.Tensor] = {}

    def build_modules(self) -> None:
        # created after the four VAE nets, as in train.py
        dim = self.vae.latent + self.vae.style
        self.discriminator = Discriminator(dim) if self.uses_discriminator else None

    def schedule(self, position: Position) -> dict[str, float]:
        return sa_dvae_schedule(self.config, *position)

    def term_weights(self, f: dict[str, float]) -> list[float]:
        # [s_recon, s_from_t, t_recon, t_from_s, kl_s, kl_style, kl_t]
        b1, b2, cr = f["beta1"], f["beta2"], f["cr"]
        return [1.0, cr, 1.0, cr, b1, b1, b2]

    def training_step(self, batch: dict) -> dict[str, torch.Tensor]:
        out, factors, _ = self.vae_losses(batch)
        weights = torch.tensor(self.term_weights(factors), dtype=out.terms.dtype, device=out.terms.device)
        loss = out.terms @ weights
        return self.named(loss, out.terms, factors)


@METHODS.register("naive_alignment")
class NaiveAlignment(_SADVAEFamily):
    """SA-DVAE's "naive alignment" ablation: cross-aligned VAEs, no style latent, no discriminator."""

    config_cls = NaiveAlignmentConfig


@METHODS.register("sa_dvae_fd")
class SADVAEFD(_SADVAEFamily):
    """SA-DVAE's "feature disentanglement" ablation: z_r / z_v, no discriminator or TC penalty."""

    config_cls = SADVAEFDConfig
    uses_style = True


@METHODS.register("sa_dvae")
class SADVAE(_SADVAEFamily):
    """SA-DVAE: disentangled skeleton VAE + text VAE + total-correlation discriminator.

    Steps its own two optimizers (VAE, discriminator) inside :meth:`training_step`; a fit starts
    them afresh (at epoch 0, step 0), as the loop does for the methods it optimises. Outside the
    loop (a batch without ``step``) the discriminator is stepped on every call. The losses carry
    the discriminator's loss and accuracy at its latest step (``dis``, ``dis_acc``) once it has had
    one.
    """

    config_cls = SADVAEConfig
    uses_style = True
    uses_discriminator = True
    manual_optimization = True

    def __init__(self, config: SADVAEConfig, feature_dim: int, text_dim: int) -> None:
        super().__init__(config, feature_dim, text_dim)
        self.names = self.names + ("tc",)

    def configure_optimizers(self) -> list[Adam]:
        """[VAE Adam, discriminator Adam], both at the config's lr (``train.py``)."""
        return super().configure_optimizers() + [adam(self.discriminator.parameters(), self.config.lr)]

    @property
    def optimizers(self) -> list[Adam]:
        """The optimizers this method steps (made on first use, kept across epochs)."""
        if self._optimizers is None:
            self._optimizers = self.configure_optimizers()
        return self._optimizers

    def training_step(self, batch: dict) -> dict[str, torch.Tensor]:
        out, factors, position = self.vae_losses(batch)
        if position is not None and position[:2] == (0, 0):
            self._optimizers, self._last_dis = None, {}  # a new fit
        vae_opt, dis_opt = self.optimizers
        beta2 = factors["beta2"]
        # the code's countdown from dis_step, restarted each cycle: steps dis_step - 1, 2 dis_step - 1, ...
        if position is None or (position[1] + 1) % self.config.dis_step == 0:
            self._last_dis = self.discriminator_step(out, beta2, dis_opt)
        tc = self.discriminator(out.z_s, frozen=True).mean()
        terms = torch.cat([out.terms, tc.unsqueeze(0)])
        weights = self.term_weights(factors) + [beta2]
        loss = terms @ torch.tensor(weights, dtype=terms.dtype, device=terms.device)
        vae_opt.zero_grad(set_to_none=True)
        loss.backward()
        vae_opt.step()
        losses = self.named(loss.detach(), terms, factors)
        losses.update(self._last_dis)
        return losses

    def discriminator_step(self, out: VAEStep, beta2: float,
                           optimizer: Adam) -> dict[str, torch.Tensor]:
        """One discriminator update (``train.py``), on fresh samples of the step's posteriors.

        Real: ``[z_r, z_v]`` and ``[z_t, z_v]``; fake: the same pairs with each half permuted
        independently across the batch (``permute_dims``). Loss: BCE averaged over the four blocks
        (= the code's mean of the skeleton and text branches), times beta2. The logged accuracy is
        over all four blocks (the code's counts only the text branch).
        """
        L, S, B = self.vae.latent, self.vae.style, out.z_s.shape[0]
        with torch.no_grad():
            mu_s, sd_s = out.mu_s.detach(), torch.exp(0.5 * out.logvar_s.detach())
            mu_t, sd_t = out.mu_t.detach(), torch.exp(0.5 * out.logvar_t.detach())
            # fresh draws, as the code's four reparameterize calls: z_r and z_v for the skeleton
            # branch, z_t and another z_v for the text branch
            columns = self.vae._noise_columns[: L + S]
            noise = [gaussian_noise(B, (L, S), self.config.per_dimension_noise, columns=columns,
                                    device=mu_s.device, dtype=mu_s.dtype) for _ in range(2)]
            z_s = torch.addcmul(mu_s, noise[0], sd_s)
            z_t = torch.addcmul(mu_t, noise[1][:, :L], sd_t)
            z_v = torch.addcmul(mu_s[:, L:], noise[1][:, L:], sd_s[:, L:])
            perm = torch.rand(4, B, device=mu_s.device).argsort(dim=1)  # four independent permutations
            x = torch.empty(4, B, L + S, dtype=z_s.dtype, device=z_s.device)
            x[0] = z_s
            x[1, :, :L], x[1, :, L:] = z_s[perm[0], :L], z_s[perm[1], L:]
            x[2, :, :L], x[2, :, L:] = z_t, z_v
            x[3, :, :L], x[3, :, L:] = z_t[perm[2]], z_v[perm[3]]
            targets = self._targets(B, x.device)
        pred = self.discriminator(x.view(4 * B, L + S)).view(4, B, 1)
        loss = F.binary_cross_entropy(pred, targets)
        optimizer.zero_grad(set_to_none=True)
        (beta2 * loss).backward()
        optimizer.step()
        with torch.no_grad():
            acc = ((pred > 0.5) == (targets > 0.5)).float().mean()
        return {"dis": loss.detach(), "dis_acc": acc}

    def _targets(self, batch: int, device: torch.device) -> torch.Tensor:
        """BCE targets of the four blocks (real, fake, real, fake), cached per batch size."""
        t = self._bce_targets
        if t is None or t.shape[1] != batch or t.device != device:
            t = torch.tensor([1.0, 0.0, 1.0, 0.0], device=device).view(4, 1, 1).expand(4, batch, 1)
            self._bce_targets = t
        return t
