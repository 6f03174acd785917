"""Nonlinear Klein-Gordon equation with a manufactured solution (Wang, Teng & Perdikaris 2021)."""

from __future__ import annotations

import math

import numpy as np
import torch

from pinndd.domain import Box
from pinndd.problem import Coords, Derivs, Params, Problem, ShiftFamily, dirichlet, initial_value, initial_velocity

from . import Verification, register

#: Angular frequency of the oscillating part of the manufactured solution.
OMEGA = 5.0 * math.pi
#: Power of the nonlinear term ``gamma u^K``.
K = 3


def _solution(x, t, p: Params, lib=torch):
    """``u = A x cos(5 pi t) + (x t)^3`` (torch or numpy)."""
    return p["A"] * x * lib.cos(OMEGA * t) + (x * t) ** 3


def _forcing(x: torch.Tensor, t: torch.Tensor, p: Params) -> torch.Tensor:
    u = _solution(x, t, p)
    u_tt = -p["A"] * OMEGA**2 * x * torch.cos(OMEGA * t) + 6.0 * x**3 * t
    u_xx = 6.0 * x * t**3
    return u_tt + p["alpha"] * u_xx + p["beta"] * u + p["gamma"] * u**K


def _right(x: Coords, p: Params) -> torch.Tensor:
    t = x["t"]
    return p["A"] * torch.cos(OMEGA * t) + t**3


def _initial(x: Coords, p: Params) -> torch.Tensor:
    return p["A"] * x["x"]


def _residual(d: Derivs, x: Coords, p: Params) -> torch.Tensor:
    u = d["u"]
    return d["u_tt"] + p["alpha"] * d["u_xx"] + p["beta"] * u + p["gamma"] * u**K - _forcing(x["x"], x["t"], p)


def _hard(x: Coords, out: torch.Tensor, p: Params) -> torch.Tensor:
    # x g_R(t) matches both ends, u(x, 0) = A x and u_t(x, 0) = x g_R'(0) = 0; the correction
    # x (1 - x) t^2 N vanishes with its t-derivative at t = 0 and at both ends
    xx, t = x["x"], x["t"]
    return xx * _right(x, p) + xx * (1.0 - xx) * t**2 * out


def reference(points: np.ndarray, p: Params) -> np.ndarray:
    """Exact (manufactured) solution ``A x cos(5 pi t) + (x t)^3``."""
    return _solution(points[:, 0], points[:, 1], p, lib=np)


@register(
    "klein_gordon",
    Verification(
        shifted=({"A": 2.0}, {"gamma": 3.0, "A": 0.25}),
        h=1e-4,
        rtol=1e-6,
        ctol=1e-12,
        dtol=2e-7,
        notes="manufactured reference; residual limited by the O(h^2) central differences of the check",
    ),
    reference_method=(
        "analytic: manufactured solution A x cos(5 pi t) + (x t)^3, forcing computed from it (exact for all parameters)"
    ),
)
def make() -> Problem:
    r"""The nonlinear Klein-Gordon equation with cubic nonlinearity.

    .. math::

        u_{tt} + \alpha u_{xx} + \beta u + \gamma u^3 = f(x, t), \qquad x \in [0, 1],\ t \in [0, 1],

    with ``f`` manufactured from ``u = A x cos(5 pi t) + (x t)^3``; the conditions are its
    traces: ``u(0, t) = 0``, ``u(1, t) = A cos(5 pi t) + t^3``, ``u(x, 0) = A x``,
    ``u_t(x, 0) = 0``.

    Nominal parameters: ``alpha = -1``, ``beta = 0``, ``gamma = 1``, ``A = 1`` (Wang, Teng &
    Perdikaris 2021; ``alpha = -1`` makes the linear part a wave operator).

    Conditions: ``"left"``, ``"right"`` (Dirichlet), ``"initial"``, ``"initial_velocity"``.
    The hard transform ``u = x g_R(t) + x (1 - x) t^2 N`` (``g_R`` the right-end data) enforces
    all four.

    Shift families: ``A`` (the solution amplitude, hence the strength of the nonlinearity;
    in ``[0.75, 1.25]``, out ``[0.25, 2]``), ``gamma`` (in ``[0.5, 1.5]``, out ``[0, 3]``; the
    forcing is recomputed, so shifting ``gamma`` alone changes the equation and forcing but
    leaves the solution unchanged).

    Reference: analytic (manufactured), exact for every parameter value.
    """
    box = Box(("x", "t"), (0.0, 0.0), (1.0, 1.0))
    conditions = (
        dirichlet("left", box.face("x", "lower"), 0.0),
        dirichlet("right", box.face("x", "upper"), _right),
        initial_value("initial", box, _initial),
        initial_velocity("initial_velocity", box, 0.0),
    )
    return Problem(
        name="klein_gordon",
        domain=box,
        partials=("u", "u_tt", "u_xx"),
        residual=_residual,
        conditions=conditions,
        params={"alpha": -1.0, "beta": 0.0, "gamma": 1.0, "A": 1.0},
        reference_fn=reference,
        shifts=(ShiftFamily("A", (0.75, 1.25), (0.25, 2.0)), ShiftFamily("gamma", (0.5, 1.5), (0.0, 3.0))),
        hard_transform=_hard,
        hard_conditions=("left", "right", "initial", "initial_velocity"),
        eval_counts=(101, 101),
        description="1-d nonlinear Klein-Gordon u_tt + alpha u_xx + beta u + gamma u^3 = f, manufactured solution",
    )
