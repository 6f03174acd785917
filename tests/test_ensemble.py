import numpy as np
import pytest
import torch

import equations
from pinndd import PinnddError, TrainConfig, methods, train
from pinndd.engine import derivatives, forward
from pinndd.engine.ensemble import EnsembleMLP, train_ensemble
from pinndd.engine.nn import MLP
from pinndd.problem import coords

TOL = dict(rtol=1e-10, atol=1e-10)


def test_ensemble_equals_separate_runs(pde_name):
    problem = equations.get(pde_name)
    ps = methods.get("sobol").make(problem, 24, seed=0)
    cfg = TrainConfig(width=6, depth=2, adam_steps=15, lr=1e-2, log_every=5, dtype="float64", progress=False)
    ens = train_ensemble(problem, ps, cfg, seeds=[3, 4, 5])
    pts = torch.as_tensor(problem.evaluation_points()[:200])
    for k, seed in enumerate([3, 4, 5]):
        single = train(problem, ps, TrainConfig(**{**cfg.to_dict(), "seed": seed}))
        np.testing.assert_allclose(ens.results[k].history["loss"], single.history["loss"], rtol=1e-9)
        with torch.no_grad():
            torch.testing.assert_close(ens.models[k](pts), single.model(pts), rtol=1e-8, atol=1e-10)


def test_ensemble_lbfgs_per_member():
    problem = equations.get("heat")
    ps = methods.get("sobol").make(problem, 24, seed=0)
    cfg = TrainConfig(width=6, depth=2, adam_steps=10, lbfgs_steps=5, log_every=5, dtype="float64", progress=False)
    ens = train_ensemble(problem, ps, cfg, seeds=[0, 1])
    single = train(problem, ps, TrainConfig(**{**cfg.to_dict(), "seed": 1}))
    np.testing.assert_allclose(ens.results[1].history["loss"], single.history["loss"], rtol=1e-7)


# -- the forward derivative engine on ensembles ----------------------------------------------------


def random_ensemble(problem, k=3, width=7, depth=2, act="tanh"):
    """A float64 ensemble of ``k`` random members with non-zero biases, and distinct random
    points per member, shape ``(k, n, d)``."""
    box = problem.domain
    members = []
    for s in range(k):
        torch.manual_seed(s)
        m = MLP(box, width=width, depth=depth, activation=act, dtype="float64")
        with torch.no_grad():
            for layer in m.layers:
                layer.bias.normal_(0.0, 0.3)
        members.append(m)
    rng = np.random.default_rng(0)
    pts = torch.from_numpy(np.stack([box.from_unit(rng.uniform(0.05, 0.95, (19, box.dim))) for _ in range(k)]))
    return EnsembleMLP(members), members, pts


@pytest.mark.parametrize("act", ["tanh", "sin"])
def test_ensemble_forward_partials_match_autograd(pde_name, act):
    problem = equations.get(pde_name)
    box, names = problem.domain, list(problem.partials)
    ens, members, pts = random_ensemble(problem, act=act)
    assert forward.supports(ens, names, box) and derivatives.forward_supported(ens, names, box)
    fw = derivatives.partials(ens, pts, names, box, engine="forward")
    ag = derivatives.partials(ens, pts, names, box, engine="autograd")
    assert list(fw) == names
    for n in names:
        assert fw[n].shape == (3, pts.shape[1])
        torch.testing.assert_close(fw[n], ag[n], **TOL)
        for k, m in enumerate(members):  # each member as a standalone MLP
            torch.testing.assert_close(fw[n][k], forward.partials(m, pts[k], [n], box)[n], **TOL)
    torch.testing.assert_close(fw["u"] if "u" in fw else forward.partials(ens, pts, ["u"], box)["u"], ens(pts), **TOL)


def test_ensemble_forward_gradients_match_autograd(pde_name):
    """d(loss)/d(ensemble parameters) and d(loss)/d(points) agree between the engines."""
    problem = equations.get(pde_name)
    box, names = problem.domain, list(problem.partials)
    ens, _, pts = random_ensemble(problem, act="silu")
    params = list(ens.parameters())
    grads = {}
    for engine in ("forward", "autograd"):
        x = pts.clone().requires_grad_(True)
        d = derivatives.partials(ens, x, names, box, engine=engine)
        r = problem.residual(d, coords(x, box), problem.params)
        loss = (r.square().mean(-1) * torch.arange(1.0, 4.0, dtype=r.dtype)).sum()
        grads[engine] = torch.autograd.grad(loss, params + [x], allow_unused=True)  # no u: output bias unused
    for gf, ga in zip(grads["forward"], grads["autograd"], strict=True):
        assert (gf is None) == (ga is None)
        if gf is not None:
            torch.testing.assert_close(gf, ga, **TOL)
    assert grads["forward"][-1].abs().max() > 0


def test_ensemble_forward_checks_and_members():
    problem = equations.get("burgers")
    ens, members, pts = random_ensemble(problem, k=2)
    with pytest.raises(PinnddError, match="ensemble points"):
        forward.partials(ens, pts[0], ["u"], problem.domain)
    assert [n for n, _ in ens.named_parameters()] == [f"{kind}.{i}" for kind in ("weights", "biases") for i in range(3)]
    with torch.no_grad():
        torch.testing.assert_close(ens.member(1)(pts[1]), members[1](pts[1]), **TOL)
