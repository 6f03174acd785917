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
- :class:`Kit`: a saved artefact (point set, warm-start weights, fine-tune recipe, the values
  it was made on and its cost) that solves a new value in one call (:meth:`Kit.solve`).

Files are ``.npz`` arrays plus JSON, read with ``allow_pickle=False``; saves are atomic.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .engine.ensemble import EnsembleMLP, expand_points
from .engine.losses import TensorPoints
from .engine.nn import PINN, resolve_dtype
from .engine.training import TrainConfig, TrainResult, make_model, optimise, term_names, train
from .errors import PinnddError
from .pointset import PointSet, write_npz
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

KIT_FORMAT_VERSION = 1

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


def start_from(members: Mapping[float, Mapping[str, Any]], value: float, interpolate: bool) -> dict[str, np.ndarray]:
    """The warm start for ``value`` from ``members`` (weights by parameter value): the nearest
    member, or inside their span with ``interpolate`` the two bracketing members' weights mixed
    linearly (see :meth:`Kit.start_for`)."""
    vals = np.array(sorted(members))
    if not interpolate or len(vals) == 1 or value <= vals[0] or value >= vals[-1]:
        return {k: np.asarray(a) for k, a in members[float(vals[np.argmin(np.abs(vals - value))])].items()}
    j = int(np.searchsorted(vals, value))
    a, b = float(vals[j - 1]), float(vals[j])
    t = (value - a) / (b - a)
    return {k: (1 - t) * np.asarray(members[a][k]) + t * np.asarray(members[b][k]) for k in members[a]}


def _atomic_dir_write(path: Path, write) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    write(tmp)
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    return path


@dataclass
class Kit:
    """Points, warm-start weights and a fine-tune recipe that solve any value of a family.

    ``pointset`` holds no labels (its condition values are the problem's at whatever value is
    solved); ``warm_state`` the nominal PINN's weights; ``bank`` optional further warm starts by
    parameter value (a solve starts from the one nearest its value, the nominal included);
    ``config`` the network and the fine-tune
    recipe; ``made_on`` the values the kit was chosen on (score it elsewhere); ``cost`` the
    one-off seconds by part (``warm_start``, ``distillation``, ...).
    """

    problem_name: str
    param: str
    value_range: tuple[float, float]
    made_on: tuple[float, ...]
    pointset: PointSet
    warm_state: dict[str, np.ndarray]
    config: TrainConfig
    cost: dict[str, float] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    bank: dict[float, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def interpolate(self) -> bool:
        """Whether a solve starts from the bank interpolated in the parameter (``metadata["start"]``)."""
        return self.metadata.get("start", "nearest") == "interpolate"

    def members(self) -> dict[float, dict[str, np.ndarray]]:
        """Every warm start by parameter value: the nominal one and the bank."""
        nominal = float(self.metadata.get("params", {}).get(self.param, np.nan))
        out = dict(self.bank)
        if np.isfinite(nominal):
            out[nominal] = self.warm_state
        return dict(sorted(out.items()))

    def start_for(self, value: float) -> dict[str, np.ndarray]:
        """The warm start for ``value``.

        ``start = "nearest"``: the member nearest ``value`` (ties: the lower value). ``start =
        "interpolate"``: inside the members' span, the weights of the two bracketing members
        ``mu_a <= value <= mu_b`` mixed linearly, ``(1 - t) theta_a + t theta_b`` with ``t =
        (value - mu_a) / (mu_b - mu_a)`` (fine-tunes of one nominal network stay linearly
        connected in weight space, so the mix is itself close to the solution in between);
        beyond the span, the nearest member."""
        return start_from(self.members() or {0.0: self.warm_state}, value, self.interpolate)

    def model(self, problem: Problem) -> PINN:
        """The warm-start PINN for ``problem`` (no training)."""
        return warm_copy(problem, self.start_for(float(problem.params[self.param])), self.config)

    def solve(self, problem: Problem | float) -> TrainResult:
        """Fine-tune the warm start on the kit's points for ``problem`` (or the family's value)."""
        if not isinstance(problem, Problem):
            raise PinnddError("Kit.solve needs the shifted problem (e.g. kit.solve(problem.with_params(a=1.3)))")
        if problem.name != self.problem_name:
            raise PinnddError(f"this kit was made for {self.problem_name!r}, not {problem.name!r}")
        value = float(problem.params[self.param])
        if not self.value_range[0] <= value <= self.value_range[1]:
            log.warning("%s = %g is outside the kit's range %s: extrapolating", self.param, value,
                                                self.value_range)
        start = self.start_for(value)
        if self.config.adam_steps == 0 and self.config.lbfgs_steps == 0:  # the kit's recipe: no fine-tune
            model = warm_copy(problem, start, self.config)
            return TrainResult(model, {"step": np.zeros(0), "loss": np.zeros(0)}, 0.0, self.config, problem.name)
        return fine_tune(problem, start, self.pointset, self.config)

    def save(self, path: str | Path) -> Path:
        """Write a folder: ``points.npz`` (the point set), ``warm.npz`` (weights) and ``kit.json``."""
        meta = {"format_version": KIT_FORMAT_VERSION, "problem": self.problem_name, "param": self.param,
                "value_range": list(self.value_range), "made_on": list(self.made_on), "config": self.config.to_dict(),
                "cost": self.cost, "metadata": self.metadata, "bank": sorted(self.bank)}

        def write(d: Path) -> None:
            self.pointset.save(d / "points.npz")
            arrays = {k: np.asarray(v) for k, v in self.warm_state.items()}
            for i, v in enumerate(sorted(self.bank)):
                arrays.update({f"bank{i}/{k}": np.asarray(a) for k, a in self.bank[v].items()})
            write_npz(d / "warm.npz", arrays)
            (d / "kit.json").write_text(json.dumps(meta, indent=1))

        return _atomic_dir_write(Path(path), write)

    @classmethod
    def load(cls, path: str | Path, problem: Problem | None = None) -> Kit:
        """Read a folder written by :meth:`save` (no pickle); validates the points against ``problem``."""
        path = Path(path)
        try:
            meta = json.loads((path / "kit.json").read_text())
            with np.load(path / "warm.npz", allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except (OSError, ValueError) as e:
            raise PinnddError(f"cannot read kit {path}: {e}") from None
        if not isinstance(meta, dict) or meta.get("format_version") != KIT_FORMAT_VERSION:
            raise PinnddError(f"{path} is not a pinndd kit of format {KIT_FORMAT_VERSION}")
        if problem is not None and meta.get("problem") != problem.name:
            raise PinnddError(f"kit {path} was made for {meta.get('problem')!r}, not {problem.name!r}")
        try:
            config = TrainConfig(**meta["config"])
            bank_values = [float(v) for v in meta.get("bank", [])]
            warm = {k: a for k, a in arrays.items() if not k.startswith("bank")}
            bank = {v: {k.split("/", 1)[1]: a for k, a in arrays.items() if k.startswith(f"bank{i}/")}
                    for i, v in enumerate(bank_values)}
            kit = cls(str(meta["problem"]), str(meta["param"]), tuple(meta["value_range"]), tuple(meta["made_on"]),
                      PointSet.load(path / "points.npz", problem), warm, config, dict(meta["cost"]), dict(meta["metadata"]),
                      bank)
        except (KeyError, TypeError) as e:
            raise PinnddError(f"{path}/kit.json is malformed: {e}") from None
        return kit


def timed(fn, *args, **kwargs) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and its wall time in seconds."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def values_array(values: Sequence[float]) -> np.ndarray:
    return np.asarray(sorted(float(v) for v in values), dtype=np.float64)
