"""How a budget splits between interior and condition points: one rule for every method.

A *budget* counts interior (collocation) points. Each condition then gets

    m = max(min_per_condition, round(condition_fraction * budget / n_conditions))

points, so at a given interior budget every method trains with the same number of condition
points (a method that also distils condition points moves them, never adds more). Override by
passing another :class:`BudgetRule` to a method's ``make``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import PinnddError


@dataclass(frozen=True)
class BudgetRule:
    """Condition points per interior budget (see the module docstring)."""

    condition_fraction: float = 0.25
    min_per_condition: int = 16

    def __post_init__(self) -> None:
        if self.condition_fraction < 0 or self.min_per_condition < 1:
            raise PinnddError("BudgetRule needs condition_fraction >= 0 and min_per_condition >= 1")

    def split(self, problem, budget: int) -> dict[str, int]:
        """``{"interior": budget, <condition>: m, ...}`` for ``problem``."""
        if int(budget) != budget or budget < 1:
            raise PinnddError(f"budget must be a positive integer number of interior points; got {budget!r}")
        names = problem.condition_names
        per = max(self.min_per_condition, round(self.condition_fraction * budget / max(len(names), 1)))
        return {"interior": int(budget), **{n: per for n in names}}


DEFAULT_RULE = BudgetRule()
