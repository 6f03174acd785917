"""The shared warm-up PINN and the residual on a candidate pool, for residual-driven methods.

Residual-adaptive methods (:mod:`pinndd.methods.adaptive.rad`) and coresets
(:mod:`pinndd.methods.adaptive.coreset`) choose points from a pool of candidates by the PDE residual of a
network. That network is a short *warm-up* PINN, built here and only here:

1. the training set is the Sobol set of the same budget (``interior_points(problem, "sobol",
   budget, seed)``, the ``"sobol"`` method's interior at that seed) with the shared condition
   points (:func:`pinndd.methods.base.condition_points`);
2. a :class:`pinndd.TrainConfig` of ``warmup_steps`` full-batch Adam steps, an MLP of
   ``warmup_depth`` x ``warmup_width`` and a network seed derived from the method seed;
3. the pool is ``pool_size`` scrambled Sobol interior points (default ``max(16 * budget, 4096)``)
   with its own derived seed, and the warm-up network's absolute residual

       |r_i| = |R[u_theta](x_i)|,   i = 1, ..., N

   is computed in batches without keeping the graph (``create_graph=False``).

Every method built on :class:`WarmupMethod` stores ``warmup_seconds`` and the resolved warm-up
settings (``warmup``) in its point set's metadata, so the cost of the warm-up is never hidden.

The module also holds :func:`pps_sample`, the fixed-size sampler with exact inclusion
probabilities (ordered pivotal sampling) that the importance-sampling methods share.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...cost import charge
from ...engine.evaluation import residuals
from ...engine.nn import PINN
from ...engine.training import TrainConfig, train
from ...errors import PinnddError
from ...pointset import PointSet
from ..base import Capabilities, PointSetMethod, condition_points, interior_points
from ..checks import check_int

#: Tags separating the seeds derived from one method seed.
_TAG_NET, TAG_POOL, _TAG_SELECT = 1, 2, 3


def derive_seed(seed: int, tag: int) -> int:
    """A seed for one use (``tag``) derived from a method seed; distinct tags give independent
    streams (:class:`numpy.random.SeedSequence`)."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(tag)]).generate_state(1)[0])


def selection_rng(seed: int) -> np.random.Generator:
    """The random generator a method draws its selection from, derived from the method seed."""
    return np.random.default_rng(derive_seed(seed, _TAG_SELECT))


def default_pool_size(budget: int) -> int:
    """``max(16 * budget, 4096)`` candidates."""
    return max(16 * int(budget), 4096)


def residual_abs(problem, model: torch.nn.Module, points: np.ndarray, batch: int = 4096) -> np.ndarray:
    """``|r(x_i)|`` of ``model`` for ``problem`` at ``points`` (shape ``(n, d)``), float64
    (:func:`pinndd.engine.evaluation.residuals`, batches of ``batch`` points, no graph kept); a
    warm-up whose residual is not finite is refused."""
    res = np.abs(residuals(problem, model, points, batch))
    if not np.all(np.isfinite(res)):
        raise PinnddError(
            f"the warm-up network's residual on {problem.name!r} is not finite at "
            f"{int((~np.isfinite(res)).sum())} candidate point(s); lower warmup_lr or use fewer warmup_steps"
        )
    return res


@dataclass(eq=False)
class Warmup:
    """A trained warm-up PINN and its residual on the candidate pool.

    Attributes
    ----------
    model:
        The warm-up PINN.
    pool:
        Candidate interior points, shape ``(N, d)``.
    residuals:
        ``|r|`` of ``model`` at ``pool``, shape ``(N,)``.
    train_interior:
        The Sobol interior points the warm-up trained on, shape ``(budget, d)``.
    conditions:
        The shared condition points (as :func:`condition_points` returns them).
    seconds:
        Wall time of training and of the residual on the pool.
    settings:
        Resolved settings (steps, width, depth, lr, hard, network seed, pool size and seed,
        final loss, mean squared residual on the pool); JSON-serialisable.
    """

    model: PINN
    pool: np.ndarray
    residuals: np.ndarray
    train_interior: np.ndarray
    conditions: dict[str, tuple[np.ndarray, None]]
    seconds: float
    settings: dict[str, Any]

    def metadata(self) -> dict[str, Any]:
        """``{"warmup_seconds": ..., "warmup": settings}`` for a point set's metadata."""
        return {"warmup_seconds": float(self.seconds), "warmup": dict(self.settings)}


