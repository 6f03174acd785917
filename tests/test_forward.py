"""The forward derivative engine agrees with autograd: values, gradients, fallbacks."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
import torch

import equations
from pinndd.domain import Box
from pinndd.engine import derivatives, forward
from pinndd.engine.nn import MLP, PINN
from pinndd.errors import PinnddError
from pinndd.problem import Problem

TOL = dict(rtol=1e-10, atol=1e-10)
ACTS = sorted(forward.RULES)
NAMES = {1: ("x",), 2: ("x", "t"), 3: ("x", "y", "t")}


def all_partials(box: Box) -> list[str]:
    """``u``, every first and every second partial (mixed included) of ``box``."""
    n = box.names
    return ["u"] + [f"u_{a}" for a in n] + [f"u_{a}{b}" for a, b in itertools.combinations_with_replacement(n, 2)]


def random_setup(act: str, seed: int, dim: int | None = None, depth: int | None = None, width: int | None = None):
    """A random float64 MLP with non-zero biases on a random box, and random points in it."""
    rng = np.random.default_rng(seed)
    dim = dim or int(rng.integers(1, 4))
    depth = depth or int(rng.integers(1, 4))
    width = width or int(rng.integers(3, 17))
    lower = rng.uniform(-2, 1, dim)
    box = Box(NAMES[dim], tuple(lower), tuple(lower + rng.uniform(0.5, 3, dim)))
    torch.manual_seed(seed)
    net = MLP(box, width=width, depth=depth, activation=act, dtype="float64")
    with torch.no_grad():
        for layer in net.layers:
            layer.bias.normal_(0.0, 0.5)
    pts = torch.from_numpy(box.from_unit(rng.uniform(0, 1, (37, dim))))
    return box, net, pts


def assert_same(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for k in a:
        assert a[k].shape == b[k].shape, k
        torch.testing.assert_close(a[k], b[k], **TOL, msg=lambda m, k=k: f"{k}: {m}")


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_partials_match_autograd(act, seed):
    box, net, pts = random_setup(act, seed)
    names = all_partials(box)
    assert forward.supports(net, names, box)
    fw = forward.partials(net, pts, names, box)
    assert_same(fw, derivatives.autograd_partials(net, pts, names, box))
    torch.testing.assert_close(fw["u"], net(pts), **TOL)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_every_depth_and_3d(act, depth):
    box, net, pts = random_setup(act, 10 + depth, dim=3, depth=depth, width=5)
    names = all_partials(box)
    assert_same(forward.partials(net, pts, names, box), derivatives.autograd_partials(net, pts, names, box))


@pytest.mark.parametrize(
    "names",
    [["u"], ["u_x"], ["u_xx"], ["u_tx"], ["u_tt", "u"], ["u_tx", "u_xt", "u_x"], ["u_xx", "u_t", "u_x", "u"]],
)
def test_subsets_and_noncanonical_names(names):
    box, net, pts = random_setup("tanh", 3, dim=2)
    fw = forward.partials(net, pts, names, box)
    assert list(fw) == list(dict.fromkeys(names))
    assert_same(fw, derivatives.autograd_partials(net, pts, names, box))


def residual_loss(d: dict, box: Box) -> torch.Tensor:
    """A residual-like nonlinear combination of all partials, squared and summed."""
    r = d["u"] ** 2
    for i, a in enumerate(box.names):
        r = r + (i + 1) * d["u"] * d[f"u_{a}"]
    for j, (a, b) in enumerate(itertools.combinations_with_replacement(box.names, 2)):
        r = r + (0.3 - 0.1 * j) * d[f"u_{a}{b}"] * (1 + d["u"])
    return (r**2).sum()


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradients_match_autograd(act, seed):
    """d(loss)/d(parameters) and d(loss)/d(points) agree: points may be learnable."""
    box, net, pts = random_setup(act, 100 + seed)
    names = all_partials(box)
    params = list(net.parameters())
    grads = {}
    for engine in ("forward", "autograd"):
        x = pts.clone().requires_grad_(True)
        loss = residual_loss(derivatives.partials(net, x, names, box, engine=engine), box)
        grads[engine] = torch.autograd.grad(loss, params + [x])
    for gf, ga in zip(grads["forward"], grads["autograd"], strict=True):
        torch.testing.assert_close(gf, ga, **TOL)
    assert grads["forward"][-1].abs().max() > 0


def test_functional_call_substitutes_parameters():
    box, net, pts = random_setup("tanh", 7, dim=2, depth=2, width=6)
    names = ["u", "u_t", "u_x", "u_xx", "u_xt"]

    model = PINN(net)
    new = {k: (v.detach() * 1.3 + 0.05).requires_grad_(True) for k, v in model.named_parameters()}
    out = {}
    for engine in ("forward", "autograd"):
        values = torch.func.functional_call(
            Partials(model, names, box, engine), {f"model.{k}": v for k, v in new.items()}, (pts,)
        )
        out[engine] = (values, torch.autograd.grad((values**2).sum(), list(new.values())))
    torch.testing.assert_close(out["forward"][0], out["autograd"][0], **TOL)
    for gf, ga in zip(out["forward"][1], out["autograd"][1], strict=True):
        torch.testing.assert_close(gf, ga, **TOL)
    # the substitution was used, not the module's own parameters
    own = forward.partials(model, pts, names, box)
    assert not torch.allclose(own["u_xx"], out["forward"][0][3])


def test_softplus_threshold_matches_torch():
    """Past torch's softplus threshold (z > 20) the function is the identity; match that."""
    box, net, pts = random_setup("softplus", 5, dim=2, depth=2, width=8)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(30.0)
            layer.bias.mul_(30.0)
    z = net.layers[0](pts * net.in_scale + net.in_shift)
    assert (z > 20).any() and (z <= 20).any()
    names = all_partials(box)
    assert_same(forward.partials(net, pts, names, box), derivatives.autograd_partials(net, pts, names, box))


