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

This module never imports a particular method; it takes a point set.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
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

#: Named sources of labels at shifted parameters (``labels=`` of :func:`retrain_ood`).
LABEL_SOURCES = ("none", "once", "per_shift", "reference")
#: Older names, still accepted.
LABEL_ALIASES = {"drop": "none", "relabel": "per_shift"}
#: Sources for diagnostics only, never a headline: a dense teacher at every value, the oracle.
DIAGNOSTIC_SOURCES = ("per_shift", "reference")
#: Every accepted ``labels=`` string.
LABEL_MODES = (*LABEL_SOURCES, *LABEL_ALIASES)
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
    record = pointset.label_record
    if record is not None and record.teacher is not None:  # the typed record (learned adjustments are dropped)
        return record.teacher.rebuild(problem, problem.params)
    info = labels_teacher(pointset.metadata)  # a set without a record: its metadata, as older files have it
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


@dataclass(frozen=True)
class LabelSource:
    """Where a labelled set's labels come from at shifted parameters, and what they cost.

    Parameters
    ----------
    kind:
        One of :data:`LABEL_SOURCES` (module docstring).
    factory:
        ``shifted_problem -> Teacher``: for ``"once"`` the family's one teacher (required);
        for ``"per_shift"`` a maker of a new teacher per value (default: a teacher of the kind
        that labelled the set, :func:`teacher_like`); unused otherwise.
    cost_seconds:
        ``"once"`` only: the one teacher's cost, spread over the values a run scores.
    """

    kind: str
    factory: TeacherFactory | None = None
    cost_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in LABEL_SOURCES:
            raise PinnddError(f"label source must be one of {LABEL_SOURCES}; got {self.kind!r}")
        if self.factory is not None and not callable(self.factory):
            raise PinnddError(f"a label source's factory must be callable shifted_problem -> Teacher; "
                              f"got {type(self.factory).__name__}")
        if self.kind == "once" and self.factory is None:
            raise PinnddError("label source 'once' needs the family's teacher: pass ood.once(teacher, cost_seconds) "
                              "(e.g. train_parametric(...).teacher())")
        if not (np.isfinite(self.cost_seconds) and self.cost_seconds >= 0):
            raise PinnddError(f"cost_seconds must be finite and >= 0; got {self.cost_seconds}")

    @property
    def diagnostic(self) -> bool:
        """``True`` for sources that never belong in a headline (:data:`DIAGNOSTIC_SOURCES`)."""
        return self.kind in DIAGNOSTIC_SOURCES


def once(teacher: TeacherFactory, cost_seconds: float | None = None) -> LabelSource:
    """The label source ``"once"``: one teacher over the whole family (``shifted_problem ->
    Teacher``, e.g. :class:`pinndd.parametric.ParametricTeacher`), made once at a cost of
    ``cost_seconds`` (default: the teacher's own ``cost_seconds``)."""
    cost = getattr(teacher, "cost_seconds", None) if cost_seconds is None else cost_seconds
    if cost is None:
        raise PinnddError("ood.once: the teacher has no cost_seconds; pass cost_seconds= (what making it cost)")
    return LabelSource("once", teacher, float(cost))


def per_shift(factory: TeacherFactory | None = None) -> LabelSource:
    """The label source ``"per_shift"``: a new teacher at every shift value (``factory``, default
    :func:`teacher_like`), each charged in full to its value. A diagnostic."""
    return LabelSource("per_shift", factory)


def label_source(labels: str | LabelSource | TeacherFactory) -> LabelSource:
    """``labels`` as a :class:`LabelSource`: a name of :data:`LABEL_SOURCES` or an alias of
    :data:`LABEL_ALIASES`; a source as is; a callable ``shifted_problem -> Teacher`` with a
    ``cost_seconds`` attribute (a teacher made once for the family, such as
    :class:`pinndd.parametric.ParametricTeacher`) is ``"once"``, any other callable
    ``"per_shift"`` (each teacher it returns is charged in full to its value)."""
    if isinstance(labels, LabelSource):
        return labels
    if isinstance(labels, str):
        kind = LABEL_ALIASES.get(labels, labels)
        if kind == "once":
            raise PinnddError("labels='once' needs the family's teacher: pass labels=ood.once(teacher) "
                              "(e.g. train_parametric(...).teacher())")
        if kind in LABEL_SOURCES:
            return LabelSource(kind)
    elif callable(labels):
        return once(labels) if getattr(labels, "cost_seconds", None) is not None else per_shift(labels)
    raise PinnddError(f"labels must be one of {LABEL_MODES}, an ood.LabelSource or a callable "
                      f"shifted_problem -> Teacher; got {labels!r}")


