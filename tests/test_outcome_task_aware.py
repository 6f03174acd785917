"""The fresh-student distillers ``outcome`` and ``task_aware``.

The generic distiller checks (objective decreasing, points in the domain and on faces, float64
meta-gradients against finite differences, resume == uninterrupted run) run for both in
``tests/test_distillers.py``, which is parametrised over every registered distiller. Here: the
shared unroll itself, the variants those checks do not reach (SGD students, the coverage term,
the reference term), and what is particular to task-aware distillation (the shift draws, the
choice of family, the metadata naming the task).
"""

import math

import numpy as np
import pytest
import torch

import equations
from pinndd import BudgetRule, PinnddError, methods
from pinndd.methods.distill.context import step_generator
from pinndd.methods.distill.outcome import dense_subset, repulsion_energy, unroll
from pinndd.methods.distill.task_aware import draw_shifts, resolve_task

BUDGET = 12
TINY = dict(width=6, depth=2, dense=64, progress=False)


def distiller(name, **kw):
    return methods.get(name, **{**TINY, **kw})


def counts(problem):
    return BudgetRule().split(problem, BUDGET)



@pytest.fixture(scope="module")
def burgers():
    return equations.get("burgers")


# -- the shared unroll ------------------------------------------------------------------------
def test_unroll_is_plain_sgd_and_adam():
    """The differentiable unroll takes the same steps as torch's SGD and Adam on a quadratic."""
    torch.manual_seed(0)
    target = torch.randn(5, dtype=torch.float64)
    theta0 = {"w": torch.randn(5, dtype=torch.float64)}

    def loss(p):
        return ((p["w"] - target) ** 2 * torch.arange(1, 6)).sum()

    for opt_name, cls, kw in [("sgd", torch.optim.SGD, {}), ("adam", torch.optim.Adam, {"eps": 1e-8})]:
        got = unroll(loss, theta0, steps=7, lr=0.05, optimizer=opt_name)["w"]
        w = theta0["w"].clone().requires_grad_(True)
        opt = cls([w], lr=0.05, **kw)
        for _ in range(7):
            opt.zero_grad()
            loss({"w": w}).backward()
            opt.step()
        torch.testing.assert_close(got, w.detach(), rtol=1e-12, atol=1e-12)
    with pytest.raises(PinnddError, match="inner optimizer"):
        unroll(loss, theta0, 1, 0.1, optimizer="lbfgs")


def test_dense_subset_and_repulsion():
    ps = methods.get("sobol").make(equations.get("heat"), 40, seed=0)
    from pinndd.engine.losses import TensorPoints

    tp = TensorPoints.from_pointset(ps, torch.float64, "cpu")
    sub = dense_subset(tp, 10, torch.Generator().manual_seed(1))
    assert sub.interior.shape[0] == 10 and abs(float(sub.interior_w.sum()) - 1) < 1e-12
    for name, (pts, w) in sub.conditions.items():
        assert 1 <= pts.shape[0] <= tp.conditions[name][0].shape[0] and abs(float(w.sum()) - 1) < 1e-12
    assert dense_subset(tp, None, torch.Generator()) is tp
    # repulsion: larger for a clustered set than for a spread one; exactly exp(-d^2/h^2) for two points
    lower, extent = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    spread = torch.tensor([[0.1, 0.1], [0.9, 0.9], [0.1, 0.9], [0.9, 0.1]], dtype=torch.float64)
    assert repulsion_energy(spread * 0.1 + 0.45, lower, extent, None) > repulsion_energy(spread, lower, extent, None)
    two = torch.tensor([[0.0, 0.0], [0.3, 0.4]], dtype=torch.float64)
    assert float(repulsion_energy(two, lower, extent, 0.5)) == pytest.approx(math.exp(-0.25 / 0.25))


