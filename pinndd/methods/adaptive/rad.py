r"""Residual-adaptive point selection at a fixed budget: RAD, RAR-D and residual importance sampling.

All three read the absolute residual :math:`|r_i|` of a short warm-up PINN on a pool of
:math:`N` Sobol candidates (:mod:`pinndd.methods.adaptive.warmup`; the warm-up trains on the Sobol set of
the same budget with the shared condition points). Condition points are the shared Sobol ones
(:func:`pinndd.methods.base.condition_points`); only the interior is chosen. Every random draw
comes from ``numpy.random.default_rng`` seeded from the method seed.

``rad`` — residual-based adaptive distribution (Wu et al. 2023, "A comprehensive study of
non-adaptive and residual-based adaptive sampling for physics-informed neural networks"):
``budget`` candidates are drawn *without replacement* with probability

.. math:: p_i \propto \frac{|r_i|^k}{\frac1N \sum_j |r_j|^k} + c,

``k = 1, c = 1`` by default (the paper's recommendation). ``c`` mixes in a uniform density:
``c -> inf`` gives uniform sampling, ``k = 0`` too. All weights are 1 (a density, not an
estimator).

``rard`` — residual-based adaptive refinement with distribution (RAR-D, same paper) at a fixed
budget: keep the first ``budget - n_add`` points of the warm-up's Sobol set, with
``n_add = round(add_fraction * budget)``, and add ``n_add`` pool points drawn without
replacement from the same density (Wu et al.'s RAR-D defaults ``k = 2, c = 0``), or, with
``greedy=True``, the ``n_add`` candidates of largest :math:`|r|` (Lu et al.'s RAR). With
``rounds > 1`` the additions come in equal parts: after each part the warm-up network trains
``warmup_steps`` more Adam steps on the set so far (fresh Adam state) and the residual on the
pool is recomputed. Weights are 1.

``residual_is`` — residual importance sampling: candidate :math:`i` is included with
probability

.. math:: \pi_i = \min(1, \lambda q_i),\qquad
          q_i = r_i^2 + \beta\, \frac1N \sum_j r_j^2,\qquad \sum_i \pi_i = n,

(``beta = floor``, default 0.1; the floor keeps every candidate reachable and the weights
bounded), by pivotal sampling in random order (:func:`pinndd.methods.adaptive.warmup.pps_sample`),
which draws exactly ``n`` distinct points with exactly these inclusion probabilities. The
weights are the Horvitz-Thompson ones

.. math:: w_i = \frac{n}{N \pi_i},

so that :math:`\frac1n \sum_{i \in S} w_i\, f(x_i)` is an *unbiased* estimate of the pool mean
:math:`\frac1N \sum_j f(x_j)` for any :math:`f`, in particular the warm-up's dense physics loss
:math:`\frac1N\sum_j r_j^2` (with :math:`\beta = 0` and no unit taken with certainty that
estimate is exact for the warm-up network). The trainer uses the self-normalised mean
:math:`\sum_S w_i r_i^2 / \sum_S w_i` (only relative weights matter), which is consistent but
not exactly unbiased; :math:`E[\sum_S w_i] = n`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...cost import charge
from ...engine.training import TrainConfig, train
from ...errors import PinnddError
from ...pointset import PointSet
from ..base import register
from ..checks import check_int, check_number
from .warmup import Warmup, WarmupMethod, pps_sample, residual_abs, selection_rng

#: Added to the RAD probabilities (relative to their mean) so that ``c = 0`` never leaves fewer
#: selectable candidates than the budget.
_TINY = 1e-12


def rad_probabilities(residuals: np.ndarray, k: float, c: float) -> np.ndarray:
    r"""The RAD density on the pool, normalised to sum 1:
    :math:`p_i \propto |r_i|^k / \mathrm{mean}_j |r_j|^k + c` (plus :math:`10^{-12}` so that every
    candidate stays selectable). A residual that is zero everywhere gives the uniform density."""
    r = np.abs(np.asarray(residuals, dtype=np.float64))
    rk = r**k
    mean = rk.mean()
    dens = (rk / mean if mean > 0 else np.zeros_like(rk)) + c + _TINY
    return dens / dens.sum()


def rad_indices(residuals: np.ndarray, n: int, k: float, c: float, rng: np.random.Generator,
                exclude: np.ndarray | None = None) -> np.ndarray:
    """``n`` distinct pool indices drawn without replacement from :func:`rad_probabilities`
    (successive draws, as ``numpy.random.Generator.choice``), skipping the ``exclude`` mask."""
    p = rad_probabilities(residuals, k, c)
    if exclude is not None:
        p = np.where(exclude, 0.0, p)
        p /= p.sum()
    return np.sort(rng.choice(len(p), size=n, replace=False, p=p))


def greedy_indices(residuals: np.ndarray, n: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """The ``n`` pool indices of largest ``|r|`` (ties by index), skipping ``exclude``."""
    r = np.abs(np.asarray(residuals, dtype=np.float64))
    if exclude is not None:
        r = np.where(exclude, -np.inf, r)
    return np.sort(np.argsort(-r, kind="stable")[:n])


def is_indices(residuals: np.ndarray, n: int, floor: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Residual importance sampling: ``n`` distinct indices with inclusion probabilities
    ``pi ∝ r^2 + floor * mean(r^2)`` (capped at 1) and weights ``n / (N pi)`` (module docstring)."""
    r2 = np.asarray(residuals, dtype=np.float64) ** 2
    q = r2 + floor * r2.mean()
    if not np.any(q > 0):
        q = np.ones_like(q)  # a zero residual everywhere: uniform
    idx, pi = pps_sample(q, n, rng)
    return idx, n / (len(r2) * pi)


