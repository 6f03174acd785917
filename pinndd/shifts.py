"""Shift families beside the problem: which family a name means, which values to visit, which
conditions a family moves.

A :class:`~pinndd.problem.ShiftFamily` (declared with the PDE) names a parameter with an
in-distribution and an out-of-distribution range. Methods that learn for a whole family
(:mod:`pinndd.methods.distill.task_aware`, :mod:`pinndd.methods.labelled.task_exchange`) and the
evaluators (:mod:`pinndd.eval.ood`) read families through this module, so no method imports an
evaluator.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from .errors import PinnddError
from .problem import Problem, ShiftFamily

__all__ = ["resolve_family", "shift_values", "shifts_conditions"]


def resolve_family(problem: Problem, family: str | ShiftFamily) -> ShiftFamily:
    """``family`` as a :class:`ShiftFamily`: a declared family by parameter name, or itself."""
    if isinstance(family, ShiftFamily):
        if family.param not in problem.params:
            raise PinnddError(f"shift family names unknown parameter {family.param!r}; "
                              f"{problem.name!r} has {list(problem.params)}")
        return family
    if isinstance(family, str):
        return problem.shift(family)
    raise PinnddError(f"family must be a ShiftFamily or a parameter name; got {type(family).__name__}")


def shift_values(family: ShiftFamily, values: Iterable[float] | Iterable[tuple[float, bool]] | None = None,
                 n_in: int = 3, n_out: int = 2, nominal: float | None = None) -> list[tuple[float, bool]]:
    """``(value, in_distribution)`` pairs: ``family.values(n_in, n_out)`` by default; plain
    values get their flag from ``family.is_in_distribution``; pairs are taken as given.
    ``nominal``, when given and not among the defaults, is added (``family.values`` spreads
    values evenly over the range, which can miss the nominal value, e.g. advection's
    ``beta = 1`` in ``[0.5, 2]``)."""
    if values is None:
        out = family.values(n_in, n_out)
        if nominal is not None and not any(v == float(nominal) for v, _ in out):
            out = sorted([*out, (float(nominal), family.is_in_distribution(float(nominal)))])
        return out
    out = []
    for v in values:
        if isinstance(v, tuple | list):
            if len(v) != 2:
                raise PinnddError(f"shift values are numbers or (value, in_distribution) pairs; got {v!r}")
            out.append((float(v[0]), bool(v[1])))
        else:
            out.append((float(v), family.is_in_distribution(float(v))))
    if not out:
        raise PinnddError("no shift values given; pass values=None for the family's defaults")
    for v, _ in out:
        if not np.isfinite(v):
            raise PinnddError(f"shift values must be finite; got {v}")
    return out


def shifts_conditions(problem: Problem, family: str | ShiftFamily, n: int = 16, seed: int = 0) -> tuple[str, ...]:
    """Names of the conditions whose targets change across the family's out-of-distribution
    range (checked at ``n`` random points on each face, at 7 values spread over the range and
    the in-distribution ends): empty for a family that shifts only the PDE (a coefficient or a
    source)."""
    fam = resolve_family(problem, family)
    rng = np.random.default_rng(seed)
    values = [*np.linspace(*fam.out_range, 7), *fam.in_range]
    shifted = [problem.with_params(**{fam.param: float(v)}) for v in values]
    moved = []
    for c in problem.conditions:
        pts = torch.as_tensor(c.face.from_unit(rng.random((n, problem.domain.dim - 1))), dtype=torch.float64)
        first = c.target(pts, shifted[0].params)
        if any(not torch.allclose(c.target(pts, s.params), first, rtol=0, atol=1e-12) for s in shifted[1:]):
            moved.append(c.name)
    return tuple(moved)
