"""A linear skeleton-to-text projection trained with a contrastive (CLIP-style) loss.

The simplest method that makes the zero-shot path work end to end, and a baseline for the seed
methods: a linear map ``W`` takes skeleton features to the text space, and a sample's logits are the
cosine similarities of ``W f_x`` with every class's text embedding, times a learned scale
(CLIP's ``logit_scale``, initialised to 1/0.07). Training is cross-entropy over the *seen* classes'
texts; zero-shot prediction is the same similarity against any other class set, so
:meth:`prepare` has nothing to fit and a class-set switch costs only the text encoding.

The text side stays frozen, as in every ZSSAR method here (the text encoder is never fine-tuned).
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.methods.base import METHODS, MethodConfig, ZeroShotMethod
from engine.optim import Adam


@dataclasses.dataclass(frozen=True)
class ContrastiveConfig(MethodConfig):
    lr: float = 1e-3
    batch_size: int = 64
    epochs: int = 60
    weight_decay: float = 1e-4  # light: the map is linear and seen classes are few
    init_temperature: float = 0.07  # CLIP's initial temperature
    max_logit_scale: float = 100.0  # CLIP clamps the learned scale at 100
    dropout: float = 0.1  # on the skeleton features while training: a cheap guard against overfitting seen classes


@METHODS.register("contrastive")
class Contrastive(ZeroShotMethod):
    config_cls = ContrastiveConfig

    def __init__(self, config: ContrastiveConfig, feature_dim: int, text_dim: int) -> None:
        super().__init__(config, feature_dim, text_dim)
        self.projection = nn.Linear(feature_dim, text_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / config.init_temperature)))
        self.dropout = nn.Dropout(config.dropout)

    def configure_optimizers(self) -> list[Adam]:
        return [Adam(self.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)]  # AdamW

    def _logits(self, features: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        z = F.normalize(self.projection(features), dim=-1)
        t = F.normalize(text, dim=-1)
        scale = self.logit_scale.clamp(max=math.log(self.config.max_logit_scale)).exp()
        return scale * z @ t.t()

    def training_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self.check_batch(batch)
        logits = self._logits(self.dropout(batch["features"]), batch["class_embeddings"])
        ce = F.cross_entropy(logits, batch["labels"])
        with torch.no_grad():
            acc = (logits.argmax(1) == batch["labels"]).float().mean()
        return {"loss": ce, "ce": ce.detach(), "train_acc": acc}

    def prepare(self, class_embeddings: torch.Tensor) -> torch.Tensor:
        return F.normalize(class_embeddings.detach().float(), dim=-1)

    def scores(self, features: torch.Tensor, prepared: torch.Tensor) -> torch.Tensor:
        return self._logits(features, prepared.to(features.device))
