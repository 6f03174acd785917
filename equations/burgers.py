"""Viscous Burgers' equation in 1-d (the DeepXDE / Raissi benchmark), with shiftable data.

.. math::

    u_t + u u_x = \\nu u_{xx}, \\qquad x \\in [-1, 1],\\ t \\in [0, 0.99], \\qquad
    \\nu = 0.01 / \\pi,

    u(x, 0) = u_0(x) = -a \\sin(\\pi x) + g_l \\frac{1 - x}{2} + g_r \\frac{1 + x}{2}, \\qquad
    u(-1, t) = g_l, \\quad u(1, t) = g_r.

Nominal parameters ``a = 1, g_l = g_r = 0`` give the benchmark, whose solution steepens into a
stationary shock at ``x = 0`` (width about ``2 nu / |jump| ~ 0.006``) from ``t ~ 1/pi`` on. The
linear lift in ``u_0`` keeps the data compatible at the corners for any ``g_l, g_r``.

Reference
---------
* ``g_l = g_r = 0``: the Cole-Hopf closed form evaluated by quadrature at the requested points
  (:func:`pinndd.reference.cole_hopf.burgers_sine`); it matches DeepXDE's ``Burgers.npz`` to
  ~3e-12 (relative L2).
* otherwise: method of lines (:func:`solve_mol`) with sixth-order finite differences on
  4001 uniform nodes (``dx = 5e-4``, about 13 nodes across the shock) and scipy's BDF with the
  exact sparse Jacobian (rtol 1e-10), sampled every 0.005 in ``t`` and interpolated by a quintic
  tensor spline (:class:`pinndd.reference.grid.GridSolution`); one solve per parameter tuple
  (cached), about 1 s. Forced at ``g_l = g_r = 0`` it agrees with Cole-Hopf to ~2e-9
  (relative L2).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from equations import Verification, register
from pinndd.domain import Box
from pinndd.errors import PinnddError
from pinndd.problem import Coords, Derivs, Params, Problem, ShiftFamily, dirichlet, initial_value
from pinndd.reference.chebyshev import solve_dirichlet
from pinndd.reference.cole_hopf import burgers_sine
from pinndd.reference.finite_difference_1d import uniform_matrices
from pinndd.reference.grid import GridSolution

#: Viscosity of the benchmark.
NU = 0.01 / np.pi
DOMAIN = Box(("x", "t"), (-1.0, 0.0), (1.0, 0.99))
NOMINAL = {"a": 1.0, "gl": 0.0, "gr": 0.0}
#: Method-of-lines resolution: intervals in x, samples in t, FD order, BDF tolerance.
MOL_INTERVALS = 4000
MOL_TIMES = 199
MOL_ORDER = 6
MOL_RTOL = 1e-10
#: The method of lines resolves the shock (width ~ 2 nu / jump) only for moderate data.
MAX_DATA = 2.0


def initial_numpy(x: np.ndarray, a: float, gl: float, gr: float) -> np.ndarray:
    """``u_0(x) = -a sin(pi x) + g_l (1 - x)/2 + g_r (1 + x)/2``."""
    return -a * np.sin(np.pi * x) + gl * (1.0 - x) / 2.0 + gr * (1.0 + x) / 2.0


def _initial(x: Coords, p: Params) -> torch.Tensor:
    xx = x["x"]
    return -p["a"] * torch.sin(torch.pi * xx) + p["gl"] * (1.0 - xx) / 2.0 + p["gr"] * (1.0 + xx) / 2.0


def _left(x: Coords, p: Params) -> torch.Tensor:
    return torch.zeros_like(x["x"]) + p["gl"]


def _right(x: Coords, p: Params) -> torch.Tensor:
    return torch.zeros_like(x["x"]) + p["gr"]


def _residual(d: Derivs, x: Coords, p: Params) -> torch.Tensor:
    return d["u_t"] + d["u"] * d["u_x"] - NU * d["u_xx"]


def _hard(x: Coords, net: torch.Tensor, p: Params) -> torch.Tensor:
    """``u = u_0(x) + (1 - x^2) t net``: exact initial and boundary values."""
    return _initial(x, p) + (1.0 - x["x"] ** 2) * x["t"] * net


def _burgers_rhs(
    x: np.ndarray, u: np.ndarray, ux: np.ndarray, uxx: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``F = nu u_xx - u u_x`` with ``F_u = -u_x``, ``F_{u_x} = -u``, ``F_{u_xx} = nu``."""
    return NU * uxx - u * ux, -ux, -u, NU


def check_params(p: Params) -> None:
    """The data the method-of-lines reference resolves: ``|a|, |gl|, |gr| <= MAX_DATA``."""
    a, gl, gr = p["a"], p["gl"], p["gr"]
    if max(abs(a), abs(gl), abs(gr)) > MAX_DATA:
        raise PinnddError(
            f"burgers: the method-of-lines reference is resolved for |a|, |gl|, |gr| <= {MAX_DATA} "
            f"(the shock narrows as 2 nu / jump); got a={a}, gl={gl}, gr={gr}"
        )


