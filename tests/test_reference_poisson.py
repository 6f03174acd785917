"""The finite-difference Poisson solver converges at the advertised orders, and the registered
``poisson`` reference is resolved (independent resolutions agree with it)."""

import numpy as np
import pytest

import equations
from equations import poisson as poisson_module
from pinndd.errors import PinnddError
from pinndd.reference.grid import GridSolution
from pinndd.reference.poisson_fd import solve_poisson, solve_poisson_richardson


def _exact(X, Y):
    return np.sin(np.pi * X) * np.sin(2 * np.pi * Y) + np.exp(X + 0.5 * Y)


def _minus_laplacian(X, Y):
    return 5 * np.pi**2 * np.sin(np.pi * X) * np.sin(2 * np.pi * Y) - 1.25 * np.exp(X + 0.5 * Y)


def _max_error(solver, n, lower=(0.0, 0.0), upper=(1.0, 1.0)):
    axes, values = solver(_minus_laplacian, _exact, lower, upper, n)
    X, Y = np.meshgrid(*axes, indexing="ij")
    return np.max(np.abs(values - _exact(X, Y)))


def test_five_point_scheme_is_second_order():
    errs = [_max_error(solve_poisson, n) for n in (16, 32, 64)]
    ratios = [a / b for a, b in zip(errs[:-1], errs[1:], strict=True)]
    assert all(3.6 < r < 4.4 for r in ratios), (errs, ratios)
    assert errs[-1] < 1e-3


def test_five_point_scheme_on_a_rectangle_with_unequal_steps():
    lower, upper = (-0.5, 0.25), (1.0, 1.0)
    errs = [_max_error(solve_poisson, (3 * n, 2 * n), lower, upper) for n in (8, 16, 32)]
    ratios = [a / b for a, b in zip(errs[:-1], errs[1:], strict=True)]
    assert all(3.6 < r < 4.4 for r in ratios), (errs, ratios)


def test_richardson_extrapolation_is_fourth_order():
    errs = [_max_error(solve_poisson_richardson, n) for n in (8, 16, 32)]
    ratios = [a / b for a, b in zip(errs[:-1], errs[1:], strict=True)]
    assert all(r > 12 for r in ratios), (errs, ratios)
    assert errs[-1] < 2e-6


def test_boundary_values_are_the_data():
    axes, values = solve_poisson(_minus_laplacian, _exact, n=(10, 7))
    X, Y = np.meshgrid(*axes, indexing="ij")
    for sl in (np.s_[0, :], np.s_[-1, :], np.s_[:, 0], np.s_[:, -1]):
        np.testing.assert_allclose(values[sl], _exact(X, Y)[sl], rtol=0, atol=1e-15)


def test_solver_rejects_degenerate_grids():
    with pytest.raises(PinnddError):
        solve_poisson(_minus_laplacian, _exact, n=1)
    with pytest.raises(PinnddError):
        solve_poisson(_minus_laplacian, _exact, lower=(0.0, 1.0), upper=(1.0, 1.0))


@pytest.mark.parametrize("shift", [{}, {"s": 3.0, "c": -0.5}])
def test_registered_reference_is_resolved(shift):
    problem = equations.get("poisson", **shift)
    p = dict(problem.params)
    pts = problem.evaluation_points()
    ref = problem.reference(pts)
    scale = np.max(np.abs(ref))
    f = lambda X, Y: poisson_module._source(X, Y, p, lib=np)  # noqa: E731
    g = lambda X, Y: poisson_module._boundary(X, Y, p, lib=np)  # noqa: E731
    # an independent, coarser Richardson solve agrees to its own (4th-order) accuracy
    axes, values = solve_poisson_richardson(f, g, n=48)
    assert np.max(np.abs(GridSolution(axes, values)(pts) - ref)) / scale < 1e-6
    # plain second-order solves converge towards the reference at second order
    errs = []
    for n in (50, 100):
        axes, values = solve_poisson(f, g, n=n)
        nodes = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
        errs.append(np.max(np.abs(values.ravel() - problem.reference(nodes))) / scale)
    assert 3.6 < errs[0] / errs[1] < 4.4, errs


def test_registered_reference_is_cached_per_parameter_tuple():
    problem = equations.get("poisson")
    pts = problem.evaluation_points()[:10]
    problem.reference(pts)
    hits = poisson_module._solution.cache_info().hits
    problem.with_params(s=1.0).reference(pts)
    assert poisson_module._solution.cache_info().hits == hits + 1
