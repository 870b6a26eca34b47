"""The method skeleton every cross-aligned VAE method of the SynSE family shares (SA-DVAE and its
ablations, CADA-VAE, FS-VAE): the config fields, the schedule position read from each batch, the
unseen classifier fitted in ``prepare`` and scores from the skeleton's semantic posterior mean.
"""

from __future__ import annotations

import dataclasses

import torch

from engine.methods.base import MethodConfig, ZeroShotMethod
from engine.methods.unseen_classifier import ClassifierConfig, UnseenClassifier, fit_unseen_classifier
from engine.methods.vae_blocks import (
    CrossAlignedVAE,
    VAEStep,
)
from engine.optim import Adam

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
