r"""Family distillers: points chosen so that a short fine-tune from the nominal PINN solves any
value of a shift family (methods ``"family_rad"`` and ``"family_exchange"``).

Both start from the same warm start: a PINN trained densely at the nominal parameters
(``warm_dense`` Sobol points, the ``protocol``'s training), the one-off cost every fine-tune
strategy of the family task pays (:mod:`pinndd.family`). They see only the task's *made-on*
values :math:`\mu_1, \dots, \mu_M` (:attr:`pinndd.family.FamilyTask.made_on`), never the held-out
values a benchmark scores on.

``family_rad``: the residual of the warm start at each made-on value, normalised by its mean,
averaged over the values, drives a RAD draw on a Sobol pool,

.. math:: p(x) \propto \frac{1}{M} \sum_m \frac{|R_{\mu_m}[u_0](x)|^k}{\langle |R_{\mu_m}[u_0]|^k \rangle} + c ,

so the points sit where the nominal solution is wrong for the family as a whole (for Burgers'
amplitude: the steepening front and the start), with ``c`` keeping coverage. Cost: ``M``
residual passes over the pool.

``family_exchange``: the target is what the user would otherwise pay for, a fine-tune on the
dense set, computed once at each made-on value (``M`` dense fine-tunes). Starting from
``init`` (default ``family_rad``), round ``r`` picks a made-on value (cycling in a seeded
order), fine-tunes the warm start on the current set and on a proposal (the
:class:`~pinndd.methods.labelled.label_exchange.LabelExchange` move: drop the points whose
neighbourhood is fitted best, add candidates drawn in proportion to the fine-tune's distance to
the target) and keeps the proposal when its fine-tune is closer to the target on validation
points the sets never contain:

.. math:: J_\mu(S) = \frac{\sum_{x \in V} (u_{S,\mu}(x) - u_{D,\mu}(x))^2}{\sum_{x \in V} u_{D,\mu}(x)^2}.

The point set's metadata carries the warm start's and the distillation's seconds. :meth:`make_kit`
returns a :class:`pinndd.kits.Kit` (points, warm weights, fine-tune recipe), optionally
reusing a warm start the caller already has.
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .. import protocols
from ..budget import DEFAULT_RULE
from ..cost import charge
from ..engine.evaluation import predict, residuals
from ..engine.training import show_progress, train
from ..errors import PinnddError
from ..family import FamilyTask, fine_tune, fine_tune_config, timed
from ..kits import Kit
from ..pointset import PointSet
from .adaptive.rad import rad_indices
from .adaptive.warmup import derive_seed
from .base import Capabilities, PointSetMethod, condition_points, interior_points, register
from .distill.context import step_seed
from .labelled.label_exchange import LabelExchange

log = logging.getLogger(__name__)

TAG_POOL, TAG_DRAW = 11, 12


@dataclass(frozen=True)
class FamilyMethod(PointSetMethod):
    """Shared settings: the family, the warm start and the fine-tune recipe."""

    family = "family"
    capabilities = Capabilities(needs_warmup=True, shift_aware=True)

    param: str | None = None
    protocol: str = "quick"
    warm_dense: int | None = None
    fine_tune_fraction: float = 0.25
    pool_size: int | None = None
    k: float = 1.0
    c: float = 1.0
    progress: bool | None = None

    def __post_init__(self) -> None:
        protocols.get(self.protocol)
        if self.k < 0 or self.c < 0:
            raise PinnddError(f"need k >= 0 and c >= 0; got k={self.k}, c={self.c}")
        if self.warm_dense is not None and self.warm_dense < 1:
            raise PinnddError(f"warm_dense must be a positive number of points; got {self.warm_dense}")

    # -- the warm start and the recipe ---------------------------------------------------------
    def train_config(self, seed: int):
        return replace(protocols.get(self.protocol).train, seed=int(seed), progress=False)

    def recipe(self, seed: int):
        """The fine-tune recipe a kit ships: the protocol's network, ``fine_tune_fraction`` of its steps."""
        return fine_tune_config(self.train_config(seed), self.fine_tune_fraction)

    def warm_start(self, problem, seed: int):
        """``(model, seconds)``: the nominal PINN trained on the protocol's dense Sobol set."""
        n = self.warm_dense or protocols.get(self.protocol).dense
        ps = interior_set(problem, "sobol", n, seed, condition_points(problem, DEFAULT_RULE.split(problem, n), seed))
        res, sec = timed(train, problem, ps, self.train_config(seed))
        return res.model, sec

    def _pool(self, problem, budget: int, seed: int) -> np.ndarray:
        return interior_points(problem, "sobol", self.pool_size or max(16 * budget, 4096), derive_seed(seed, TAG_POOL))

    def family_residual(self, task: FamilyTask, model, pool: np.ndarray) -> np.ndarray:
        """Mean over made-on values of ``|r|^k / mean |r|^k`` of ``model`` on ``pool``."""
        acc = np.zeros(len(pool))
        for v in task.made_on:
            r = np.abs(residuals(task.at(v), model, pool)) ** self.k
            acc += r / max(float(r.mean()), 1e-300)
        return acc / len(task.made_on)

    def rad_points(self, task: FamilyTask, model, budget: int, seed: int) -> np.ndarray:
        pool = self._pool(task.problem, budget, seed)
        score = self.family_residual(task, model, pool)
        idx = rad_indices(score, budget, 1.0, self.c, np.random.default_rng(derive_seed(seed, TAG_DRAW)))
        return pool[idx]

    # -- the contract --------------------------------------------------------------------------
    def make_kit(self, problem, budget: int, seed: int = 0, warm=None, warm_seconds: float = 0.0) -> Kit:
        """The kit for ``problem``'s family: reuses ``warm`` (the nominal PINN, costing
        ``warm_seconds``) when given, else trains it."""
        task = FamilyTask.default(problem, self.param)
        t_warm = time.perf_counter()
        if warm is None:
            warm, _ = self.warm_start(problem, seed)
            warm_seconds = time.perf_counter() - t_warm  # the dense set and its training
            charge("warmup", warm_seconds)
        else:  # made before this call: charged in full, nothing spent here
            charge("warmup", warm_seconds, spent=0.0)
        counts = DEFAULT_RULE.split(problem, budget)
        t0 = time.perf_counter()
        interior, extra = self.distil(task, warm, counts, int(seed))
        ps = PointSet(np.asarray(interior), None, condition_points(problem, counts, seed))
        bank = extra.pop("bank", {})
        recipe = extra.pop("recipe", None) or self.recipe(seed)
        kit_meta = extra.pop("kit_metadata", {})
        parts = extra.pop("cost", {})
        cost = {"warm_start": float(warm_seconds), **parts, "distillation": time.perf_counter() - t0 - sum(parts.values())}
        ps.metadata.update({"method": self.name, "family": self.family, "config": self.config(), "budget": int(budget),
                            "seed": int(seed), "made_on": list(task.made_on), "param": task.param, "kit_cost": cost, **extra})
        state = {k: v.detach().cpu().numpy() for k, v in warm.state_dict().items()}
        return Kit(problem.name, task.param, task.value_range, task.made_on, ps, state, recipe, cost,
                   {"method": self.name, "config": self.config(), "seed": int(seed), "params": dict(problem.params),
                    **kit_meta},
                   {float(v): {k: t.detach().cpu().numpy() for k, t in m.state_dict().items()} for v, m in bank.items()})

    def _make(self, problem, counts, seed):
        kit = self.make_kit(problem, counts["interior"], seed)
        return kit.pointset, {"kit_cost": kit.cost, "warmup_seconds": kit.cost["warm_start"]}

    @abstractmethod
    def distil(self, task: FamilyTask, warm, counts: dict[str, int], seed: int) -> tuple[np.ndarray, dict[str, Any]]:
        """The interior points and extra metadata (``cost`` parts in seconds, an optional ``bank``
        of warm starts by value)."""

    def dense_fine_tunes(self, task: FamilyTask, warm, seed: int) -> tuple[dict[float, Any], float]:
        """The warm start fine-tuned on the protocol's dense set at every made-on value (what a
        user would otherwise pay per value), and the seconds it took."""
        n = self.warm_dense or protocols.get(self.protocol).dense
        conds = condition_points(task.problem, DEFAULT_RULE.split(task.problem, n), seed)
        dense = interior_set(task.problem, "sobol", n, seed, conds)
        recipe = replace(self.recipe(seed), progress=False)
        t0 = time.perf_counter()
        models = {float(v): fine_tune(task.at(v), warm, dense, recipe).model for v in task.made_on}
        return models, time.perf_counter() - t0


