"""How a budget splits between interior and condition points: one rule for every method.

A *budget* counts interior (collocation) points. Each condition then gets

    m = max(min_per_condition, round(condition_fraction * budget / n_conditions))

points, so at a given interior budget every method trains with the same number of condition
points (a method that also distils condition points moves them, never adds more). Override by
passing another :class:`BudgetRule` to a method's ``make``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from .errors import PinnddError

#: The largest budget accepted: ten million interior points (a float64 set of that size and the
#: tensors of one training step already take gigabytes; budgets are typically 64-8192).
MAX_BUDGET = 10_000_000


def as_integer(value, message: str) -> int:
    """``value`` as an ``int``: integers, integral floats (``256.0``) and strings of digits (as
    a command line gives them); anything else (``2.5``, ``"abc"``, booleans, NaN) raises
    :class:`PinnddError` with ``message``."""
    v = value
    if isinstance(v, str):
        try:
            v = int(v.strip())
        except ValueError:
            raise PinnddError(message) from None
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or int(v) != v:
        raise PinnddError(message)
    return int(v)


def check_budget(budget) -> int:
    """``budget`` as an ``int`` in ``1 .. MAX_BUDGET``, or a :class:`PinnddError` saying why not
    (refuses ``0``, negatives, ``2.5``, ``"abc"``, NaN and anything above :data:`MAX_BUDGET`)."""
    message = f"budget must be a positive integer number of interior points; got {budget!r}"
    value = as_integer(budget, message)
    if value < 1:
        raise PinnddError(message)
    if value > MAX_BUDGET:
        raise PinnddError(f"budget {value} is above the limit of {MAX_BUDGET} interior points (memory: about "
                          f"{value * 16 / 2**30:.1f} GiB per copy of the points alone); budgets count interior points")
    return value


@dataclass(frozen=True)
class BudgetRule:
    """Condition points per interior budget (see the module docstring)."""

    condition_fraction: float = 0.25
    min_per_condition: int = 16

    def __post_init__(self) -> None:
        if isinstance(self.min_per_condition, bool) or not isinstance(self.min_per_condition, numbers.Integral):
            raise PinnddError(f"BudgetRule.min_per_condition must be an integer; got {self.min_per_condition!r}")
        if not isinstance(self.condition_fraction, numbers.Real) or not math.isfinite(self.condition_fraction):
            raise PinnddError(f"BudgetRule.condition_fraction must be a finite number; got {self.condition_fraction!r}")
        if self.condition_fraction < 0 or self.min_per_condition < 1:
            raise PinnddError("BudgetRule needs condition_fraction >= 0 and min_per_condition >= 1")

    def split(self, problem, budget: int) -> dict[str, int]:
        """``{"interior": budget, <condition>: m, ...}`` for ``problem``."""
        budget = check_budget(budget)
        names = problem.condition_names
        per = max(self.min_per_condition, round(self.condition_fraction * budget / max(len(names), 1)))
        return {"interior": int(budget), **{n: per for n in names}}


DEFAULT_RULE = BudgetRule()


@dataclass(frozen=True)
class FixedRule:
    """A budget rule that returns given condition counts, whatever the budget (so a method that
    starts from another method's set gets exactly the condition counts it was asked for)."""

    per_condition: dict[str, int]

    def split(self, problem, budget: int) -> dict[str, int]:
        return {"interior": int(budget), **self.per_condition}
