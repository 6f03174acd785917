"""One-dimensional wave equation on a string with fixed ends (PINNacle Wave1d-C family)."""

from __future__ import annotations

import math

import numpy as np
import torch

from pinndd.domain import Box
from pinndd.errors import PinnddError
from pinndd.problem import Coords, Derivs, Params, Problem, ShiftFamily, dirichlet, initial_value, initial_velocity

from . import Verification, register

#: Wavenumber index of the second standing mode, ``sin(MODE pi x)``.
MODE = 4


def _initial(x: Coords, p: Params) -> torch.Tensor:
    xx = x["x"]
    return torch.sin(math.pi * xx) + p["A"] * torch.sin(MODE * math.pi * xx)


def _residual(d: Derivs, x: Coords, p: Params) -> torch.Tensor:
    return d["u_tt"] - p["c"] ** 2 * d["u_xx"]


def _hard(x: Coords, out: torch.Tensor, p: Params) -> torch.Tensor:
    # u_0 vanishes at both ends; x (1 - x) t^2 N vanishes at the ends and, with its t-derivative, at t = 0
    xx, t = x["x"], x["t"]
    return _initial(x, p) + xx * (1.0 - xx) * t**2 * out


#: Largest wave speed: the fastest mode ``cos(4 c pi t)`` has 2 c periods per unit time, so at
#: ``c = 5`` the 101-point evaluation grid still samples each period 10 times.
MAX_SPEED = 5.0


def check_params(p: Params) -> None:
    """``0 < c <= MAX_SPEED`` (``c <= 0`` is no wave; faster ones the evaluation grid does not resolve)."""
    if not 0 < p["c"] <= MAX_SPEED:
        raise PinnddError(f"wave: need a wave speed 0 < c <= {MAX_SPEED:g} (the evaluation grid resolves up to it); "
                          f"got c={p['c']}")


def reference(points: np.ndarray, p: Params) -> np.ndarray:
    """Exact d'Alembert/standing-wave solution."""
    x, t = points[:, 0], points[:, 1]
    c, a = p["c"], p["A"]
    return np.sin(math.pi * x) * np.cos(c * math.pi * t) + a * np.sin(MODE * math.pi * x) * np.cos(MODE * c * math.pi * t)


@register(
    "wave",
    Verification(
        shifted=({"c": 2.0}, {"c": 0.5, "A": 0.0}, {"A": 1.0}),
        h=2e-4,
        rtol=5e-6,
        ctol=1e-12,
        dtol=1e-6,
        notes="analytic reference; c = 2 is exactly PINNacle's Wave1d-C",
    ),
    reference_method="analytic: superposition of two standing modes (exact for all c, A)",
)
def make() -> Problem:
    r"""The wave equation with fixed ends, released from rest.

    .. math::

        u_{tt} = c^2 u_{xx}, \qquad x \in [0, 1],\ t \in [0, 1],

        u(0, t) = u(1, t) = 0, \qquad u(x, 0) = \sin(\pi x) + A \sin(4 \pi x), \qquad u_t(x, 0) = 0.

    Nominal parameters: ``c = 1``, ``A = 0.5``. At ``c = 2`` this is PINNacle's Wave1d-C
    (``u_tt = 4 u_xx``), a known hard case.

    Conditions: ``"left"``, ``"right"`` (Dirichlet), ``"initial"``, ``"initial_velocity"``.
    The hard transform ``u = u_0(x) + x (1 - x) t^2 N`` enforces all four.

    Shift families: ``c`` (in ``[0.8, 1.25]``, out ``[0.5, 2]``), ``A`` (in ``[0.25, 0.75]``,
    out ``[0, 1]``).

    Reference: analytic, ``u = sin(pi x) cos(c pi t) + A sin(4 pi x) cos(4 c pi t)``.
    """
    box = Box(("x", "t"), (0.0, 0.0), (1.0, 1.0))
    conditions = (
        dirichlet("left", box.face("x", "lower"), 0.0),
        dirichlet("right", box.face("x", "upper"), 0.0),
        initial_value("initial", box, _initial),
        initial_velocity("initial_velocity", box, 0.0),
    )
    return Problem(
        name="wave",
        domain=box,
        partials=("u_tt", "u_xx"),
        residual=_residual,
        conditions=conditions,
        params={"c": 1.0, "A": 0.5},
        reference_fn=reference,
        check_params=check_params,
        shifts=(ShiftFamily("c", (0.8, 1.25), (0.5, 2.0)), ShiftFamily("A", (0.25, 0.75), (0.0, 1.0))),
        hard_transform=_hard,
        hard_conditions=("left", "right", "initial", "initial_velocity"),
        eval_counts=(101, 101),
        description="1-d wave equation u_tt = c^2 u_xx, fixed ends, two standing modes",
    )
