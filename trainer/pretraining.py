"""Stage-1 supervised pretraining of a skeleton encoder on the seen classes (the SynSE/SMIE recipe:
cross-entropy on the seen classes of the split only, training subjects only; then frozen).

:class:`EncoderClassifier` is the "method" the one training loop drives: ``training_step`` augments
the batch (a random rotation about the vertical axis and a random scale, the usual skeleton
augmentations that keep left and right), runs the encoder and its head, and returns the
cross-entropy. Learning rate: cosine decay over the epochs (SMIE_Generate_Feature uses Adam with a
cosine schedule).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from engine.optim import Adam

OBJECTIVES = ("cross_entropy", "pgfa_alignment", "text_contrastive")


@dataclass(frozen=True)
class PretrainConfig:
    encoder: str = "stgcn_small"  # an encoder config in assets/configs/encoders
    epochs: int = 60
    batch_size: int = 32
    lr: float = 5e-3  # SMIE_Generate_Feature: Adam 5e-3, cosine
    weight_decay: float = 5e-4
    seed: int = 5
    rotate_deg: float = 30.0  # random rotation about y, +- this many degrees
    scale: float = 0.1  # random scale in [1 - s, 1 + s]
    window: int = 64
    style: str = "view"  # preprocessing style (engine.skeleton.preprocess)
    num_bodies: int = 1
    val_heldout: float = 0.15  # share of each val-seen class's training samples held out for the gate
    # "cross_entropy": a seen-class head (SynSE, SMIE_Generate_Feature); "pgfa_alignment": the encoder
    # trains end to end with PGFA's KL alignment loss against the frozen seen-class texts (its method
    # config gives the adapter, the optimiser and the schedule; kaai520/PGFA main.py); "text_contrastive":
    # the encoder and the contrastive method's projection trained end to end against the frozen class
    # texts (CLIP's loss over the training classes), with the augmentations below
    objective: str = "cross_entropy"
    # text_contrastive only -----------------------------------------------------------------------
    mirror: float = 0.0  # share of clips mirrored left/right, their class text mirrored with them
    crop: float = 1.0  # temporal crop: a random share in [crop, 1] of the window, resampled back
    jitter: float = 0.0  # joint noise, metres
    torso_length: float | None = None  # preprocessing: scale every body to this torso length (metres)
    # sampling: "uniform" (every clip alike), "dataset" (each part of a combined dataset equally often,
    # classes inside it by the square root of their counts: a 6,000-clip dataset of 12 gestures must not
    # drown a 288-clip one)
    balance: str = "uniform"
    # train the validation-fold encoder, on which the method's cycles and the GZSL gate are chosen; off, the
    # method trains for its configured cycles (a recipe whose length was already chosen, and no GZSL)
    validation_fold: bool = True

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        if self.balance not in ("uniform", "dataset"):
            raise ValueError(f"balance must be uniform or dataset, got {self.balance!r}")
        if not 0.0 < self.crop <= 1.0:
            raise ValueError(f"crop must be in (0, 1], got {self.crop}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> PretrainConfig:
        return cls(**(d or {}))


class EncoderClassifier(nn.Module):
    """A skeleton encoder with a head over ``num_classes`` seen classes, trained with cross-entropy."""

    manual_optimization = False
    supports_ddp = True  # the loop sets self.ddp under torchrun (trainer.loop._distributed)
    ddp = None

    def __init__(self, encoder: nn.Module, num_classes: int, config: PretrainConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.feature_dim, num_classes)
        self.config = config

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder.features(x))

    def configure_optimizers(self) -> list[Adam]:
        # L2 weight decay in the gradient, as torch.optim.Adam's weight_decay (the recipe's optimizer)
        return [Adam(self.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay, decoupled=False)]

    def on_epoch_start(self, epoch: int, epochs: int, optimizers: list[Adam]) -> None:
        lr = 0.5 * self.config.lr * (1 + math.cos(math.pi * epoch / max(epochs, 1)))
        for o in optimizers:
            o.lr = lr

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, V, M): rotate about y and scale, per sample; absent bodies stay zero."""
        n = x.shape[0]
        angle = (torch.rand(n, device=x.device) * 2 - 1) * math.radians(self.config.rotate_deg)
        scale = 1 + (torch.rand(n, device=x.device) * 2 - 1) * self.config.scale
        c, s = torch.cos(angle) * scale, torch.sin(angle) * scale
        rot = torch.zeros(n, 3, 3, device=x.device, dtype=x.dtype)
        rot[:, 0, 0], rot[:, 0, 2], rot[:, 2, 0], rot[:, 2, 2] = c, s, -s, c
        rot[:, 1, 1] = scale
        return torch.einsum("nij,njtvm->nitvm", rot, x)

    def training_step(self, batch: dict) -> dict[str, torch.Tensor]:
        logits = (self.ddp if self.ddp is not None else self)(self.augment(batch["features"]))
        loss = F.cross_entropy(logits, batch["labels"])
        with torch.no_grad():
            acc = (logits.argmax(1) == batch["labels"]).float().mean()
        return {"loss": loss, "train_acc": acc}