@lru_cache(maxsize=16)
def solve_mol(a: float, gl: float, gr: float) -> GridSolution:
    """Method-of-lines solution for any data, cached per ``(a, gl, gr)``.

    Sixth-order finite differences on ``MOL_INTERVALS + 1`` uniform nodes, scipy BDF with the
    exact sparse Jacobian, output every ``0.99 / (MOL_TIMES - 1)`` in ``t``, interpolated by a
    quintic tensor spline.
    """
    a, gl, gr = float(a), float(gl), float(gr)
    check_params({"a": a, "gl": gl, "gr": gr})
    x, d1, d2 = uniform_matrices(MOL_INTERVALS, DOMAIN.lower[0], DOMAIN.upper[0], MOL_ORDER)
    t = np.linspace(DOMAIN.lower[1], DOMAIN.upper[1], MOL_TIMES)
    u = solve_dirichlet(x, d1, d2, _burgers_rhs, initial_numpy(x, a, gl, gr), gl, gr, t,
                        method="BDF", rtol=MOL_RTOL, atol=MOL_RTOL * 1e-2)
    return GridSolution([x, t], u)


def reference(points: np.ndarray, p: Params) -> np.ndarray:
    """The solution at ``points`` (``(n, 2)``, columns ``x, t``) for parameters ``p``."""
    pts = np.asarray(points, dtype=np.float64)
    if not np.all(DOMAIN.contains(pts)):
        raise PinnddError("burgers: reference requested outside the domain [-1, 1] x [0, 0.99]")
    a, gl, gr = float(p["a"]), float(p["gl"]), float(p["gr"])
    if gl == 0.0 and gr == 0.0:
        return burgers_sine(pts[:, 0], np.clip(pts[:, 1], 0.0, None), a, NU)
    return solve_mol(a, gl, gr)(pts)


def deepxde_grid() -> np.ndarray:
    """DeepXDE's reference grid: 256 ``x`` by 100 ``t`` values, ``x`` slowest (rows reshape to
    ``(256, 100)`` like ``usol`` in ``Burgers.npz``)."""
    x = np.linspace(-1.0, 1.0, 256)
    t = np.linspace(0.0, 0.99, 100)
    xx, tt = np.meshgrid(x, t, indexing="ij")
    return np.stack([xx.ravel(), tt.ravel()], axis=1)


@register(
    "burgers",
    Verification(
        shifted=({"a": 1.3}, {"a": 1.2, "gl": 0.2, "gr": -0.1}),
        h=1e-4,
        rtol=5e-6,
        ctol=1e-12,
        margin=0.02,
        notes=(
            "Shock of width ~2 nu/|jump| ~ 0.006 at x ~ 0: h = 1e-4 of the extent (dx = 2e-4, "
            "dt ~ 1e-4) keeps the central-difference error at rms residual/scale <= 1.5e-6 (8e-5 at "
            "h = 1e-3; it falls as h^2 down to h = 1e-5 for both Cole-Hopf and the MOL spline). "
            "scale = rms(u_xx), so a relative error e in nu adds ~e*nu: rtol 5e-6 fails nu off by 1%. "
            "No margin beyond the default: the viscous reference is smooth. Conditions hold to ~1e-15."
        ),
    ),
    reference_method=(
        "Cole-Hopf closed form by log-sum-exp trapezoid quadrature when gl = gr = 0; otherwise "
        "6th-order FD (4001 nodes) + scipy BDF method of lines, quintic-spline interpolated"
    ),
)
def make() -> Problem:
    """The Burgers benchmark at nominal parameters ``a = 1, gl = gr = 0``."""
    box = DOMAIN
    return Problem(
        name="burgers",
        domain=box,
        partials=("u", "u_t", "u_x", "u_xx"),
        residual=_residual,
        conditions=(
            dirichlet("left", box.face("x", "lower"), _left),
            dirichlet("right", box.face("x", "upper"), _right),
            initial_value("initial", box, _initial),
        ),
        params=NOMINAL,
        reference_fn=reference,
        check_params=check_params,
        shifts=(
            ShiftFamily("a", (0.8, 1.2), (0.5, 1.5)),
            ShiftFamily("gl", (-0.1, 0.1), (-0.3, 0.3)),
            ShiftFamily("gr", (-0.1, 0.1), (-0.3, 0.3)),
        ),
        hard_transform=_hard,
        hard_conditions=("left", "right", "initial"),
        eval_points=deepxde_grid(),
        description="u_t + u u_x = (0.01/pi) u_xx on [-1,1] x [0,0.99], u0 = -a sin(pi x) + lift, u(-1)=gl, u(1)=gr",
    )