def shifted_labels(pointset: PointSet, shifted: Problem, labels: str | LabelSource | TeacherFactory = "none",
                   keep_valid_labels: bool = True) -> tuple[PointSet, str, Teacher | None]:
    """:func:`shifted_pointset` and the teacher that made the new labels (``None`` where no
    teacher labelled the set for ``shifted``)."""
    source = label_source(labels)
    if not pointset.labelled:
        return pointset, "none", None
    record = pointset.label_record
    made_for = record.params if record is not None else None
    if keep_valid_labels and made_for is not None and made_for == {k: float(v) for k, v in shifted.params.items()}:
        return pointset, "kept", None
    if source.kind == "none":
        return pointset.without_labels(), "dropped", None
    if source.kind == "reference":
        teacher = reference_teacher(shifted)
    elif source.factory is None:  # per_shift, rebuilt from the set's own teacher settings
        teacher = teacher_like(shifted, pointset)
    else:
        teacher = source.factory(shifted)
        if not isinstance(teacher, Teacher):
            raise PinnddError(f"the labels factory must return a pinndd.teacher.Teacher; got {type(teacher).__name__}")
    if dict(teacher.params) != dict(shifted.params):
        raise PinnddError(
            f"the teacher was made for parameters {dict(teacher.params)}, not the shifted {dict(shifted.params)}; "
            "the labels factory must return a teacher for the problem it is given"
        )
    return label(pointset.without_labels(), teacher, pointset.target_weight), f"relabelled:{teacher.source}", teacher


def shifted_pointset(pointset: PointSet, shifted: Problem, labels: str | LabelSource | TeacherFactory = "none",
                     keep_valid_labels: bool = True) -> tuple[PointSet, str]:
    """The point set to train ``shifted`` on, and what happened to its labels.

    Coordinates and weights are kept. An unlabelled set is returned as is (``"none"``). A
    labelled set whose labels were made for exactly ``shifted.params`` keeps them when
    ``keep_valid_labels`` (``"kept"``); otherwise the label source ``labels``
    (:func:`label_source`) decides:

    - ``"none"`` (``"drop"``): train on physics and conditions only (``"dropped"``);
    - ``"per_shift"`` (``"relabel"``): a teacher of the kind that made the labels, for the
      shifted parameters (:func:`teacher_like`), or the source's own factory;
    - ``"reference"``: the shifted reference (an oracle, for experiments);
    - ``"once"`` or a callable ``shifted_problem -> Teacher`` (e.g. a
      :class:`pinndd.parametric.ParametricTeacher`).

    Relabelled sets keep the original data-term weight; the outcome reads
    ``"relabelled:<teacher source>"``.
    """
    ps, outcome, _ = shifted_labels(pointset, shifted, labels, keep_valid_labels)
    return ps, outcome


def label_seconds(source: LabelSource, outcome: str, teacher: Teacher | None, n_values: int) -> float:
    """Seconds charged to one shift value for its labels (module docstring): ``"once"``: the
    one teacher's cost over the ``n_values`` values of the run, at every value of a labelled
    set (the teacher was made for the run whether or not a value kept the set's own labels);
    ``"per_shift"``: the full cost of the teacher made for this value; else 0."""
    if outcome == "none":  # an unlabelled set uses no labels
        return 0.0
    if source.kind == "once":
        return source.cost_seconds / max(1, int(n_values))
    if source.kind == "per_shift" and teacher is not None:
        return float(teacher.cost_seconds)
    return 0.0


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
        from .ensemble import train_ensemble

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
    :func:`pinndd.ensemble.train_ensemble` unless ``config.hard`` or ``ensemble=False``, same
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


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------
def _keys(rows: Sequence[Mapping[str, Any]], by: Sequence[str] | None) -> tuple[str, ...]:
    if by is not None:
        return tuple(by)
    return tuple(k for k in GROUP_KEYS if all(k in r for r in rows))


def _mean_by_value(rows: Sequence[Mapping[str, Any]], keys: tuple[str, ...], metric: str):
    """``{group: {value: (mean, in_distribution, n)}}`` over the held-out rows (rows marked
    ``held_out: False``, at values their set was made on, are left out)."""
    acc: dict[tuple, dict[float, list]] = defaultdict(lambda: defaultdict(list))
    flags: dict[tuple, dict[float, bool]] = defaultdict(dict)
    for r in rows:
        if r.get("held_out", True) is False:
            continue
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
    Rows at values their set was made on (``held_out: False``) are left out.
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
    values without a dense match, and rows at values their set was made on (``held_out:
    False``), are left out.
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
    "DIAGNOSTIC_SOURCES", "LABEL_ALIASES", "LABEL_MODES", "LABEL_SOURCES", "LabelSource", "MadeOn", "error_curves",
    "evaluate_shifts", "held_out_points", "is_made_on", "label_seconds", "label_source", "made_on", "once",
    "ood_id_ratio", "per_shift", "ratio_to_dense", "resolve_family", "retrain_ood", "scoring_values", "shift_values",
    "shifted_labels",
    "shifted_pointset", "shifts_conditions", "teacher_like", "worst_ratio_to_dense",
]
