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
  parameters they were made for, so at a shifted value they are dropped or remade explicitly
  (``labels=``).

Summaries, for rows grouped by method (and PDE, budget, parameter), with :math:`\bar e(\mu)` the
mean error over seeds at shift :math:`\mu`:

.. math::

    \mathrm{OOD/ID} = \frac{\operatorname{mean}_{\mu \in O \setminus I} \bar e(\mu)}
                           {\operatorname{mean}_{\mu \in I} \bar e(\mu)}, \qquad
    \rho(\mu) = \frac{\bar e_{\text{method}}(\mu)}{\bar e_{\text{dense}}(\mu)} .

This module never imports a particular method; it takes a point set.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .errors import PinnddError
from .evaluation import evaluate, residual_mse
from .pointset import PointSet
from .problem import Problem, ShiftFamily
from .teacher import Teacher, label, labels_teacher, reference_teacher, train_teacher
from .training import TrainConfig, train

log = logging.getLogger(__name__)

#: ``labels=`` choices for labelled sets at shifted parameters (besides a teacher factory).
LABEL_MODES = ("drop", "relabel", "reference")
#: Row keys that identify a group in the summaries (those present in the rows are used).
GROUP_KEYS = ("pde", "method", "budget", "param")

TeacherFactory = Callable[[Problem], Teacher]


# ---------------------------------------------------------------------------------------------
# Shift values
# ---------------------------------------------------------------------------------------------
def resolve_family(problem: Problem, family: str | ShiftFamily) -> ShiftFamily:
    """``family`` as a :class:`ShiftFamily`: a declared family by parameter name, or itself."""
    if isinstance(family, ShiftFamily):
        if family.param not in problem.params:
            raise PinnddError(f"shift family names unknown parameter {family.param!r}; "
                              f"{problem.name!r} has {list(problem.params)}")
        return family
    if isinstance(family, str):
        return problem.shift(family)
    raise PinnddError(f"family must be a ShiftFamily or a parameter name; got {type(family).__name__}")


def shift_values(family: ShiftFamily, values: Iterable[float] | Iterable[tuple[float, bool]] | None = None,
                 n_in: int = 3, n_out: int = 2, nominal: float | None = None) -> list[tuple[float, bool]]:
    """``(value, in_distribution)`` pairs: ``family.values(n_in, n_out)`` by default; plain
    values get their flag from ``family.is_in_distribution``; pairs are taken as given.
    ``nominal``, when given and not among the defaults, is added (``family.values`` spreads
    values evenly over the range, which can miss the nominal value, e.g. advection's
    ``beta = 1`` in ``[0.5, 2]``)."""
    if values is None:
        out = family.values(n_in, n_out)
        if nominal is not None and not any(v == float(nominal) for v, _ in out):
            out = sorted([*out, (float(nominal), family.is_in_distribution(float(nominal)))])
        return out
    out = []
    for v in values:
        if isinstance(v, tuple | list):
            if len(v) != 2:
                raise PinnddError(f"shift values are numbers or (value, in_distribution) pairs; got {v!r}")
            out.append((float(v[0]), bool(v[1])))
        else:
            out.append((float(v), family.is_in_distribution(float(v))))
    if not out:
        raise PinnddError("no shift values given; pass values=None for the family's defaults")
    for v, _ in out:
        if not np.isfinite(v):
            raise PinnddError(f"shift values must be finite; got {v}")
    return out


