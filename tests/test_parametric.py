"""Parametric problems: for every registered PDE and shift family, the extended problem at
``p = mu`` is the shifted problem (residual, conditions, reference), its condition points live on
the extended faces, and a tiny parametric PINN trains and relabels point sets."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

import equations
import pinndd
from pinndd import PinnddError, TrainConfig
from pinndd.engine import derivatives
from pinndd.engine.nn import MLP
from pinndd.eval.ood import retrain_ood
from pinndd.methods.labelled.teacher import label
from pinndd.parametric import (
    FixedParameter,
    ParametricProblem,
    ParametricTeacher,
    evaluate_parametric,
    parametric_problem,
    train_parametric,
)

FAMILIES = [(name, fam.param) for name in equations.names() for fam in equations.get(name).shifts]


def _values(pp: ParametricProblem) -> list[float]:
    """Three distinct parameter values inside the range, none the nominal one."""
    lo, hi = pp.value_range
    return [lo + f * (hi - lo) for f in (0.15, 0.55, 0.9)]


def _net(pp: ParametricProblem) -> MLP:
    torch.manual_seed(0)
    return MLP(pp.domain, width=8, depth=2, activation="tanh", dtype="float64")


def _evaluator(model, box):
    return lambda pts, names: derivatives.partials(model, pts, names, box, engine="autograd")


@pytest.mark.parametrize("name, param", FAMILIES, ids=[f"{n}-{p}" for n, p in FAMILIES])
def test_parametric_residual_and_conditions_match_the_shifted_problem(name, param):
    problem = equations.get(name)
    pp = parametric_problem(problem, param)  # a column substitution: every registered problem broadcasts
    assert pp.domain.names == problem.domain.names + ("p",)
    assert pp.value_range == problem.shift(param).in_range
    assert param not in pp.params and all(pp.params[k] == v for k, v in problem.params.items() if k != param)
    assert pp.partials == problem.partials and pp.condition_names == problem.condition_names
    net = _net(pp)
    rng = np.random.default_rng(0)
    values = _values(pp)
    # interior points with a different parameter value per block: the broadcast (or per-value)
    # substitution must give each row the residual of its own shifted problem
    base_pts = [problem.domain.from_unit(rng.random((7, problem.domain.dim))) for _ in values]
    ext = torch.as_tensor(np.concatenate([pp.base_points(b, v) for b, v in zip(base_pts, values, strict=True)]))
    r_ext = pp.pde_residual(_evaluator(net, pp.domain), ext).detach().numpy()
    for i, (b, v) in enumerate(zip(base_pts, values, strict=True)):
        shifted = problem.with_params(**{param: v})
        fixed = FixedParameter(net, v)
        r = shifted.pde_residual(_evaluator(fixed, shifted.domain), torch.as_tensor(b)).detach().numpy()
        np.testing.assert_allclose(r_ext[7 * i : 7 * (i + 1)], r, rtol=1e-12, atol=1e-12 * (1 + np.abs(r).max()))
    # conditions: residuals (Dirichlet/Neumann/initial/velocity/periodic) on the extended faces
    for cond in pp.conditions:
        base_cond = problem.condition(cond.name)
        assert cond.kind == base_cond.kind and cond.face.coordinate == base_cond.face.coordinate
        assert cond.face.side == base_cond.face.side
        pts = [base_cond.face.from_unit(rng.random((5, problem.domain.dim - 1))) for _ in values]
        ext_c = torch.as_tensor(np.concatenate([pp.base_points(b, v) for b, v in zip(pts, values, strict=True)]))
        assert cond.face.contains(ext_c.numpy()).all()
        rc = cond.residual(_evaluator(net, pp.domain), ext_c, pp.params).detach().numpy()
        for i, (b, v) in enumerate(zip(pts, values, strict=True)):
            shifted = problem.with_params(**{param: v})
            fixed = FixedParameter(net, v)
            want = shifted.condition(cond.name).residual(_evaluator(fixed, shifted.domain), torch.as_tensor(b), shifted.params)
            want = want.detach().numpy()
            np.testing.assert_allclose(rc[5 * i : 5 * (i + 1)], want, rtol=1e-12, atol=1e-12 * (1 + np.abs(want).max()))


@pytest.mark.parametrize("name", equations.names())
def test_parametric_reference_and_condition_points(name):
    problem = equations.get(name)
    param = problem.shifts[0].param
    pp = parametric_problem(problem, param)
    lo, hi = pp.value_range
    # evaluation points: the original grid at each of three parameter values
    grid = problem.evaluation_points()
    ev = pp.evaluation_points()
    assert ev.shape == (3 * len(grid), problem.domain.dim + 1)
    assert sorted(set(ev[:, -1].tolist())) == pytest.approx([lo, (lo + hi) / 2, hi])
    np.testing.assert_array_equal(ev[: len(grid), :-1], grid)
    # reference: grouped per parameter value, equal to the shifted problem's
    rng = np.random.default_rng(1)
    sub = grid[rng.choice(len(grid), 40, replace=False)]
    values = [lo, 0.3 * lo + 0.7 * hi]
    ext = np.concatenate([pp.base_points(sub, v) for v in values])
    want = np.concatenate([problem.with_params(**{param: v}).reference(sub) for v in values])
    perm = rng.permutation(len(ext))  # interleaved parameter values
    np.testing.assert_allclose(pp.reference(ext[perm]), want[perm], rtol=0, atol=1e-14)
    # a registered method samples the extended problem; condition points lie on the extended faces
    ps = pinndd.methods.get("sobol").make(pp, 32, seed=0)
    assert ps.dim == problem.domain.dim + 1
    assert pp.domain.contains(ps.interior).all()
    for cname, (pts, _) in ps.conditions.items():
        base_face = problem.condition(cname).face
        assert base_face.contains(pts[:, :-1]).all()
        assert (pts[:, -1] >= lo).all() and (pts[:, -1] <= hi).all()
        assert pts[:, -1].min() < lo + 0.25 * (hi - lo) and pts[:, -1].max() > hi - 0.25 * (hi - lo)


def _heat_with(left_value=None, residual=None):
    import dataclasses

    from pinndd import dirichlet

    base = equations.get("heat")
    conds = base.conditions
    if left_value is not None:
        conds = (dirichlet("left", base.condition("left").face, left_value),) + tuple(
            c for c in base.conditions if c.name != "left")
    return dataclasses.replace(base, conditions=conds, residual=residual or base.residual)


@pytest.mark.parametrize("what, problem", [
    ("condition 'left'", lambda: _heat_with(left_value=lambda x, p: torch.full_like(x["x"], float(p["TL"])))),
    ("condition 'left'", lambda: _heat_with(left_value=lambda x, p: 0 * x["x"] + torch.as_tensor(p["TL"]).mean())),
    ("the residual", lambda: _heat_with(residual=lambda d, x, p: d["u_t"] - math.sqrt(p["alpha"]) ** 2 * d["u_xx"])),
], ids=["float()", "silently averaged", "math.sqrt"])
def test_functions_that_do_not_broadcast_over_parameters_are_refused(what, problem):
    """The problem contract: parameters may arrive as tensors of one value per point. A function
    written with Python floats, or one that broadcasts to the wrong values, is refused before
    training and before a parametric problem is made, with one line naming it."""
    from pinndd.engine.checks import check_problem

    p = problem()
    with pytest.raises(PinnddError, match=re.escape(what)) as info:
        check_problem(p)
    assert "\n" not in str(info.value) and "torch operations" in str(info.value)
    with pytest.raises(PinnddError, match=re.escape(what)):
        parametric_problem(p, "TL")
    with pytest.raises(PinnddError, match=re.escape(what)):
        pinndd.train(p, pinndd.methods.get("sobol").make(p, 8), pinndd.TrainConfig(width=4, depth=1, adam_steps=1,
                                                                                    lbfgs_steps=0, progress=False))


def test_bad_input_raises():
    heat = equations.get("heat")
    with pytest.raises(PinnddError, match="clashes"):
        parametric_problem(heat, "TL", coordinate="x")
    with pytest.raises(PinnddError, match="single letter"):
        parametric_problem(heat, "TL", coordinate="pp")
    with pytest.raises(PinnddError, match="no parameter"):
        parametric_problem(heat, "kappa")
    with pytest.raises(PinnddError, match="lower < upper"):
        parametric_problem(heat, "TL", (0.5, 0.5))
    with pytest.raises(PinnddError, match="already parametric"):
        parametric_problem(parametric_problem(heat, "TL"), "TR")
    pp = parametric_problem(heat, "TL", max_reference_values=2)
    with pytest.raises(PinnddError, match="distinct values"):
        pp.reference(np.array([[0.5, 0.5, v] for v in (0.0, 0.1, 0.2)]))


@pytest.fixture(scope="module")
def trained():
    heat = equations.get("heat")
    config = TrainConfig(width=16, depth=2, adam_steps=60, lr=1e-2, progress=False, log_every=20)
    return heat, train_parametric(heat, "TL", (-0.2, 0.2), budget=64, config=config, seed=0)


def test_tiny_parametric_training_lowers_the_loss_and_evaluates_out_of_range(trained):
    heat, res = trained
    loss = res.result.history["loss"]
    assert loss[-1] < 0.5 * loss[0]
    rows = res.evaluate([-0.2, 0.0, 0.2, 0.8], residual_points=64)
    assert [(r["value"], r["in_distribution"]) for r in rows] == [(-0.2, True), (0.0, True), (0.2, True), (0.8, False)]
    for r in rows:  # the numbers are the fixed-parameter network's errors against the shifted reference
        grid = heat.evaluation_points()
        u = pinndd.engine.evaluation.predict(FixedParameter(res.model, r["value"]), grid)
        ref = heat.with_params(TL=r["value"]).reference(grid)
        assert r["l2re"] == pytest.approx(np.linalg.norm(u - ref) / np.linalg.norm(ref), rel=1e-9)
        assert np.isfinite(r["residual_mse"])
    default = evaluate_parametric(res.problem, res.model)
    assert [r["value"] for r in default] == [v for v, _ in heat.shift("TL").values(3, 2)]
    # pinndd.evaluate on the extended problem: the evaluation grid at three parameter values; it
    # does not check containment, so points outside the trained range evaluate too (extrapolation)
    assert np.isfinite(pinndd.evaluate(res.problem, res.model)["l2re"])
    outside = res.problem.base_points(heat.evaluation_points(), 0.8)
    assert not res.problem.domain.contains(outside).any()
    assert pinndd.evaluate(res.problem, res.model, outside)["l2re"] == pytest.approx(rows[-1]["l2re"], rel=1e-9)


def test_parametric_teacher_relabels_for_the_shift(trained):
    heat, res = trained
    teacher_factory = res.teacher()
    assert isinstance(teacher_factory, ParametricTeacher)
    shifted = heat.with_params(TL=0.5)
    t = teacher_factory(shifted)
    assert t.source == "parametric-pinn" and t.params == dict(shifted.params) and t.info["in_distribution"] is False
    ps = pinndd.methods.get("sobol").make(heat, 16, seed=1)
    direct = pinndd.engine.evaluation.predict(res.model, res.problem.base_points(ps.interior, 0.5))
    np.testing.assert_allclose(t.predict(ps.interior), direct)
    relabelled = label(ps, t)
    pinndd.train(shifted, relabelled, TrainConfig(width=8, depth=1, adam_steps=5, progress=False))  # accepted
    assert t.gradient_norm(ps.interior[:4], heat.domain).shape == (4,)
    with pytest.raises(PinnddError, match="varies only"):
        teacher_factory(heat.with_params(TL=0.5, alpha=0.2))
    with pytest.raises(PinnddError, match="is for 'heat'"):
        teacher_factory(equations.get("burgers"))
    # as the labels factory of the OOD evaluator
    labelled = label(ps, teacher_factory.at(0.0))
    tiny = TrainConfig(width=8, depth=1, adam_steps=5, progress=False)
    rows = retrain_ood(heat, labelled, "TL", values=[0.0, 0.5], config=tiny, seeds=(0,), labels=teacher_factory,
                       held_out=np.array([[0.5, 0.5]]))
    assert [r["labels"] for r in rows] == ["kept", "relabelled:parametric-pinn"]
