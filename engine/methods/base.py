"""The zero-shot method interface: what every alignment method (SA-DVAE, CADA-VAE, FS-VAE, ...) is.

A method aligns skeleton features ``f_x (N, D)`` (from a skeleton encoder) with class text
embeddings ``f_y (K, D_t)`` (from a text encoder). It owns the maths; ``trainer/loop.py`` owns the
iteration (the project's style, the Lightning ``training_step`` split):

* :meth:`ZeroShotMethod.training_step` takes one batch and returns named losses, one of them
  ``"loss"``. Methods with several optimizers (a VAE and its discriminator) set
  :attr:`manual_optimization` and step their own optimizers inside it.
* :meth:`ZeroShotMethod.prepare` turns the text embeddings of a class set into whatever the method
  scores with (the embeddings themselves for similarity methods; a freshly fitted unseen-class
  classifier for SA-DVAE's ``C_u``). It may take seconds, so the streaming recognizer runs it in the
  background. Its result must not be modified afterwards: the recognizer swaps it in whole.
* :meth:`ZeroShotMethod.scores` gives ``(N, K)`` logits of features against a prepared class set.

Batches are dicts of tensors: ``"features" (B, D)`` float, ``"labels" (B,)`` long indices into
``"class_embeddings" (K_seen, D_t)``, the embeddings of the training classes.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
from torch import nn

from engine.optim import Adam
from engine.registry import Registry

# Every method module registers itself with @METHODS.register; engine.methods imports them all.
METHODS: Registry = Registry("method")


@dataclasses.dataclass(frozen=True)
class MethodConfig:
    """Fields every method's config has. Subclasses add theirs (with the paper's defaults)."""

    lr: float = 1e-3  # Adam learning rate
    batch_size: int = 64
    epochs: int = 50  # passes over the training features
    seed: int = 5  # SynSE / SA-DVAE / FS-VAE all seed 5

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> MethodConfig:
        d = dict(d or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names - {"source"})
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {', '.join(unknown)}")
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in names})


class ZeroShotMethod(nn.Module):
    """Base class of every zero-shot alignment method.

    Args:
        config: the method's config (an instance of :attr:`config_cls`).
        feature_dim: D of the skeleton features.
        text_dim: D_t of the text embeddings.
    """

    config_cls: ClassVar[type[MethodConfig]] = MethodConfig
    #: True when :meth:`prepare` fits something (seconds) rather than just storing embeddings.
    prepare_is_slow: ClassVar[bool] = False
    #: True when :meth:`training_step` steps its own optimizers (several optimizers).
    manual_optimization: ClassVar[bool] = False

    def __init__(self, config: MethodConfig, feature_dim: int, text_dim: int) -> None:
        super().__init__()
        if not isinstance(config, self.config_cls):
            raise TypeError(f"{type(self).__name__} needs a {self.config_cls.__name__}, got {type(config).__name__}")
        self.config = config
        self.feature_dim = int(feature_dim)
        self.text_dim = int(text_dim)

    def training_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def configure_optimizers(self) -> list[Adam]:
        return [Adam(self.parameters(), lr=self.config.lr)]

    def prepare(self, class_embeddings: torch.Tensor) -> Any:
        """Text embeddings ``(K, D_t)`` of a class set -> what :meth:`scores` needs for it."""
        return class_embeddings

    def scores(self, features: torch.Tensor, prepared: Any) -> torch.Tensor:
        """Features ``(N, D)`` and a prepared class set -> logits ``(N, K)``."""
        raise NotImplementedError

    def check_batch(self, batch: dict[str, torch.Tensor]) -> None:
        f, y, t = batch["features"], batch["labels"], batch["class_embeddings"]
        if f.ndim != 2 or f.shape[1] != self.feature_dim:
            raise ValueError(f"features must be (B, {self.feature_dim}), got {tuple(f.shape)}")
        if t.ndim != 2 or t.shape[1] != self.text_dim:
            raise ValueError(f"class_embeddings must be (K, {self.text_dim}), got {tuple(t.shape)}")
        if y.shape != (f.shape[0],):
            raise ValueError(f"labels must be ({f.shape[0]},), got {tuple(y.shape)}")
