import numpy as np
import pytest
import torch

import equations
from pinndd import PinnddError, evaluate
from pinndd.engine.evaluation import errors


def test_error_formulas():
    ref = np.array([1.0, -2.0, 2.0])
    pred = ref + np.array([0.0, 0.3, -0.4])
    e = errors(pred, ref)
    assert e["l2re"] == pytest.approx(0.5 / 3.0)
    assert e["l1re"] == pytest.approx(0.7 / 5.0)
    assert e["max_abs"] == pytest.approx(0.4)
    with pytest.raises(PinnddError):
        errors(ref, np.zeros(3))


class ReferenceModel(torch.nn.Module):
    """Predicts the reference exactly (through numpy), plus an optional offset."""

    def __init__(self, problem, offset=0.0):
        super().__init__()
        self.problem, self.offset = problem, offset
        self.dummy = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def forward(self, x):
        return torch.as_tensor(self.problem.reference(x.numpy())) + self.offset


def test_evaluate_is_zero_for_the_reference(pde_name):
    problem = equations.get(pde_name)
    assert evaluate(problem, ReferenceModel(problem))["l2re"] < 1e-12
    assert evaluate(problem, ReferenceModel(problem, 0.1))["max_abs"] == pytest.approx(0.1)
