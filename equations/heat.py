"""One-dimensional heat equation with Dirichlet boundary temperatures."""

from __future__ import annotations

import math

import numpy as np
import torch

from pinndd.domain import Box
from pinndd.errors import PinnddError
from pinndd.problem import Coords, Derivs, Params, Problem, ShiftFamily, dirichlet, initial_value

from . import Verification, register

#: Amplitudes of the sine modes ``sin(m pi x)`` (m = 1, 2) in the initial condition.
MODES: tuple[tuple[int, float], ...] = ((1, 1.0), (2, 0.5))


def _steady(x, p: Params):
    """The steady linear profile ``TL + (TR - TL) x`` (numpy or torch)."""
    return p["TL"] + (p["TR"] - p["TL"]) * x


def _initial(x: Coords, p: Params) -> torch.Tensor:
    xx = x["x"]
    u = _steady(xx, p)
    for m, a in MODES:
        u = u + a * torch.sin(m * math.pi * xx)
    return u


def _residual(d: Derivs, x: Coords, p: Params) -> torch.Tensor:
    return d["u_t"] - p["alpha"] * d["u_xx"]


def _hard(x: Coords, out: torch.Tensor, p: Params) -> torch.Tensor:
    # the initial profile satisfies both boundary conditions; x (1 - x) t vanishes on all three faces
    xx, t = x["x"], x["t"]
    return _initial(x, p) + xx * (1.0 - xx) * t * out


def check_params(p: Params) -> None:
    """Forward diffusion only: ``alpha > 0`` (the backward heat equation is ill-posed)."""
    if not p["alpha"] > 0:
        raise PinnddError(f"heat: need diffusivity alpha > 0; got {p['alpha']}")


def reference(points: np.ndarray, p: Params) -> np.ndarray:
    """Exact solution ``TL + (TR - TL) x + sum_m a_m exp(-alpha m^2 pi^2 t) sin(m pi x)``."""
    x, t = points[:, 0], points[:, 1]
    u = _steady(x, p)
    for m, a in MODES:
        u = u + a * np.exp(-p["alpha"] * (m * math.pi) ** 2 * t) * np.sin(m * math.pi * x)
    return u


@register(
    "heat",
    Verification(
        shifted=({"TL": -1.0, "TR": 0.5}, {"alpha": 0.5, "TR": 2.0}),
        h=2e-4,
        rtol=2e-6,
        ctol=1e-12,
        notes="analytic reference; residual limited by the O(h^2) central differences of the check",
    ),
    reference_method="analytic: steady linear profile plus exponentially decaying sine modes (exact for all parameters)",
)
def make() -> Problem:
    r"""The heat equation with prescribed end temperatures.

    .. math::

        u_t = \alpha\, u_{xx}, \qquad x \in [0, 1],\ t \in [0, 1],

        u(0, t) = T_L, \quad u(1, t) = T_R, \qquad
        u(x, 0) = T_L + (T_R - T_L)\, x + \sin(\pi x) + \tfrac12 \sin(2 \pi x).

    Nominal parameters: ``alpha = 0.1``, ``TL = 0``, ``TR = 1`` (the first mode decays to
    ``exp(-0.1 pi^2) ~ 0.37`` of its initial amplitude by ``t = 1``, the second to ``~0.02``).

    Conditions: ``"left"``, ``"right"`` (Dirichlet), ``"initial"``. The hard transform
    ``u = u_0(x) + x (1 - x) t N`` enforces all three.

    Shift families: ``TL`` and ``TR`` (in ``±0.2`` of nominal, out ``±1``), ``alpha``
    (in ``[0.05, 0.2]``, out ``[0.02, 0.5]``).

    Reference: analytic, ``u = T_L + (T_R - T_L) x + e^{-\alpha \pi^2 t} \sin(\pi x)
    + \tfrac12 e^{-4 \alpha \pi^2 t} \sin(2 \pi x)``, exact for every parameter value.
    """
    box = Box(("x", "t"), (0.0, 0.0), (1.0, 1.0))
    conditions = (
        dirichlet("left", box.face("x", "lower"), lambda x, p: torch.zeros_like(x["x"]) + p["TL"]),
        dirichlet("right", box.face("x", "upper"), lambda x, p: torch.zeros_like(x["x"]) + p["TR"]),
        initial_value("initial", box, _initial),
    )
    return Problem(
        name="heat",
        domain=box,
        partials=("u_t", "u_xx"),
        residual=_residual,
        conditions=conditions,
        params={"alpha": 0.1, "TL": 0.0, "TR": 1.0},
        reference_fn=reference,
        check_params=check_params,
        shifts=(
            ShiftFamily("TL", (-0.2, 0.2), (-1.0, 1.0)),
            ShiftFamily("TR", (0.8, 1.2), (0.0, 2.0)),
            ShiftFamily("alpha", (0.05, 0.2), (0.02, 0.5)),
        ),
        hard_transform=_hard,
        hard_conditions=("left", "right", "initial"),
        eval_counts=(101, 101),
        description="1-d heat equation u_t = alpha u_xx with end temperatures TL, TR",
    )
