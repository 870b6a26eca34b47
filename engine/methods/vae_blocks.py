"""Building blocks of the SynSE family of cross-aligned VAEs: CADA-VAE (as run in the SynSE
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
* the unseen-class classifier is ``MLP([latent, k])`` = Linear + ReLU (ReLU on the logits, 11.2),
  trained with Adam (lr 1e-3) for 300 full-batch steps of cross-entropy on 500 samples per unseen
  class drawn from the text encoder's posterior (:func:`fit_unseen_classifier`).

Speed notes (the reason for the shapes of things below): at NTU scale a training step is a few
hundred microseconds of arithmetic, so Python and autograd overhead per tensor operation
dominates. The mu and log sigma^2 heads of an encoder are one matmul; each decoder decodes its
own and the other modality's latent in one matmul (the two halves of a stacked batch); the noise
of every latent block of a step is one ``randn``; the loss is one dot product of a vector of
terms with a vector of weights.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from engine.methods.base import MethodConfig, ZeroShotMethod
from engine.optim import Adam

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


# --- the unseen-class classifier ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class UnseenClassifier:
    """``MLP([latent, k])``: ``relu(z @ weight.T + bias)``, fitted for one class set. A value: never
    modified after :func:`fit_unseen_classifier` returns it."""

    weight: torch.Tensor  # (k, latent)
    bias: torch.Tensor  # (k,)

    @property
    def num_classes(self) -> int:
        return self.weight.shape[0]

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        w, b = self.weight.to(z.device, z.dtype), self.bias.to(z.device, z.dtype)
        return torch.relu(torch.addmm(b, z, w.t()))


@dataclasses.dataclass(frozen=True)
class ClassifierConfig:
    """How the unseen-class classifier is fitted (both official repositories: ``train_classifier``)."""

    samples_per_class: int = 500
    steps: int = 300
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)  # torch.optim.Adam's defaults, which the code uses
    eps: float = 1e-8


def fit_unseen_classifier(mu: torch.Tensor, logvar: torch.Tensor, seed: int,
                          config: ClassifierConfig = ClassifierConfig(),
                          per_dimension_noise: bool = False) -> UnseenClassifier:
    """Fit ``MLP([latent, k])`` on samples of the text posteriors of ``k`` unseen classes.

    As the official ``train_classifier``: ``samples_per_class`` draws per class,
    ``z = mu_c + eps * sigma_c`` (sample ``r * k + c`` is class ``c``, as ``repeat([500, 1])``
    orders them), Xavier init (gain 0.5, zero bias), full-batch Adam on the cross-entropy of the
    ReLU'd logits, ``steps`` steps. Gradients are written out by hand (a linear layer, a ReLU and a
    softmax), so it needs no autograd and runs under ``torch.inference_mode`` too.

    With one noise scalar per sample (the default quirk) every sample of class ``c`` lies on the
    line ``mu_c + eps * sigma_c``, so ``z @ W.T = (mu_c @ W.T) + eps * (sigma_c @ W.T)``: the
    forward pass and the weight gradient need only ``2k x latent`` matmuls plus ``n x k``
    element-wise work instead of ``n x latent x k`` matmuls. That is the same function up to
    floating-point rounding, and why a 24-class fit takes milliseconds, not seconds.

    Args:
        mu, logvar: ``(k, latent)`` text posterior of each unseen class.
        seed: seeds this fit's own generator (init and samples): the same inputs give bit-identical
            weights in any process.
        per_dimension_noise: draw one scalar per latent dimension (then the dense path is used).

    Returns:
        The fitted classifier (float32, on the device of ``mu``).
    """
    mu, logvar = mu.detach().float(), logvar.detach().float()
    k, latent = mu.shape
    device = mu.device
    g = torch.Generator(device=device).manual_seed(int(seed))
    # the classifier is created (and initialised) before the samples are drawn, as in the code
    weight = torch.empty(k, latent, device=device)
    nn.init.xavier_uniform_(weight, gain=INIT_GAIN, generator=g)
    params = torch.cat([weight, torch.zeros(k, 1, device=device)], dim=1)  # [W | b], one Adam tensor
    r = config.samples_per_class
    n = r * k
    sigma = torch.exp(0.5 * logvar)
    # Layout: logits are (class j, sample) with the softmax over dim 0, which torch's kernels do
    # far faster than a softmax over a short last dimension.
    if per_dimension_noise:
        eps = torch.randn(r, k, latent, generator=g, device=device)
        z1 = torch.cat([(mu + eps * sigma).reshape(n, latent), torch.ones(n, 1, device=device)], dim=1)
        onehot = torch.eye(k, device=device).repeat(1, r)  # (j, sample r * k + c)

        def gradient(p: torch.Tensor) -> torch.Tensor:
            return _ce_relu_grad(p @ z1.t(), onehot) @ z1

    else:
        eps = torch.randn(r, k, generator=g, device=device)  # sample (r, c)
        # rows [mu_c, 1] and [sigma_c, 0]: [W | b] [mu_c, 1] = W mu_c + b, [W | b] [sigma_c, 0] = W sigma_c
        ones = torch.cat([torch.ones(k, 1), torch.zeros(k, 1)]).to(device)
        basis = torch.cat([torch.cat([mu, sigma]), ones], dim=1)  # (2k, latent + 1)
        onehot = torch.eye(k, device=device).view(k, 1, k)

        def gradient(p: torch.Tensor) -> torch.Tensor:
            ab = p @ basis.t()  # (j, 2k)
            pre = torch.addcmul(ab[:, None, :k], eps, ab[:, None, k:])  # (j, r, c): W_j z_rc + b_j
            grad = _ce_relu_grad(pre, onehot)
            # sum over samples of grad [z_rc, 1]
            #   = sum_c (sum_r grad) [mu_c, 1] + (sum_r eps_rc grad) [sigma_c, 0]
            return torch.cat([grad.sum(1), (grad * eps).sum(1)], dim=1) @ basis

    _adam(params, gradient, config, scale=1.0 / n)
    return UnseenClassifier(params[:, :latent].contiguous(), params[:, latent].contiguous())


def _ce_relu_grad(pre: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    """d(sum of cross-entropies)/d(pre) for logits ``relu(pre)`` over dim 0 (the class):
    ``(softmax - onehot)`` where ``pre > 0``, else 0 (ReLU's backward, one fused op)."""
    logits = torch.relu(pre)
    grad = torch.softmax(logits, dim=0).sub_(onehot)
    return torch.ops.aten.threshold_backward(grad, logits, 0)


def _adam(params: torch.Tensor, gradient, config: ClassifierConfig, scale: float) -> None:
    """``config.steps`` steps of Adam on ``params`` in place, as torch.optim.Adam's single-tensor path
    computes them; ``gradient(params) * scale`` is the loss gradient."""
    beta1, beta2 = config.betas
    m = torch.zeros_like(params)
    v = torch.zeros_like(params)
    for step in range(1, config.steps + 1):
        grad = gradient(params).mul_(scale)
        m.lerp_(grad, 1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias1 = 1 - beta1**step
        bias2_sqrt = math.sqrt(1 - beta2**step)
        denom = (v.sqrt() / bias2_sqrt).add_(config.eps)
        params.addcdiv_(m, denom, value=-config.lr / bias1)


# --- the method skeleton every cross-aligned VAE method shares ------------------------------------


@dataclasses.dataclass(frozen=True)
class VAEMethodConfig(MethodConfig):
    """Fields of every SynSE-family method (the subclasses set the paper's defaults).

    Attributes:
        latent_size: the (semantic) latent size ``ls``, which the text VAE shares.
        iterations_per_epoch: None: an epoch is one shuffled pass (SA-DVAE's cycles); an int: that
            many independent random mini-batches (the SynSE repository's "epochs").
        per_dimension_noise: one noise draw per latent dimension instead of the code's one per
            sample (docs/methods.md#reproduction-quirks, quirk 1), in training and in the classifier's samples.
        classifier_samples_per_class, classifier_steps, classifier_lr: the unseen classifier's fit.
    """

    latent_size: int = 100
    iterations_per_epoch: int | None = None
    per_dimension_noise: bool = False
    classifier_samples_per_class: int = 500
    classifier_steps: int = 300
    classifier_lr: float = 1e-3

    def __post_init__(self) -> None:
        if self.latent_size < 1 or self.batch_size < 1 or self.epochs < 0:
            raise ValueError("latent_size and batch_size must be positive and epochs non-negative")
        if self.iterations_per_epoch is not None and self.iterations_per_epoch < 1:
            raise ValueError("iterations_per_epoch must be None or positive")

    @property
    def classifier(self) -> ClassifierConfig:
        return ClassifierConfig(self.classifier_samples_per_class, self.classifier_steps, self.classifier_lr)


def adam(params, lr: float) -> Adam:
    """Adam at ``lr`` with torch's default betas and eps (the official optimizer), from
    :mod:`engine.optim` (the same update without importing ``torch.optim``)."""
    return Adam(params, lr=lr)


#: ``(epoch, step, steps_per_epoch)``: where a batch falls in the schedule.
Position = tuple[int, int, int]


def batch_position(batch: dict) -> Position | None:
    """The schedule position :func:`trainer.loop.fit` puts in every batch, or None outside the loop."""
    if "step" not in batch:
        return None
    return int(batch.get("epoch", 0)), int(batch["step"]), int(batch["steps_per_epoch"])


class VAEMethod(ZeroShotMethod):
    """What SA-DVAE, its ablations and CADA-VAE share: the :class:`CrossAlignedVAE`, a schedule of
    loss weights read from the batch position, the unseen classifier fitted in :meth:`prepare` and
    scores from the skeleton's semantic posterior mean.

    A subclass gives :meth:`schedule` (named factors, Python floats) and :meth:`term_weights` (the
    weight of each of :attr:`CrossAlignedVAE.TERMS`). Outside the loop a batch has no position;
    then :attr:`steady_position` is used: a late step of a late cycle, where every term is on.
    """

    config_cls = VAEMethodConfig
    prepare_is_slow = True
    #: the schedule position used for batches without one (a direct call, not through the loop)
    steady_position: Position = (2, 1699, 1700)

    def __init__(self, config: VAEMethodConfig, feature_dim: int, text_dim: int, style: int = 0) -> None:
        super().__init__(config, feature_dim, text_dim)
        # The official scripts seed (5) and then build the nets: the same config gives the same
        # initial weights here too, whatever the caller's RNG state (which is left untouched).
        with torch.random.fork_rng(devices=[]):  # the modules are built on the CPU
            torch.default_generator.manual_seed(config.seed)
            self.vae = self.build_vae(feature_dim, text_dim, style)
            self.build_modules()
        #: names of the terms a step returns (None: a term that is always 0 here, not reported)
        self.names: tuple[str | None, ...] = tuple(
            None if (n == "kl_style" and not style) else n for n in CrossAlignedVAE.TERMS)
        self._text_source: torch.Tensor | None = None
        self._text_version = -1
        self._text: torch.Tensor | None = None

    def build_vae(self, feature_dim: int, text_dim: int, style: int) -> CrossAlignedVAE:
        """The VAE pair (built from the seeded stream, first)."""
        return CrossAlignedVAE(feature_dim, text_dim, self.config.latent_size, style,
                               self.config.per_dimension_noise)

    def build_modules(self) -> None:
        """Add modules beyond the VAE pair (initialised from the same seeded stream, after it)."""

    # -- training ---------------------------------------------------------------------------------

    def schedule(self, position: Position) -> dict[str, float]:
        raise NotImplementedError

    def term_weights(self, factors: dict[str, float]) -> list[float]:
        raise NotImplementedError

    def configure_optimizers(self) -> list[Adam]:
        """One Adam over the four VAE nets, as every official script."""
        return [adam(self.vae.parameters(), self.config.lr)]

    def text_batch(self, batch: dict) -> torch.Tensor:
        """The batch's class embeddings, L2-normalised per class (cached while the same tensor comes)."""
        source = batch["class_embeddings"]
        if source is not self._text_source or source._version != self._text_version:
            self._text = source / torch.norm(source, dim=1, keepdim=True)
            self._text_source, self._text_version = source, source._version
        return self._text[batch["labels"]]

    def vae_losses(self, batch: dict) -> tuple[VAEStep, dict[str, float], Position | None]:
        """One forward pass of the VAE pair on a batch, and the schedule factors at its position."""
        self.check_batch(batch)
        position = batch_position(batch)
        factors = self.schedule(position or self.steady_position)
        return self.vae(batch["features"], self.text_batch(batch)), factors, position

    def named(self, loss: torch.Tensor, terms: torch.Tensor,
              factors: dict[str, float]) -> dict[str, torch.Tensor]:
        """The dict a training step returns: ``loss``, each term of :attr:`names` (detached) and each
        schedule factor."""
        out = {"loss": loss}
        out.update((n, v) for n, v in zip(self.names, terms.detach().unbind()) if n is not None)
        out.update(zip(factors, torch.tensor(list(factors.values())).unbind()))
        return out

    # -- zero-shot --------------------------------------------------------------------------------

    def prepare(self, class_embeddings: torch.Tensor) -> UnseenClassifier:
        """Fit the unseen-class classifier on the text posteriors of a class set (milliseconds)."""
        device = self.vae.text_encoder.heads.weight.device
        mu, logvar = self.vae.text_posterior(class_embeddings.to(device, torch.float32))
        return fit_unseen_classifier(mu, logvar, self.config.seed, self.config.classifier,
                                     self.config.per_dimension_noise)

    def scores(self, features: torch.Tensor, prepared: UnseenClassifier) -> torch.Tensor:
        """``(N, K)``: the classifier's (ReLU'd) logits of the skeleton's semantic posterior mean
        (computed where the method's weights are, returned on the features' device)."""
        device = self.vae.skeleton_encoder.heads.weight.device
        return prepared(self.vae.semantic_mu(features.to(device))).to(features.device)
