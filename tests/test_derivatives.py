"""The autograd engine against finite differences, and the total-vs-partial derivative trap."""

import numpy as np
import torch
from fd import fd_partial

import equations
from pinndd.derivatives import autograd_partials, partials
from pinndd.nn import MLP
from pinndd.problem import parse_partial


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
        fd = fd_partial(f, xn, parse_partial(name, box), h)
        np.testing.assert_allclose(d[name].detach().numpy(), fd, rtol=1e-4, atol=1e-5, err_msg=name)


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
