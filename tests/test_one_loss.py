"""One loss evaluation (pinndd.engine.losses.residual_terms) behind the trainer's loss and the
distillers' functional loss, in float64."""

from __future__ import annotations

import pytest
import torch

import equations
from pinndd import methods
from pinndd.engine.losses import TensorPoints, loss_terms, residual_terms, total_loss
from pinndd.engine.nn import MLP, PINN
from pinndd.methods.distill.context import Functional

torch.set_num_threads(1)


def _setup(name, hard):
    problem = equations.get(name)
    torch.manual_seed(0)
    model = PINN(MLP(problem.domain, 8, 2, "tanh", "float64", "cpu"), problem, hard=hard)
    ps = methods.get("sobol").make(problem, 16, seed=0)
    return problem, model, TensorPoints.from_pointset(ps, torch.float64, "cpu")


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("name", ["burgers", "wave"])
def test_functional_loss_is_the_trainers_loss(name, hard):
    """The distillers' functional loss equals the trainer's total loss (labels aside), its
    residual vector squares to it, and a hard-constraint model's enforced conditions are skipped
    by both."""
    problem, model, tp = _setup(name, hard)
    skip = tuple(problem.hard_conditions) if hard else ()
    trainer = total_loss(problem, loss_terms(problem, model, tp, skip=skip), {}, 0.0)
    fn = Functional(problem, model, "auto")
    params = {"model." + k: v for k, v in model.named_parameters()}
    scalar = torch.func.functional_call(fn, params, (tp, False))
    vector = torch.func.functional_call(fn, params, (tp, True))
    torch.testing.assert_close(scalar, trainer, rtol=1e-13, atol=0)
    torch.testing.assert_close(vector.square().sum(), trainer, rtol=1e-13, atol=0)
    expected = len(tp.interior) + sum(len(p) for n, (p, _) in tp.conditions.items() if n not in skip)
    assert vector.shape == (expected,)
    if hard and skip:  # the enforced conditions really were left out
        assert expected < len(tp.interior) + sum(len(p) for p, _ in tp.conditions.values())


def test_residual_terms_square_to_loss_terms():
    problem, model, tp = _setup("heat", False)
    res = residual_terms(problem, model, tp)
    terms = loss_terms(problem, model, tp)
    assert list(res) == list(terms)
    for k, (r, w) in res.items():
        assert torch.equal((w * r.square()).sum(-1), terms[k])
