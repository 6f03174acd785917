"""Method-of-lines solvers for 1-d evolution equations with constant Dirichlet values.

Method
------
Equations of the form

.. math::

    u_t = F(x, u, u_x, u_{xx}), \\quad x \\in [x_0, x_1],\\ t > 0, \\qquad
    u(x_0, t) = g_l,\\ u(x_1, t) = g_r, \\qquad u(x, 0) = u_0(x)

are discretised in space on nodes ``x_0 = X_0 < ... < X_n = x_1`` with differentiation
matrices ``D1 ~ d/dx`` and ``D2 ~ d^2/dx^2``; the boundary values are held fixed and the
``n - 1`` interior values obey the ODE system

.. math::

    \\dot v = F(X_{int}, u, (D_1 u)_{int}, (D_2 u)_{int}), \\qquad u = (g_l, v, g_r),

which is integrated by ``scipy.integrate.solve_ivp`` with an implicit method (BDF or Radau)
and the exact Jacobian

.. math::

    J = \\operatorname{diag}(F_u) + \\operatorname{diag}(F_{u_x}) D_1^{int}
        + \\operatorname{diag}(F_{u_{xx}}) D_2^{int},

where ``D^{int}`` is the interior-rows/interior-columns block. ``F`` returns its value and its
three partial derivatives (pointwise), so the Jacobian is assembled without differencing.

This module provides Chebyshev collocation (:func:`chebyshev_matrices`: Gauss-Lobatto points
``X_j = -cos(pi j / n)`` and the spectral differentiation matrix) together with barycentric
interpolation (:func:`chebyshev_interpolate`) to move the solution onto any other points;
:mod:`pinndd.reference.finite_difference_1d` provides sparse finite-difference matrices for the
same driver :func:`solve_dirichlet`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.integrate import solve_ivp

from ..errors import PinnddError

#: ``F(x, u, u_x, u_xx) -> (u_t, dF/du, dF/du_x, dF/du_xx)``, all arrays of shape ``(m,)``
#: (the derivative arrays may also be scalars).
Rhs = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], tuple[Any, ...]]
#: A differentiation matrix: dense array or scipy sparse matrix.
Matrix = np.ndarray | sp.spmatrix | sp.sparray


def chebyshev_matrices(n: int, lower: float = -1.0, upper: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chebyshev-Gauss-Lobatto nodes and spectral differentiation matrices on ``[lower, upper]``.

    With ``xi_j = -cos(pi j / n)`` (``j = 0..n``, increasing) and the barycentric weights
    ``w_j = (-1)^j delta_j`` (``delta_0 = delta_n = 1/2``, else 1), the first-derivative matrix is

    .. math::

        D_{ij} = \\frac{w_j / w_i}{\\xi_i - \\xi_j}\\ (i \\ne j), \\qquad
        D_{ii} = -\\sum_{j \\ne i} D_{ij},

    (the negative-sum diagonal makes ``D`` exact on constants), scaled by ``2 / (upper - lower)``
    for the mapped nodes ``x = lower + (xi + 1)(upper - lower)/2``; ``D2 = D @ D``.

    Returns
    -------
    x, D1, D2:
        Nodes ``(n + 1,)`` and dense matrices ``(n + 1, n + 1)``.
    """
    if int(n) != n or n < 2:
        raise PinnddError(f"chebyshev_matrices: need an integer n >= 2; got {n}")
    if not (np.isfinite(lower) and np.isfinite(upper) and lower < upper):
        raise PinnddError(f"chebyshev_matrices: need finite lower < upper; got [{lower}, {upper}]")
    n = int(n)
    j = np.arange(n + 1)
    xi = -np.cos(np.pi * j / n)
    w = _cheb_weights(n)
    diff = xi[:, None] - xi[None, :]
    np.fill_diagonal(diff, 1.0)
    d = (w[None, :] / w[:, None]) / diff
    np.fill_diagonal(d, 0.0)
    np.fill_diagonal(d, -d.sum(axis=1))
    scale = 2.0 / (upper - lower)
    d1 = d * scale
    return lower + (xi + 1.0) * (upper - lower) / 2.0, d1, d1 @ d1


def _cheb_weights(n: int) -> np.ndarray:
    w = (-1.0) ** np.arange(n + 1)
    w[0] *= 0.5
    w[-1] *= 0.5
    return w


