"""The parametric problem: a problem on ``domain x [value_range]`` (:func:`parametric_problem`)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..conditions import Condition
from ..domain import Box
from ..engine.checks import check_problem
from ..errors import PinnddError
from ..problem import Problem
from ._columns import Column, ReferenceColumn

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ParametricProblem(Problem):
    """A :class:`pinndd.Problem` on ``domain x [value_range]`` made by :func:`parametric_problem`.

    Extra attributes: ``base`` (the original problem), ``param`` (the parameter turned into a
    coordinate) and ``coordinate`` (its name, the last coordinate of :attr:`domain`).
    """

    base: Problem | None = None
    param: str = ""
    coordinate: str = "p"

    @property
    def value_range(self) -> tuple[float, float]:
        """The parameter range the extended box spans (the in-distribution range)."""
        i = self.domain.index(self.coordinate)
        return self.domain.lower[i], self.domain.upper[i]

    def contains_value(self, value: float) -> bool:
        lo, hi = self.value_range
        return lo <= value <= hi

    def at(self, value: float) -> Problem:
        """The original problem at parameter ``value`` (other parameters as in this problem)."""
        return self.base.with_params(**{**dict(self.params), self.param: float(value)})

    def base_points(self, points: np.ndarray, value: float) -> np.ndarray:
        """``points`` of the original domain (``(n, d)``) with the parameter column ``value`` appended."""
        pts = np.asarray(points, dtype=np.float64)
        return np.concatenate([pts, np.full((len(pts), 1), float(value))], axis=1)


def parametric_problem(
    problem: Problem,
    param: str,
    value_range: tuple[float, float] | None = None,
    coordinate: str = "p",
    eval_values: Sequence[float] | int = 3,
    max_reference_values: int = 4096,
) -> ParametricProblem:
    r"""``problem`` with parameter ``param`` turned into an extra coordinate (module docstring).

    Parameters
    ----------
    problem:
        The problem; its other parameters stay fixed at their current values.
    param:
        The parameter to turn into a coordinate.
    value_range:
        ``(mu_0, mu_1)`` spanned by the new coordinate; default: the in-distribution range of
        the problem's shift family for ``param``.
    coordinate:
        Name of the new coordinate: one letter, not ``"u"``, not already a coordinate.
    eval_values:
        Parameter values of the evaluation grid (the original grid at each), or how many
        evenly spread ones over ``value_range`` (default 3: both ends and the middle).
    max_reference_values:
        Refuse reference requests with more distinct parameter values than this (numerical
        references cost one solve per value).

    The problem's functions take ``param`` as the coordinate column itself: the problem
    contract asks every function to accept a parameter as a tensor of one value per point
    (:func:`pinndd.engine.checks.check_broadcast`, checked here first), so the substitution
    needs no probing and has no per-value path.

    Returns
    -------
    ParametricProblem
        Domain ``problem.domain x [mu_0, mu_1]`` (the new coordinate last), the same declared
        partials, residual and conditions with :math:`\mu` replaced by the column ``p``, each
        condition on the extended face of its original face, the hard transform likewise,
        shift families of the other parameters, and the reference per distinct ``p``.
    """
    if not isinstance(problem, Problem):
        raise PinnddError(f"parametric_problem needs a pinndd Problem; got {type(problem).__name__}")
    if isinstance(problem, ParametricProblem):
        raise PinnddError("the problem is already parametric; build the parametric problem from the original one")
    if param not in problem.params:
        raise PinnddError(f"problem {problem.name!r} has no parameter {param!r}; it has {list(problem.params)}")
    if value_range is None:
        value_range = problem.shift(param).in_range
    lo, hi = (float(v) for v in value_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise PinnddError(f"value_range must be finite with lower < upper; got {value_range} (a single value needs no "
                          "parametric network: use problem.with_params)")
    if not (isinstance(coordinate, str) and len(coordinate) == 1 and coordinate.isalpha() and coordinate != "u"):
        raise PinnddError(f"coordinate must be a single letter other than 'u'; got {coordinate!r}")
    if coordinate in problem.domain.names:
        free = [c for c in "pqmkrsw" if c not in problem.domain.names]
        raise PinnddError(f"coordinate {coordinate!r} clashes with the coordinates {problem.domain.names} of "
                          f"{problem.name!r}; pick another letter, e.g. coordinate={free[0]!r}")
    check_problem(problem)  # the broadcast contract: parameters may be columns
    base_box = problem.domain
    box = Box(base_box.names + (coordinate,), base_box.lower + (lo,), base_box.upper + (hi,))
    residual = Column(problem.residual, param, coordinate, at=1)
    conditions = tuple(Condition(c.name, box.face(c.face.coordinate, c.face.side), c.kind,
                                 Column(c.value, param, coordinate, at=0), c.weight) for c in problem.conditions)
    hard = None if problem.hard_transform is None else Column(problem.hard_transform, param, coordinate, at=0)

    if isinstance(eval_values, int):
        if eval_values < 1:
            raise PinnddError(f"eval_values must be a positive count or a list of values; got {eval_values}")
        eval_values = np.linspace(lo, hi, eval_values) if eval_values > 1 else [(lo + hi) / 2.0]
    eval_values = [float(v) for v in eval_values]
    if not eval_values:
        raise PinnddError("eval_values must not be empty")
    base_eval = problem.evaluation_points()
    eval_points = np.concatenate([np.concatenate([base_eval, np.full((len(base_eval), 1), v)], axis=1) for v in eval_values])

    params = {k: v for k, v in problem.params.items() if k != param}
    nominal = {k: v for k, v in (problem.nominal or {}).items() if k != param}
    return ParametricProblem(
        name=f"{problem.name}[{param}]",
        domain=box,
        partials=problem.partials,
        residual=residual,
        conditions=conditions,
        params=params,
        reference_fn=ReferenceColumn(problem.reference_fn, param, max_reference_values) if problem.reference_fn else None,
        shifts=tuple(s for s in problem.shifts if s.param != param),
        hard_transform=hard,
        hard_conditions=problem.hard_conditions,
        eval_points=eval_points,
        nominal=nominal,
        description=f"{problem.description} -- parametric in {param} over [{lo:g}, {hi:g}] (coordinate {coordinate!r})",
        base=problem,
        param=param,
        coordinate=coordinate,
    )