def warmup(
    problem,
    counts: dict[str, int],
    seed: int,
    *,
    steps: int = 300,
    width: int = 32,
    depth: int = 3,
    lr: float = 1e-3,
    hard: bool = False,
    pool_size: int = 0,
    dtype: str = "float32",
) -> Warmup:
    """Train the warm-up PINN and compute ``|r|`` on a Sobol candidate pool (module docstring).

    Parameters
    ----------
    problem:
        The PDE problem.
    counts:
        Points per part from :meth:`pinndd.BudgetRule.split`; ``counts["interior"]`` is the budget.
    seed:
        The method seed; the network, pool and training-set seeds derive from it.
    steps, width, depth, lr:
        Adam steps (0: the untrained network), MLP size and learning rate of the warm-up.
    hard:
        Train the warm-up with the problem's hard-constraint transform.
    pool_size:
        Number of candidates; 0 means :func:`default_pool_size` of the budget. Must be at least
        the budget.
    dtype:
        ``"float32"`` or ``"float64"``.
    """
    budget = int(counts["interior"])
    n_pool = default_pool_size(budget) if pool_size == 0 else int(pool_size)
    if n_pool < budget:
        raise PinnddError(f"pool_size ({n_pool}) must be at least the budget ({budget}); raise pool_size or use 0 (auto)")
    if hard and problem.hard_transform is None:
        raise PinnddError(f"warmup_hard=True needs a problem with a hard-constraint transform; {problem.name!r} has none")
    t0 = time.perf_counter()
    train_interior = interior_points(problem, "sobol", budget, seed)
    conds = condition_points(problem, counts, seed)
    net_seed = derive_seed(seed, _TAG_NET)
    config = TrainConfig(width=width, depth=depth, adam_steps=steps, lr=lr, seed=net_seed, dtype=dtype,
                         hard=hard, progress=False, log_every=max(1, min(100, steps)))
    result = train(problem, PointSet(train_interior, None, conds), config)
    pool_seed = derive_seed(seed, TAG_POOL)
    pool = interior_points(problem, "sobol", n_pool, pool_seed)
    res = residual_abs(problem, result.model, pool)
    seconds = time.perf_counter() - t0
    charge("warmup", seconds)
    settings = {
        "steps": int(steps), "width": int(width), "depth": int(depth), "lr": float(lr), "hard": bool(hard),
        "dtype": dtype, "net_seed": net_seed, "pool_size": n_pool, "pool_seed": pool_seed, "pool_kind": "sobol",
        "final_loss": float(result.history["loss"][-1]) if steps else None,
        "pool_residual_mse": float(np.mean(res**2)),
    }
    return Warmup(result.model, pool, res, train_interior, conds, seconds, settings)


@dataclass(frozen=True)
class WarmupMethod(PointSetMethod):
    """Base of the methods that choose points by a warm-up network's residual.

    Parameters
    ----------
    warmup_steps:
        Adam steps of the warm-up PINN (0: use the untrained network).
    warmup_width, warmup_depth:
        Its MLP.
    warmup_lr:
        Its Adam learning rate.
    warmup_hard:
        Train it with the problem's hard-constraint transform.
    pool_size:
        Candidates; 0 means ``max(16 * budget, 4096)``.
    """

    capabilities = Capabilities(needs_warmup=True)

    warmup_steps: int = 300
    warmup_width: int = 32
    warmup_depth: int = 3
    warmup_lr: float = 1e-3
    warmup_hard: bool = False
    pool_size: int = 0

    def __post_init__(self) -> None:
        check_int(self.name, "warmup_steps", self.warmup_steps, 0)
        check_int(self.name, "warmup_width", self.warmup_width, 1)
        check_int(self.name, "warmup_depth", self.warmup_depth, 1)
        check_int(self.name, "pool_size", self.pool_size, 0)
        if not isinstance(self.warmup_hard, bool):
            raise PinnddError(f"{self.name}: warmup_hard must be True or False; got {self.warmup_hard!r}")
        if not (np.isfinite(self.warmup_lr) and self.warmup_lr > 0):
            raise PinnddError(f"{self.name}: warmup_lr must be positive and finite; got {self.warmup_lr!r}")

    def warmup(self, problem, counts: dict[str, int], seed: int) -> Warmup:
        """The warm-up for this method's settings (see :func:`warmup`)."""
        return warmup(problem, counts, seed, steps=self.warmup_steps, width=self.warmup_width,
                      depth=self.warmup_depth, lr=self.warmup_lr, hard=self.warmup_hard, pool_size=self.pool_size)


