"""Adam without ``torch.optim``: the same update, for the small feature-level methods.

Why not ``torch.optim.Adam``: building any ``torch.optim`` optimizer imports ``torch._dynamo``,
which costs 73 MiB of resident memory on this CPU (measured with torch 2.13 and 2.14), a fifth of
the whole SA-DVAE pipeline's budget. These methods need plain Adam (Kingma & Ba 2015) and, for the
contrastive baseline, AdamW's decoupled weight decay (Loshchilov & Hutter 2019); both are a handful
of calls to the kernels ``torch.optim`` itself runs: the fused Adam/AdamW operator where this torch
has it (one pass over all parameters: about 40% faster than the element-wise path at these sizes),
else the ``torch._foreach_*`` path of ``torch.optim.Adam(foreach=True)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch


def zero_grad(params: list[torch.nn.Parameter], set_to_none: bool = True) -> None:
    """What ``torch.optim.Optimizer.zero_grad`` does to its parameters."""
    for p in params:
        if set_to_none:
            p.grad = None
        elif p.grad is not None:
            p.grad.zero_()


class Adam:
    """``torch.optim.Adam`` / ``AdamW`` (no amsgrad), one parameter group.

    Args:
        params: the parameters to update.
        lr: learning rate.
        betas: moment decay rates (torch's defaults).
        eps: added to the denominator (torch's default).
        weight_decay: decoupled weight decay (AdamW) when ``decoupled``, else L2 added to the
            gradient (torch.optim.Adam's ``weight_decay``).
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled: bool = True) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.betas, self.eps = float(lr), betas, float(eps)
        self.weight_decay, self.decoupled = float(weight_decay), decoupled
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.steps = [0] * len(self.params)  # per parameter, as torch counts (a parameter without grad waits)
        # the fused kernels read each parameter's step count from a float32 tensor on its device
        self._step_tensors = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]
        fused = torch._fused_adamw_ if decoupled else torch._fused_adam_
        self._fused = getattr(torch, fused.__name__, None) if all(p.is_floating_point() for p in self.params) else None

    def zero_grad(self, set_to_none: bool = True) -> None:
        zero_grad(self.params, set_to_none)

    @torch.no_grad()
    def step(self) -> None:
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        params = [self.params[i] for i in live]
        grads = [self.params[i].grad for i in live]
        m = [self.exp_avg[i] for i in live]
        v = [self.exp_avg_sq[i] for i in live]
        for i in live:
            self.steps[i] += 1
        b1, b2 = self.betas
        if self._fused is not None:
            steps_t = [self._step_tensors[i] for i in live]
            torch._foreach_add_(steps_t, 1.0)
            try:
                self._fused(params, grads, m, v, [], steps_t, lr=self.lr, beta1=b1, beta2=b2,
                            weight_decay=self.weight_decay, eps=self.eps, amsgrad=False, maximize=False)
                return
            except RuntimeError:  # no fused kernel for this device or dtype: the element-wise path
                torch._foreach_add_(steps_t, -1.0)
                self._fused = None
        if self.weight_decay:
            if self.decoupled:
                torch._foreach_mul_(params, 1.0 - self.lr * self.weight_decay)
            else:
                grads = torch._foreach_add(grads, params, alpha=self.weight_decay)
        torch._foreach_lerp_(m, grads, 1.0 - b1)
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, grads, grads, 1.0 - b2)
        steps = [self.steps[i] for i in live]
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, [math.sqrt(1.0 - b2**t) for t in steps])
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(params, m, denom, [-self.lr / (1.0 - b1**t) for t in steps])

    def state_dict(self) -> dict[str, Any]:
        return {"steps": list(self.steps), "exp_avg": [t.clone() for t in self.exp_avg],
                "exp_avg_sq": [t.clone() for t in self.exp_avg_sq]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["steps"]) != len(self.params):
            raise ValueError(f"optimizer state for {len(state['steps'])} parameters, this one has {len(self.params)}")
        self.steps = list(state["steps"])
        for t, n in zip(self._step_tensors, self.steps):
            t.fill_(float(n))
        for dst, src in zip(self.exp_avg + self.exp_avg_sq, state["exp_avg"] + state["exp_avg_sq"]):
            dst.copy_(src)


class SGD:
    """``torch.optim.SGD`` with momentum (dampening 0, no Nesterov), L2 weight decay in the gradient,
    one parameter group: PGFA's optimiser, without importing ``torch.optim`` (see the module)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.momentum, self.weight_decay = float(lr), float(momentum), float(weight_decay)
        self.buffers: list[torch.Tensor | None] = [None] * len(self.params)  # created at a parameter's first step

    def zero_grad(self, set_to_none: bool = True) -> None:
        zero_grad(self.params, set_to_none)

    @torch.no_grad()
    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            d = p.grad.add(p, alpha=self.weight_decay) if self.weight_decay else p.grad
            if self.momentum:
                if self.buffers[i] is None:
                    self.buffers[i] = d.detach().clone()  # torch: the first buffer is the gradient itself
                else:
                    self.buffers[i].mul_(self.momentum).add_(d)
                d = self.buffers[i]
            p.add_(d, alpha=-self.lr)

    def state_dict(self) -> dict[str, Any]:
        return {"momentum_buffer": [None if b is None else b.clone() for b in self.buffers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        buffers = state["momentum_buffer"]
        if len(buffers) != len(self.params):
            raise ValueError(f"optimizer state for {len(buffers)} parameters, this one has {len(self.params)}")
        self.buffers = [None if b is None else b.clone() for b in buffers]