@dataclass(frozen=True)
class _Adaptive(WarmupMethod):
    family = "adaptive"

    def _meta(self, warm: Warmup, **extra: Any) -> dict[str, Any]:
        return {**warm.metadata(), **extra}


@register
@dataclass(frozen=True)
class RAD(_Adaptive):
    """Residual-based adaptive distribution at a fixed budget (see the module docstring).

    Parameters
    ----------
    k:
        Exponent of ``|r|`` (>= 0).
    c:
        Uniform part of the density (>= 0).
    """

    name = "rad"
    k: float = 1.0
    c: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number(self.name, "k", self.k, 0.0)
        check_number(self.name, "c", self.c, 0.0)

    def _make(self, problem, counts, seed):
        warm = self.warmup(problem, counts, seed)
        idx = rad_indices(warm.residuals, counts["interior"], self.k, self.c, selection_rng(seed))
        return PointSet(warm.pool[idx], None, warm.conditions), self._meta(warm)


@register
@dataclass(frozen=True)
class RARD(_Adaptive):
    """RAR-D at a fixed budget: a Sobol base plus residual-drawn additions (module docstring).

    Parameters
    ----------
    add_fraction:
        Fraction of the budget added by residual (``0 < add_fraction <= 1``); at least one
        point is added.
    k, c:
        The density of the additions, as RAD's (Wu et al.'s RAR-D defaults ``k = 2, c = 0``).
    greedy:
        Add the largest-``|r|`` candidates instead of drawing them.
    rounds:
        Number of parts the additions come in, with ``warmup_steps`` more training between
        parts (at most the number of points added).
    """

    name = "rard"
    add_fraction: float = 0.5
    k: float = 2.0
    c: float = 0.0
    greedy: bool = False
    rounds: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number(self.name, "add_fraction", self.add_fraction, 0.0, strict=True, high=1.0)
        check_number(self.name, "k", self.k, 0.0)
        check_number(self.name, "c", self.c, 0.0)
        check_int(self.name, "rounds", self.rounds, 1)
        if not isinstance(self.greedy, bool):
            raise PinnddError(f"{self.name}: greedy must be True or False; got {self.greedy!r}")

    def _make(self, problem, counts, seed):
        budget = counts["interior"]
        n_add = min(budget, max(1, round(self.add_fraction * budget)))
        if self.rounds > n_add:
            raise PinnddError(f"{self.name}: rounds ({self.rounds}) exceeds the {n_add} points added at budget {budget}")
        warm = self.warmup(problem, counts, seed)
        rng = selection_rng(seed)
        base = warm.train_interior[: budget - n_add]
        taken = np.zeros(len(warm.pool), dtype=bool)
        residuals = warm.residuals
        parts = np.diff(np.round(np.linspace(0, n_add, self.rounds + 1)).astype(int))
        extra_seconds = 0.0
        for j, part in enumerate(parts):
            if j > 0:  # refine: more training on the set so far, then fresh residuals
                t0 = time.perf_counter()
                ps = PointSet(np.concatenate([base, warm.pool[taken]]), None, warm.conditions)
                cfg = TrainConfig(width=self.warmup_width, depth=self.warmup_depth, adam_steps=self.warmup_steps,
                                  lr=self.warmup_lr, hard=self.warmup_hard, seed=warm.settings["net_seed"],
                                  progress=False, log_every=max(1, min(100, self.warmup_steps)))
                res = train(problem, ps, cfg, model=warm.model)
                residuals = residual_abs(problem, res.model, warm.pool)
                extra_seconds += time.perf_counter() - t0
                charge("warmup", time.perf_counter() - t0)
            if self.greedy:
                idx = greedy_indices(residuals, part, exclude=taken)
            else:
                idx = rad_indices(residuals, part, self.k, self.c, rng, exclude=taken)
            taken[idx] = True
        interior = np.concatenate([base, warm.pool[taken]]) if len(base) else warm.pool[taken]
        meta = self._meta(warm, n_added=int(n_add), n_base=int(budget - n_add))
        meta["warmup_seconds"] += extra_seconds
        return PointSet(interior, None, warm.conditions), meta


@register
@dataclass(frozen=True)
class ResidualIS(_Adaptive):
    """Residual importance sampling with unbiased Horvitz-Thompson weights (module docstring).

    Parameters
    ----------
    floor:
        ``beta`` in ``q_i = r_i^2 + beta * mean(r^2)`` (>= 0; > 0 keeps weights bounded).
    """

    name = "residual_is"
    floor: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number(self.name, "floor", self.floor, 0.0)

    def _make(self, problem, counts, seed):
        warm = self.warmup(problem, counts, seed)
        idx, w = is_indices(warm.residuals, counts["interior"], self.floor, selection_rng(seed))
        meta = self._meta(warm, weight_range=[float(w.min()), float(w.max())])
        return PointSet(warm.pool[idx], w, warm.conditions), meta
