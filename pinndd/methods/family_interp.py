r"""``family_interp``: a bank of dense fine-tunes at the made-on values of a shift family,
interpolated in weight space, with the points and fine-tune recipe that serve it best (see
:class:`FamilyInterp`; the shared family machinery is :mod:`pinndd.methods.family_kit`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..engine.evaluation import predict
from ..errors import PinnddError
from ..family import fine_tune, warm_copy
from ..kits import start_from
from ..pointset import PointSet
from .adaptive.warmup import derive_seed
from .base import condition_points, interior_points, register
from .family_kit import TAG_DRAW, FamilyMethod

log = logging.getLogger(__name__)


def _states(models: dict[float, Any]) -> dict[float, dict[str, np.ndarray]]:
    return {float(v): {k: t.detach().cpu().numpy() for k, t in m.state_dict().items()} for v, m in models.items()}


@register
@dataclass(frozen=True)
class FamilyInterp(FamilyMethod):
    r"""A bank of dense fine-tunes at the made-on values, interpolated in weight space, plus the
    points and fine-tune recipe that serve it best, chosen by leave-one-out on made-on values.

    A solve at :math:`\mu` starts from the two bracketing members' weights mixed linearly
    (:func:`pinndd.kits.start_from`); the kit then fine-tunes on its points with its recipe,
    or not at all. Which points (``points``) and recipe (``recipes``: ``"none"``, ``"short"``
    = a quarter of the fine-tune's Adam steps then its L-BFGS, ``"standard"``) is decided
    without any held-out value: each made-on value :math:`\mu_m` strictly inside the range and
    away from the nominal is left out of the bank, the start is interpolated from its
    neighbours (twice the kit's spacing, a conservative test), every candidate is run from it,
    and the one closest to the dense fine-tune at :math:`\mu_m` (relative L2 on ``validation``
    pool points) on average wins. Cost: the bank (``M`` dense fine-tunes) and the selection.
    """

    name = "family_interp"

    points: tuple[str, ...] = ("sobol", "family_rad")
    recipes: tuple[str, ...] = ("none", "short", "standard")
    validation: int = 2048

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.points or set(self.points) - {"sobol", "family_rad"}:
            raise PinnddError(f"points must be drawn from ('sobol', 'family_rad'); got {self.points}")
        if not self.recipes or set(self.recipes) - {"none", "short", "standard"}:
            raise PinnddError(f"recipes must be drawn from ('none', 'short', 'standard'); got {self.recipes}")

    def candidate_recipe(self, name: str, seed: int):
        base = replace(self.recipe(seed), progress=False)
        if name == "none":
            return replace(base, adam_steps=0, lbfgs_steps=0)
        if name == "short":
            return replace(base, adam_steps=max(1, base.adam_steps // 4))
        return base

    def distil(self, task, warm, counts, seed):
        problem, n = task.problem, counts["interior"]
        models, bank_seconds = self.dense_fine_tunes(task, warm, seed)
        t0 = time.perf_counter()
        nominal = task.nominal
        bank = {v: m for v, m in models.items() if abs(v - nominal) > 1e-12}
        members = _states(bank)
        members[nominal] = {k: t.detach().cpu().numpy() for k, t in warm.state_dict().items()}
        pool = self._pool(problem, n, seed)
        val = np.random.default_rng(derive_seed(seed, TAG_DRAW + 2)).permutation(len(pool))[: self.validation]
        conds = condition_points(problem, counts, seed)
        sets = {"sobol": interior_points(problem, "sobol", n, seed)}
        if "family_rad" in self.points:
            sets["family_rad"] = self.rad_points(task, warm, n, seed)
        lo, hi = task.value_range
        left_out = [v for v in task.made_on if lo < v < hi and abs(v - nominal) > 1e-12]
        scores: dict[str, list[float]] = {}
        for m in left_out:
            start = start_from({v: s for v, s in members.items() if v != m}, m, True)
            target = predict(models[m], pool[val])
            for rname in self.recipes:
                for pname in (self.points[:1] if rname == "none" else self.points):
                    cfg = self.candidate_recipe(rname, seed)
                    if rname == "none":
                        model = warm_copy(task.at(m), start, cfg)
                    else:
                        model = fine_tune(task.at(m), start, PointSet(sets[pname], None, conds), cfg).model
                    err = np.sum((predict(model, pool[val]) - target) ** 2) / (np.sum(target**2) + 1e-30)
                    scores.setdefault(f"{pname}+{rname}" if rname != "none" else "none", []).append(float(np.sqrt(err)))
        mean = {k: float(np.mean(v)) for k, v in scores.items()}
        best = min(mean, key=mean.get) if mean else f"{self.points[0]}+standard"
        pname, rname = best.split("+") if "+" in best else (self.points[0], "none")
        log.info("family_interp: leave-one-out scores %s -> %s", mean, best)
        return sets[pname], {"bank": bank, "recipe": self.candidate_recipe(rname, seed),
                             "cost": {"bank": bank_seconds, "selection": time.perf_counter() - t0},
                             "kit_metadata": {"start": "interpolate", "choice": best, "loo_scores": mean,
                                              "left_out": left_out},
                             "loo_scores": mean, "choice": best}


__all__ = ["FamilyInterp"]
