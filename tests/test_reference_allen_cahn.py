"""Allen-Cahn reference: two independent discretisations agree; the solver building blocks."""

import numpy as np
import pytest
import torch

import equations
from equations import allen_cahn
from pinndd.errors import PinnddError
from pinndd.reference.chebyshev import chebyshev_interpolate, chebyshev_matrices
from pinndd.reference.finite_difference_1d import fornberg_weights, uniform_matrices


@pytest.mark.parametrize("params", [{"D": 0.001, "k": 5.0}, {"D": 0.0006, "k": 4.0}])
def test_chebyshev_bdf_agrees_with_finite_differences_radau(params):
    """Chebyshev collocation + BDF against 6th-order FD (4001 nodes) + Radau (measured:
    relative L2 ~3e-10, max ~4e-9 at nominal; ~3e-10 / 9e-10 at D=0.0006, k=4)."""
    xc, uc = allen_cahn.solve_chebyshev(params["D"], params["k"])
    xf, uf = allen_cahn.solve_finite_difference(params["D"], params["k"])
    cheb = chebyshev_interpolate(xc, uc, xf)
    rel = np.linalg.norm(cheb - uf) / np.linalg.norm(uf)
    err = np.max(np.abs(cheb - uf))
    assert rel <= 5e-9 and err <= 1e-7, f"{params}: relative L2 {rel:.2e}, max {err:.2e}"
    # the reference (after resampling and spline) is the Chebyshev solution
    pts = np.column_stack([xf[::7], np.full(xf[::7].size, allen_cahn.output_times()[123])])
    ref = equations.get("allen_cahn", **params).reference(pts)
    assert np.max(np.abs(ref - uf[::7, 123])) <= 1e-7


def test_chebyshev_degree_grows_for_thin_interfaces():
    assert allen_cahn.chebyshev_degree(0.001, 5.0) == 512
    assert allen_cahn.chebyshev_degree(0.0005, 7.0) > 800
    with pytest.raises(PinnddError):
        allen_cahn.solve_chebyshev(1e-5, 5.0)
    with pytest.raises(PinnddError):
        allen_cahn.solve_chebyshev(-0.001, 5.0)


def test_wrong_diffusion_fails_the_residual_check():
    """The registered FD check is sharp enough to see a 0.1% error in D."""
    from test_references import fd_check

    spec = equations.verification("allen_cahn")
    problem = equations.get("allen_cahn")
    d, r, scale = fd_check(problem, spec)
    wrong = r - 1e-3 * problem.params["D"] * d["u_xx"].numpy()
    assert np.sqrt(np.mean(r**2)) / scale <= spec.rtol
    assert np.sqrt(np.mean(wrong**2)) / scale > spec.rtol


def test_hard_transform_meets_conditions():
    problem = equations.get("allen_cahn", k=6.0)
    rng = np.random.default_rng(0)
    for cond in problem.conditions:
        pts = torch.from_numpy(cond.face.from_unit(rng.random((20, 1))))
        u = problem.output(pts, torch.from_numpy(rng.normal(size=20)), hard=True)
        torch.testing.assert_close(u, cond.target(pts, problem.params), rtol=0, atol=1e-14)


def test_reference_outside_domain_raises():
    with pytest.raises(PinnddError):
        equations.get("allen_cahn").reference(np.array([[1.1, 0.5]]))


# -- building blocks -------------------------------------------------------------------------------


def test_fornberg_weights_known_stencils():
    w = fornberg_weights(0.0, np.array([-1.0, 0.0, 1.0]), 2)
    np.testing.assert_allclose(w[:, 1], [-0.5, 0.0, 0.5], atol=1e-15)
    np.testing.assert_allclose(w[:, 2], [1.0, -2.0, 1.0], atol=1e-15)
    w = fornberg_weights(0.0, np.arange(-2.0, 3.0), 2)
    np.testing.assert_allclose(w[:, 2], np.array([-1, 16, -30, 16, -1]) / 12, atol=1e-14)
    with pytest.raises(PinnddError):
        fornberg_weights(0.0, np.array([0.0, 1.0]), 2)


@pytest.mark.parametrize("order", [2, 4, 6])
def test_uniform_matrices_reach_their_order(order):
    errs = []
    for n in (80, 160):
        x, d1, d2 = uniform_matrices(n, -1.0, 2.0, order)
        f = np.sin(2 * x + 0.3)
        errs.append((np.max(np.abs(d1 @ f - 2 * np.cos(2 * x + 0.3))), np.max(np.abs(d2 @ f + 4 * f))))
    rate1 = np.log2(errs[0][0] / errs[1][0])
    rate2 = np.log2(errs[0][1] / errs[1][1])
    assert rate1 >= order - 0.3 and rate2 >= order - 0.3, (rate1, rate2)
    # exact on polynomials of degree <= order (both derivatives, boundary rows included)
    x, d1, d2 = uniform_matrices(20, -1.0, 2.0, order)
    p = x**order
    np.testing.assert_allclose(d1 @ p, order * x ** (order - 1), atol=1e-9)
    np.testing.assert_allclose(d2 @ p, order * (order - 1) * x ** (order - 2), atol=1e-8)


def test_chebyshev_matrices_and_interpolation_are_spectral():
    x, d1, d2 = chebyshev_matrices(24, -1.0, 3.0)
    assert np.all(np.diff(x) > 0) and x[0] == -1.0 and x[-1] == 3.0
    p = x**7 - 2 * x**3
    np.testing.assert_allclose(d1 @ p, 7 * x**6 - 6 * x**2, rtol=1e-11, atol=1e-9)
    np.testing.assert_allclose(d2 @ p, 42 * x**5 - 12 * x, rtol=1e-10, atol=1e-8)
    xe = np.linspace(-1.0, 3.0, 37)
    f = np.column_stack([np.exp(np.sin(x)), np.cos(3 * x)])
    exact = np.column_stack([np.exp(np.sin(xe)), np.cos(3 * xe)])
    np.testing.assert_allclose(chebyshev_interpolate(x, f, xe), exact, atol=1e-9)
