"""Checks of a problem before any training: the contract its functions must meet.

:func:`check_problem` evaluates the residual and condition values once on a few points with a
tiny float64 network, so what would fail (or train silently wrong) deep inside a training step
fails first with one clear line. It includes the *broadcast contract* (:func:`check_broadcast`):
every function of a problem takes each parameter as a float or as a tensor of one value per
point, with the same result. That is what makes a parametric problem (a parameter as an input
coordinate, :mod:`pinndd.parametric`) a plain column substitution, with no probing and no
per-value fallback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from ..conditions import coords
from ..errors import PinnddError
from ..pointset import PointSet
from . import derivatives
from .nn import MLP

#: Relative agreement asked of a broadcast call against per-point calls (float64).
BROADCAST_RTOL = 1e-9


class DeclaredPartials(Mapping):
    """The partials a residual receives, raising a clear error for one it did not declare."""

    def __init__(self, values: Mapping[str, torch.Tensor], problem):
        self._values, self._problem = values, problem

    def __getitem__(self, key: str) -> torch.Tensor:
        try:
            return self._values[key]
        except KeyError:
            raise PinnddError(
                f"the residual of {self._problem.name!r} reads the partial {key!r}, which the problem does not "
                f"declare; add it to Problem(partials=...) (declared: {list(self._problem.partials)})") from None

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def check_problem(problem, pointset: PointSet | None = None) -> None:
    """Raise :class:`PinnddError` for a residual that reads an undeclared partial, returns
    another shape than ``(n,)`` (e.g. ``(n, 1)`` or a scalar mean), a condition value that is
    not a finite torch tensor of one value per point, and functions that break the broadcast
    contract (module docstring)."""
    box = problem.domain
    n = 5
    if pointset is not None and pointset.dim == box.dim:
        interior = pointset.interior[:n]
    else:
        interior = box.from_unit(np.linspace(0.1, 0.9, n)[:, None] * np.ones(box.dim))
    pts = torch.as_tensor(interior, dtype=torch.float64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = MLP(box, 4, 1, "tanh", "float64")
    d = derivatives.partials(net, pts, problem.partials, box, engine="autograd")
    try:
        r = problem.residual(DeclaredPartials(d, problem), coords(pts, box), problem.params)
    except PinnddError:
        raise
    except Exception as e:  # a user's residual: say where it failed
        raise PinnddError(f"the residual of {problem.name!r} raised {type(e).__name__}: {e}") from e
    if not isinstance(r, torch.Tensor):
        raise PinnddError(f"the residual of {problem.name!r} must return a torch tensor; got {type(r).__name__}")
    if tuple(r.shape) != (len(pts),):
        raise PinnddError(
            f"the residual of {problem.name!r} must return one value per point, shape ({len(pts)},); got "
            f"{tuple(r.shape)} (return the pointwise residual, not its mean; squeeze a trailing axis)")
    for cond in problem.conditions:
        face_pts = torch.as_tensor(cond.face.from_unit(np.full((3, box.dim - 1), 0.5)), dtype=torch.float64)
        cond.check_target(face_pts, problem.params)
    check_broadcast(problem, {k: v.detach() for k, v in d.items()}, pts)


def parameter_columns(params: Mapping[str, float], n: int) -> dict[str, torch.Tensor]:
    """Each parameter as a float64 column of ``n`` distinct values around its own (a relative
    and an absolute spread of 1e-2, so zero-valued parameters vary too)."""
    s = torch.linspace(-1.0, 1.0, n, dtype=torch.float64)
    return {k: float(v) * (1.0 + 1e-2 * s) + 1e-2 * s for k, v in params.items()}


def _agree(what: str, problem, broadcast: Callable[[], torch.Tensor], per_point: Callable[[int], torch.Tensor],
           n: int) -> None:
    hint = ("write it with torch operations on the parameters (torch.sin(p['a']), not math.sin; no Python `if` on "
            "a parameter): a parameter may arrive as a tensor of one value per point (parametric problems, "
            "pinndd.parametric)")
    try:
        a = torch.as_tensor(broadcast(), dtype=torch.float64).reshape(-1)
    except PinnddError:
        raise
    except Exception as e:
        raise PinnddError(f"{what} of {problem.name!r} fails with parameters given as tensors "
                          f"({type(e).__name__}: {e}); {hint}") from None
    b = torch.cat([torch.as_tensor(per_point(i), dtype=torch.float64).reshape(-1) for i in range(n)])
    if a.shape != b.shape or not torch.allclose(a, b, rtol=BROADCAST_RTOL, atol=BROADCAST_RTOL * (1 + float(b.abs().max())),
                                                equal_nan=True):
        raise PinnddError(f"{what} of {problem.name!r} gives other values with parameters given as tensors than with "
                          f"each point's own float parameters; {hint}")


def check_broadcast(problem, d: Mapping[str, torch.Tensor], pts: torch.Tensor) -> None:
    """The broadcast contract (module docstring), checked at the residual (partials ``d`` at
    ``pts``), every condition value and the hard-constraint transform: one call with every
    parameter as a column of distinct values must equal the per-point calls with floats."""
    if not problem.params:
        return
    box, n = problem.domain, len(pts)
    cols = parameter_columns(problem.params, n)
    x = coords(pts, box)

    def at(i: int) -> dict[str, float]:
        return {k: float(c[i]) for k, c in cols.items()}

    def one(t: Mapping[str, torch.Tensor], i: int) -> dict[str, torch.Tensor]:
        return {k: v[i : i + 1] for k, v in t.items()}

    _agree("the residual", problem, lambda: problem.residual(DeclaredPartials(d, problem), x, cols),
           lambda i: problem.residual(DeclaredPartials(one(d, i), problem), one(x, i), at(i)), n)
    for cond in problem.conditions:
        face = torch.as_tensor(cond.face.from_unit(np.linspace(0.1, 0.9, n)[:, None] * np.ones(box.dim - 1)),
                               dtype=torch.float64)
        _agree(f"condition {cond.name!r}'s value", problem, lambda c=cond, f=face: c.target(f, cols),
               lambda i, c=cond, f=face: c.target(f[i : i + 1], at(i)), n)
    if problem.hard_transform is not None:
        out = torch.linspace(-0.5, 0.5, n, dtype=torch.float64)
        _agree("the hard-constraint transform", problem, lambda: problem.hard_transform(x, out, cols),
               lambda i: problem.hard_transform(one(x, i), out[i : i + 1], at(i)), n)


__all__ = ["BROADCAST_RTOL", "DeclaredPartials", "check_broadcast", "check_problem", "parameter_columns"]
