"""High-order finite-difference matrices on a uniform 1-d grid (for the method of lines).

Method
------
On the uniform grid ``X_i = x_0 + i dx`` (``i = 0..n``) the weights ``c_{ij}^{(k)}`` of the
``k``-th derivative at ``X_i`` over a stencil ``S_i`` are the unique weights exact for all
polynomials of degree ``< |S_i|``:

.. math::

    \\sum_{j \\in S_i} c_{ij}^{(k)} X_j^q = \\frac{d^k}{dx^k} x^q \\Big|_{x = X_i},
    \\qquad q = 0, \\dots, |S_i| - 1,

computed by Fornberg's recursion (stable for any node set). An accuracy ``order`` ``p`` (even)
uses the centred stencil ``{i - p/2, ..., i + p/2}`` wherever it fits, which is ``O(dx^p)`` for
both derivatives, and near the ends the ``p + 2`` nodes nearest to the boundary (one-sided,
``O(dx^p)`` for the second derivative and ``O(dx^{p+1})`` for the first). The matrices are
sparse (CSR) and feed :func:`pinndd.reference.chebyshev.solve_dirichlet`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import PinnddError


def fornberg_weights(z: float, nodes: np.ndarray, m: int) -> np.ndarray:
    """Finite-difference weights at ``z`` over ``nodes`` for derivatives of order ``0..m``.

    Returns
    -------
    numpy.ndarray
        ``c`` of shape ``(len(nodes), m + 1)``: ``f^{(k)}(z) ~ sum_j c[j, k] f(nodes[j])``,
        exact for polynomials of degree ``< len(nodes)``.
    """
    nodes = np.asarray(nodes, dtype=np.float64)
    n = nodes.size
    if n <= m:
        raise PinnddError(f"fornberg_weights: derivative order {m} needs more than {n} nodes")
    c = np.zeros((n, m + 1))
    c[0, 0] = 1.0
    prod_prev = 1.0
    dz_prev = nodes[0] - z
    for i in range(1, n):
        top = min(i, m)
        prod = 1.0
        dz_last = dz_prev
        dz_prev = nodes[i] - z
        for j in range(i):
            gap = nodes[i] - nodes[j]
            prod *= gap
            if j == i - 1:
                for k in range(top, 0, -1):
                    c[i, k] = prod_prev * (k * c[i - 1, k - 1] - dz_last * c[i - 1, k]) / prod
                c[i, 0] = -prod_prev * dz_last * c[i - 1, 0] / prod
            for k in range(top, 0, -1):
                c[j, k] = (dz_prev * c[j, k] - k * c[j, k - 1]) / gap
            c[j, 0] = dz_prev * c[j, 0] / gap
        prod_prev = prod
    return c


def uniform_matrices(n: int, lower: float, upper: float, order: int = 6) -> tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix]:
    """Uniform nodes and sparse first/second-derivative matrices of accuracy ``order``.

    Parameters
    ----------
    n:
        Number of intervals (``n + 1`` nodes, boundaries included).
    lower, upper:
        The interval.
    order:
        Even accuracy order ``p >= 2`` (centred stencils of ``p + 1`` nodes, one-sided ones of
        ``p + 2`` nodes near the ends).

    Returns
    -------
    x, D1, D2:
        Nodes ``(n + 1,)`` and CSR matrices ``(n + 1, n + 1)``.
    """
    if int(order) != order or order < 2 or order % 2:
        raise PinnddError(f"uniform_matrices: order must be an even integer >= 2; got {order}")
    if int(n) != n or n < order + 2:
        raise PinnddError(f"uniform_matrices: need an integer n >= order + 2 = {order + 2} intervals; got {n}")
    if not (np.isfinite(lower) and np.isfinite(upper) and lower < upper):
        raise PinnddError(f"uniform_matrices: need finite lower < upper; got [{lower}, {upper}]")
    n, half = int(n), order // 2
    dx = (upper - lower) / n
    x = lower + dx * np.arange(n + 1)
    # weights on the unit grid (scaled by dx afterwards): one centred stencil, per-row edge stencils
    centre = fornberg_weights(0.0, np.arange(-half, half + 1, dtype=np.float64), 2)
    rows, cols, v1, v2 = [], [], [], []
    width = order + 2
    for i in range(n + 1):
        if half <= i <= n - half:
            offs = np.arange(-half, half + 1)
            w = centre
        else:
            start = 0 if i < half else n + 1 - width
            offs = np.arange(start, start + width) - i
            w = fornberg_weights(0.0, offs.astype(np.float64), 2)
        rows.append(np.full(offs.size, i))
        cols.append(i + offs)
        v1.append(w[:, 1] / dx)
        v2.append(w[:, 2] / dx**2)
    r, c = np.concatenate(rows), np.concatenate(cols)
    shape = (n + 1, n + 1)
    d1 = sp.csr_matrix((np.concatenate(v1), (r, c)), shape=shape)
    d2 = sp.csr_matrix((np.concatenate(v2), (r, c)), shape=shape)
    return x, d1, d2
