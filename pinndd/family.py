r"""The family task: one nominal PINN, many nearby problems solved by short fine-tunes.

A *family* is a problem :math:`P(\mu)` whose boundary or initial data (or coefficient) depends
on a parameter :math:`\mu` in a range :math:`[\mu_0, \mu_1]`. A user pays once (a PINN trained
densely at the nominal :math:`\mu^*`, plus whatever a method spends choosing points) and then
solves :math:`P(\mu)` for many values by fine-tuning that PINN for a quarter of the protocol's
steps on a small point set. This module holds what every strategy for that task shares:

- :class:`FamilyTask`: the problem, the parameter, its range, the values a family-aware method
  may be *made on* and the disjoint *held-out* values every strategy is scored on (in range
  and beyond it);
- :func:`fine_tune_config` and :func:`fine_tune`: the one fine-tune recipe (a fresh optimiser
  started from the warm weights);
- :func:`fine_tune_many`: members of one family fine-tuned at once as an ensemble.

Kits (a saved point set, warm starts and this recipe that solve any value of the family) are in
:mod:`pinndd.kits`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from .engine.ensemble import EnsembleMLP, expand_points
from .engine.losses import TensorPoints
from .engine.nn import PINN, resolve_dtype
from .engine.training import TrainConfig, TrainResult, make_model, optimise, term_names, train
from .errors import PinnddError
from .pointset import PointSet
from .problem import Problem
from .shifts import ShiftFamily

#: Positions of the held-out values in range, as fractions of the family's range (two near each
#: end, two inside), and of the two values beyond it.
HELD_OUT_FRACTIONS = (0.05, 0.15, 0.4, 0.6, 0.85, 0.95)
OUTSIDE_FRACTIONS = (-0.1, 1.1)
#: The values a family-aware method may be made on: the ends, the quarters and the middle.
MADE_ON_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: A fine-tune runs this fraction of the protocol's Adam and L-BFGS steps.
FINE_TUNE_FRACTION = 0.25

log = logging.getLogger(__name__)


def _family(problem: Problem, param: str | None) -> ShiftFamily:
    if not problem.shifts:
        raise PinnddError(f"problem {problem.name!r} declares no shift family; a family task needs one")
    if param is None:
        return problem.shifts[0]
    for fam in problem.shifts:
        if fam.param == param:
            return fam
    raise PinnddError(f"problem {problem.name!r} has no shift family {param!r}; known: {[f.param for f in problem.shifts]}")


@dataclass(frozen=True)
class FamilyTask:
    """A problem, one of its shift parameters and the values used to make and to score.

    Parameters
    ----------
    problem:
        The nominal problem (its parameter value is the warm start's).
    param:
        The shifted parameter.
    value_range:
        The family's range :math:`[\\mu_0, \\mu_1]` ("in range").
    made_on:
        Values a family-aware method may train or judge on.
    held_out:
        Values every strategy is scored on; disjoint from ``made_on`` (checked).
    """

    problem: Problem
    param: str
    value_range: tuple[float, float]
    made_on: tuple[float, ...]
    held_out: tuple[float, ...]

    def __post_init__(self) -> None:
        lo, hi = self.value_range
        if not lo < hi:
            raise PinnddError(f"value_range must be increasing; got {self.value_range}")
        if self.param not in self.problem.params:
            raise PinnddError(f"{self.param!r} is not a parameter of {self.problem.name!r}; known: {list(self.problem.params)}")
        clash = sorted(set(np.round(self.made_on, 12)) & set(np.round(self.held_out, 12)))
        if clash:
            raise PinnddError(f"held-out values {clash} are also made-on values: a family method would be scored on "
                              "values it was made on; choose disjoint values")
        for v in (*self.made_on, *self.held_out):
            self.problem.with_params(**{self.param: float(v)})  # refuses values the problem does not support

    @classmethod
    def default(cls, problem: Problem, param: str | None = None) -> FamilyTask:
        """The benchmark's task: the family's out-of-distribution range as the range, held-out
        values at :data:`HELD_OUT_FRACTIONS` and :data:`OUTSIDE_FRACTIONS` of it, made-on values
        at :data:`MADE_ON_FRACTIONS` (Burgers ``a``: range [0.5, 1.5], held out 0.55, 0.65, 0.9,
        1.1, 1.35, 1.45 and 0.4, 1.6; made on 0.5, 0.75, 1, 1.25, 1.5)."""
        fam = _family(problem, param)
        lo, hi = (float(v) for v in fam.out_range)
        span = hi - lo
        at = lambda fr: tuple(round(lo + f * span, 10) for f in fr)
        # beyond the range, but never across zero for a parameter whose range is one-signed
        outside = tuple(v for v in at(OUTSIDE_FRACTIONS) if not (lo >= 0 > v or hi <= 0 < v))
        return cls(problem, fam.param, (lo, hi), at(MADE_ON_FRACTIONS), at(HELD_OUT_FRACTIONS) + outside)

    @property
    def nominal(self) -> float:
        return float(self.problem.params[self.param])

    def at(self, value: float) -> Problem:
        """The problem at ``param = value``."""
        return self.problem.with_params(**{self.param: float(value)})

    def in_range(self, value: float) -> bool:
        lo, hi = self.value_range
        return lo - 1e-12 <= value <= hi + 1e-12

    def describe(self) -> dict[str, Any]:
        return {"problem": self.problem.name, "params": dict(self.problem.params), "param": self.param,
                "value_range": list(self.value_range), "made_on": list(self.made_on), "held_out": list(self.held_out)}


def fine_tune_config(protocol: TrainConfig, fraction: float = FINE_TUNE_FRACTION, **overrides: Any) -> TrainConfig:
    """The protocol's network with ``fraction`` of its Adam and L-BFGS steps (at least one Adam step)."""
    if not 0 < fraction <= 1:
        raise PinnddError(f"fraction must be in (0, 1]; got {fraction}")
    steps = dict(adam_steps=max(1, round(protocol.adam_steps * fraction)), lbfgs_steps=round(protocol.lbfgs_steps * fraction))
    return replace(protocol, **{**steps, **overrides})


def warm_copy(problem: Problem, warm: PINN | Mapping[str, torch.Tensor], config: TrainConfig) -> PINN:
    """A new PINN for ``problem`` with ``config``'s architecture holding the warm weights (a
    recipe with no steps, i.e. "no fine-tune", still names the architecture)."""
    model = make_model(problem, replace(config, adam_steps=max(1, config.adam_steps)))
    state = warm.state_dict() if isinstance(warm, torch.nn.Module) else warm
    try:
        model.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in state.items()})
    except RuntimeError as e:
        raise PinnddError(f"the warm-start weights do not fit a {config.depth}x{config.width} network: {e}") from None
    return model