def inclusion_probabilities(scores: np.ndarray, n: int) -> np.ndarray:
    """Inclusion probabilities ``pi_i = min(1, lambda * a_i)`` with ``sum_i pi_i = n``.

    ``a_i >= 0`` are the ``scores``; ``lambda`` is found by water-filling: units whose scaled
    score reaches 1 are taken with certainty and the rest rescaled until none exceeds 1. Needs
    at least ``n`` positive scores.
    """
    a = np.asarray(scores, dtype=np.float64)
    if a.ndim != 1 or np.any(~np.isfinite(a)) or np.any(a < 0):
        raise PinnddError("inclusion probabilities need finite, non-negative scores")
    if int(np.count_nonzero(a)) < n:
        raise PinnddError(f"need at least {n} candidates with positive score; got {int(np.count_nonzero(a))}")
    pi = np.zeros_like(a)
    certain = np.zeros(len(a), dtype=bool)
    while True:
        rest = ~certain
        m = n - int(certain.sum())
        pi[rest] = m * a[rest] / a[rest].sum()
        pi[certain] = 1.0
        over = rest & (pi >= 1.0)
        if not over.any():
            return pi
        certain |= over


def pps_sample(
    scores: np.ndarray, n: int, rng: np.random.Generator, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    r"""``n`` distinct indices drawn with probability proportional to size, and their inclusion
    probabilities.

    Ordered pivotal sampling (Deville and Tillé 1998) over the units in ``order`` (default: a
    random permutation), with :math:`\pi_i` from :func:`inclusion_probabilities`: walking along
    the order, the undecided unit :math:`a` meets the next unit :math:`b`, and

    - if :math:`\pi_a + \pi_b < 1`, one of them gets :math:`\pi_a + \pi_b` and the other 0
      (:math:`b` survives with probability :math:`\pi_b / (\pi_a + \pi_b)`);
    - else one of them is selected and the other keeps :math:`\pi_a + \pi_b - 1`
      (:math:`a` is selected with probability :math:`(1 - \pi_b) / (2 - \pi_a - \pi_b)`).

    Each step keeps every unit's expected final inclusion unchanged, so each unit is included
    with probability exactly :math:`\pi_i`, exactly ``n`` units are drawn, and the
    Horvitz-Thompson estimate

    .. math:: \hat T = \sum_{i \in S} f_i / \pi_i

    of any total :math:`T = \sum_i f_i` is unbiased. Units with :math:`\pi_i = 1` are always
    taken. The number drawn among the first :math:`m` units of the order is the floor or the
    ceiling of their probability mass, so sorting the units by a spatial cluster label
    (``order``) spreads the sample like a stratified one (each cluster gets within two points
    of its expected count). Unlike systematic sampling, the draws are negatively correlated
    whatever the order, so counts in any region vary no more than independent draws would.

    Returns
    -------
    indices, pi:
        Sorted selected indices (shape ``(n,)``) and their inclusion probabilities.
    """
    pi = inclusion_probabilities(scores, n)
    units = rng.permutation(len(pi)) if order is None else np.asarray(order)
    if sorted(units.tolist()) != list(range(len(pi))):
        raise PinnddError("order must be a permutation of the candidate indices")
    p = pi[units].tolist()
    coins = rng.random(len(p)).tolist()
    chosen: list[int] = []
    eps = 1e-12
    a = -1  # position of the undecided unit, -1 for none
    for j in range(len(p)):
        pj = p[j]
        if pj >= 1.0 - eps:
            chosen.append(j)
            continue
        if pj <= eps:
            continue
        if a < 0:
            a = j
            continue
        s = p[a] + pj
        if s < 1.0:
            if coins[j] < pj / s:
                p[a], p[j], a = 0.0, s, j
            else:
                p[a], p[j] = s, 0.0
        else:
            rest = s - 1.0
            if coins[j] < (1.0 - pj) / (2.0 - s):
                chosen.append(a)
                p[a], p[j], a = 1.0, rest, j
            else:
                chosen.append(j)
                p[j], p[a] = 1.0, rest
            if p[a] <= eps:
                a = -1
    if a >= 0 and p[a] >= 0.5:  # the last undecided mass is 0 or 1 up to round-off
        chosen.append(a)
    idx = np.sort(units[np.asarray(chosen, dtype=int)])
    if len(idx) != n or len(np.unique(idx)) != n:  # pragma: no cover - guarded by the construction
        raise PinnddError(f"internal error: pivotal sampling drew {len(np.unique(idx))} of {n} units")
    return idx, pi[idx]