class EncoderTextAligner(nn.Module):
    """A skeleton encoder trained end to end through PGFA's adapter and KL loss (docs/methods.md#pgfa):
    the batch's skeletons are encoded and handed to the method's ``training_step`` as features. No
    augmentation, as the official training. ``head`` gives the seen-class logits the GZSL gate reads
    (the adapter's cosine to the seen texts, scaled), so extract_features needs no special case.
    """

    manual_optimization = False
    supports_ddp = False

    def __init__(self, encoder: nn.Module, method: nn.Module, seen_text: torch.Tensor,
                 config: PretrainConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.method = method
        self.config = config  # epochs, batch size and seed for the loop
        self.register_buffer("seen_text", torch.nn.functional.normalize(seen_text.float(), dim=1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.features(x)

    def head(self, f: torch.Tensor) -> torch.Tensor:
        return self.method.config.logit_scale * self.method.embed(f) @ self.seen_text.t()

    def configure_optimizers(self):
        return self.method.configure_optimizers_for(self.parameters())

    def on_epoch_start(self, epoch: int, epochs: int, optimizers) -> None:
        self.method.on_epoch_start(epoch, epochs, optimizers)

    def training_step(self, batch: dict) -> dict[str, torch.Tensor]:
        return self.method.training_step({**batch, "features": self.encoder.features(batch["features"])})


class EncoderTextContrastive(nn.Module):
    """A skeleton encoder and the contrastive method's projection trained end to end against frozen text
    embeddings of the training classes: a clip's logits are the scaled cosines of its projected feature
    with every training text, and the loss is cross-entropy towards its own class's text (CLIP's
    image-to-text loss with the class texts as the other side; ActionCLIP, Wang et al. 2021, and GAP,
    Xiang et al. ICCV 2023, train skeleton or video encoders the same way). Nothing but text ever
    scores a clip, so a new name needs no refitting: :class:`engine.methods.contrastive.Contrastive`
    is exactly what the bundle ships.

    Args:
        encoder: the skeleton encoder.
        method: a :class:`~engine.methods.contrastive.Contrastive` (projection and logit scale).
        texts: ``(K_t, D_t)`` embeddings of the distinct training texts (class names and their mirrors).
        class_text: ``(K,)`` index into ``texts`` of each training class (several datasets may share a
            name, e.g. "walk": one text, one logit).
        mirror_text: ``(K,)`` index of each class's mirrored text.
        config: epochs, learning rate and augmentations.
    """

    manual_optimization = False
    supports_ddp = True
    ddp = None

    def __init__(self, encoder: nn.Module, method: nn.Module, texts: torch.Tensor, class_text: torch.Tensor,
                 mirror_text: torch.Tensor, config: PretrainConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.method = method
        self.config = config
        self.register_buffer("texts", F.normalize(texts.float(), dim=1))
        self.register_buffer("class_text", class_text.long())
        self.register_buffer("mirror_text", mirror_text.long())

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.features(x)

    def head(self, f: torch.Tensor) -> torch.Tensor:
        """Logits of each training class (its text's), for extract_features and the GZSL gate."""
        return self.method.scores(f, self.texts)[:, self.class_text]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.method.scores(self.encoder.features(x), self.texts)

    def configure_optimizers(self) -> list[Adam]:
        # decoupled weight decay (AdamW), as CLIP-style training uses
        return [Adam(self.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay, decoupled=True)]

    def on_epoch_start(self, epoch: int, epochs: int, optimizers: list[Adam]) -> None:
        lr = 0.5 * self.config.lr * (1 + math.cos(math.pi * epoch / max(epochs, 1)))
        for o in optimizers:
            o.lr = lr

    def augment(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch augmented, and each clip's target text (mirrored clips get the mirrored text)."""
        from trainer.data import augment

        c = self.config
        target = self.class_text[labels]
        if c.mirror > 0:
            flip = torch.rand(len(x), device=x.device) < c.mirror
            if flip.any():
                x = x.clone()
                x[flip] = augment.mirror(x[flip])
                target = torch.where(flip, self.mirror_text[labels], target)
        x = augment.temporal_crop(x, c.crop)
        x = augment.rotate_scale(x, c.rotate_deg, c.scale)
        return augment.jitter(x, c.jitter), target

    def training_step(self, batch: dict) -> dict[str, torch.Tensor]:
        x, target = self.augment(batch["features"], batch["labels"])
        logits = (self.ddp if self.ddp is not None else self)(x)
        loss = F.cross_entropy(logits, target)
        with torch.no_grad():
            acc = (logits.argmax(1) == target).float().mean()
        return {"loss": loss, "train_acc": acc}


@torch.no_grad()
def encode(model: EncoderClassifier, x: torch.Tensor, batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Features ``(N, D)`` and seen-head logits ``(N, K)`` of ``x``, in eval mode."""
    model.eval()
    feats, logits = [], []
    for chunk in x.split(batch_size):
        f = model.encoder.features(chunk)
        feats.append(f)
        logits.append(model.head(f))
    return torch.cat(feats), torch.cat(logits)