def fine_tune(problem: Problem, warm: PINN | Mapping[str, torch.Tensor], pointset: PointSet, config: TrainConfig) -> TrainResult:
    """Train a copy of ``warm`` on ``pointset`` for ``problem`` with ``config`` (fresh optimiser
    state; the warm model itself is not changed). ``wall_time`` is the fine-tune's cost."""
    return train(problem, pointset, config, model=warm_copy(problem, warm, config))


class _StackedParams:
    """``problem`` with parameter ``param`` replaced by a ``(K, 1)`` tensor, one value per
    ensemble member: residual and condition functions written with torch operations on
    ``p[name]`` broadcast over the members' points ``(K, n)``."""

    def __init__(self, problem: Problem, param: str, column: torch.Tensor):
        self._problem = problem
        self.params = {**problem.params, param: column}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._problem, name)


def fine_tune_many(task: FamilyTask, warm: PINN | Mapping[str, torch.Tensor], pointset: PointSet, config: TrainConfig,
                   values: Sequence[float]) -> tuple[list[PINN], float]:
    """Fine-tune the warm start at every value of ``values`` at once, as one stacked ensemble
    (:class:`pinndd.engine.ensemble.EnsembleMLP`) whose member ``k`` is trained for ``param = values[k]``
    on the same points: a small point set is what lets ``K`` grow. Adam steps only (L-BFGS's
    line search would couple the members); equal to ``K`` separate :func:`fine_tune` calls with
    ``lbfgs_steps=0`` up to summation order (tested in float64). Returns the members as PINNs
    for their problems and the wall time. Needs residual and condition functions that broadcast
    a tensor parameter (torch operations on ``p[name]``; a Python ``float(p[name])`` fails)."""
    values = [float(v) for v in values]
    if not values:
        raise PinnddError("fine_tune_many needs at least one value")
    if config.hard:
        raise PinnddError("fine_tune_many does not support hard-constraint transforms; use fine_tune per value")
    cfg = replace(config, lbfgs_steps=0, compile=False)
    dtype, device = resolve_dtype(cfg.dtype), torch.device(cfg.device)
    problems = [task.at(v) for v in values]
    pointset.validate(problems[0])
    members = [warm_copy(p, warm, cfg).net for p in problems]
    ens = EnsembleMLP(members).to(device)
    column = torch.tensor(values, dtype=dtype, device=device)[:, None]
    stacked = _StackedParams(problems[0], task.param, column)
    tp = expand_points(TensorPoints.from_pointset(pointset, dtype, device), len(values))
    names, skip = term_names(problems[0], pointset, False)
    t0 = time.perf_counter()
    optimise(stacked, ens, tp, cfg, names, skip)
    wall = time.perf_counter() - t0
    return [PINN(ens.member(k), p) for k, p in enumerate(problems)], wall


def timed(fn, *args, **kwargs) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and its wall time in seconds."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def values_array(values: Sequence[float]) -> np.ndarray:
    return np.asarray(sorted(float(v) for v in values), dtype=np.float64)
