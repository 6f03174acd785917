r"""Influence-based selection: keep the pool points that a warm-up PINN says would help most.

After the influence-function resampling of PINNfluence (Naujoks et al., "Leveraging Influence
Functions for Resampling Data in Physics-Informed Neural Networks", arXiv 2506.16443), which
scores candidate points by influence functions and draws them from a RAD-like density of the
score. Here, at a fixed budget:

1. the shared warm-up PINN (:mod:`pinndd.methods.adaptive.warmup`: Sobol set of the budget, shared
   condition points, ``warmup_steps`` Adam steps) and its pool of ``N`` Sobol candidates;
2. for every candidate :math:`x`, the predicted change of a quantity :math:`Q` when :math:`x` is
   added to the warm-up's interior (:func:`pinndd.influence.candidate_influence`: one
   Gauss-Newton conjugate-gradient solve :math:`v = (G + \delta I)^{-1}\nabla Q`, then
   :math:`\Delta Q(x) \approx -(2 r(x) (Jv)(x) - v^\top\nabla T)/(n+1)` for all candidates with one
   Jacobian-vector product). :math:`Q` is reference-free by default: the physics loss on the
   pool itself (the dense loss) plus held-out condition points;
3. the usefulness :math:`s(x) = \max(-\Delta Q(x), 0)` and ``budget`` candidates drawn without
   replacement with RAD's density :math:`p \propto s^k / \overline{s^k} + c`
   (:func:`pinndd.methods.adaptive.rad.rad_indices`; ``k = 1, c = 1`` by default). PINNfluence uses
   the absolute score; the positive part keeps points whose addition would *raise* the loss out
   of the residual-driven part of the density.

The Gauss-Newton curvature is used because the warm-up is far from a minimum (its exact Hessian
is indefinite) and is damped by ``damping`` times its mean eigenvalue (it has rank at most the
number of training points, far below the number of parameters). ``method="alignment"`` replaces
the solve by gradient alignment (:math:`v = \nabla Q`). Weights are 1; condition points are the
shared Sobol ones. The influence computation's cost is in ``influence_seconds`` and, with the
warm-up's, in the set's ``cost_seconds``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import PinnddError
from ...influence import HESSIANS, METHODS, candidate_influence, held_out_set
from ...pointset import PointSet
from ..base import register
from ..checks import check_int, check_number
from .rad import rad_indices
from .warmup import WarmupMethod, derive_seed, selection_rng

#: Tag of the seed of the held-out condition points (the warm-up uses 1-3).
_TAG_HELD_OUT = 4


@register
@dataclass(frozen=True)
class InfluenceSelect(WarmupMethod):
    """Pool points drawn by their predicted influence on a quantity (module docstring).

    Parameters
    ----------
    k, c:
        RAD-like density of the usefulness score (``k >= 0``, ``c >= 0``).
    quantity:
        ``"physics"`` (dense physics loss on the pool, reference-free) or ``"reference"`` (the
        reference error: an oracle, for diagnosis only).
    method:
        ``"influence"`` (damped Gauss-Newton inverse) or ``"alignment"``.
    hessian:
        ``"gauss_newton"`` or ``"exact"``.
    damping:
        Damping relative to the curvature's mean eigenvalue.
    cg_maxiter:
        Conjugate-gradient iterations at most.
    """

    name = "influence_select"
    family = "adaptive"
    k: float = 1.0
    c: float = 1.0
    quantity: str = "physics"
    method: str = "influence"
    hessian: str = "gauss_newton"
    damping: float = 1e-2
    cg_maxiter: int = 100

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number(self.name, "k", self.k, 0.0)
        check_number(self.name, "c", self.c, 0.0)
        check_number(self.name, "damping", self.damping, 0.0)
        check_int(self.name, "cg_maxiter", self.cg_maxiter, 1)
        if self.quantity not in ("physics", "reference"):
            raise PinnddError(f"{self.name}: quantity must be 'physics' or 'reference'; got {self.quantity!r}")
        if self.method not in METHODS:
            raise PinnddError(f"{self.name}: method must be one of {METHODS}; got {self.method!r}")
        if self.hessian not in HESSIANS:
            raise PinnddError(f"{self.name}: hessian must be one of {HESSIANS}; got {self.hessian!r}")

    def _make(self, problem, counts, seed):
        warm = self.warmup(problem, counts, seed)
        trained_on = PointSet(warm.train_interior, None, warm.conditions)
        held_conds = held_out_set(problem, 1, 256, seed=derive_seed(seed, _TAG_HELD_OUT)).conditions
        delta, info = candidate_influence(
            problem, warm.model, trained_on, warm.pool, self.quantity, method=self.method, hessian=self.hessian,
            damping=self.damping, cg_maxiter=self.cg_maxiter, held_out=PointSet(warm.pool, None, held_conds))
        score = np.maximum(-delta, 0.0)
        idx = rad_indices(score, counts["interior"], self.k, self.c, selection_rng(seed))
        meta = {**warm.metadata(), "influence_seconds": info.pop("seconds"), "influence": info,
                "useful_fraction": float(np.mean(score > 0))}
        return PointSet(warm.pool[idx], None, warm.conditions), meta
