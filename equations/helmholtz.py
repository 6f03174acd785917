"""Two-dimensional Helmholtz equation with a manufactured solution (Wang, Teng & Perdikaris 2021)."""

from __future__ import annotations

import math

import numpy as np
import torch

from pinndd.domain import Box
from pinndd.errors import PinnddError
from pinndd.problem import Coords, Derivs, Params, Problem, ShiftFamily, dirichlet

from . import Verification, register


def _solution(x, y, p: Params, lib=torch):
    """The manufactured solution ``sin(a1 pi x) sin(a2 pi y)`` (torch or numpy)."""
    return lib.sin(p["a1"] * math.pi * x) * lib.sin(p["a2"] * math.pi * y)


def _source(x: torch.Tensor, y: torch.Tensor, p: Params) -> torch.Tensor:
    lam = p["k"] ** 2 - (p["a1"] ** 2 + p["a2"] ** 2) * math.pi**2
    return lam * _solution(x, y, p)


def _trace(x: Coords, p: Params) -> torch.Tensor:
    return _solution(x["x"], x["y"], p)


def _residual(d: Derivs, x: Coords, p: Params) -> torch.Tensor:
    return d["u_xx"] + d["u_yy"] + p["k"] ** 2 * d["u"] - _source(x["x"], x["y"], p)


def _coons(x: torch.Tensor, y: torch.Tensor, p: Params) -> torch.Tensor:
    """Transfinite (Coons) interpolation of the boundary data of [-1, 1]^2 into the interior.

    Uses only the Dirichlet data on the four edges (and hence the corners), so it is a
    legitimate boundary-data extension, not the solution.
    """
    s, r = (x + 1.0) / 2.0, (y + 1.0) / 2.0
    one = torch.ones_like(x)
    g = lambda a, b: _solution(a, b, p)  # noqa: E731  (evaluated on the boundary only)
    edges = (1 - s) * g(-one, y) + s * g(one, y) + (1 - r) * g(x, -one) + r * g(x, one)
    corners = (
        (1 - s) * (1 - r) * g(-one, -one) + s * (1 - r) * g(one, -one) + (1 - s) * r * g(-one, one) + s * r * g(one, one)
    )
    return edges - corners


def _hard(x: Coords, out: torch.Tensor, p: Params) -> torch.Tensor:
    xx, yy = x["x"], x["y"]
    return _coons(xx, yy, p) + (1.0 - xx**2) * (1.0 - yy**2) * out


#: Largest ``|k|``: the residual carries ``k^2 u``; at ``|k| = 50`` float32 rounding of that term
#: (about ``2500 * 6e-8``) is still far below the source, beyond it the loss is rounding noise.
MAX_K = 50.0
#: Largest mode number ``|a1|, |a2|``: ``sin(a pi x)`` on the 101-point grid over [-1, 1] keeps 10
#: samples per period up to ``a = 10``.
MAX_MODE = 10.0


def check_params(p: Params) -> None:
    """``|k| <= MAX_K`` and ``|a1|, |a2| <= MAX_MODE`` (see the constants)."""
    if abs(p["k"]) > MAX_K:
        raise PinnddError(f"helmholtz: need |k| <= {MAX_K:g} (float32 losses are rounding noise beyond it); got k={p['k']}")
    if max(abs(p["a1"]), abs(p["a2"])) > MAX_MODE:
        raise PinnddError(f"helmholtz: need |a1|, |a2| <= {MAX_MODE:g} (the evaluation grid resolves up to it); "
                          f"got a1={p['a1']}, a2={p['a2']}")


def reference(points: np.ndarray, p: Params) -> np.ndarray:
    """Exact (manufactured) solution ``sin(a1 pi x) sin(a2 pi y)``."""
    return _solution(points[:, 0], points[:, 1], p, lib=np)


@register(
    "helmholtz",
    Verification(
        shifted=({"k": 4.0}, {"k": 0.25, "a2": 4.5}),
        h=1e-4,
        rtol=2e-6,
        ctol=1e-12,
        notes="manufactured reference; residual limited by the O(h^2) central differences of the check",
    ),
    reference_method=(
        "analytic: manufactured solution sin(a1 pi x) sin(a2 pi y), source computed from it (exact for all k, a1, a2)"
    ),
)
def make() -> Problem:
    r"""The Helmholtz equation on ``[-1, 1]^2`` with a manufactured solution.

    .. math::

        u_{xx} + u_{yy} + k^2 u = q(x, y), \qquad (x, y) \in [-1, 1]^2,

        q = \bigl(k^2 - (a_1^2 + a_2^2) \pi^2\bigr) \sin(a_1 \pi x) \sin(a_2 \pi y),
        \qquad u = g \text{ on the boundary},

    where ``g`` is the trace of ``sin(a1 pi x) sin(a2 pi y)``, identically zero for integer
    ``a1``, ``a2`` (the classic benchmark) and correct for non-integer ones too.

    Nominal parameters: ``k = 1``, ``a1 = 1``, ``a2 = 4`` (Wang, Teng & Perdikaris 2021).

    Conditions: ``"left"``, ``"right"``, ``"bottom"``, ``"top"`` (Dirichlet). The hard transform
    ``u = C[g] + (1 - x^2)(1 - y^2) N``, with ``C[g]`` the Coons (transfinite) interpolant of
    the boundary data, enforces all four.

    Shift families: ``k`` (in ``[0.5, 2]``, out ``[0.25, 4]``; the range crosses Dirichlet
    eigenvalues of the Laplacian, ``k^2 = (pi/2)^2 (m^2 + n^2)``, where the boundary-value
    problem loses uniqueness, but the values :meth:`ShiftFamily.values` picks avoid them),
    ``a2`` (in ``[3.5, 4.5]``, out ``[2, 6]``).

    Reference: analytic (manufactured), ``u = sin(a1 pi x) sin(a2 pi y)``.
    """
    box = Box(("x", "y"), (-1.0, -1.0), (1.0, 1.0))
    conditions = (
        dirichlet("left", box.face("x", "lower"), _trace),
        dirichlet("right", box.face("x", "upper"), _trace),
        dirichlet("bottom", box.face("y", "lower"), _trace),
        dirichlet("top", box.face("y", "upper"), _trace),
    )
    return Problem(
        name="helmholtz",
        domain=box,
        partials=("u", "u_xx", "u_yy"),
        residual=_residual,
        conditions=conditions,
        params={"k": 1.0, "a1": 1.0, "a2": 4.0},
        reference_fn=reference,
        check_params=check_params,
        shifts=(ShiftFamily("k", (0.5, 2.0), (0.25, 4.0)), ShiftFamily("a2", (3.5, 4.5), (2.0, 6.0))),
        hard_transform=_hard,
        hard_conditions=("left", "right", "bottom", "top"),
        eval_counts=(101, 101),
        description="2-d Helmholtz u_xx + u_yy + k^2 u = q, manufactured u = sin(a1 pi x) sin(a2 pi y)",
    )
