import numpy as np
import pytest
import torch

import equations
from pinndd import PinnddError, PointSet, TrainConfig, TrainingDiverged, evaluate, methods, residual_mse, train
from pinndd.engine.losses import TensorPoints, loss_terms

TINY = TrainConfig(width=8, depth=2, adam_steps=30, lr=1e-3, log_every=10, progress=False)


def test_trains_every_pde_and_names_its_terms(pde_name):
    problem = equations.get(pde_name)
    ps = methods.get("sobol").make(problem, 32, seed=0)
    res = train(problem, ps, TINY)
    assert set(res.history) >= {"step", "loss", "pde", *problem.condition_names}
    assert len(res.history["loss"]) == TINY.adam_steps
    assert res.history["loss"][-1] < res.history["loss"][0]
    m = evaluate(problem, res.model)
    assert all(np.isfinite(v) and v >= 0 for v in m.values())


def test_deterministic_on_cpu():
    problem = equations.get("burgers")
    ps = methods.get("sobol").make(problem, 32, seed=0)
    a, b = train(problem, ps, TINY), train(problem, ps, TINY)
    np.testing.assert_array_equal(a.history["loss"], b.history["loss"])
    c = train(problem, ps, TrainConfig(**{**TINY.to_dict(), "seed": 1}))
    assert not np.array_equal(a.history["loss"], c.history["loss"])


def test_weighted_loss_is_mean_of_weighted_squares():
    """L_pde = (1/n) sum w r^2: checked against the formula, and scaling the weights scales it."""
    problem = equations.get("heat")
    ps = methods.get("sobol").make(problem, 8, seed=0)
    from pinndd.engine.derivatives import partials
    from pinndd.engine.training import make_model
    from pinndd.problem import coords

    model = make_model(problem, TrainConfig(dtype="float64"))
    w = np.linspace(0.5, 1.5, 8)
    term = lambda weights: loss_terms(problem, model, TensorPoints.from_pointset(
        PointSet(ps.interior, weights, ps.conditions), torch.float64, "cpu"))["pde"].detach()
    x = torch.as_tensor(ps.interior)
    r = problem.residual(partials(model, x, problem.partials, problem.domain), coords(x, problem.domain), problem.params)
    torch.testing.assert_close(term(w), (torch.as_tensor(w) * r.detach().square()).mean())
    torch.testing.assert_close(term(3 * w), 3 * term(w))


def test_lbfgs_phase_runs_and_records():
    problem = equations.get("heat")
    ps = methods.get("sobol").make(problem, 32, seed=0)
    res = train(problem, ps, TrainConfig(**{**TINY.to_dict(), "lbfgs_steps": 10}))
    assert len(res.history["loss"]) > TINY.adam_steps
    assert res.history["loss"][-1] <= res.history["loss"][TINY.adam_steps - 1]


def test_hard_constraints_drop_enforced_conditions():
    problem = equations.get("burgers")
    ps = methods.get("sobol").make(problem, 32, seed=0)
    res = train(problem, ps, TrainConfig(**{**TINY.to_dict(), "hard": True}))
    assert not set(problem.hard_conditions) & set(res.history)
    x = torch.as_tensor(problem.condition("initial").face.from_unit(np.linspace(0, 1, 7)[:, None]), dtype=torch.float32)
    u0 = problem.condition("initial").target(x, problem.params)
    torch.testing.assert_close(res.model(x), u0, atol=1e-6, rtol=0)


def test_divergence_names_step_and_term():
    problem = equations.get("heat")
    ps = methods.get("sobol").make(problem, 16, seed=0)
    with pytest.raises(TrainingDiverged) as info:
        train(problem, ps, TrainConfig(**{**TINY.to_dict(), "lr": 1e30, "adam_steps": 50}))
    assert info.value.term in {"loss", "pde", *problem.condition_names}
    assert 0 <= info.value.step < 50


def test_eval_history_and_residual():
    problem = equations.get("heat")
    ps = methods.get("sobol").make(problem, 32, seed=0)
    res = train(problem, ps, TrainConfig(**{**TINY.to_dict(), "eval_every": 10}))
    assert list(res.history["eval_step"]) == [10, 20, 30]
    assert residual_mse(problem, res.model, ps.interior) > 0


def test_bad_config():
    with pytest.raises(PinnddError):
        TrainConfig(lr=0)
    with pytest.raises(PinnddError):
        TrainConfig(dtype="float16")