# -- meta-gradients of the variants the generic check does not reach ---------------------------
def _fd_check(d, problem, picks, step=1):
    run = d.run(problem, counts(problem), 0)
    syn, ctx = run.synthetic, run.context

    def objective():
        return d.objective(ctx, step, syn, step_generator(0, step))

    tensors = syn.raw()
    grads = torch.autograd.grad(objective(), [tensors[k] for k, _ in picks], allow_unused=True)
    h, nonzero = 1e-5, False
    for (key, idx), g in zip(picks, grads, strict=True):
        t = tensors[key]
        old = t[idx].item()
        with torch.no_grad():
            t[idx] = old + h
        up = objective().item()
        with torch.no_grad():
            t[idx] = old - h
        down = objective().item()
        with torch.no_grad():
            t[idx] = old
        fd = (up - down) / (2 * h)
        analytic = 0.0 if g is None else float(g[idx])
        assert analytic == pytest.approx(fd, rel=1e-5, abs=1e-10), (key, idx)
        nonzero = nonzero or abs(fd) > 1e-7
    assert nonzero


def test_outcome_sgd_with_repulsion_meta_gradient(heat):
    d = distiller("outcome", outer_steps=0, dtype="float64", learn_weights=True, inner_optimizer="sgd",
                  inner_lr=0.01, inner_steps=4, students=2, repulsion=0.5, dense_batch=32)
    _fd_check(d, heat, [("z:interior", (0, 0)), ("z:interior", (7, 1)), ("a:interior", (2,)), ("z:left", (1, 0))])


def test_task_aware_reference_term_meta_gradient(burgers):
    d = distiller("task_aware", outer_steps=0, dtype="float64", learn_weights=True, inner_steps=4,
                  use_reference=True, reference_weight=2.0, shift_family="a", dense_batch=32)
    _fd_check(d, burgers, [("z:interior", (0, 0)), ("z:interior", (4, 1)), ("a:interior", (3,)), ("z:initial", (2, 0))])
    # the reference term is really there: same draws, students and subset, a larger objective
    plain = distiller("task_aware", outer_steps=0, dtype="float64", inner_steps=4, shift_family="a", dense_batch=32)
    with_ref, without = d.run(burgers, counts(burgers), 0), plain.run(burgers, counts(burgers), 0)
    a = d.objective(with_ref.context, 2, with_ref.synthetic, step_generator(0, 2)).item()
    b = plain.objective(without.context, 2, without.synthetic, step_generator(0, 2)).item()
    assert a > b * (1 + 1e-6)


def test_repulsion_spreads_a_clustered_set(heat):
    """With only the coverage term pulling (tiny unroll step), a set started in a cluster spreads."""
    kw = dict(init="uniform", learn_conditions=False, inner_lr=1e-6, inner_steps=1, students=1, repulsion=10.0,
              repulsion_width=0.3, outer_lr=0.2, dtype="float64")
    before = distiller("outcome", outer_steps=0, **kw).run(heat, counts(heat), 0)
    d = distiller("outcome", outer_steps=15, **kw)
    with torch.no_grad():  # shrink the start into a corner so the repulsion dominates
        before.synthetic.raw()["z:interior"].mul_(0.1).sub_(2.0)
    e0 = float(d.coverage(before.synthetic).detach())
    syn = before.synthetic
    opt = torch.optim.Adam(syn.learnable(), lr=0.2)
    for s in range(15):
        opt.zero_grad()
        d.objective(before.context, s, syn, step_generator(0, s)).backward()
        opt.step()
    assert float(d.coverage(syn).detach()) < 0.7 * e0


# -- task-aware specifics -------------------------------------------------------------------------
def test_shift_draws_mix_in_and_out_of_distribution(burgers):
    fam = burgers.shift("a")
    draws = [v for s in range(200) for v in draw_shifts(fam, 3, 0.4, step_generator(5, s))]
    values = np.array([v for v, _ in draws])
    flags = np.array([ind for _, ind in draws])
    (a, b), (c, e) = fam.in_range, fam.out_range
    assert np.all((values >= c) & (values <= e))  # inside the declared out range
    assert np.all(flags == np.array([fam.is_in_distribution(v) for v in values]))  # flags are honest
    assert np.all((values[flags] >= a) & (values[flags] <= b))
    assert (~flags).mean() == pytest.approx(0.4, abs=0.03)  # floor(1.2) + Bernoulli(0.2) of 3
    ood = values[~flags]
    assert np.any(ood < a) and np.any(ood > b)  # both sides
    assert all(ind for s in range(20) for _, ind in draw_shifts(fam, 3, 0.0, step_generator(5, s)))
    assert not any(ind for s in range(20) for _, ind in draw_shifts(fam, 2, 1.0, step_generator(5, s)))
    # the distiller's draws are those of the step's generator (so resume is exact)
    d = distiller("task_aware", outer_steps=0, shift_family="a", n_shifts=3, ood_fraction=0.4, train_on="range")
    run = d.run(burgers, counts(burgers), 0)
    assert d.draws(run.context, step_generator(0, 3)) == draw_shifts(fam, 3, 0.4, step_generator(0, 3))