def chebyshev_interpolate(nodes: np.ndarray, values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Evaluate the Chebyshev interpolant through ``values`` at points ``x`` (barycentric form).

    .. math::

        p(x) = \\frac{\\sum_j w_j f_j / (x - X_j)}{\\sum_j w_j / (x - X_j)},

    with the Gauss-Lobatto weights ``w_j = (-1)^j delta_j``; points that coincide with a node take
    its value.

    Parameters
    ----------
    nodes:
        The ``n + 1`` nodes of :func:`chebyshev_matrices` (increasing).
    values:
        Shape ``(n + 1,)`` or ``(n + 1, m)`` (several functions at once).
    x:
        Evaluation points, shape ``(k,)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(k,)`` or ``(k, m)``.
    """
    nodes = np.asarray(nodes, dtype=np.float64)
    f = np.asarray(values, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64).ravel()
    if f.shape[0] != nodes.size:
        raise PinnddError(f"chebyshev_interpolate: {nodes.size} nodes but values of shape {f.shape}")
    w = _cheb_weights(nodes.size - 1)
    diff = x[:, None] - nodes[None, :]
    exact = diff == 0.0
    diff[exact] = 1.0
    c = w[None, :] / diff
    out = (c @ f) / c.sum(axis=1).reshape((-1,) + (1,) * (f.ndim - 1))
    rows, cols = np.nonzero(exact)
    out[rows] = f[cols]
    return out


def solve_dirichlet(
    x: np.ndarray,
    d1: Matrix,
    d2: Matrix,
    rhs: Rhs,
    u0: np.ndarray,
    left: float,
    right: float,
    t_eval: np.ndarray,
    method: str = "BDF",
    rtol: float = 1e-9,
    atol: float = 1e-11,
) -> np.ndarray:
    """Integrate ``u_t = F(x, u, u_x, u_xx)`` with fixed Dirichlet values by the method of lines.

    Parameters
    ----------
    x:
        Nodes ``(n + 1,)``, increasing, boundary nodes first and last.
    d1, d2:
        Differentiation matrices ``(n + 1, n + 1)``, dense arrays or scipy sparse matrices
        (sparse ones give a sparse Jacobian).
    rhs:
        ``F`` with its partial derivatives, see :data:`Rhs`.
    u0:
        Initial values at all nodes ``(n + 1,)``; the boundary entries are replaced by
        ``left`` / ``right``.
    left, right:
        Dirichlet values at ``x[0]`` and ``x[-1]``.
    t_eval:
        Increasing output times, the first one being the initial time.
    method:
        ``"BDF"`` or ``"Radau"``.
    rtol, atol:
        Tolerances of the time integrator.

    Returns
    -------
    numpy.ndarray
        ``U`` of shape ``(n + 1, len(t_eval))`` with ``U[i, j] = u(x_i, t_j)``.
    """
    x = np.asarray(x, dtype=np.float64)
    t_eval = np.asarray(t_eval, dtype=np.float64)
    n1 = x.size
    if method not in ("BDF", "Radau"):
        raise PinnddError(f"solve_dirichlet: method must be 'BDF' or 'Radau'; got {method!r}")
    if np.any(np.diff(x) <= 0):
        raise PinnddError("solve_dirichlet: nodes must be strictly increasing")
    if t_eval.ndim != 1 or t_eval.size < 2 or np.any(np.diff(t_eval) <= 0):
        raise PinnddError("solve_dirichlet: t_eval must be a strictly increasing 1-d array of at least 2 times")
    if d1.shape != (n1, n1) or d2.shape != (n1, n1):
        raise PinnddError(f"solve_dirichlet: matrices must be {(n1, n1)}; got {d1.shape} and {d2.shape}")
    sparse = sp.issparse(d1)
    if sparse:
        d1 = sp.csr_matrix(d1)
        d2 = sp.csr_matrix(d2)
    inner = slice(1, n1 - 1)
    # interior rows split into interior columns (a) and the fixed boundary values (b)
    a1, a2 = d1[inner, :][:, inner], d2[inner, :][:, inner]
    ends = np.zeros(n1)
    ends[0], ends[-1] = left, right
    b1 = np.asarray(d1 @ ends).ravel()[inner]
    b2 = np.asarray(d2 @ ends).ravel()[inner]
    xi = x[inner]
    m = n1 - 2

    def derivs(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return a1 @ v + b1, a2 @ v + b2

    def fun(t: float, v: np.ndarray) -> np.ndarray:
        ux, uxx = derivs(v)
        return np.asarray(rhs(xi, v, ux, uxx)[0], dtype=np.float64)

    def jac(t: float, v: np.ndarray) -> Matrix:
        ux, uxx = derivs(v)
        _, fu, fux, fuxx = rhs(xi, v, ux, uxx)
        fu, fux, fuxx = (np.broadcast_to(np.asarray(c, dtype=np.float64), (m,)) for c in (fu, fux, fuxx))
        if sparse:
            return (sp.diags(fu) + sp.diags(fux) @ a1 + sp.diags(fuxx) @ a2).tocsc()
        return np.diag(fu) + fux[:, None] * a1 + fuxx[:, None] * a2

    v0 = np.asarray(u0, dtype=np.float64)[inner].copy()
    sol = solve_ivp(fun, (t_eval[0], t_eval[-1]), v0, method=method, t_eval=t_eval, jac=jac, rtol=rtol, atol=atol)
    if not sol.success:
        raise PinnddError(f"solve_dirichlet: time integration failed: {sol.message}")
    out = np.empty((n1, t_eval.size))
    out[0], out[-1] = left, right
    out[inner] = sol.y
    return out
