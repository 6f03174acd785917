"""A NaN/inf loss stops training with the step and the term, and keeps the last finite model:
``TrainingDiverged.model`` holds the parameters whose loss was the last finite one recorded
(bitwise those of a run stopped there), ``.result`` its finite history, both usable as a
normal result (evaluate, save)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import equations
import pinndd
from pinndd import PinnddError, Problem, TrainConfig, TrainingDiverged, methods

CFG = TrainConfig(width=6, depth=1, adam_steps=20, lbfgs_steps=0, lr=1e-2, log_every=5, engine="autograd", progress=False)


def poisoned(nan_from: int):
    """Heat whose residual turns NaN from its ``nan_from``-th float32 evaluation on (evaluation
    ``k`` is the loss of Adam step ``k``, then of the L-BFGS evaluations; the float64 problem
    check before training is not counted)."""
    heat = equations.get("heat")
    calls = {"n": 0}

    def residual(d, x, p):
        r = heat.residual(d, x, p)
        if r.dtype == torch.float32:
            calls["n"] += 1
            if calls["n"] > nan_from:
                return r * float("nan")
        return r

    problem = Problem("heat", heat.domain, heat.partials, residual, heat.conditions, heat.params, heat.reference_fn)
    return problem, methods.get("sobol").make(heat, 24, seed=0)


def test_adam_divergence_keeps_the_last_finite_model(tmp_path):
    problem, ps = poisoned(nan_from=13)  # losses of steps 0..12 finite, step 13 NaN
    with pytest.raises(TrainingDiverged, match="loss term 'loss' became nan at step 13") as info:
        pinndd.train(problem, ps, CFG)
    e = info.value
    assert e.step == 13 and e.term == "loss" and isinstance(e, PinnddError)
    # the failing block is steps 10..14; the parameters after step 10 had a finite loss (row 10)
    assert e.last_finite_step == 10
    stopped = pinndd.train(equations.get("heat"), ps, TrainConfig(**{**CFG.to_dict(), "adam_steps": 10}))
    for a, b in zip(e.model.state_dict().values(), stopped.model.state_dict().values()):
        assert torch.equal(a, b)
    assert len(e.result.history["loss"]) == 10 and np.isfinite(e.result.final())
    np.testing.assert_array_equal(e.result.history["loss"], stopped.history["loss"])
    assert np.isfinite(pinndd.evaluate(equations.get("heat"), e.model)["l2re"])
    assert all(torch.isfinite(t).all() for t in e.model.state_dict().values())


def test_divergence_at_the_first_step_keeps_the_initial_model():
    problem, ps = poisoned(nan_from=0)
    with pytest.raises(TrainingDiverged) as info:
        pinndd.train(problem, ps, CFG)
    e = info.value
    assert e.step == 0 and e.last_finite_step is None
    init = pinndd.engine.training.make_model(problem, CFG)
    for a, b in zip(e.model.state_dict().values(), init.state_dict().values()):
        assert torch.equal(a, b)
    assert len(e.result.history["loss"]) == 0


def test_lbfgs_divergence_keeps_a_finite_model():
    problem, ps = poisoned(nan_from=16)  # 10 Adam steps, then L-BFGS evaluations 10, 11, ...; NaN from 16
    cfg = TrainConfig(**{**CFG.to_dict(), "adam_steps": 10, "lbfgs_steps": 20})
    with pytest.raises(TrainingDiverged) as info:
        pinndd.train(problem, ps, cfg)
    e = info.value
    assert e.step == 16 and e.last_finite_step is not None and 10 <= e.last_finite_step < 16
    assert all(torch.isfinite(t).all() for t in e.model.state_dict().values())
    assert np.isfinite(pinndd.evaluate(equations.get("heat"), e.model)["l2re"])
