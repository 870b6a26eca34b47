"""engine.optim.Adam does what torch.optim.Adam / AdamW do, step for step."""

from __future__ import annotations

import pytest
import torch

from engine.optim import Adam


@pytest.mark.parametrize("weight_decay,decoupled", [(0.0, True), (0.01, True), (0.01, False)])
def test_matches_torch_adam(weight_decay, decoupled):
    torch.manual_seed(0)
    a = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(4))]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    ours = Adam(a, lr=1e-2, weight_decay=weight_decay, decoupled=decoupled)
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    ref = cls(b, lr=1e-2, weight_decay=weight_decay, foreach=False)
    for step in range(25):
        for params, opt in ((a, ours), (b, ref)):
            opt.zero_grad(set_to_none=True)
            loss = sum(((p - step * 0.1) ** 2).sum() * (i + 1) for i, p in enumerate(params))
            loss.backward()
            opt.step()
    for p, q in zip(a, b):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


def test_a_parameter_without_grad_waits_and_state_round_trips():
    p, q = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = Adam([p, q], lr=0.1)
    p.grad = torch.ones(2)
    opt.step()
    assert opt.steps == [1, 0] and torch.equal(q.detach(), torch.ones(2))
    state = opt.state_dict()
    other = Adam([torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))], lr=0.1)
    other.load_state_dict(state)
    assert other.steps == [1, 0] and torch.equal(other.exp_avg[0], opt.exp_avg[0])
    with pytest.raises(ValueError):
        Adam([p], lr=0.1).load_state_dict(state)


def test_sgd_with_momentum_matches_torch_optim_sgd():
    from engine.optim import SGD

    g = torch.Generator().manual_seed(3)
    a = [torch.nn.Parameter(torch.randn(5, 4, generator=g)), torch.nn.Parameter(torch.randn(4, generator=g))]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    ours = SGD(a, lr=0.05, momentum=0.9, weight_decay=5e-4)
    theirs = torch.optim.SGD(b, lr=0.05, momentum=0.9, weight_decay=5e-4)
    for step in range(6):
        for params, opt in ((a, ours), (b, theirs)):
            opt.zero_grad()
            loss = (params[0].sin().sum() + params[1].pow(2).sum()) * (step + 1)
            loss.backward()
            opt.step()
        ours.lr = theirs.param_groups[0]["lr"] = 0.05 * (0.5 ** step)
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(a, b))
