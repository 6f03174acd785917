"""Second-order finite differences for the Poisson equation on a rectangle.

Solves

.. math::

    -(u_{xx} + u_{yy}) = f(x, y) \\quad \\text{in } [x_0, x_1] \\times [y_0, y_1],
    \\qquad u = g \\text{ on the boundary},

with the five-point stencil on a uniform grid and a sparse direct solve
(:func:`scipy.sparse.linalg.spsolve`). :func:`solve_poisson_richardson` combines two
resolutions by Richardson extrapolation: the five-point scheme's error expands in even powers
of the mesh width for smooth, corner-compatible data, so ``(4 u_{h/2} - u_h) / 3`` is
fourth-order accurate at the coarse nodes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from ..errors import PinnddError

#: ``fn(X, Y) -> array`` evaluated on arrays of equal shape.
GridFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _second_difference(n: int) -> sp.csr_matrix:
    """The ``(n-1) x (n-1)`` matrix ``tridiag(-1, 2, -1)`` (unscaled)."""
    m = n - 1
    return sp.diags([-np.ones(m - 1), 2.0 * np.ones(m), -np.ones(m - 1)], [-1, 0, 1], format="csr")


def solve_poisson(
    f: GridFn,
    g: GridFn,
    lower: tuple[float, float] = (0.0, 0.0),
    upper: tuple[float, float] = (1.0, 1.0),
    n: int | tuple[int, int] = 128,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Five-point finite-difference solution of ``-(u_xx + u_yy) = f``, ``u = g`` on the boundary.

    Parameters
    ----------
    f:
        Source, ``f(X, Y)`` on arrays.
    g:
        Dirichlet data, ``g(X, Y)``; only its values on the boundary nodes are used.
    lower, upper:
        Corners of the rectangle.
    n:
        Number of grid intervals per axis (``(nx, ny)`` or one number for both); the grid has
        ``(nx + 1) x (ny + 1)`` nodes and ``(nx - 1) x (ny - 1)`` unknowns.

    Returns
    -------
    axes, values:
        The node coordinates per axis and the solution of shape ``(nx + 1, ny + 1)``
        (``values[i, j]`` at ``(axes[0][i], axes[1][j])``), boundary values included.
    """
    nx, ny = (n, n) if isinstance(n, (int, np.integer)) else (int(n[0]), int(n[1]))
    if nx < 2 or ny < 2:
        raise PinnddError(f"solve_poisson needs at least 2 intervals per axis; got {(nx, ny)}")
    (x0, y0), (x1, y1) = lower, upper
    if not (x1 > x0 and y1 > y0):
        raise PinnddError(f"solve_poisson needs lower < upper; got {lower}, {upper}")
    xs = np.linspace(x0, x1, nx + 1)
    ys = np.linspace(y0, y1, ny + 1)
    hx, hy = (x1 - x0) / nx, (y1 - y0) / ny
    X, Y = np.meshgrid(xs, ys, indexing="ij")

    U = np.zeros((nx + 1, ny + 1))
    G = np.broadcast_to(np.asarray(g(X, Y), dtype=np.float64), X.shape)
    for sl in (np.s_[0, :], np.s_[-1, :], np.s_[:, 0], np.s_[:, -1]):
        U[sl] = G[sl]
    # interior nodes are zero in U, so only boundary neighbours contribute here
    rhs = np.broadcast_to(np.asarray(f(X[1:-1, 1:-1], Y[1:-1, 1:-1]), dtype=np.float64), (nx - 1, ny - 1)).copy()
    rhs += (U[:-2, 1:-1] + U[2:, 1:-1]) / hx**2 + (U[1:-1, :-2] + U[1:-1, 2:]) / hy**2

    # unknowns flattened in C order (x slowest), matching rhs.ravel()
    A = sp.kron(_second_difference(nx), sp.identity(ny - 1), format="csr") / hx**2 + sp.kron(
        sp.identity(nx - 1), _second_difference(ny), format="csr"
    ) / hy**2
    U[1:-1, 1:-1] = spsolve(A.tocsc(), rhs.ravel()).reshape(nx - 1, ny - 1)
    return [xs, ys], U


def solve_poisson_richardson(
    f: GridFn,
    g: GridFn,
    lower: tuple[float, float] = (0.0, 0.0),
    upper: tuple[float, float] = (1.0, 1.0),
    n: int | tuple[int, int] = 128,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Richardson-extrapolated solution ``(4 u_{n_fine} - u_n) / 3`` on the coarse grid.

    Solves on ``n`` and ``2 n`` intervals per axis (see :func:`solve_poisson`) and returns the
    extrapolated values at the ``n + 1`` coarse nodes per axis; fourth-order accurate for
    smooth data whose source is compatible with the boundary data at the corners.
    """
    nx, ny = (n, n) if isinstance(n, (int, np.integer)) else (int(n[0]), int(n[1]))
    axes, coarse = solve_poisson(f, g, lower, upper, (nx, ny))
    _, fine = solve_poisson(f, g, lower, upper, (2 * nx, 2 * ny))
    return axes, (4.0 * fine[::2, ::2] - coarse) / 3.0