def shifts_conditions(problem: Problem, family: str | ShiftFamily, n: int = 16, seed: int = 0) -> tuple[str, ...]:
    """Names of the conditions whose targets change across the family's out-of-distribution
    range (checked at ``n`` random points on each face, at 7 values spread over the range and
    the in-distribution ends): empty for a family that shifts only the PDE (a coefficient or a
    source)."""
    fam = resolve_family(problem, family)
    rng = np.random.default_rng(seed)
    values = [*np.linspace(*fam.out_range, 7), *fam.in_range]
    shifted = [problem.with_params(**{fam.param: float(v)}) for v in values]
    moved = []
    for c in problem.conditions:
        pts = torch.as_tensor(c.face.from_unit(rng.random((n, problem.domain.dim - 1))), dtype=torch.float64)
        first = c.target(pts, shifted[0].params)
        if any(not torch.allclose(c.target(pts, s.params), first, rtol=0, atol=1e-12) for s in shifted[1:]):
            moved.append(c.name)
    return tuple(moved)


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
# Labels at shifted parameters
# ---------------------------------------------------------------------------------------------
def teacher_like(problem: Problem, pointset: PointSet) -> Teacher:
    """A teacher of the same kind as the one that labelled ``pointset``, made for ``problem``
    (typically a shifted one), rebuilt from the set's ``labels`` metadata.

    ``dense-pinn`` labels: :func:`pinndd.teacher.train_teacher` with the recorded dense size,
    sampler, seed and training settings (one dense training per new parameter tuple, cached in
    the process). ``reference`` labels: the shifted reference. Anything else (a user's model,
    a parametric network) cannot be rebuilt from metadata: pass a teacher factory instead.
    Labels a label distiller learned are replaced by its teacher's at the shifted parameters.
    """
    info = labels_teacher(pointset.metadata)  # a label distiller's learned adjustments are dropped
    source = info.get("source")
    if source == "dense-pinn":
        try:
            config = TrainConfig(**info["config"])
            return train_teacher(problem, int(info["dense"]), config, int(info["seed"]), str(info["method"]),
                                 int(info.get("candidates", 1)))
        except (KeyError, TypeError) as e:
            raise PinnddError(f"the set's labels metadata lacks the dense teacher's settings ({e}); "
                              "pass labels=<callable shifted_problem -> Teacher>") from None
    if source == "reference":
        return reference_teacher(problem)
    raise PinnddError(
        f"cannot rebuild a teacher of source {source!r} from the set's metadata; pass labels=<callable "
        "shifted_problem -> Teacher> (e.g. pinndd.parametric.ParametricTeacher) or labels='drop'"
    )


def shifted_pointset(pointset: PointSet, shifted: Problem, labels: str | TeacherFactory = "drop",
                     keep_valid_labels: bool = True) -> tuple[PointSet, str]:
    """The point set to train ``shifted`` on, and what happened to its labels.

    Coordinates and weights are kept. An unlabelled set is returned as is (``"none"``). A
    labelled set whose labels were made for exactly ``shifted.params`` keeps them when
    ``keep_valid_labels`` (``"kept"``); otherwise ``labels`` decides:

    - ``"drop"``: train on physics and conditions only (``"dropped"``);
    - ``"relabel"``: a teacher of the kind that made the labels, for the shifted parameters
      (:func:`teacher_like`);
    - ``"reference"``: the shifted reference (an oracle, for experiments);
    - a callable ``shifted_problem -> Teacher`` (e.g. a
      :class:`pinndd.parametric.ParametricTeacher`).

    Relabelled sets keep the original data-term weight; the outcome reads
    ``"relabelled:<teacher source>"``.
    """
    if not (callable(labels) or labels in LABEL_MODES):
        raise PinnddError(f"labels must be one of {LABEL_MODES} or a callable shifted_problem -> Teacher; got {labels!r}")
    if not pointset.labelled:
        return pointset, "none"
    made_for = pointset.metadata.get("labels_params")
    if keep_valid_labels and made_for is not None and dict(made_for) == dict(shifted.params):
        return pointset, "kept"
    if labels == "drop":
        return pointset.without_labels(), "dropped"
    if labels == "relabel":
        teacher = teacher_like(shifted, pointset)
    elif labels == "reference":
        teacher = reference_teacher(shifted)
    else:
        teacher = labels(shifted)
        if not isinstance(teacher, Teacher):
            raise PinnddError(f"the labels factory must return a pinndd.teacher.Teacher; got {type(teacher).__name__}")
    if dict(teacher.params) != dict(shifted.params):
        raise PinnddError(
            f"the teacher was made for parameters {dict(teacher.params)}, not the shifted {dict(shifted.params)}; "
            "the labels factory must return a teacher for the problem it is given"
        )
    return label(pointset.without_labels(), teacher, pointset.target_weight), f"relabelled:{teacher.source}"