def test_float32_and_no_grad():
    box = Box(("x", "t"), (-1.0, 0.0), (1.0, 1.0))
    torch.manual_seed(0)
    net = MLP(box, width=16, depth=3, dtype="float32")
    pts = torch.rand(50, 2)
    names = ["u", "u_t", "u_x", "u_xx"]
    ref = derivatives.autograd_partials(net, pts, names, box)
    with torch.no_grad():  # evaluation without a graph works with the forward engine
        fw = forward.partials(net, pts, names, box)
    exact = derivatives.autograd_partials(copy.deepcopy(net).double(), pts.double(), names, box)
    eps32 = torch.finfo(torch.float32).eps
    for k in names:
        assert fw[k].dtype == torch.float32
        # as close to the float64 values as float32 autograd is (a bound that follows the rounding
        # of the machine it runs on, not a tolerance fixed on one CPU)
        dev_fw = (fw[k].double() - exact[k]).abs().max()
        dev_ag = (ref[k].detach().double() - exact[k]).abs().max()
        assert dev_fw <= 4 * dev_ag + 16 * eps32 * exact[k].abs().max(), (k, float(dev_fw), float(dev_ag))


# -- support and fallback ------------------------------------------------------------------------


def toy_problem(box: Box) -> Problem:
    return Problem(
        name="toy",
        domain=box,
        partials=("u", "u_xx"),
        residual=lambda d, x, p: d["u_xx"],
        conditions=(),
        hard_transform=lambda x, out, p: x["t"] * out,
    )


def test_supports():
    box, net, pts = random_setup("tanh", 0, dim=2)
    names = ["u", "u_x", "u_xt"]
    assert forward.supports(net, names, box)
    assert forward.supports(PINN(net), names, box)
    assert forward.supports(PINN(net, toy_problem(box), hard=False), names, box)
    assert not forward.supports(PINN(net, toy_problem(box), hard=True), names, box)
    assert not forward.supports(net, ["u", "u_xxt"], box)
    assert not forward.supports(net, ["u_ttt"], box)
    assert not forward.supports(torch.nn.Sequential(torch.nn.Linear(2, 1)), names, box)

    class Custom(MLP):
        def forward(self, x):
            return super().forward(x) ** 2

    assert not forward.supports(Custom(box, 4, 1, dtype="float64"), names, box)
    relu = MLP(box, 4, 2, dtype="float64")
    relu.activation, relu.act = "relu", torch.relu
    assert not forward.supports(relu, names, box)
    with pytest.raises(PinnddError):
        forward.supports(net, ["u_z"], box)


def test_engine_forward_raises_when_unsupported():
    box, net, pts = random_setup("tanh", 0, dim=2)
    hard = PINN(net, toy_problem(box), hard=True)
    for model, names in [(hard, ["u", "u_xx"]), (net, ["u_xxx"]), (torch.nn.Sequential(torch.nn.Linear(2, 1)), ["u"])]:
        with pytest.raises(PinnddError, match="forward engine"):
            derivatives.partials(model, pts, names, box, engine="forward")
    with pytest.raises(PinnddError):
        forward.partials(hard, pts, ["u"], box)
    with pytest.raises(PinnddError):
        forward.partials(net, pts, ["u_xxt"], box)


