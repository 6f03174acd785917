"""Point-wise influence against leave-one-out retraining, and the influence-based selection method.

The check needs a trained PINN at a strict, well-conditioned minimum, so that retraining without
one point converges to a nearby minimum that a Newton step predicts:

- fewer trainable parameters (13) than residuals (40): with more parameters than points a PINN
  interpolates, every residual is zero at the minimum, and removing a point changes nothing
  (influence and leave-one-out are both zero, their ranks noise);
- a tanh network whose hidden layer is fixed (random features), so the loss has no flat
  directions from the hidden units' symmetries (with a fully trained tanh MLP of this size the
  Hessian had eigenvalues from 1e-8 to 1e4: leave-one-out retraining does not converge along
  the flat ones, and Newton steps are huge there);
- a *nonlinear* PDE, -Laplace u + u^3 = f, so the loss is quartic in the parameters and the
  exact Hessian differs from Gauss-Newton: the influence is a first-order prediction, not an
  identity;
- float64, L-BFGS to convergence, and leave-one-out retraining warm-started from the optimum
  (a fresh start finds another minimum of the non-convex loss; influence functions describe the
  local response).
"""

import copy

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import equations
from pinndd import Box, PinnddError, PointSet, Problem, TrainConfig, dirichlet, methods, train
from pinndd.engine.nn import PINN
from pinndd.engine.training import make_model
from pinndd.influence import candidate_influence, conjugate_gradient, held_out_set, jvp, point_influence
from pinndd.influence._blocks import loss_blocks, quantity_of
from pinndd.influence._linalg import flatten

BOX = Box(names=("x", "y"), lower=(0.0, 0.0), upper=(1.0, 1.0))


def _exact(x, y):
    return torch.exp(-((x - 0.3) ** 2) - 0.5 * (y - 0.6) ** 2)


def _residual(d, x, p):  # -Laplace u + g u^3 = f, f from the exact solution
    ue = _exact(x["x"], x["y"])
    lap = ue * ((2 * (x["x"] - 0.3)) ** 2 - 2 + (x["y"] - 0.6) ** 2 - 1)
    return -(d["u_xx"] + d["u_yy"]) + p["g"] * d["u"] ** 3 - (-lap + p["g"] * ue**3)


def _reference(pts, p):
    return np.exp(-((pts[:, 0] - 0.3) ** 2) - 0.5 * (pts[:, 1] - 0.6) ** 2)


def _value(x, p):
    return _exact(x["x"], x["y"])


PROBLEM = Problem(
    name="nonlinear_poisson", domain=BOX, partials=("u", "u_xx", "u_yy"), residual=_residual,
    conditions=tuple(dirichlet(n, BOX.face(c, s), _value) for n, c, s in
                     [("left", "x", "lower"), ("right", "x", "upper"), ("bottom", "y", "lower"), ("top", "y", "upper")]),
    params={"g": 1.0}, reference_fn=_reference)
WIDTH, N_INTERIOR, N_FACE = 12, 24, 4


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    ps = PointSet(BOX.from_unit(rng.random((N_INTERIOR, 2))), None,
                  {c.name: (c.face.from_unit(rng.random((N_FACE, 1))), None) for c in PROBLEM.conditions})
    cfg = TrainConfig(width=WIDTH, depth=1, adam_steps=200, lr=1e-2, lbfgs_steps=1000, dtype="float64", seed=1,
                      progress=False)
    model = make_model(PROBLEM, cfg)
    first = model.net.layers[0]
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # fixed random features: the hidden layer is not trained
        first.weight.copy_(torch.randn(first.weight.shape, generator=gen, dtype=torch.float64) * 1.5)
        first.bias.copy_((torch.rand(first.bias.shape, generator=gen, dtype=torch.float64) * 2 - 1) * 1.5)
    first.weight.requires_grad_(False)
    first.bias.requires_grad_(False)
    model = train(PROBLEM, ps, cfg, model=model).model
    # leave-one-out retraining, warm-started, for every second interior point and condition point
    loo_cfg = TrainConfig(width=WIDTH, depth=1, adam_steps=0, lbfgs_steps=150, dtype="float64", progress=False)

    def retrain(pointset):
        return train(PROBLEM, pointset, loo_cfg, model=PINN(copy.deepcopy(model.net), PROBLEM)).model

    picks, sets = [], []
    for j in range(0, N_INTERIOR, 2):
        keep = np.arange(N_INTERIOR) != j
        picks.append(j)
        sets.append(PointSet(ps.interior[keep], None, ps.conditions))
    for i, (name, (pts, _)) in enumerate(ps.conditions.items()):
        for j in range(0, N_FACE, 2):
            keep = np.arange(N_FACE) != j
            picks.append(N_INTERIOR + i * N_FACE + j)
            sets.append(PointSet(ps.interior, None, {**ps.conditions, name: (pts[keep], None)}))
    return ps, model, retrain(ps), np.array(picks), [retrain(s) for s in sets]


