"""Shift families beside the problem: the family itself (:class:`ShiftFamily`), which family a
name means, which values to visit, which conditions a family moves.

A :class:`ShiftFamily` (declared with the PDE) names a parameter with an
in-distribution and an out-of-distribution range. Methods that learn for a whole family
(:mod:`pinndd.methods.distill.task_aware`, :mod:`pinndd.methods.labelled.task_exchange`) and the
evaluators (:mod:`pinndd.eval.ood`) read families through this module, so no method imports an
evaluator.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from .errors import PinnddError

__all__ = ["ShiftFamily", "resolve_family", "shift_values", "shifts_conditions"]


@dataclass(frozen=True)
class ShiftFamily:
    """A parameter whose value may move, with its in- and out-of-distribution ranges.

    ``in_range`` contains the nominal value; ``out_range`` contains ``in_range``; values in
    ``out_range`` but outside ``in_range`` are out of distribution.
    """

    param: str
    in_range: tuple[float, float]
    out_range: tuple[float, float]

    def __post_init__(self) -> None:
        (a, b), (c, d) = self.in_range, self.out_range
        if not (a <= b and c <= a and b <= d):
            raise PinnddError(
                f"shift family {self.param!r}: need in_range inside out_range; got in {self.in_range}, out {self.out_range}"
            )

    def values(self, n_in: int = 3, n_out: int = 2) -> list[tuple[float, bool]]:
        """``n_in`` evenly spread in-distribution values and ``n_out`` on each OOD side, each with
        a flag ``True`` when it is in distribution."""
        (a, b), (c, d) = self.in_range, self.out_range
        vals = [(float(v), True) for v in np.linspace(a, b, n_in)]
        if c < a:
            vals += [(float(v), False) for v in np.linspace(c, a, n_out + 1)[:-1]]
        if d > b:
            vals += [(float(v), False) for v in np.linspace(b, d, n_out + 1)[1:]]
        return sorted(vals)

    def is_in_distribution(self, value: float) -> bool:
        return self.in_range[0] <= value <= self.in_range[1]

    def train_values(self, n_in: int = 3, n_out: int = 1, nominal: float | None = None) -> tuple[float, ...]:
        r"""The values a task-aware method may train (or judge) on, sorted.

        With the in-distribution range :math:`I = [a, b]` and the out-of-distribution range
        :math:`O = [c, d]`:

        - ``n_in`` values evenly spread over :math:`I`, its two ends included
          (``n_in = 1``: the middle);
        - on each side where :math:`O` extends beyond :math:`I`, ``n_out`` values evenly spread
          *strictly inside* that side: :math:`a - k (a - c) / (n_	ext{out} + 1)`,
          :math:`k = 1..n_	ext{out}` (and the same towards :math:`d`);
        - ``nominal``, when given (every set is made at the nominal problem, so a method that
          serves the family has always seen it).

        Why this grid: the in-distribution range is what a method is told to serve, so its ends
        belong to the training grid; the two ends of :math:`O` never do, so the farthest shifts
        the problem declares stay for evaluation (:meth:`held_out_values`), and every held-out
        value stays inside the range the problem vouches for (no extrapolation of the reference
        beyond :math:`O`). Values are rounded to 12 decimals so that the same call gives the same
        floats everywhere (they are compared across files).
        """
        if n_in < 1 or n_out < 0:
            raise PinnddError(f"shift family {self.param!r}: train_values needs n_in >= 1 and n_out >= 0; "
                              f"got n_in={n_in}, n_out={n_out}")
        (a, b), (c, d) = self.in_range, self.out_range
        vals = list(np.linspace(a, b, n_in)) if n_in > 1 else [(a + b) / 2]
        vals += [a - k * (a - c) / (n_out + 1) for k in range(1, n_out + 1) if c < a]
        vals += [b + k * (d - b) / (n_out + 1) for k in range(1, n_out + 1) if d > b]
        if nominal is not None:
            vals.append(float(nominal))
        return _distinct(vals)

    def held_out_values(self, n_in: int = 3, n_out: int = 1, nominal: float | None = None,
                        per_gap: int = 1) -> tuple[float, ...]:
        """Values for evaluation that :meth:`train_values` (same ``n_in, n_out, nominal``) never
        gives, sorted: ``per_gap`` values evenly spread strictly inside every gap between two
        consecutive train values, and the two ends of the out-of-distribution range where they
        lie beyond every train value. So they probe a task-aware method between the values it
        was made on (in and out of distribution) and beyond them, and are disjoint from the
        train values by construction (Burgers ``a``, in [0.8, 1.2], out [0.5, 1.5]: train 0.65,
        0.8, 1.0, 1.2, 1.35; held out 0.5, 0.725, 0.9, 1.1, 1.275, 1.5).
        """
        if per_gap < 1:
            raise PinnddError(f"shift family {self.param!r}: per_gap must be >= 1; got {per_gap}")
        train = self.train_values(n_in, n_out, nominal)
        vals = [lo + (hi - lo) * k / (per_gap + 1) for lo, hi in zip(train[:-1], train[1:], strict=True)
                for k in range(1, per_gap + 1)]
        (c, d) = self.out_range
        vals += [e for e in (c, d) if e < train[0] or e > train[-1]]
        out = _distinct(vals)
        clash = [v for v in out if any(math.isclose(v, t, rel_tol=1e-9, abs_tol=1e-12) for t in train)]
        if clash:  # only a degenerate family (a zero-length range) gets here
            raise PinnddError(f"shift family {self.param!r}: held-out values {clash} coincide with train values; "
                              "widen its ranges")
        return out


def _distinct(values) -> tuple[float, ...]:
    """``values`` rounded to 12 decimals, sorted, without repeats."""
    return tuple(sorted({round(float(v), 12) + 0.0 for v in values}))


def resolve_family(problem, family: str | ShiftFamily) -> ShiftFamily:
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


def shifts_conditions(problem, family: str | ShiftFamily, n: int = 16, seed: int = 0) -> tuple[str, ...]:
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
