"""The autograd engine against finite differences, and the total-vs-partial derivative trap."""

import numpy as np
import torch
from fd import fd_partial

import equations
from pinndd.engine.derivatives import autograd_partials, partials
from pinndd.engine.nn import MLP
from pinndd.problem import parse_partial


def fd_with_bound(f, xn: np.ndarray, axes: tuple[int, ...], h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The central difference at step ``h`` and how far a correct derivative may lie from it,
    estimated from the numbers rather than fixed: truncation from steps ``h`` and ``2h``
    (Richardson: ``fd_2h - fd_h = 3 C h^2``) and rounding of order ``eps |f| / h^order``, with a
    margin of 4 for the crudeness of both estimates."""
    fd_h, fd_2h = fd_partial(f, xn, axes, h), fd_partial(f, xn, axes, 2 * h)
    rounding = 64 * np.finfo(np.float64).eps * (np.abs(f(xn)).max() + 1.0) / h.min() ** len(axes)
    return fd_h, 4 * (np.abs(fd_2h - fd_h) / 3 + rounding)


def test_autograd_matches_finite_differences(pde_name):
    problem = equations.get(pde_name)
    box = problem.domain
    torch.manual_seed(0)
    net = MLP(box, width=8, depth=2, dtype="float64")
    x = torch.as_tensor(box.from_unit(np.random.default_rng(0).uniform(0.2, 0.8, (6, box.dim))))
    d = autograd_partials(net, x, problem.partials, box)
    h = 1e-4 * box.extent
    f = lambda p: net(torch.as_tensor(p)).detach().numpy()
    xn = x.numpy()
    for name in problem.partials:
        fd_h, tol = fd_with_bound(f, xn, parse_partial(name, box), h)
        err = np.abs(d[name].detach().numpy() - fd_h)
        assert np.all(err <= tol), (name, err.max(), tol.min())


def test_the_finite_difference_bound_catches_a_wrong_derivative():
    """The bound above is tight enough to see a derivative 1e-4 off (relative)."""
    box = equations.get("heat").domain
    torch.manual_seed(0)
    net = MLP(box, width=8, depth=2, dtype="float64")
    x = torch.as_tensor(box.from_unit(np.random.default_rng(0).uniform(0.2, 0.8, (6, box.dim))))
    f = lambda p: net(torch.as_tensor(p)).detach().numpy()
    h = 1e-4 * box.extent
    d = autograd_partials(net, x, ("u_xx",), box)["u_xx"].detach().numpy()
    fd_h, tol = fd_with_bound(f, x.numpy(), (0, 0), h)
    assert np.all(np.abs(d - fd_h) <= tol)
    assert np.any(np.abs(d * (1 + 1e-4) - fd_h) > tol)


def test_partial_not_total_derivative_when_parameters_depend_on_points():
    """One unrolled SGD step makes the student's weights depend on the points; the engine must
    still return the partial derivative in x (as with the weights frozen)."""
    from pinndd import Box

    box = Box(("x", "t"), (0, 0), (1, 1))
    torch.manual_seed(1)
    net = MLP(box, width=6, depth=2, dtype="float64")
    x_syn = torch.rand(5, 2, dtype=torch.float64, requires_grad=True)
    params = dict(net.named_parameters())
    loss = torch.func.functional_call(net, params, (x_syn,)).square().mean()
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
    stepped = {k: p - 0.5 * g for (k, p), g in zip(params.items(), grads)}
    student = lambda pts: torch.func.functional_call(net, stepped, (pts,))
    got = partials(student, x_syn, ("u_x", "u_xx"), box, engine="autograd")
    frozen = {k: v.detach() for k, v in stepped.items()}
    want = autograd_partials(lambda pts: torch.func.functional_call(net, frozen, (pts,)), x_syn.detach(), ("u_x", "u_xx"), box)
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-12, atol=1e-12)
    # and the meta-gradient w.r.t. the points still flows through both paths
    g = torch.autograd.grad(got["u_x"].sum(), x_syn)[0]
    assert torch.isfinite(g).all() and g.abs().sum() > 0