def test_auto_uses_forward_when_supported(monkeypatch):
    box, net, pts = random_setup("tanh", 0, dim=2)
    calls = []
    real = forward.partials

    def spy(*args, **kwargs):
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(forward, "partials", spy)
    names = ["u", "u_x", "u_tt"]
    auto = derivatives.partials(net, pts, names, box)
    assert calls == [names]
    assert_same(auto, derivatives.autograd_partials(net, pts, names, box))
    # unsupported: auto falls back to autograd (hard transform, third order)
    hard = PINN(net, toy_problem(box), hard=True)
    derivatives.partials(hard, pts, names, box, engine="auto")
    third = derivatives.partials(net, pts, ["u", "u_xxt"], box, engine="auto")
    assert calls == [names]
    assert_same(third, derivatives.autograd_partials(net, pts, ["u", "u_xxt"], box))


# -- every registered PDE --------------------------------------------------------------------------


@pytest.mark.parametrize("act", ["tanh", "sin"])
def test_registered_pdes(pde_name, act):
    problem = equations.get(pde_name)
    box = problem.domain
    names = list(problem.partials)
    torch.manual_seed(0)
    net = MLP(box, width=12, depth=3, activation=act, dtype="float64")
    with torch.no_grad():
        for layer in net.layers:
            layer.bias.normal_(0.0, 0.3)
    model = PINN(net, problem, hard=False)
    if not forward.supports(model, names, box):
        assert max(len(p) - 2 for p in names if p != "u") > 2, f"{pde_name}: forward engine should support {names}"
        pytest.skip(f"{pde_name} declares partials beyond second order")
    rng = np.random.default_rng(0)
    pts = torch.from_numpy(box.from_unit(rng.uniform(0.05, 0.95, (64, box.dim))))
    fw = derivatives.partials(model, pts, names, box, engine="forward")
    ag = derivatives.partials(model, pts, names, box, engine="autograd")
    assert_same(fw, ag)

    def evaluator(engine):
        return lambda x, ps: derivatives.partials(model, x, ps, box, engine=engine)

    torch.testing.assert_close(
        problem.pde_residual(evaluator("forward"), pts), problem.pde_residual(evaluator("autograd"), pts), **TOL
    )


@pytest.mark.parametrize("act", ACTS)
def test_jacrev_over_parameters(act):
    """Plain torch ops: ``torch.func.jacrev`` of a residual w.r.t. the parameters works (the
    autograd engine cannot run inside it), matches row-by-row autograd, and stays
    differentiable w.r.t. the points."""
    box, net, pts = random_setup(act, 21, dim=2, depth=2, width=5)
    names = ["u", "u_t", "u_x", "u_xx", "u_xt"]
    model = PINN(net)
    params = {k: v.detach() for k, v in model.named_parameters()}

    def residual(p, x, engine):
        d = torch.func.functional_call(Partials(model, names, box, engine), {f"model.{k}": v for k, v in p.items()}, (x,))
        return d[1] + d[0] * d[2] - 0.1 * d[3] + d[4]

    x = pts.clone().requires_grad_(True)
    jac = torch.func.jacrev(lambda p: residual(p, x, "forward"))(params)
    jac = torch.cat([j.reshape(j.shape[0], -1) for j in jac.values()], dim=1)

    x2 = pts.clone().requires_grad_(True)
    p2 = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    r = residual(p2, x2, "autograd")
    rows = [
        torch.cat([g.reshape(-1) for g in torch.autograd.grad(r[i], list(p2.values()), create_graph=True)]) for i in range(len(r))
    ]
    ref = torch.stack(rows)
    torch.testing.assert_close(jac, ref, **TOL)
    gx = torch.autograd.grad((jac**2).sum(), x)[0]
    gx_ref = torch.autograd.grad((ref**2).sum(), x2)[0]
    torch.testing.assert_close(gx, gx_ref, **TOL)


class Partials(torch.nn.Module):
    """``x -> stack of the named partials`` through :func:`derivatives.partials` (for functional_call)."""

    def __init__(self, model, names, box, engine):
        super().__init__()
        self.model, self.names, self.box, self.engine = model, names, box, engine

    def forward(self, x):
        d = derivatives.partials(self.model, x, self.names, self.box, engine=self.engine)
        return torch.stack([d[n] for n in self.names])
