r"""Nested (anytime) point sets: one ordering of the points whose every prefix is a good set.

A sampler like Sobol is nested by construction (its first ``k`` points are its ``k``-point set);
residual-adaptive draws and distilled sets are not: a set made for 512 points, cut to its first
256, is not the set one would have made for 256. ``nested`` orders a pool so that one
construction serves every budget up to ``max_budget``.

**Weighted farthest-point ordering.** With candidates :math:`u_i` scaled to the unit box and a
density :math:`p_i > 0`, the greedy order picks

.. math:: i_1 = \arg\max_i p_i,\qquad
          i_{k+1} = \arg\max_{i} \; p_i^{1/d} \min_{l \le k} \lVert u_i - u_{i_l} \rVert_2 ,

so each new point is the one farthest from the points already taken in a metric stretched by the
local density: a max-min packing whose local spacing is :math:`\propto p^{-1/d}`, i.e. whose
number of points per volume is :math:`\propto p`, at *every* prefix (greedy farthest-point
ordering is within a factor 2 of the best covering radius at every prefix; Gonzalez 1985). With
:math:`p` constant this is plain farthest-point sampling (maximal coverage); here :math:`p` is
the RAD density of a warm-up network's residual (:mod:`pinndd.methods.adaptive.rad`),

.. math:: p_i = \frac{|r_i|^k}{\frac1N \sum_j |r_j|^k} + c ,

so prefixes combine the coverage that wins at small budgets with the residual refinement that
helps at larger ones. ``k = 0`` skips the warm-up and gives farthest-point sampling of the pool.

**One construction, every budget.** The warm-up PINN (:mod:`pinndd.methods.adaptive.warmup`), the pool
and the ordering depend on ``max(budget, max_budget)`` and the seed only (the warm-up's condition points follow the
default budget rule at that size); ``make(budget=b)``
returns the first ``b`` points of the order. Condition points are the shared Sobol ones, whose
sequences are themselves nested (:func:`pinndd.methods.base.condition_points`). With
``max_budget = 0`` (default) the set is ordered at its own budget: every prefix of it is still a
good smaller set (:func:`prefix`), but sets made at different budgets differ.

:func:`order_pointset` applies the same ordering to any set (e.g. a distilled or adaptive one,
weights following their points) and :func:`prefix` cuts a set to its first ``k`` interior points
with the budget rule's condition points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...budget import DEFAULT_RULE, BudgetRule
from ...errors import PinnddError
from ...pointset import PointSet
from ..base import condition_points, interior_points, register
from ..checks import check_int, check_number
from .rad import rad_probabilities
from .warmup import TAG_POOL, WarmupMethod, default_pool_size, derive_seed


def anytime_order(unit_points: np.ndarray, density: np.ndarray | None = None, n: int | None = None) -> np.ndarray:
    """The first ``n`` indices (default all) of the density-weighted farthest-point order of
    ``unit_points`` (shape ``(N, d)``, coordinates scaled to ``[0, 1]``; module docstring).

    Ties go to the lowest index; the order is deterministic.
    """
    u = np.asarray(unit_points, dtype=np.float64)
    if u.ndim != 2 or len(u) == 0:
        raise PinnddError(f"anytime_order needs points of shape (N, d); got {u.shape}")
    big_n, dim = u.shape
    n = big_n if n is None else int(n)
    if not 1 <= n <= big_n:
        raise PinnddError(f"cannot order {n} of {big_n} points; ask for 1..{big_n}")
    p = np.ones(big_n) if density is None else np.asarray(density, dtype=np.float64)
    if p.shape != (big_n,) or not np.all(np.isfinite(p)) or np.any(p <= 0):
        raise PinnddError("anytime_order needs one positive, finite density value per point")
    scale = p ** (1.0 / max(dim, 1))
    order = np.empty(n, dtype=int)
    mind = np.full(big_n, np.inf)
    score = scale.copy()  # the first pick: the highest density
    for k in range(n):
        i = int(np.argmax(score))
        order[k] = i
        diff = u - u[i]
        np.minimum(mind, np.sqrt(np.einsum("ij,ij->i", diff, diff)), out=mind)
        mind[i] = 0.0
        np.multiply(scale, mind, out=score)
        score[order[: k + 1]] = -1.0  # never again, also among duplicates
    return order


def order_pointset(problem, pointset: PointSet, density: np.ndarray | None = None) -> PointSet:
    """``pointset`` with its interior points (and their weights, and targets) in
    density-weighted farthest-point order (:func:`anytime_order`); conditions unchanged."""
    u = (pointset.interior - np.asarray(problem.domain.lower)) / problem.domain.extent
    idx = anytime_order(u, density)
    targets = pointset.targets[idx] if pointset.targets is not None else None
    meta = {**pointset.metadata, "nested": True}
    return PointSet(pointset.interior[idx], pointset.interior_weights[idx], pointset.conditions, targets,
                    pointset.target_weight, meta, pointset.label_record)


def prefix(problem, pointset: PointSet, k: int, seed: int = 0, rule: BudgetRule = DEFAULT_RULE) -> PointSet:
    """The first ``k`` interior points of an ordered set, with the budget rule's (nested) Sobol
    condition points for ``k`` at ``seed``; weights and targets follow their points."""
    k = int(k)
    if not 1 <= k <= pointset.n_interior:
        raise PinnddError(f"prefix size must be 1..{pointset.n_interior}; got {k}")
    conds = condition_points(problem, rule.split(problem, k), seed)
    targets = pointset.targets[:k] if pointset.targets is not None else None
    meta = {**pointset.metadata, "budget": k, "prefix_of": pointset.n_interior}
    return PointSet(pointset.interior[:k], pointset.interior_weights[:k], conds, targets, pointset.target_weight, meta,
                    pointset.label_record)


@register
@dataclass(frozen=True)
class Nested(WarmupMethod):
    """Anytime sets: a residual-weighted farthest-point order of a pool (module docstring).

    Parameters
    ----------
    max_budget:
        The largest budget the order serves; ``make(budget=b)`` for any ``b <= max_budget`` is
        the first ``b`` points of one order (0: order at the budget itself).
    k, c:
        The RAD density of the warm-up residual that stretches the metric (``k = 0``: plain
        farthest-point sampling, no warm-up).
    """

    name = "nested"
    family = "adaptive"
    max_budget: int = 0
    k: float = 1.0
    c: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int(self.name, "max_budget", self.max_budget, 0)
        check_number(self.name, "k", self.k, 0.0)
        check_number(self.name, "c", self.c, 0.0)

    def _make(self, problem, counts, seed):
        budget = counts["interior"]
        n_order = max(budget, self.max_budget)
        order_counts = DEFAULT_RULE.split(problem, n_order)  # the warm-up's set: the same at every budget
        extra: dict = {"ordered": int(n_order)}
        if self.k == 0:
            n_pool = default_pool_size(n_order) if self.pool_size == 0 else self.pool_size
            if n_pool < n_order:
                raise PinnddError(f"{self.name}: pool_size ({n_pool}) must be at least {n_order}")
            pool = interior_points(problem, "sobol", n_pool, derive_seed(seed, TAG_POOL))
            density = None
        else:
            warm = self.warmup(problem, order_counts, seed)
            pool, density = warm.pool, rad_probabilities(warm.residuals, self.k, self.c) * len(warm.pool)
            extra.update(warm.metadata())
        u = (pool - np.asarray(problem.domain.lower)) / problem.domain.extent
        idx = anytime_order(u, density, n_order)[:budget]
        return PointSet(pool[idx], None, condition_points(problem, counts, seed)), extra