def interior_set(problem, kind: str, n: int, seed: int, conds) -> PointSet:
    """``n`` interior points of sampler ``kind`` with condition points ``conds``."""
    return PointSet(interior_points(problem, kind, n, seed), None, conds)


@register
@dataclass(frozen=True)
class FamilyRAD(FamilyMethod):
    """Points drawn from the family-averaged residual of the warm start (module docstring)."""

    name = "family_rad"

    def distil(self, task, warm, counts, seed):
        return self.rad_points(task, warm, counts["interior"], seed), {}


@register
@dataclass(frozen=True)
class FamilyExchange(FamilyMethod):
    """Exchange moves judged by warm fine-tunes against dense fine-tunes at made-on values (module docstring)."""

    name = "family_exchange"

    init: str = "family_rad"
    outer_steps: int = 10
    exchange_fraction: float = 0.125
    neighbours: int = 8
    validation: int = 2048

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.init not in ("family_rad", "sobol"):
            raise PinnddError(f"init must be 'family_rad' or 'sobol'; got {self.init!r}")
        if self.outer_steps < 0 or self.validation < 2:
            raise PinnddError("need outer_steps >= 0 and validation >= 2")
        LabelExchange(exchange_fraction=self.exchange_fraction, neighbours=self.neighbours)  # validates both

    def outcome(self, shifted, warm, points: np.ndarray, conds, recipe, pool: np.ndarray, target: np.ndarray,
                val: np.ndarray) -> tuple[float, np.ndarray]:
        """``(J, |u_S - u_D| on the pool)`` of the warm start fine-tuned on ``points`` for ``shifted``."""
        u = predict(fine_tune(shifted, warm, PointSet(points, None, conds), recipe).model, pool)
        err = np.abs(u - target)
        return float(np.sum(err[val] ** 2) / (np.sum(target[val] ** 2) + 1e-30)), err

    def distil(self, task, warm, counts, seed):
        problem, n = task.problem, counts["interior"]
        mover = LabelExchange(exchange_fraction=self.exchange_fraction, neighbours=self.neighbours)
        pool = self._pool(problem, n, seed)
        if self.init == "family_rad":
            interior = self.rad_points(task, warm, n, seed)
        else:
            interior = interior_points(problem, "sobol", n, seed)
        conds = condition_points(problem, counts, seed)
        recipe = replace(self.recipe(seed), progress=False)
        models, target_seconds = self.dense_fine_tunes(task, warm, seed)
        targets = {v: predict(m, pool) for v, m in models.items()}
        rounds = -(-self.outer_steps // len(task.made_on))
        order = np.random.default_rng(derive_seed(seed, TAG_DRAW + 1)).permutation(np.repeat(task.made_on, rounds))
        log_j, log_prop, accepted = [], [], []
        bar = tqdm(total=self.outer_steps, desc=f"{self.name} {problem.name}", disable=not show_progress(self.progress),
                   leave=False)
        for r in range(self.outer_steps):
            rng = np.random.default_rng(step_seed(seed, r))
            perm = rng.permutation(len(pool))
            half = min(self.validation, len(pool) // 2)
            cand, val = perm[:half], perm[half:2 * half]
            value = float(order[r])
            shifted, target = task.at(value), targets[value]
            j_cur, err = self.outcome(shifted, warm, interior, conds, recipe, pool, target, val)
            proposal = mover.propose(problem, interior, err[val], pool[val], pool[cand], err[cand], rng)
            j_new, _ = self.outcome(shifted, warm, proposal, conds, recipe, pool, target, val)
            log_j.append(j_cur)
            log_prop.append(j_new)
            accepted.append(bool(j_new < j_cur))
            if j_new < j_cur:
                interior = proposal
            bar.update(1)
        bar.close()
        return interior, {"outer_log": log_j, "proposal_log": log_prop, "accepted": accepted,
                          "cost": {"targets": target_seconds}}


@register
@dataclass(frozen=True)
class FamilyBank(FamilyMethod):
    """``family_rad`` points plus a bank of warm starts: the dense fine-tunes at the made-on
    values, so that a solve starts from the nearest one (at most half the made-on spacing away)
    instead of the nominal PINN. One-off cost: those fine-tunes; per value: unchanged."""

    name = "family_bank"

    def distil(self, task, warm, counts, seed):
        models, seconds = self.dense_fine_tunes(task, warm, seed)
        nominal = task.nominal
        bank = {v: m for v, m in models.items() if abs(v - nominal) > 1e-12}
        return self.rad_points(task, warm, counts["interior"], seed), {"bank": bank, "cost": {"bank": seconds}}


__all__ = ["FamilyBank", "FamilyExchange", "FamilyMethod", "FamilyRAD", "interior_set"]
