"""Network blocks of the SynSE family of cross-aligned VAEs: CADA-VAE (as run in the SynSE
repository), SA-DVAE and its ablations, and later FS-VAE and SynSE itself.

Follows ``skelemoa/synse-zsl:synse/synse.py`` and ``pha123661/SA-DVAE:model.py``, ``train.py``
(docs/methods.md#reproduction-quirks), quirks included:

* an :class:`Encoder` has no hidden layer: two linear heads give mu and log sigma^2;
* a :class:`Decoder` is Linear + ReLU, the ReLU on the output (docs/methods.md#reproduction-quirks, quirk 2);
* every Linear starts Xavier-uniform with gain 0.5 and a zero bias;
* :func:`gaussian_noise` draws **one scalar per sample** (per latent block), broadcast over the
  block's dimensions (docs/methods.md#reproduction-quirks, quirk 1); one draw per dimension is an option;
* :func:`code_kl` is the code's ``KL_divergence``, which is **minus** the KL divergence averaged over
  the batch (docs/methods.md#reproduction-quirks, quirk 4); the losses here add ``-code_kl``, which is what ``loss -=
  f * KL`` does;

Speed notes (the reason for the shapes of things below): at NTU scale a training step is a few
hundred microseconds of arithmetic, so Python and autograd overhead per tensor operation
dominates. The mu and log sigma^2 heads of an encoder are one matmul; each decoder decodes its
own and the other modality's latent in one matmul (the two halves of a stacked batch); the noise
of every latent block of a step is one ``randn``; the loss is one dot product of a vector of
terms with a vector of weights.

The unseen-class classifier is in :mod:`engine.methods.unseen_classifier`, the method skeleton the
family shares in :mod:`engine.methods.vae_method`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

#: Xavier-uniform gain of every Linear in the SynSE family (``weights_init`` in both repositories).
INIT_GAIN = 0.5


def init_linear_(linear: nn.Linear, row_blocks: Sequence[int] | None = None, generator=None) -> nn.Linear:
    """The family's init: Xavier-uniform weights with gain 0.5, zero bias.

    Args:
        linear: the layer, initialised in place.
        row_blocks: output sizes of layers stored stacked in this one (an encoder's two heads): each
            block gets the bound of a layer of its own shape, as two separate Linears would.
        generator: random source (default: torch's global one, as the official code).
    """
    with torch.no_grad():
        blocks = row_blocks or (linear.out_features,)
        for w in linear.weight.split(list(blocks), dim=0):
            nn.init.xavier_uniform_(w, gain=INIT_GAIN, generator=generator)
        if linear.bias is not None:
            linear.bias.zero_()
    return linear


class Encoder(nn.Module):
    """``Encoder([d_in, d_latent])`` of the SynSE family: no hidden layer, linear mu and log sigma^2
    heads, stored as one Linear (rows ``[:d_latent]`` the mu head, ``[d_latent:]`` the log sigma^2
    head) so that both are one matmul.

    Args:
        in_features: input size; latent: latent size (for SA-DVAE's skeleton encoder, semantic +
            style: the first ``ls`` dimensions are z_r, the last ``ils`` z_v).
    """

    def __init__(self, in_features: int, latent: int) -> None:
        super().__init__()
        self.latent = int(latent)
        self.heads = init_linear_(nn.Linear(in_features, 2 * self.latent), (self.latent, self.latent))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.heads(x).split(self.latent, dim=-1)
        return mu, logvar

    def mu(self, x: torch.Tensor, dims: int | None = None) -> torch.Tensor:
        """The posterior mean only (its first ``dims`` dimensions): what zero-shot scoring uses."""
        d = self.latent if dims is None else dims
        return F.linear(x, self.heads.weight[:d], self.heads.bias[:d])


class Decoder(nn.Module):
    """``Decoder([d_latent, d_out])``: Linear + ReLU (the ReLU on the reconstruction, a quirk)."""

    def __init__(self, latent: int, out_features: int) -> None:
        super().__init__()
        self.linear = init_linear_(nn.Linear(latent, out_features))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(z))


def noise_columns(blocks: Sequence[int]) -> torch.Tensor:
    """For each latent dimension, the index of the block it belongs to (``[0]*b0 + [1]*b1 + ...``)."""
    return torch.repeat_interleave(torch.arange(len(blocks)), torch.as_tensor(list(blocks)))


def gaussian_noise(batch: int, blocks: Sequence[int], per_dimension: bool = False, *, columns=None,
                   generator=None, device=None, dtype=None) -> torch.Tensor:
    """Standard normal noise ``(batch, sum(blocks))`` for the reparameterisation trick.

    By default one scalar per sample and block, the same for every dimension of that block
    (``torch.FloatTensor(B, 1).normal_().expand(...)`` in both official repositories; SA-DVAE calls
    ``reparameterize`` separately for z_r and z_v, so each gets its own scalar). With
    ``per_dimension`` every entry is its own draw (the textbook VAE).

    Args:
        columns: :func:`noise_columns` of ``blocks``, precomputed (saves an op per step).
    """
    if per_dimension:
        return torch.randn(batch, sum(blocks), generator=generator, device=device, dtype=dtype)
    eps = torch.randn(batch, len(blocks), generator=generator, device=device, dtype=dtype)
    if len(blocks) == 1:
        return eps.expand(batch, blocks[0])
    cols = noise_columns(blocks) if columns is None else columns
    return eps.index_select(1, cols.to(eps.device))


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """``mu + eps * exp(logvar / 2)``."""
    return torch.addcmul(mu, eps, torch.exp(0.5 * logvar))


def code_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The official ``KL_divergence``: ``0.5 * sum(1 + logvar - mu^2 - exp(logvar)) / B``.

    This is **minus** KL(q || N(0, I)) averaged over the batch (docs/methods.md#reproduction-quirks); the
    official losses subtract it. The methods here report ``-code_kl`` as ``kl_*`` and add it.
    """
    return 0.5 * torch.sum(-(mu**2) + 1 + logvar - torch.exp(logvar)) / mu.shape[0]


def wasserstein_distance(mu1, logvar1, mu2, logvar2) -> torch.Tensor:
    """CADA-VAE's distribution-alignment term as the SynSE repository computes it: the sum over the
    batch of the 2-Wasserstein distance between diagonal Gaussians (weighted 0 there)."""
    d_mu = ((mu1 - mu2) ** 2).sum(1)
    d_sigma = ((torch.exp(0.5 * logvar1) - torch.exp(0.5 * logvar2)) ** 2).sum(1)
    return torch.sqrt(d_mu + d_sigma).sum()


class VAEStep(NamedTuple):
    """What one forward pass of :class:`CrossAlignedVAE` gives.

    Attributes:
        terms: ``(len(TERMS),)`` the loss terms in :attr:`CrossAlignedVAE.TERMS` order (KL terms as
            positive divergences), differentiable.
        mu_s, logvar_s: skeleton posterior ``(B, latent + style)``.
        mu_t, logvar_t: text posterior ``(B, latent)``.
        z_s: the skeleton sample ``[z_r, z_v]`` used in the terms (differentiable).
    """

    terms: torch.Tensor
    mu_s: torch.Tensor
    logvar_s: torch.Tensor
    mu_t: torch.Tensor
    logvar_t: torch.Tensor
    z_s: torch.Tensor


class CrossAlignedVAE(nn.Module):
    """A skeleton VAE and a text VAE that decode each other's latents (CADA-VAE's cross-alignment).

    The skeleton latent is ``[z_r (latent), z_v (style)]``: with ``style = 0`` this is CADA-VAE's
    pair of VAEs (and SA-DVAE's "naive alignment" ablation); with ``style > 0`` it is SA-DVAE's
    disentangled skeleton VAE, whose decoder reconstructs from ``[z_r, z_v]`` and, for the
    cross-alignment, from ``[z_t, z_v]`` (the text latent standing in for the semantic part).

    The terms (:attr:`TERMS`), each per-element mean squared errors or batch-mean KL divergences:

    * ``s_recon`` MSE(s, Dec_s([z_r, z_v])), ``s_from_t`` MSE(s, Dec_s([z_t, z_v])) (cross-alignment);
    * ``t_recon`` MSE(t, Dec_t(z_t)), ``t_from_s`` MSE(t, Dec_t(z_r)) (cross-alignment);
    * ``kl_s`` KL of z_r, ``kl_style`` KL of z_v (0 without style), ``kl_t`` KL of z_t.

    Args:
        feature_dim, text_dim: input sizes; latent: semantic latent size (``ls``); style: style
            latent size (``ils``, 0 for none).
        per_dimension_noise: one noise draw per latent dimension instead of one per sample.
        encoder: builds each encoder from ``(in_features, latent)`` (FS-VAE's are frequency-enhanced).
    """

    TERMS = ("s_recon", "s_from_t", "t_recon", "t_from_s", "kl_s", "kl_style", "kl_t")

    def __init__(self, feature_dim: int, text_dim: int, latent: int, style: int = 0,
                 per_dimension_noise: bool = False,
                 encoder: Callable[[int, int], Encoder] = Encoder) -> None:
        super().__init__()
        if latent < 1 or style < 0:
            raise ValueError(f"latent must be >= 1 and style >= 0, got {latent} and {style}")
        self.latent, self.style = int(latent), int(style)
        self.per_dimension_noise = bool(per_dimension_noise)
        # Creation order = the official one (sequence encoder, sequence decoder, text encoder, text
        # decoder), so that a given global seed draws the same initial weights.
        self.skeleton_encoder = encoder(feature_dim, latent + style)
        self.skeleton_decoder = Decoder(latent + style, feature_dim)
        self.text_encoder = encoder(text_dim, latent)
        self.text_decoder = Decoder(latent, text_dim)
        # noise blocks of one step: z_r, z_v (SA-DVAE reparameterises them separately), z_t
        self.noise_blocks = (latent, style, latent) if style else (latent, latent)
        self.register_buffer("_noise_columns", noise_columns(self.noise_blocks), persistent=False)
        # sums the per-dimension KL of [z_r, z_v] into its two blocks with one matmul
        blocks = torch.zeros(latent + style, 2)
        blocks[:latent, 0] = 1
        blocks[latent:, 1] = 1
        self.register_buffer("_kl_blocks", blocks, persistent=False)

    def noise(self, batch: int, like: torch.Tensor) -> torch.Tensor:
        """``(batch, 2 * latent + style)`` noise of one step: ``[z_r, z_v | z_t]`` columns."""
        return gaussian_noise(batch, self.noise_blocks, self.per_dimension_noise, columns=self._noise_columns,
                              device=like.device, dtype=like.dtype)

    def forward(self, s: torch.Tensor, t: torch.Tensor) -> VAEStep:
        """Skeleton features ``s (B, D)`` and their classes' text embeddings ``t (B, D_t)``."""
        B, L, S = s.shape[0], self.latent, self.style
        mu_s, logvar_s = self.skeleton_encoder(s)
        mu_t, logvar_t = self.text_encoder(t)
        eps = self.noise(B, s)
        z_s = reparameterize(mu_s, logvar_s, eps[:, : L + S])  # [z_r, z_v]
        z_t = reparameterize(mu_t, logvar_t, eps[:, L + S :])
        z_r = z_s[:, :L]
        # one matmul per decoder: [z_r, z_v] and [z_t, z_v]; z_t and z_r
        z_t_v = torch.cat([z_t, z_s[:, L:]], dim=1) if S else z_t
        s_hat = self.skeleton_decoder(torch.cat([z_s, z_t_v], dim=0)).view(2, B, -1)
        t_hat = self.text_decoder(torch.cat([z_t, z_r], dim=0)).view(2, B, -1)
        s_err = (s_hat - s).square().mean(dim=(1, 2))  # [s_recon, s_from_t]
        t_err = (t_hat - t).square().mean(dim=(1, 2))  # [t_recon, t_from_s]
        # -code_kl, per block: 0.5 * sum(mu^2 + exp(logvar) - 1 - logvar) / B
        kl_s = (mu_s.square() + logvar_s.exp() - logvar_s - 1).sum(0) @ self._kl_blocks
        kl_t = (mu_t.square() + logvar_t.exp() - logvar_t - 1).sum().unsqueeze(0)
        kl = torch.cat([kl_s, kl_t]) * (0.5 / B)
        terms = torch.cat([s_err, t_err, kl])
        return VAEStep(terms, mu_s, logvar_s, mu_t, logvar_t, z_s)

    @torch.no_grad()
    def semantic_mu(self, features: torch.Tensor) -> torch.Tensor:
        """The skeleton posterior mean of the semantic part (the style dimensions dropped): the input
        of the unseen-class classifier."""
        return self.skeleton_encoder.mu(features, self.latent)

    @torch.no_grad()
    def text_posterior(self, class_embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """mu, log sigma^2 of the text encoder for class embeddings, L2-normalised per class first
        (every official implementation normalises the text features)."""
        t = class_embeddings / torch.norm(class_embeddings, dim=1, keepdim=True)
        return self.text_encoder(t)
