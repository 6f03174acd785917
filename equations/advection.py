"""One-dimensional linear advection (convection) with periodic boundaries."""

from __future__ import annotations

import math

import numpy as np
import torch

from pinndd.domain import Box
from pinndd.problem import Coords, Derivs, Params, Problem, ShiftFamily, initial_value, periodic

from . import Verification, register


def _initial(x: Coords, p: Params) -> torch.Tensor:
    return torch.sin(x["x"])


def _residual(d: Derivs, x: Coords, p: Params) -> torch.Tensor:
    return d["u_t"] + p["beta"] * d["u_x"]


def _hard(x: Coords, out: torch.Tensor, p: Params) -> torch.Tensor:
    # enforces the initial condition only; periodicity is left to the loss
    return torch.sin(x["x"]) + x["t"] * out


def reference(points: np.ndarray, p: Params) -> np.ndarray:
    """Exact solution ``sin(x - beta t)``."""
    return np.sin(points[:, 0] - p["beta"] * points[:, 1])


@register(
    "advection",
    Verification(
        shifted=({"beta": 0.25}, {"beta": 4.0}),
        h=2e-4,
        rtol=1e-6,
        ctol=1e-12,
        notes="analytic reference; residual limited by the O(h^2) central differences of the check",
    ),
    reference_method="analytic: characteristics, u = sin(x - beta t) (exact for all beta)",
)
def make() -> Problem:
    r"""Linear advection on a periodic interval (the PINN "convection" benchmark).

    .. math::

        u_t + \beta\, u_x = 0, \qquad x \in [0, 2\pi],\ t \in [0, 1],

        u(0, t) = u(2\pi, t), \qquad u(x, 0) = \sin x.

    Nominal parameter: ``beta = 1`` (PINNs are known to fail for large ``beta``, e.g. 30+;
    the shifted range stays where a small network can still learn).

    Conditions: ``"initial"`` and ``"periodic"`` (values only). The hard transform
    ``u = sin x + t N`` enforces ``"initial"``.

    Shift family: ``beta`` (in ``[0.5, 2]``, out ``[0.25, 4]``).

    Reference: analytic, ``u = sin(x - beta t)``.
    """
    box = Box(("x", "t"), (0.0, 0.0), (2.0 * math.pi, 1.0))
    conditions = (
        initial_value("initial", box, _initial),
        periodic("periodic", box, "x"),
    )
    return Problem(
        name="advection",
        domain=box,
        partials=("u_t", "u_x"),
        residual=_residual,
        conditions=conditions,
        params={"beta": 1.0},
        reference_fn=reference,
        shifts=(ShiftFamily("beta", (0.5, 2.0), (0.25, 4.0)),),
        hard_transform=_hard,
        hard_conditions=("initial",),
        eval_counts=(101, 101),
        description="1-d periodic advection u_t + beta u_x = 0, u(x, 0) = sin x",
    )
