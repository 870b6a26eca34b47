"""The unseen-class classifier of the SynSE family (``MLP([latent, k])`` in the official code): Linear +
ReLU, the ReLU on the logits (docs/methods.md#reproduction-quirks, quirk 2), trained with Adam (lr 1e-3)
for 300 full-batch steps of cross-entropy on 500 samples per unseen class drawn from the text
encoder's posterior (:func:`fit_unseen_classifier`), with its own small optimiser so that fitting
it for a new class set is a few milliseconds of arithmetic.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from engine.methods.vae_blocks import (
    INIT_GAIN,
)

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