# ---------------------------------------------------------------------------------------------
# Mode (a): retrain on the set at every shift
# ---------------------------------------------------------------------------------------------
def _train_seeds(problem: Problem, ps: PointSet, config: TrainConfig, seeds: Sequence[int], ensemble: bool | None):
    use_ensemble = (not config.hard) if ensemble is None else ensemble
    if use_ensemble and config.hard:
        raise PinnddError("ensemble training does not support hard=True; pass ensemble=False or hard=False")
    if use_ensemble and len(seeds) > 1:
        from .ensemble import train_ensemble

        return train_ensemble(problem, ps, config, seeds).results
    return [train(problem, ps, replace(config, seed=int(s))) for s in seeds]


def retrain_ood(
    problem: Problem,
    pointset: PointSet,
    family: str | ShiftFamily,
    values: Iterable | None = None,
    config: TrainConfig | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    labels: str | TeacherFactory = "drop",
    *,
    keep_valid_labels: bool = True,
    held_out: np.ndarray | None = None,
    method: str | None = None,
    ensemble: bool | None = None,
    progress: bool | None = None,
) -> list[dict[str, Any]]:
    r"""Retrain fresh PINNs on ``pointset`` at every shift value of ``family``; one row per
    (value, seed).

    For each shift :math:`\mu` (default ``family.values(3, 2)``): the shifted problem
    ``problem.with_params(param=mu)``; the set's coordinates and weights (labels handled by
    :func:`shifted_pointset`); one PINN per seed (``config`` with ``seed``; all seeds at once
    with :func:`pinndd.ensemble.train_ensemble` unless ``config.hard`` or ``ensemble=False``,
    same results as separate runs); errors against the shifted reference.

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
        What to do with a labelled set's labels (see :func:`shifted_pointset`).
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
        seed, labels, l2re, l1re, max_abs, residual_mse, train_seconds, n_points``.
    """
    fam = resolve_family(problem, family)
    pairs = shift_values(fam, values)
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
        ps, outcome = shifted_pointset(pointset, shifted, labels, keep_valid_labels)
        t0 = time.perf_counter()
        results = _train_seeds(shifted, ps, config, seeds, ensemble)
        log.info("ood %s %s %s=%g: %d seeds in %.1f s", problem.name, name, fam.param, v, len(seeds), time.perf_counter() - t0)
        for seed, res in zip(seeds, results, strict=True):
            rows.append({
                "pde": problem.name, "method": name, "budget": budget, "set_seed": meta.get("seed"),
                "param": fam.param, "value": v, "in_distribution": ind,
                "nominal": v == problem.nominal.get(fam.param), "seed": seed, "labels": outcome,
                **evaluate(shifted, res.model), "residual_mse": residual_mse(shifted, res.model, held_out),
                "train_seconds": res.wall_time, "n_points": len(ps),
            })
    bar.close()
    return rows


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------
def _keys(rows: Sequence[Mapping[str, Any]], by: Sequence[str] | None) -> tuple[str, ...]:
    if by is not None:
        return tuple(by)
    return tuple(k for k in GROUP_KEYS if all(k in r for r in rows))


def _mean_by_value(rows: Sequence[Mapping[str, Any]], keys: tuple[str, ...], metric: str):
    """``{group: {value: (mean, in_distribution, n)}}``."""
    acc: dict[tuple, dict[float, list]] = defaultdict(lambda: defaultdict(list))
    flags: dict[tuple, dict[float, bool]] = defaultdict(dict)
    for r in rows:
        g = tuple(r[k] for k in keys)
        acc[g][float(r["value"])].append(float(r[metric]))
        flags[g][float(r["value"])] = bool(r["in_distribution"])
    return {g: {v: (float(np.mean(e)), flags[g][v], len(e)) for v, e in sorted(by_v.items())} for g, by_v in acc.items()}


