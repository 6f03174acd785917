"""The finite-difference check itself: it passes a right gradient with a tolerance derived from
its own error estimate, and fails a gradient that is wrong by a small relative amount."""

import math

import numpy as np
import pytest
import torch
from fd import fd_tolerance, meta_gradient_vs_fd, noise_level


class _ScaledGrad(torch.autograd.Function):
    """``sum(exp(sin(x)))`` whose backward is multiplied by ``scale`` (1 = correct)."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return torch.exp(torch.sin(x)).sum()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ctx.scale * torch.cos(x) * torch.exp(torch.sin(x)), None


def _check(scale):
    x = torch.linspace(-1.0, 2.0, 7, dtype=torch.float64).requires_grad_(True)
    picks = [("x", (i,)) for i in range(7)]
    return meta_gradient_vs_fd(lambda: _ScaledGrad.apply(x, scale), {"x": x}, picks)


def test_right_gradient_passes():
    for _, _, analytic, fd in _check(1.0):
        assert math.isfinite(fd) and analytic is not None


@pytest.mark.parametrize("scale", [1 + 1e-4, 1 - 1e-4, -1.0, 0.0])
def test_wrong_gradient_fails(scale):
    with pytest.raises(AssertionError, match="finite differences"):
        _check(scale)


def test_tolerance_follows_the_error_estimate():
    # no truncation signal: the tolerance is the rounding term, which scales as noise / h
    a = fd_tolerance(1.0, 0.5, 0.5, 1e-5, noise=1e-12)
    assert fd_tolerance(1.0, 0.5, 0.5, 1e-5, noise=1e-11) == pytest.approx(10 * a)
    assert fd_tolerance(1.0, 0.5, 0.5, 2e-5, noise=1e-12) == pytest.approx(a / 2)
    # a noise that measured zero falls back to a floor of 16 epsilons of |f|
    assert fd_tolerance(1.0, 0.5, 0.5, 1e-5, noise=0.0) > 0
    # a truncation signal widens it by 4/3 of the two differences' gap
    assert fd_tolerance(1.0, 0.5, 0.5 + 3e-6, 1e-5, noise=1e-12) == pytest.approx(a + 4e-6)


def test_noise_level_measures_added_noise():
    rng = np.random.default_rng(0)
    sigma = 1e-9
    assert noise_level(lambda v: np.sin(v) + sigma * rng.standard_normal(), 0.3, 1e-6, points=41) == pytest.approx(sigma, rel=0.5)
    assert noise_level(np.sin, 0.3, 1e-6) < 1e-14