def test_family_that_moves_no_condition(heat):
    """An explicitly named PDE-only family raises (unless allow_pde_shift); the automatic choice
    takes the first condition-moving family, else falls back to a PDE shift, else the nominal."""
    with pytest.raises(PinnddError, match="moves no boundary/initial condition.*'TL'"):
        distiller("task_aware", outer_steps=0, shift_family="alpha").make(heat, BUDGET)
    assert resolve_task(heat, "alpha", allow_pde_shift=True).shift_kind == "pde"
    plan = resolve_task(heat, None)
    assert plan.family.param == "TL" and set(plan.moved) == {"left", "initial"}
    assert resolve_task(equations.get("advection"), None).shift_kind == "pde"
    with pytest.raises(PinnddError, match="declares no shift family"):
        distiller("task_aware", outer_steps=0, shift_family="nope").make(heat, BUDGET)
    with pytest.raises(PinnddError, match="ood_fraction"):
        methods.get("task_aware", ood_fraction=1.5)


def test_task_aware_trains_under_the_shifted_conditions(heat):
    """The objective at a step equals the hand-computed one: fresh students trained on the set
    with the *shifted* condition targets, scored on the shifted dense loss."""
    from pinndd.methods.distill.outcome import physics_loss

    d = distiller("task_aware", outer_steps=0, dtype="float64", shift_family="TR", n_shifts=2, inner_steps=3,
                  dense_batch=None)
    run = d.run(heat, counts(heat), 0)
    ctx, syn = run.context, run.synthetic
    got = d.objective(ctx, 4, syn, step_generator(0, 4))
    rng = step_generator(0, 4)
    draws = d.draws(ctx, rng)
    assert any(not ind for _, ind in draws)  # ood_fraction 0.5 of 2 draws: exactly one OOD value
    total = 0.0
    tp = syn.tensor_points()
    for v, _ in draws:
        shifted = heat.with_params(TR=v)
        theta = unroll(lambda p, s=shifted: physics_loss(ctx, s, p, tp), ctx.fresh(rng), 3, d.inner_lr)
        total = total + physics_loss(ctx, shifted, theta, ctx.dense)
    assert got.item() == pytest.approx(total.item() / 2, rel=1e-12)
    # and the shifted targets matter: the nominal problem gives another value
    nominal = physics_loss(ctx, heat, {k: v.detach() for k, v in ctx.fresh(step_generator(0, 9)).items()}, ctx.dense)
    shifted = physics_loss(ctx, heat.with_params(TR=2.0), {k: v.detach() for k, v in ctx.fresh(step_generator(0, 9)).items()},
                           ctx.dense)
    assert float(shifted) > float(nominal)


def test_task_aware_metadata_names_the_task(heat):
    ps = distiller("task_aware", outer_steps=1, shift_family="TL", ood_fraction=0.25).make(heat, BUDGET, seed=0)
    task = ps.metadata["task"]
    assert task["param"] == "TL" and task["shift_kind"] == "conditions"
    assert set(task["shifted_conditions"]) == {"left", "initial"}
    assert task["in_range"] == list(heat.shift("TL").in_range) and task["out_range"] == list(heat.shift("TL").out_range)
    assert task["ood_fraction"] == 0.25 and task["nominal"] == heat.params["TL"]
    assert ps.metadata["dense_training_seconds_estimated"] is True and ps.metadata["dense_training_seconds"] > 0


def test_bad_settings():
    for kw in (dict(students=0), dict(inner_steps=0), dict(inner_lr=0.0), dict(inner_optimizer="rmsprop"),
               dict(dense_batch=0), dict(repulsion=-1.0), dict(repulsion_width=0.0)):
        with pytest.raises(PinnddError):
            methods.get("outcome", **kw)
    with pytest.raises(PinnddError, match="n_shifts"):
        methods.get("task_aware", n_shifts=0)