def ood_id_ratio(rows: Sequence[Mapping[str, Any]], metric: str = "l2re",
                 by: Sequence[str] | None = None) -> list[dict[str, Any]]:
    r"""Per group (default: the keys of :data:`GROUP_KEYS` the rows have), the mean error over
    in-distribution shifts, over out-of-distribution shifts, and their ratio

    .. math:: \mathrm{OOD/ID} = \operatorname{mean}_{\mu \notin I} \bar e(\mu) \,/\,
              \operatorname{mean}_{\mu \in I} \bar e(\mu),

    where :math:`\bar e(\mu)` is the mean over seeds at shift :math:`\mu` (each shift value
    counts once, whatever its number of seeds). ``ratio`` is NaN when either side is missing.
    """
    keys = _keys(rows, by)
    out = []
    for g, by_v in _mean_by_value(rows, keys, metric).items():
        ide = [m for m, ind, _ in by_v.values() if ind]
        ood = [m for m, ind, _ in by_v.values() if not ind]
        id_mean = float(np.mean(ide)) if ide else float("nan")
        ood_mean = float(np.mean(ood)) if ood else float("nan")
        ratio = ood_mean / id_mean if ide and ood and id_mean > 0 else float("nan")
        out.append({**dict(zip(keys, g, strict=True)), "id_mean": id_mean, "ood_mean": ood_mean, "ood_id_ratio": ratio,
                    "n_id": len(ide), "n_ood": len(ood)})
    return out


def ratio_to_dense(rows: Sequence[Mapping[str, Any]], dense_rows: Sequence[Mapping[str, Any]] | None = None,
                   metric: str = "l2re", dense_method: str = "dense") -> list[dict[str, Any]]:
    r"""At every shift, a method's mean error over seeds divided by the dense set's,
    :math:`\rho(\mu) = \bar e_{\text{method}}(\mu) / \bar e_{\text{dense}}(\mu)`.

    ``dense_rows`` default: the rows of ``rows`` whose method is ``dense_method``. Dense rows
    are matched on ``pde``, ``param`` and ``value`` (budgets differ by design). Returns one
    row per method row group and value, with ``mean``, ``dense_mean``, ``ratio``; groups and
    values without a dense match are left out.
    """
    if dense_rows is None:
        dense_rows = [r for r in rows if r.get("method") == dense_method]
        rows = [r for r in rows if r.get("method") != dense_method]
    if not dense_rows:
        raise PinnddError(f"no dense rows: pass dense_rows or include rows with method {dense_method!r}")
    match = tuple(k for k in ("pde", "param") if all(k in r for r in list(rows) + list(dense_rows)))
    dense = _mean_by_value(dense_rows, match, metric)
    keys = _keys(rows, None)
    out = []
    for g, by_v in _mean_by_value(rows, keys, metric).items():
        gd = dict(zip(keys, g, strict=True))
        dv = dense.get(tuple(gd[k] for k in match))
        if dv is None:
            continue
        for v, (m, ind, n) in by_v.items():
            if v in dv:
                d = dv[v][0]
                out.append({**gd, "value": v, "in_distribution": ind, "mean": m, "dense_mean": d,
                            "ratio": m / d if d > 0 else float("nan"), "n": n})
    return out


def worst_ratio_to_dense(ratios: Sequence[Mapping[str, Any]], by: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Per group, the largest :func:`ratio_to_dense` over shift values (the target reads
    "at every shift"), with the value where it occurs."""
    keys = _keys(ratios, by)
    best: dict[tuple, Mapping[str, Any]] = {}
    for r in ratios:
        g = tuple(r[k] for k in keys)
        if g not in best or r["ratio"] > best[g]["ratio"]:
            best[g] = r
    return [{**dict(zip(keys, g, strict=True)), "worst_ratio": r["ratio"], "at_value": r["value"]} for g, r in best.items()]


def error_curves(rows: Sequence[Mapping[str, Any]], metric: str = "l2re",
                 series: str = "method") -> dict[str, tuple[list[float], list[list[float]]]]:
    """``{method: (shift values, [per-seed errors at each value])}`` for
    :func:`pinndd.plotting.plot_error_curves` (pass rows of one PDE and parameter)."""
    acc: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        acc[str(r[series])][float(r["value"])].append(float(r[metric]))
    return {m: (sorted(by_v), [by_v[v] for v in sorted(by_v)]) for m, by_v in acc.items()}


__all__ = [
    "LABEL_MODES", "error_curves", "evaluate_shifts", "held_out_points", "ood_id_ratio", "ratio_to_dense",
    "resolve_family", "retrain_ood", "shift_values", "shifted_pointset", "shifts_conditions", "teacher_like",
    "worst_ratio_to_dense",
]