@pytest.mark.parametrize("quantity", ["reference", "physics"])
@pytest.mark.parametrize("hessian", ["exact", "gauss_newton"])
def test_influence_ranks_like_leave_one_out(trained, quantity, hessian):
    ps, model, again, picks, loo_models = trained
    held = held_out_set(PROBLEM, 2048, 64)

    def q(m):
        return float(quantity_of(PROBLEM, m, quantity, held, {})[1].detach())

    base = q(again)  # the full set retrained the same way (its drift from the optimum cancels)
    loo = np.array([q(m) - base for m in loo_models])
    inf = point_influence(PROBLEM, model, ps, quantity, hessian=hessian, damping=1e-10, held_out=held)
    assert inf.cg_relative_residual < 1e-6
    assert len(inf.flat()) == len(ps) and inf.owners()[N_INTERIOR] == "left"
    rho = spearmanr(inf.flat()[picks], loo)[0]
    assert rho >= 0.8, f"Spearman {rho:.3f} between influence and leave-one-out ({quantity}, {hessian})"
    # the removal of a point is predicted with its sign where the effect is clearly nonzero
    big = np.abs(loo) > np.median(np.abs(loo))
    assert np.mean(np.sign(inf.flat()[picks][big]) == np.sign(loo[big])) >= 0.8


def test_exact_solve_matches_a_dense_hessian(trained):
    """CG on Hessian-vector products equals a dense solve; the JVP equals the explicit Jacobian."""
    ps, model, _, _, _ = trained
    m = PINN(copy.deepcopy(model.net), PROBLEM)
    params = [p for p in m.parameters() if p.requires_grad]
    blocks = loss_blocks(PROBLEM, m, ps, {})
    r = torch.cat([b.residual for b in blocks])
    loss = sum((b.coef * b.residual**2).sum() / len(b.residual) for b in blocks)
    g = flatten(torch.autograd.grad(loss, params, create_graph=True), params)
    h = torch.stack([flatten(torch.autograd.grad(g[i], params, retain_graph=True), params) for i in range(len(g))])
    jac = torch.stack([flatten(torch.autograd.grad(r[i], params, retain_graph=True), params) for i in range(len(r))])
    v = torch.linspace(-1, 1, len(g), dtype=torch.float64)
    assert torch.allclose(jvp(r, params, v), jac @ v, rtol=1e-10, atol=1e-12)
    b = torch.ones(len(g), dtype=torch.float64)
    x, its, rel = conjugate_gradient(lambda z: (h @ z).detach(), b, 0.0, 1e-12, 200)
    assert rel < 1e-9
    assert torch.allclose(x, torch.linalg.solve(h.detach(), b), rtol=1e-6)


def test_alignment_needs_no_solve_and_unknown_settings_raise(trained):
    ps, model, _, _, _ = trained
    ali = point_influence(PROBLEM, model, ps, "reference", method="alignment")
    assert ali.cg_iterations == 0 and ali.hessian is None and np.all(np.isfinite(ali.flat()))
    with pytest.raises(PinnddError, match="quantity"):
        point_influence(PROBLEM, model, ps, "nonsense")
    with pytest.raises(PinnddError, match="hessian"):
        point_influence(PROBLEM, model, ps, hessian="diagonal")


def test_candidate_influence_of_a_training_point_matches_its_removal(trained):
    """Adding a copy of a training point and removing it are first-order opposites (up to the
    mean's normalisation, n + 1 against n - 1, and without the renormalisation terms)."""
    ps, model, _, _, _ = trained
    rem = point_influence(PROBLEM, model, ps, "reference", hessian="exact", damping=1e-10, renormalise=False)
    add, info = candidate_influence(PROBLEM, model, ps, ps.interior, "reference", hessian="exact", damping=1e-10,
                                    cg_tol=1e-10, cg_maxiter=500)
    assert info["cg_relative_residual"] < 1e-9 and rem.cg_relative_residual < 1e-9
    # rem_j = +(2 r Jv)_j / n and add_j = -((2 r Jv)_j - v.grad T) / (n + 1): their sum (scaled) is the
    # constant v.grad T. Two CG solves to 1e-10 with a condition number below ~1e4 agree to ~1e-6.
    scaled = rem.interior * N_INTERIOR
    diff = add * (N_INTERIOR + 1) + scaled
    assert np.ptp(diff) <= 1e-5 * np.abs(scaled).max()


def test_influence_select_is_a_method():
    heat = equations.get("heat")
    method = methods.get("influence_select", warmup_steps=50, pool_size=512, cg_maxiter=20)
    ps = method.make(heat, 32, seed=0)
    assert ps.n_interior == 32 and len(np.unique(ps.interior, axis=0)) == 32
    assert ps.metadata["influence"]["quantity"] == "physics" and ps.metadata["influence_seconds"] > 0
    again = method.make(heat, 32, seed=0)
    np.testing.assert_array_equal(ps.interior, again.interior)
    with pytest.raises(PinnddError, match="quantity"):
        methods.get("influence_select", quantity="loss")
