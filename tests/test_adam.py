"""The one Adam update (pinndd/engine/adam.py) against torch.optim.Adam and against the formulas
the distillers used before it, in float64."""

from __future__ import annotations

import pytest
import torch

from pinndd.engine import adam
from pinndd.methods.distill.gradient_matching import adam_direction
from pinndd.methods.distill.outcome import unroll

torch.set_num_threads(1)
STEPS = 25
#: float64 rounding, accumulated over STEPS updates of O(1) values, with a wide margin.
TOL = dict(rtol=1e-12, atol=1e-14)


def _problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(6, 4, generator=g, dtype=torch.float64)
    b = torch.randn(6, generator=g, dtype=torch.float64)
    theta = torch.randn(4, generator=g, dtype=torch.float64)
    return (lambda t: ((a @ t - b) ** 2).mean() + (t**4).sum() * 1e-2), theta


def _torch_adam(loss, theta, lr):
    p = theta.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=lr, betas=adam.BETAS, eps=adam.EPS, foreach=False)
    for _ in range(STEPS):
        opt.zero_grad()
        loss(p).backward()
        opt.step()
    return p.detach(), opt.state[p]["exp_avg"], opt.state[p]["exp_avg_sq"]


def test_in_place_update_is_torch_adam():
    loss, theta = _problem()
    ref, m_ref, v_ref = _torch_adam(loss, theta, 1e-2)
    p, m, v = theta.clone(), torch.zeros_like(theta), torch.zeros_like(theta)
    for k in range(1, STEPS + 1):
        q = p.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(loss(q), q)
        adam.update_([p], [g], [m], [v], torch.tensor(float(k), dtype=torch.float64), torch.tensor(1e-2, dtype=torch.float64))
    torch.testing.assert_close(p, ref, **TOL)
    torch.testing.assert_close(m, m_ref, **TOL)
    torch.testing.assert_close(v, v_ref, **TOL)


def test_functional_step_is_torch_adam_and_differentiable():
    loss, theta = _problem(1)
    ref, _, _ = _torch_adam(loss, theta, 5e-3)
    out = unroll(lambda p: loss(p["w"]), {"w": theta}, STEPS, 5e-3)["w"]
    torch.testing.assert_close(out.detach(), ref, **TOL)
    assert out.requires_grad  # built with create_graph: an outer loss can differentiate through it


def _old_unroll_adam(loss, theta, steps, lr, betas=(0.9, 0.999), eps=1e-8):
    """The unroll's Adam as written before pinndd.engine.adam (outcome.unroll)."""
    b1, b2 = betas
    t = theta.detach().clone().requires_grad_(True)
    m, v = torch.zeros_like(t), torch.zeros_like(t)
    for i in range(steps):
        (g,) = torch.autograd.grad(loss(t), t, create_graph=True)
        c1, c2 = 1 - b1 ** (i + 1), 1 - b2 ** (i + 1)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        t = t - lr * (m / c1) / ((v / c2).clamp_min(1e-30).sqrt() + eps)
    return t


def _old_adam_direction(g, m, v, t, betas, eps, tiny=1e-30):
    """gradient_matching.adam_direction as written before pinndd.engine.adam."""
    b1, b2 = betas
    m1 = b1 * m + (1 - b1) * g
    v1 = b2 * v + (1 - b2) * g * g
    return (m1 / (1 - b1 ** (t + 1))) / ((v1 / (1 - b2 ** (t + 1))).clamp_min(tiny).sqrt() + eps)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_old_and_new_give_the_same_numbers(seed):
    """The distillers' Adam steps and directions are bitwise what they were."""
    loss, theta = _problem(seed)
    new = unroll(lambda p: loss(p["w"]), {"w": theta}, 7, 3e-2)["w"]
    assert torch.equal(new, _old_unroll_adam(loss, theta, 7, 3e-2))
    g = torch.Generator().manual_seed(seed)
    grad, m, v = (torch.randn(5, generator=g, dtype=torch.float64) for _ in range(3))
    v = v.abs()
    grad[0] = m[0] = v[0] = 0.0  # a zero entry: the clamp keeps the square root differentiable
    for t in (0, 3, 40):
        assert torch.equal(adam_direction(grad, m, v, t, adam.BETAS, adam.EPS),
                           _old_adam_direction(grad, m, v, t, adam.BETAS, adam.EPS))
