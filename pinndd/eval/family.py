r"""The family benchmark: strategies for solving many values of a shift family, with their costs.

For a :class:`pinndd.family.FamilyTask` and one seed (an independent pipeline: the seed drives
every network, point set and warm start of that run), each strategy yields one row per
held-out value with its reference errors, its *one-off* cost (paid once for all values) and its
*per-value* cost, in seconds:

==================  ==========================================================  ===================  =====================
strategy            what                                                        one-off              per value
==================  ==========================================================  ===================  =====================
``dense``           train from scratch on the protocol's dense Sobol set        --                   training
``sobol``, ``rad``  train from scratch on ``budget`` Sobol / RAD points         --                   set + training
``ft_dense``        fine-tune the nominal dense PINN on the dense set           nominal PINN         fine-tune
``ft_sobol``        fine-tune it on ``budget`` Sobol points                     nominal PINN         fine-tune
``ft_rad``          fine-tune it on RAD points from its residual at the value   nominal PINN         residual + fine-tune
``parametric``      one PINN over (x, param) on the range, evaluated            parametric training  --
``ft_parametric``   its slice at the value fine-tuned on ``budget`` Sobol       parametric training  fine-tune
``kit:<method>``    a family distiller's kit (:mod:`pinndd.methods.family_kit`)  nominal PINN + kit   fine-tune
==================  ==========================================================  ===================  =====================

Fine-tunes run :data:`pinndd.family.FINE_TUNE_FRACTION` of the protocol's steps with a fresh
optimiser (a kit's from its warm start nearest the value, :meth:`pinndd.kits.Kit.solve`). A kit
is made only on the task's made-on values, never on the held-out values scored.
:func:`summarise` turns rows into the table (errors relative to dense from scratch at the same
value and seed pipeline, costs in units of one dense training measured in the same run).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from .. import methods
from ..budget import DEFAULT_RULE
from ..engine.evaluation import evaluate, residuals
from ..engine.nn import PINN
from ..engine.training import TrainConfig, train
from ..errors import PinnddError
from ..family import FamilyTask, fine_tune, fine_tune_config, timed, warm_copy
from ..methods.adaptive.rad import rad_indices
from ..parametric import FixedParameter, train_parametric
from ..pointset import PointSet

log = logging.getLogger(__name__)

STRATEGIES = ("dense", "sobol", "rad", "ft_dense", "ft_sobol", "ft_rad", "parametric", "ft_parametric",
              "kit:family_rad", "kit:family_exchange", "kit:family_bank", "kit:family_interp")


def _set(problem, kind: str, n: int, seed: int) -> PointSet:
    return methods.get(kind).make(problem, n, seed=seed)


def _result_row(strategy: str, task: FamilyTask, seed: int, value: float, model, once: float, per_value: float,
         n_points: int, **extra: Any) -> dict[str, Any]:
    shifted = task.at(value)
    return {"problem": task.problem.name, "param": task.param, "strategy": strategy, "seed": int(seed),
            "value": float(value), "in_range": bool(task.in_range(value)), "made_on": False,
            **evaluate(shifted, model), "once_seconds": float(once), "value_seconds": float(per_value),
            "n_points": int(n_points), **extra}


class SeedRun:
    """One independent pipeline of the benchmark (seed ``seed``): shared pieces are made once
    (the nominal PINN, the parametric PINN, kits) and reused by every strategy that needs them."""

    def __init__(self, task: FamilyTask, seed: int, protocol: TrainConfig, dense: int, budget: int,
                 method_settings: Mapping[str, Mapping[str, Any]] | None = None, protocol_name: str = "quick"):
        self.task, self.seed, self.dense, self.budget = task, int(seed), int(dense), int(budget)
        self.config = replace(protocol, seed=int(seed), progress=False)
        self.ft = fine_tune_config(self.config)
        self.protocol_name = protocol_name
        self.settings = {k: dict(v) for k, v in (method_settings or {}).items()}
        self._shared: dict[str, tuple[Any, float]] = {}

    # -- shared one-off pieces ------------------------------------------------------------------
    def shared(self, key: str, make: Callable[[], Any]) -> tuple[Any, float]:
        if key not in self._shared:
            self._shared[key] = timed(make)
        return self._shared[key]

    def dense_set(self, problem) -> PointSet:
        return _set(problem, "sobol", self.dense, self.seed)

    def use_nominal(self, state: Mapping[str, Any], seconds: float) -> None:
        """Reuse a nominal PINN trained earlier (its weights and training seconds), e.g. from a file."""
        self._shared["nominal"] = (warm_copy(self.task.problem, state, self.config), float(seconds))

    def nominal(self) -> tuple[PINN, float]:
        return self.shared("nominal", lambda: train(self.task.problem, self.dense_set(self.task.problem), self.config).model)

    def parametric(self):
        return self.shared("parametric", lambda: train_parametric(
            self.task.problem, self.task.param, self.task.value_range, budget=self.dense, config=self.config, seed=self.seed))

    def kit(self, name: str):
        def make():
            warm, warm_sec = self.nominal()
            settings = {"protocol": self.protocol_name, "progress": False, **self.settings.get(name, {})}
            return methods.get(name, param=self.task.param, **settings).make_kit(
                self.task.problem, self.budget, self.seed, warm=warm, warm_seconds=warm_sec)

        kit, _ = self.shared(f"kit:{name}", make)
        return kit

    # -- strategies -----------------------------------------------------------------------------
    def row(self, strategy: str, value: float) -> dict[str, Any]:
        task, v = self.task, float(value)
        made_on = any(abs(v - m) <= 1e-12 for m in task.made_on)
        if made_on and strategy.startswith("kit:"):
            raise PinnddError(f"{task.param} = {v:g} is a value the kit was made on; a family method is scored only on "
                              f"held-out values ({list(task.held_out)})")
        row = self._row(strategy, v)
        row["made_on"] = made_on
        return row

    def _row(self, strategy: str, v: float) -> dict[str, Any]:
        task, seed = self.task, self.seed
        shifted = task.at(v)
        if strategy == "dense":
            ps = self.dense_set(shifted)
            res = train(shifted, ps, self.config)
            return _result_row(strategy, task, seed, v, res.model, 0.0, res.wall_time, len(ps))
        if strategy in ("sobol", "rad"):
            ps, made = timed(_set, shifted, strategy, self.budget, seed)
            res = train(shifted, ps, self.config)
            return _result_row(strategy, task, seed, v, res.model, 0.0, made + res.wall_time, len(ps))
        if strategy.startswith("ft_") and strategy != "ft_parametric":
            warm, warm_sec = self.nominal()
            ps, made = timed(self._ft_set, strategy, shifted, warm)
            res = fine_tune(shifted, warm, ps, self.ft)
            return _result_row(strategy, task, seed, v, res.model, warm_sec, made + res.wall_time, len(ps))
        if strategy in ("parametric", "ft_parametric"):
            pres, psec = self.parametric()
            net = FixedParameter(pres.model.net if isinstance(pres.model, PINN) else pres.model, v)
            if strategy == "parametric":
                return _result_row(strategy, task, seed, v, PINN(net, shifted), psec, 0.0, len(pres.pointset))
            ps = _set(shifted, "sobol", self.budget, seed)
            model = PINN(copy.deepcopy(net), shifted)
            res = train(shifted, ps, replace(self.ft, engine="autograd"), model=model)
            return _result_row(strategy, task, seed, v, res.model, psec, res.wall_time, len(ps))
        if strategy.startswith("kit:"):
            kit = self.kit(strategy[4:])
            res = kit.solve(shifted)
            once = sum(kit.cost.values())
            return _result_row(strategy, task, seed, v, res.model, once, res.wall_time, len(kit.pointset),
                        kit_cost=dict(kit.cost))
        raise PinnddError(f"unknown strategy {strategy!r}; known: {STRATEGIES}")

    def _ft_set(self, strategy: str, shifted, warm) -> PointSet:
        if strategy == "ft_dense":
            return self.dense_set(shifted)
        if strategy == "ft_sobol":
            return _set(shifted, "sobol", self.budget, self.seed)
        if strategy == "ft_rad":  # RAD (k = 1, c = 1) from the warm model's residual at the value
            pool = methods.interior_points(shifted, "sobol", max(16 * self.budget, 4096), self.seed + 7919)
            idx = rad_indices(residuals(shifted, warm, pool), self.budget, 1.0, 1.0, np.random.default_rng(self.seed))
            conds = methods.condition_points(shifted, DEFAULT_RULE.split(shifted, self.budget), self.seed)
            return PointSet(pool[idx], None, conds)
        raise PinnddError(f"unknown fine-tune strategy {strategy!r}")


def quick_check(problem, warm: PINN, warm_seconds: float, dense: PointSet, budget: int, seed: int, config: TrainConfig,
                protocol_name: str = "quick", kit_method: str = "family_interp", n_values: int = 3,
                param: str | None = None) -> tuple[list[dict[str, Any]], Any]:
    """The family check of ``pinndd run``: a kit made from ``warm`` (the nominal PINN, already
    trained on ``dense`` at a cost of ``warm_seconds``), then at ``n_values`` held-out in-range
    values the kit's solve beside the two fine-tunes a user would otherwise run (the dense set;
    ``budget`` Sobol points). Returns the rows (strategy, value, errors, seconds) and the kit."""
    task = FamilyTask.default(problem, param)
    in_range = [v for v in task.held_out if task.in_range(v)]
    values = in_range[1::2][:n_values] if n_values <= len(in_range) // 2 else in_range[:n_values]
    kit = methods.get(kit_method, param=task.param, protocol=protocol_name, progress=False).make_kit(
        problem, budget, seed, warm=warm, warm_seconds=warm_seconds)
    ft = replace(fine_tune_config(config), progress=False)
    sobol = _set(problem, "sobol", budget, seed)
    rows = []
    for v in values:
        shifted = task.at(v)
        runs = (("ft_dense", lambda: fine_tune(shifted, warm, dense, ft)),  # noqa: B023 (called at once)
                (f"kit:{kit_method}", lambda: kit.solve(shifted)),  # noqa: B023
                ("ft_sobol", lambda: fine_tune(shifted, warm, sobol, ft)))  # noqa: B023
        for name, fit in runs:
            res = fit()
            rows.append({"strategy": name, "param": task.param, "value": float(v), **evaluate(shifted, res.model),
                         "value_seconds": float(res.wall_time)})
    return rows, kit


def _ratio_of_means(a: list[float], b: list[float]) -> float:
    return float(np.mean(a) / np.mean(b)) if a and b and np.all(np.isfinite(b)) else float("nan")


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------
def calibrate(run: SeedRun, strategies: Iterable[str], value: float | None = None) -> dict[str, dict[str, float]]:
    """Wall seconds of each strategy's one-off and per-value parts, from one cell at ``value``
    (default: the first held-out value) of a fresh :class:`SeedRun`. Run it on a machine doing
    nothing else: the benchmark's rows may be timed under varying load, so their seconds
    compare only roughly; :func:`summarise` takes these instead when given."""
    v = run.task.held_out[0] if value is None else float(value)
    out = {}
    for s in strategies:
        row = run.row(s, v)
        out[s] = {"once_seconds": row["once_seconds"], "value_seconds": row["value_seconds"]}
        log.info("calibrated %s: once %.1f s, per value %.2f s", s, row["once_seconds"], row["value_seconds"])
    return out


def summarise(rows: Iterable[Mapping[str, Any]], k_values: int | None = None,
              costs: Mapping[str, Mapping[str, float]] | None = None) -> list[dict[str, Any]]:
    """One line per strategy: mean/std/median L2RE over seeds at each value, the worst and mean
    in-range ratio to dense from scratch (ratio of seed means at each value), the mean ratio to
    the dense fine-tune, costs in units of one dense training (the mean dense-from-scratch time of
    the same rows, or of ``costs`` from :func:`calibrate` when given, which then replaces every
    strategy's seconds), the total for ``k_values`` values (default: the values in the rows) and
    the number of values after which the strategy is cheaper in total than ``ft_dense``."""
    rows = [dict(r) for r in rows]
    if costs:
        rows = [{**r, **costs[r["strategy"]]} if r["strategy"] in costs else {**r, "once_seconds": np.nan,
                                                                             "value_seconds": np.nan} for r in rows]
    values = sorted({r["value"] for r in rows})
    k = k_values or len(values)
    by = {}
    for r in rows:
        by.setdefault(r["strategy"], []).append(r)

    def mean_at(strategy, v, key="l2re"):
        xs = [r[key] for r in by.get(strategy, []) if r["value"] == v]
        return float(np.mean(xs)) if xs else float("nan")

    dense_unit = float(np.mean([r["value_seconds"] for r in by.get("dense", [])] or [float("nan")]))
    ft_once = float(np.mean([r["once_seconds"] for r in by.get("ft_dense", [])] or [float("nan")]))
    ft_value = float(np.mean([r["value_seconds"] for r in by.get("ft_dense", [])] or [float("nan")]))
    out = []
    for s, rs in by.items():
        in_vals = [v for v in values if any(r["value"] == v and r["in_range"] for r in rs)]
        ratios = {v: mean_at(s, v) / mean_at("dense", v) for v in values}
        once = float(np.mean([r["once_seconds"] for r in rs]))
        per = float(np.mean([r["value_seconds"] for r in rs]))
        gain = ft_value - per
        breakeven = (once - ft_once) / gain if gain > 0 else float("inf")
        line = {"strategy": s, "seeds": len({r["seed"] for r in rs}),
                "l2re": {v: mean_at(s, v) for v in values},
                "l2re_std": {v: float(np.std([r["l2re"] for r in rs if r["value"] == v])) for v in values},
                "l2re_median": {v: float(np.median([r["l2re"] for r in rs if r["value"] == v] or [np.nan])) for v in values},
                "ratio_dense": ratios,
                "worst_in_range": max((ratios[v] for v in in_vals), default=float("nan")),
                "mean_in_range": float(np.mean([ratios[v] for v in in_vals])) if in_vals else float("nan"),
                "vs_ft_dense": _ratio_of_means([mean_at(s, v) for v in in_vals], [mean_at("ft_dense", v) for v in in_vals]),
                "once_units": once / dense_unit, "value_units": per / dense_unit,
                "total_units": (once + k * per) / dense_unit,
                "breakeven_vs_ft_dense": max(0.0, breakeven) if np.isfinite(breakeven) else breakeven}
        out.append(line)
    order = {s: i for i, s in enumerate(STRATEGIES)}
    return sorted(out, key=lambda d: order.get(d["strategy"], len(order)))


__all__ = ["STRATEGIES", "SeedRun", "calibrate", "quick_check", "summarise"]
