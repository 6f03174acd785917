r"""Out-of-distribution evaluation: how a point set (or a model) fares when the conditions move.

A problem declares *shift families*: a parameter :math:`\mu` with an in-distribution range
:math:`I` (containing the nominal value) and a wider out-of-distribution range :math:`O \supset I`.
Two modes:

- **fixed model** (:func:`evaluate_shifts`): one trained model against the shifted references
  :math:`u^*(\cdot; \mu)`, for every shift value :math:`\mu`;
- **retrain** (:func:`retrain_ood`): a point set made at the nominal parameters keeps its
  coordinates and weights, fresh PINNs are trained on it for the shifted problem
  (condition targets :math:`g_c(x; \mu)` are recomputed, since they are functions of the
  parameters) and evaluated against :math:`u^*(\cdot; \mu)`. This asks whether the *set* stays
  good when the boundary conditions move. Labels of a labelled set hold only for the
  parameters they were made for, so at a shifted value they are dropped or remade by a named,
  charged *label source* (``labels=``, :class:`LabelSource`):

  - ``"none"`` (alias ``"drop"``): labels dropped; nothing charged;
  - ``"once"`` (:func:`once`): one teacher over the whole family, made once (e.g.
    :class:`pinndd.parametric.ParametricTeacher`); its cost is spread evenly over the shift
    values the run scores, ``cost / K`` charged to each of the ``K`` values;
  - ``"per_shift"`` (alias ``"relabel"``): a new dense teacher at every shift value; the full
    cost of that value's teacher is charged to that value (never shared, even where a cache
    made it free). A diagnostic: it needs one dense training or more per value, so it never
    belongs in a headline;
  - ``"reference"``: the shifted reference as labels (an oracle, experiments only; charged 0).

  Every row carries ``label_source`` and ``label_seconds`` (the seconds charged to that value for
  its labels; the same in every seed's row at that value, since the seeds share the labels).

Sets made for a family of shifts (``task_aware``, ``task_exchange``, family kits) record the
values they were made on (metadata ``"made_on"``, read by :func:`made_on`). Scoring such a set
at one of those values would reward it for what it was tuned on: :func:`retrain_ood` refuses,
unless ``allow_made_on=True``, and every row says ``held_out: True/False``. Evaluate them at the
family's held-out values (:meth:`pinndd.problem.ShiftFamily.held_out_values`), the default for
such sets.

Summaries, for rows grouped by method (and PDE, budget, parameter), with :math:`\bar e(\mu)` the
mean error over seeds at shift :math:`\mu`:

.. math::

    \mathrm{OOD/ID} = \frac{\operatorname{mean}_{\mu \in O \setminus I} \bar e(\mu)}
                           {\operatorname{mean}_{\mu \in I} \bar e(\mu)}, \qquad
    \rho(\mu) = \frac{\bar e_{\text{method}}(\mu)}{\bar e_{\text{dense}}(\mu)} .

Label sources live in :mod:`pinndd.eval._label_sources`, the summaries in :mod:`pinndd.eval._tables`
(both re-exported here). This module never imports a particular method; it takes a point set.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..engine.ensemble import train_ensemble
from ..engine.evaluation import evaluate, residual_mse
from ..engine.training import TrainConfig, train
from ..errors import PinnddError
from ..pointset import PointSet
from ..problem import Problem
from ..shifts import ShiftFamily, resolve_family, shift_values, shifts_conditions  # noqa: F401 (public here too)
from ._label_sources import (  # noqa: F401 (the label sources are part of this evaluator's API)
    DIAGNOSTIC_SOURCES,
    LABEL_ALIASES,
    LABEL_MODES,
    LABEL_SOURCES,
    LabelSource,
    TeacherFactory,
    label_seconds,
    label_source,
    once,
    per_shift,
    shifted_labels,
    shifted_pointset,
    teacher_like,
)
from ._tables import GROUP_KEYS, error_curves, ood_id_ratio, ratio_to_dense, worst_ratio_to_dense  # noqa: F401

log = logging.getLogger(__name__)


def held_out_points(problem: Problem, n: int = 4096, seed: int = 99_999) -> np.ndarray:
    """``n`` i.i.d. uniform interior points (for ``residual_mse``; no method trains on them)."""
    return problem.domain.from_unit(np.random.default_rng(seed).random((int(n), problem.domain.dim)))


def _show(flag: bool | None) -> bool:
    return sys.stderr.isatty() if flag is None else flag


# ---------------------------------------------------------------------------------------------
# Mode 0: one model under shifts
# ---------------------------------------------------------------------------------------------
def evaluate_shifts(problem: Problem, model: torch.nn.Module, family: str | ShiftFamily,
                    values: Iterable | None = None, held_out: np.ndarray | None = None) -> list[dict[str, Any]]:
    r"""Errors of one fixed ``model`` against the reference at every shift value.

    Row ``mu``: ``l2re = ||u - u*(.; mu)||_2 / ||u*(.; mu)||_2`` (and ``l1re``, ``max_abs``)
    on the shifted problem's evaluation grid; ``residual_mse`` of the shifted residual at
    ``held_out`` when given. A model trained at the nominal parameters shows how far the
    solution moves; its error at the nominal value is its ordinary error.
    """
    fam = resolve_family(problem, family)
    rows = []
    for v, ind in shift_values(fam, values):
        shifted = problem.with_params(**{fam.param: v})
        row = {"pde": problem.name, "param": fam.param, "value": v, "in_distribution": ind,
               "nominal": v == problem.nominal.get(fam.param), **evaluate(shifted, model)}
        if held_out is not None:
            row["residual_mse"] = residual_mse(shifted, model, held_out)
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# Values a set was made on
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MadeOn:
    """The shift values a set was made on: ``values`` of parameter ``param``, and for a method
    that drew values from a continuous range, ``value_range`` (every value in it counts)."""

    param: str
    values: tuple[float, ...] = ()
    value_range: tuple[float, float] | None = None

    def contains(self, value: float) -> bool:
        v = float(value)
        if self.value_range is not None and self.value_range[0] <= v <= self.value_range[1]:
            return True
        return any(abs(v - m) <= 1e-12 + 1e-9 * abs(m) for m in self.values)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"param": self.param, "values": [float(v) for v in self.values]}
        if self.value_range is not None:
            out["range"] = [float(v) for v in self.value_range]
        return out


def made_on(metadata: Mapping[str, Any]) -> MadeOn | None:
    """The values a set was made on, from its metadata ``"made_on"``, or ``None``.

    Two shapes are read: ``{"param": p, "values": [...], "range": [lo, hi]}`` (task-aware
    methods; ``range`` only where values were drawn from a continuum) and a plain list of values
    with the parameter under ``metadata["param"]`` (family kits, :mod:`pinndd.methods.family_kit`).
    """
    raw = metadata.get("made_on")
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        param, values, rng = raw.get("param"), raw.get("values", []), raw.get("range")
    else:
        param, values, rng = metadata.get("param"), raw, None
    if not isinstance(param, str) or isinstance(values, str | bytes):
        raise PinnddError(f"the set's metadata 'made_on' is malformed ({raw!r}); expected "
                          "{'param': name, 'values': [...]} or a list of values with metadata 'param'")
    try:
        vals = tuple(float(v) for v in values)
        span = None if rng is None else (float(rng[0]), float(rng[1]))
    except (TypeError, ValueError, IndexError):
        raise PinnddError(f"the set's metadata 'made_on' holds non-numeric values ({raw!r})") from None
    return MadeOn(param, vals, span)


def is_made_on(made: MadeOn | None, problem: Problem, param: str, value: float) -> bool:
    """Whether ``problem`` with ``param = value`` is a problem the set was made on: a made-on
    value of the same parameter, or, for another parameter, its nominal value (the shifted
    problem is then the nominal one, itself a made-on problem when the set's values include the
    nominal value of their parameter)."""
    if made is None:
        return False
    if param == made.param:
        return made.contains(value)
    return float(value) == float(problem.params[param]) and made.contains(problem.params.get(made.param, np.nan))


# ---------------------------------------------------------------------------------------------
# Mode (a): retrain on the set at every shift
# ---------------------------------------------------------------------------------------------
def _train_seeds(problem: Problem, ps: PointSet, config: TrainConfig, seeds: Sequence[int], ensemble: bool | None):
    use_ensemble = (not config.hard) if ensemble is None else ensemble
    if use_ensemble and config.hard:
        raise PinnddError("ensemble training does not support hard=True; pass ensemble=False or hard=False")
    if use_ensemble and len(seeds) > 1:
        return train_ensemble(problem, ps, config, seeds).results
    return [train(problem, ps, replace(config, seed=int(s))) for s in seeds]


def scoring_values(problem: Problem, family: str | ShiftFamily, metadata: Mapping[str, Any]) -> list[float] | None:
    """The shift values to score a set at by default: ``None`` (the family's usual values) for a
    set that records no made-on values; else the family's held-out values less any it was made on."""
    fam = resolve_family(problem, family)
    made = made_on(metadata)
    if made is None:
        return None
    values = [v for v in fam.held_out_values(nominal=problem.params[fam.param]) if not is_made_on(made, problem, fam.param, v)]
    if not values:
        raise PinnddError(f"the set was made on every held-out value of {fam.param} (its metadata 'made_on': "
                          f"{made.to_dict()}); pass values= it was not made on, or allow_made_on=True")
    log.info("%s: the set records made-on values; scoring at the family's held-out values %s", problem.name, values)
    return values


def retrain_ood(
    problem: Problem,
    pointset: PointSet,
    family: str | ShiftFamily,
    values: Iterable | None = None,
    config: TrainConfig | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    labels: str | LabelSource | TeacherFactory = "none",
    *,
    keep_valid_labels: bool = True,
    allow_made_on: bool = False,
    held_out: np.ndarray | None = None,
    method: str | None = None,
    ensemble: bool | None = None,
    progress: bool | None = None,
) -> list[dict[str, Any]]:
    r"""Retrain fresh PINNs on ``pointset`` at every shift value of ``family``; one row per
    (value, seed).

    For each shift :math:`\mu` (default ``family.values(3, 2)``; for a set that records the
    values it was made on, the family's held-out values instead,
    :meth:`~pinndd.problem.ShiftFamily.held_out_values`, less any it was made on): the shifted
    problem ``problem.with_params(param=mu)``; the set's coordinates and weights (labels from the
    label source, :func:`shifted_pointset`, charged to the value, :func:`label_seconds`); one
    PINN per seed (``config`` with ``seed``; all seeds at once with
    :func:`pinndd.engine.ensemble.train_ensemble` unless ``config.hard`` or ``ensemble=False``, same
    results as separate runs); errors against the shifted reference.

    Parameters
    ----------
    problem:
        The problem the set was made for (its parameters are the base of every shift).
    pointset:
        Any point set valid for ``problem``.
    family:
        A declared shift family by parameter name, or a :class:`ShiftFamily`.
    values:
        Shift values (numbers or ``(value, in_distribution)`` pairs); default the family's.
    config, seeds:
        Training settings (default :class:`TrainConfig`) and network seeds.
    labels, keep_valid_labels:
        The label source for a labelled set's labels at shifted values (``"none"``, ``"once"``
        via :func:`once`, ``"per_shift"``, ``"reference"``, or a teacher factory; see
        :func:`label_source` and :func:`shifted_pointset`).
    allow_made_on:
        Score a set also at values it was made on (:func:`made_on`), marking those rows
        ``held_out: False``; by default such values raise :class:`~pinndd.errors.PinnddError`.
    held_out:
        Points for ``residual_mse``; default 4096 uniform interior points
        (:func:`held_out_points`).
    method:
        Name for the ``method`` column; default the set's ``metadata["method"]``.
    ensemble:
        ``None`` (auto), ``True`` or ``False``.
    progress:
        tqdm bar over shift values; ``None`` shows it only on a terminal.

    Returns
    -------
    list of dict
        Rows with ``pde, method, budget, set_seed, param, value, in_distribution, nominal,
        held_out, seed, labels, label_source, label_seconds, label_diagnostic, l2re, l1re,
        max_abs, residual_mse, train_seconds, n_points``. ``labels`` says what happened to the
        labels at that value (``none``, ``kept``, ``dropped``, ``relabelled:<teacher>``);
        ``label_source`` where they came from (``none`` for an unlabelled or dropped set,
        ``own`` where the set's own labels were kept, else the source's name).
    """
    fam = resolve_family(problem, family)
    source = label_source(labels)
    made = made_on(pointset.metadata)
    if values is None:
        values = scoring_values(problem, fam, pointset.metadata)
    pairs = shift_values(fam, values)
    clash = [v for v, _ in pairs if is_made_on(made, problem, fam.param, v)]
    if clash and not allow_made_on:
        raise PinnddError(
            f"the set was made on {fam.param} = {', '.join(f'{v:g}' for v in clash)}"
            f"{'' if made.param == fam.param else ' (the nominal problem)'} (its metadata 'made_on': "
            f"{made.to_dict()}); scoring it there rewards what it was tuned on. Score it at held-out values "
            f"(e.g. problem.shift({fam.param!r}).held_out_values(nominal=...), the default), or pass "
            "allow_made_on=True to score those values anyway, marked held_out=False"
        )
    config = TrainConfig() if config is None else config
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise PinnddError("seeds must name at least one network seed")
    if not problem.has_reference:
        raise PinnddError(f"problem {problem.name!r} has no reference solution; OOD errors need one")
    pointset.validate(problem)
    held_out = held_out_points(problem) if held_out is None else np.asarray(held_out, dtype=np.float64)
    meta = pointset.metadata
    name = method or meta.get("method", "unknown")
    budget = int(meta.get("budget", pointset.n_interior))
    rows: list[dict[str, Any]] = []
    bar = tqdm(pairs, desc=f"ood {problem.name} {name} {fam.param}", disable=not _show(progress), leave=False)
    for v, ind in bar:
        shifted = problem.with_params(**{fam.param: v})
        ps, outcome, teacher = shifted_labels(pointset, shifted, source, keep_valid_labels)
        charged = label_seconds(source, outcome, teacher, len(pairs))
        used = {"none": "none", "dropped": "none", "kept": "own"}.get(outcome, source.kind)
        t0 = time.perf_counter()
        results = _train_seeds(shifted, ps, config, seeds, ensemble)
        log.info("ood %s %s %s=%g: %d seeds in %.1f s", problem.name, name, fam.param, v, len(seeds), time.perf_counter() - t0)
        for seed, res in zip(seeds, results, strict=True):
            rows.append({
                "pde": problem.name, "method": name, "budget": budget, "set_seed": meta.get("seed"),
                "param": fam.param, "value": v, "in_distribution": ind,
                "nominal": v == problem.nominal.get(fam.param),
                "held_out": not is_made_on(made, problem, fam.param, v), "seed": seed, "labels": outcome,
                "label_source": used, "label_seconds": charged, "label_diagnostic": used in DIAGNOSTIC_SOURCES,
                **evaluate(shifted, res.model), "residual_mse": residual_mse(shifted, res.model, held_out),
                "train_seconds": res.wall_time, "n_points": len(ps),
            })
    bar.close()
    return rows


__all__ = [
    "DIAGNOSTIC_SOURCES", "LABEL_ALIASES", "LABEL_MODES", "LABEL_SOURCES", "LabelSource", "MadeOn", "error_curves",
    "evaluate_shifts", "held_out_points", "is_made_on", "label_seconds", "label_source", "made_on", "once",
    "ood_id_ratio", "per_shift", "ratio_to_dense", "resolve_family", "retrain_ood", "scoring_values", "shift_values",
    "shifted_labels", "shifted_pointset", "shifts_conditions", "teacher_like", "worst_ratio_to_dense",
]
