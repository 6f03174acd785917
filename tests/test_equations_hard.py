"""Hard-constraint transforms of heat, advection, wave, poisson, helmholtz and klein_gordon
satisfy the conditions they claim for an arbitrary network output, nominal and shifted."""

import numpy as np
import pytest
import torch

import equations
from pinndd.engine.derivatives import autograd_partials

CASES = [
    ("heat", {}),
    ("heat", {"TL": -1.0, "TR": 2.0, "alpha": 0.5}),
    ("advection", {"beta": 4.0}),
    ("wave", {}),
    ("wave", {"c": 2.0, "A": 1.0}),
    ("poisson", {}),
    ("poisson", {"a": -1.0, "c": 1.5}),
    ("helmholtz", {}),
    ("helmholtz", {"k": 4.0, "a2": 4.5}),
    ("klein_gordon", {}),
    ("klein_gordon", {"A": 2.0, "gamma": 3.0}),
]


def _net(dim):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(dim, 8, generator=g, dtype=torch.float64)
    b = torch.randn(8, generator=g, dtype=torch.float64)
    return lambda pts: torch.tanh(pts @ w + b).sum(dim=1)


@pytest.mark.parametrize("name,shift", CASES)
def test_hard_transform_enforces_its_conditions(name, shift):
    problem = equations.get(name, **shift)
    assert problem.hard_conditions
    net = _net(problem.domain.dim)

    def evaluate(points, partials):
        return autograd_partials(lambda p: problem.output(p, net(p), hard=True), points, partials, problem.domain)

    rng = np.random.default_rng(0)
    for cname in problem.hard_conditions:
        cond = problem.condition(cname)
        pts = torch.from_numpy(cond.face.from_unit(rng.random((32, problem.domain.dim - 1))))
        r = cond.residual(evaluate, pts, problem.params).detach().numpy()
        assert np.max(np.abs(r)) < 1e-12, f"{name} {shift} {cname}: {np.max(np.abs(r)):.2e}"


@pytest.mark.parametrize("name", ["heat", "advection", "wave", "poisson", "helmholtz", "klein_gordon"])
def test_shift_families_contain_the_nominal_value(name):
    problem = equations.get(name)
    assert problem.shifts
    for family in problem.shifts:
        assert family.is_in_distribution(problem.params[family.param])
