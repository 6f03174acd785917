"""Two-dimensional Poisson equation with a localized source and non-trivial Dirichlet data."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from pinndd.domain import Box
from pinndd.errors import PinnddError
from pinndd.problem import Coords, Derivs, Params, Problem, ShiftFamily, dirichlet
from pinndd.reference.grid import GridSolution
from pinndd.reference.poisson_fd import solve_poisson_richardson

from . import Verification, register

#: Peak scale, centre and width of the source bump.
SOURCE_AMPLITUDE = 20.0
SOURCE_CENTER = (0.6, 0.4)
SOURCE_WIDTH = 0.2
#: Grid intervals per axis of the coarse solve (the fine one has twice as many).
FD_INTERVALS = 96


def _boundary(x, y, p: Params, lib=torch):
    """``G = c (x^2 - y^2) + a sin(pi x) sin(pi y / 2)``, whose trace is the Dirichlet data."""
    return p["c"] * (x**2 - y**2) + p["a"] * lib.sin(math.pi * x) * lib.sin(0.5 * math.pi * y)


def _source(x, y, p: Params, lib=torch):
    """``f = s F0 sin(pi x) sin(pi y) exp(-|(x, y) - x0|^2 / (2 w^2))``."""
    (x0, y0), w = SOURCE_CENTER, SOURCE_WIDTH
    bump = lib.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2.0 * w**2))
    return p["s"] * SOURCE_AMPLITUDE * lib.sin(math.pi * x) * lib.sin(math.pi * y) * bump


def _data(x: Coords, p: Params) -> torch.Tensor:
    return _boundary(x["x"], x["y"], p)


def _residual(d: Derivs, x: Coords, p: Params) -> torch.Tensor:
    return -(d["u_xx"] + d["u_yy"]) - _source(x["x"], x["y"], p)


def _hard(x: Coords, out: torch.Tensor, p: Params) -> torch.Tensor:
    # G is the declared smooth extension of the boundary data (not the solution)
    xx, yy = x["x"], x["y"]
    return _boundary(xx, yy, p) + xx * (1.0 - xx) * yy * (1.0 - yy) * out


@functools.lru_cache(maxsize=32)
def _solution(s: float, a: float, c: float) -> GridSolution:
    p = {"s": s, "a": a, "c": c}
    axes, values = solve_poisson_richardson(
        lambda X, Y: _source(X, Y, p, lib=np),
        lambda X, Y: _boundary(X, Y, p, lib=np),
        (0.0, 0.0),
        (1.0, 1.0),
        FD_INTERVALS,
    )
    return GridSolution(axes, values)


#: Largest ``|s|, |a|, |c|``: the problem is linear, so any value has a solution, but beyond 100
#: times the nominal scale a float32 PINN's losses (of order ``s^2``) and the finite-difference
#: reference's absolute error grow with it; scale the problem instead.
MAX_DATA = 100.0


def check_params(p: Params) -> None:
    """``|s|, |a|, |c| <= MAX_DATA`` (see the constant)."""
    big = {k: p[k] for k in ("s", "a", "c") if abs(p[k]) > MAX_DATA}
    if big:
        raise PinnddError(f"poisson: need |s|, |a|, |c| <= {MAX_DATA:g} (rescale u for larger data); got {big}")


def reference(points: np.ndarray, p: Params) -> np.ndarray:
    """Richardson-extrapolated five-point finite differences, interpolated by a quintic spline."""
    return _solution(float(p["s"]), float(p["a"]), float(p["c"]))(points)


@register(
    "poisson",
    Verification(
        shifted=({"s": 3.0, "c": -0.5}, {"a": -1.0, "c": 1.5, "s": 0.0}),
        h=2e-4,
        rtol=1e-6,
        ctol=1e-9,
        notes=(
            f"five-point FD on {FD_INTERVALS}^2 and {2 * FD_INTERVALS}^2 intervals, Richardson-extrapolated "
            "(4th order: data are corner-compatible), quintic spline interpolation"
        ),
    ),
    reference_method=(
        f"numerical: sparse five-point finite differences on {FD_INTERVALS}^2 and {2 * FD_INTERVALS}^2 intervals, "
        "Richardson-extrapolated, quintic-spline interpolant; cached per parameter tuple"
    ),
)
def make() -> Problem:
    r"""The Poisson equation on the unit square with a source bump and Dirichlet data.

    .. math::

        -(u_{xx} + u_{yy}) = f(x, y), \qquad (x, y) \in [0, 1]^2, \qquad u = G \text{ on the boundary},

        f = s\, F_0 \sin(\pi x) \sin(\pi y)\, e^{-((x - 0.6)^2 + (y - 0.4)^2) / (2 \cdot 0.2^2)},
        \quad F_0 = 20,

        G = c\,(x^2 - y^2) + a \sin(\pi x) \sin(\pi y / 2),

    so the boundary data are ``-c y^2`` (left), ``c (1 - y^2)`` (right), ``c x^2`` (bottom) and
    ``c (x^2 - 1) + a sin(pi x)`` (top). Source and data are compatible at the corners
    (``f + Delta G = 0`` there), so the solution is smooth up to the corners and the
    finite-difference error expands in even powers of the mesh width.

    Nominal parameters: ``s = 1`` (source strength), ``a = 1`` (top-edge bump), ``c = 0.5``
    (harmonic quadratic part of the data).

    Conditions: ``"left"``, ``"right"``, ``"bottom"``, ``"top"`` (Dirichlet). The hard transform
    ``u = G + x (1 - x) y (1 - y) N`` enforces all four.

    Shift families: ``s`` (in ``[0.5, 1.5]``, out ``[0, 3]``), ``a`` (in ``[0.5, 1.5]``, out
    ``[-1, 2]``), ``c`` (in ``[0.25, 0.75]``, out ``[-0.5, 1.5]``).

    Reference: numerical (no closed form): :func:`pinndd.reference.poisson_fd.solve_poisson_richardson`
    on 96 and 192 intervals per axis, extrapolated to fourth order and interpolated with a
    quintic spline (:class:`pinndd.reference.grid.GridSolution`), cached per parameter tuple.
    """
    box = Box(("x", "y"), (0.0, 0.0), (1.0, 1.0))
    conditions = (
        dirichlet("left", box.face("x", "lower"), _data),
        dirichlet("right", box.face("x", "upper"), _data),
        dirichlet("bottom", box.face("y", "lower"), _data),
        dirichlet("top", box.face("y", "upper"), _data),
    )
    return Problem(
        name="poisson",
        domain=box,
        partials=("u_xx", "u_yy"),
        residual=_residual,
        conditions=conditions,
        params={"s": 1.0, "a": 1.0, "c": 0.5},
        reference_fn=reference,
        check_params=check_params,
        shifts=(
            ShiftFamily("s", (0.5, 1.5), (0.0, 3.0)),
            ShiftFamily("a", (0.5, 1.5), (-1.0, 2.0)),
            ShiftFamily("c", (0.25, 0.75), (-0.5, 1.5)),
        ),
        hard_transform=_hard,
        hard_conditions=("left", "right", "bottom", "top"),
        eval_counts=(101, 101),
        description="2-d Poisson -Laplace u = f with a source bump and Dirichlet data on all faces",
    )
