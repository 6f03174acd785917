r"""Parametric PINNs: one network over the domain *and* a parameter, for out-of-distribution checks.

For a problem with residual :math:`R[u](x; \mu)`, conditions :math:`B_c[u](x) = g_c(x; \mu)`
on faces :math:`F_c` of the box :math:`\Omega`, and a parameter :math:`\mu` with a range
:math:`[\mu_0, \mu_1]`, the *parametric problem* lives on the extended box

.. math:: \tilde\Omega = \Omega \times [\mu_0, \mu_1] \ni (x, p),

with residual :math:`\tilde R[u](x, p) = R[u](x; \mu = p)` (partials in :math:`x` only, so the
declared partial names are unchanged), each condition on the extended face
:math:`F_c \times [\mu_0, \mu_1]` with target :math:`g_c(x; p)`, and reference
:math:`\tilde u^*(x, p) = u^*(x; \mu = p)` evaluated once per distinct value of :math:`p`.
It is an ordinary :class:`pinndd.Problem`, so every registered method, the trainer and the
evaluator work on it unchanged.

Residual and condition functions are written with torch operations on ``p[name]``; passing the
tensor column :math:`p` (shape ``(n,)``) in place of the float broadcasts. Functions that need a
Python float (``torch.full_like(x, p[name])``, ``float(p[name])``, ``math.*``) are detected when
the parametric problem is built (a probe compares the broadcast call with one call per
parameter value) and then evaluated once per distinct parameter value instead: correct, but
slower where the points carry many distinct values. :attr:`ParametricProblem.fallbacks`
names them. Condition targets on the slow path are cached for the training points (they do
not depend on the network).

A network trained on :math:`\tilde\Omega` is evaluated at a value :math:`\mu` by fixing its
last input to :math:`\mu` (:class:`FixedParameter`); outside :math:`[\mu_0, \mu_1]` this
*extrapolates* in :math:`p` (the MLP's input scaling maps the training range to
:math:`[-1, 1]` and continues affinely beyond it). :class:`ParametricTeacher` turns such a
network into a :class:`pinndd.methods.labelled.teacher.Teacher` for any shifted problem, e.g. to relabel a
labelled point set for shifted boundary conditions (:func:`pinndd.eval.ood.retrain_ood`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .conditions import Condition
from .domain import Box, Face
from .engine.evaluation import errors, predict, residual_mse
from .engine.training import TrainConfig, TrainResult, train
from .errors import PinnddError
from .methods.base import get as get_method
from .methods.labelled.teacher import Teacher
from .pointset import PointSet
from .problem import Problem

log = logging.getLogger(__name__)

#: Probe tolerance: the broadcast and per-value calls must agree to this relative accuracy.
_PROBE_RTOL = 1e-9
#: Number of probe points (distinct parameter values) per function.
_PROBE_N = 5
#: Cached condition targets kept per condition on the per-value path.
_CACHE_SIZE = 8


# ---------------------------------------------------------------------------------------------
# Substituting the parameter column
# ---------------------------------------------------------------------------------------------
def _split(x: Mapping[str, torch.Tensor], coordinate: str) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    return {k: v for k, v in x.items() if k != coordinate}, x[coordinate]


def _per_value(call: Callable[[Callable[[torch.Tensor], torch.Tensor], float], torch.Tensor],
               column: torch.Tensor) -> torch.Tensor:
    """Evaluate ``call(take, value)`` once per distinct value of ``column`` and reassemble.

    ``take(t)`` restricts a tensor shaped like ``column`` to the entries with that value
    (flattened); the pieces are put back by a differentiable gather, so gradients flow to the
    network outputs and the points.
    """
    shape = column.shape
    flat = column.detach().reshape(-1)
    values, inverse = torch.unique(flat, return_inverse=True)
    order, pieces = [], []
    for i, v in enumerate(values.tolist()):
        idx = (inverse == i).nonzero().squeeze(1)

        def take(t: torch.Tensor, idx: torch.Tensor = idx) -> torch.Tensor:
            return t.reshape(-1)[idx] if t.dim() else t

        out = call(take, float(v))
        pieces.append(torch.broadcast_to(torch.as_tensor(out, dtype=column.dtype, device=column.device), idx.shape))
        order.append(idx)
    if not pieces:
        return column.new_zeros(shape)
    order_t = torch.cat(order)
    return torch.cat(pieces)[torch.argsort(order_t)].reshape(shape)


def _broadcasts(broadcast: Callable[[], torch.Tensor], per_value: Callable[[], torch.Tensor]) -> bool:
    """Whether a broadcast call succeeds and agrees with the per-value evaluation."""
    try:
        a = broadcast()
    except Exception:  # noqa: BLE001  (any failure means: use the per-value path)
        return False
    b = per_value()
    try:
        a = torch.broadcast_to(torch.as_tensor(a, dtype=b.dtype), b.shape)
    except RuntimeError:
        return False
    return bool(torch.allclose(a, b, rtol=_PROBE_RTOL, atol=_PROBE_RTOL * (1.0 + float(b.abs().max())), equal_nan=True))


class _Residual:
    """``R(d, x, p) = R_base(d, x without p, {**p, param: x[p]})`` (broadcast or per value)."""

    def __init__(self, base: Callable, param: str, coordinate: str, broadcast: bool = True):
        self.base, self.param, self.coordinate, self.broadcast = base, param, coordinate, broadcast

    def __call__(self, d, x, p):
        xo, col = _split(x, self.coordinate)
        if self.broadcast:
            return self.base(d, xo, {**p, self.param: col})

        def call(take, v):
            return self.base({k: take(t) for k, t in d.items()}, {k: take(t) for k, t in xo.items()}, {**p, self.param: v})

        return _per_value(call, col)


class _ConditionValue:
    """``g(x, p) = g_base(x without p, {**p, param: x[p]})``; on the per-value path the targets
    at points that do not need gradients are cached (they do not depend on the network)."""

    def __init__(self, base: Callable, param: str, coordinate: str, broadcast: bool = True):
        self.base, self.param, self.coordinate, self.broadcast = base, param, coordinate, broadcast
        self._cache: list[tuple[tuple, dict[str, torch.Tensor], torch.Tensor]] = []

    def _key(self, p) -> tuple:
        return tuple(sorted((k, float(v)) for k, v in p.items()))

    def __call__(self, x, p):
        xo, col = _split(x, self.coordinate)
        if self.broadcast:
            return self.base(xo, {**p, self.param: col})
        cacheable = not any(t.requires_grad for t in x.values())
        if cacheable:
            key = self._key(p)
            for k, cols, out in self._cache:
                if k == key and cols.keys() == x.keys() and all(
                    c.shape == x[n].shape and c.dtype == x[n].dtype and c.device == x[n].device and torch.equal(c, x[n])
                    for n, c in cols.items()
                ):
                    return out

        def call(take, v):
            return self.base({k: take(t) for k, t in xo.items()}, {**p, self.param: v})

        out = _per_value(call, col)
        if cacheable:
            self._cache.append((key, {n: t.detach().clone() for n, t in x.items()}, out.detach()))
            del self._cache[:-_CACHE_SIZE]
        return out


class _Hard:
    """``hard(x, out, p)`` of the base problem with the parameter column substituted."""

    def __init__(self, base: Callable, param: str, coordinate: str, broadcast: bool = True):
        self.base, self.param, self.coordinate, self.broadcast = base, param, coordinate, broadcast

    def __call__(self, x, out, p):
        xo, col = _split(x, self.coordinate)
        if self.broadcast:
            return self.base(xo, out, {**p, self.param: col})
        return _per_value(lambda take, v: self.base({k: take(t) for k, t in xo.items()}, take(out), {**p, self.param: v}), col)


class _Reference:
    """``u*(x, p) = u*_base(x; {**params, param: p})``, one base call per distinct ``p``."""

    def __init__(self, base: Callable, param: str, max_values: int):
        self.base, self.param, self.max_values = base, param, max_values

    def __call__(self, points: np.ndarray, params) -> np.ndarray:
        pts = np.asarray(points, dtype=np.float64)
        values, inverse = np.unique(pts[:, -1], return_inverse=True)
        if len(values) > self.max_values:
            raise PinnddError(
                f"the parametric reference is evaluated once per distinct value of the parameter "
                f"column; {len(values)} distinct values were asked for (limit {self.max_values}). Ask for "
                "points on a few parameter values (e.g. problem.evaluation_points()) or raise max_reference_values"
            )
        out = np.empty(len(pts))
        for i, v in enumerate(values):
            m = inverse == i
            out[m] = np.asarray(self.base(pts[m, :-1], {**params, self.param: float(v)}), dtype=np.float64).reshape(-1)
        return out


# ---------------------------------------------------------------------------------------------
# The parametric problem
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ParametricProblem(Problem):
    """A :class:`pinndd.Problem` on ``domain x [value_range]`` made by :func:`parametric_problem`.

    Extra attributes: ``base`` (the original problem), ``param`` (the parameter turned into a
    coordinate), ``coordinate`` (its name, the last coordinate of :attr:`domain`) and
    ``fallbacks`` (functions evaluated per parameter value because they do not broadcast).
    """

    base: Problem | None = None
    param: str = ""
    coordinate: str = "p"
    fallbacks: tuple[str, ...] = ()

    @property
    def value_range(self) -> tuple[float, float]:
        """The parameter range the extended box spans (the in-distribution range)."""
        i = self.domain.index(self.coordinate)
        return self.domain.lower[i], self.domain.upper[i]

    def contains_value(self, value: float) -> bool:
        lo, hi = self.value_range
        return lo <= value <= hi

    def at(self, value: float) -> Problem:
        """The original problem at parameter ``value`` (other parameters as in this problem)."""
        return self.base.with_params(**{**dict(self.params), self.param: float(value)})

    def base_points(self, points: np.ndarray, value: float) -> np.ndarray:
        """``points`` of the original domain (``(n, d)``) with the parameter column ``value`` appended."""
        pts = np.asarray(points, dtype=np.float64)
        return np.concatenate([pts, np.full((len(pts), 1), float(value))], axis=1)


def _probe_points(box: Box, face: Face | None, rng: np.random.Generator) -> np.ndarray:
    """Probe points in ``box`` (or on ``face``) with distinct, spread values of the last coordinate."""
    u = rng.random((_PROBE_N, box.dim))
    u[:, -1] = np.linspace(0.1, 0.9, _PROBE_N)
    pts = box.from_unit(u)
    if face is not None:
        pts[:, face.axis] = face.value
    return pts


def _check_residual_broadcast(problem: Problem, box: Box, param: str, coordinate: str) -> bool:
    rng = np.random.default_rng(0)
    x = torch.as_tensor(_probe_points(box, None, rng))
    xc = {n: x[:, i] for i, n in enumerate(box.names)}
    d = {name: torch.as_tensor(rng.uniform(-1.0, 1.0, _PROBE_N)) for name in problem.partials}
    d.setdefault("u", torch.as_tensor(rng.uniform(-1.0, 1.0, _PROBE_N)))
    p = dict(problem.params)
    return _broadcasts(lambda: _Residual(problem.residual, param, coordinate, True)(d, xc, p),
                       lambda: _Residual(problem.residual, param, coordinate, False)(d, xc, p))


def _check_value_broadcast(fn: Callable, face: Face, problem: Problem, param: str, coordinate: str) -> bool:
    x = torch.as_tensor(_probe_points(face.box, face, np.random.default_rng(1)))
    xc = {n: x[:, i] for i, n in enumerate(face.box.names)}
    p = dict(problem.params)
    return _broadcasts(lambda: _ConditionValue(fn, param, coordinate, True)(xc, p),
                       lambda: _ConditionValue(fn, param, coordinate, False)(xc, p))


def _check_hard_broadcast(fn: Callable, box: Box, problem: Problem, param: str, coordinate: str) -> bool:
    rng = np.random.default_rng(2)
    x = torch.as_tensor(_probe_points(box, None, rng))
    xc = {n: x[:, i] for i, n in enumerate(box.names)}
    out = torch.as_tensor(rng.uniform(-1.0, 1.0, _PROBE_N))
    p = dict(problem.params)
    return _broadcasts(lambda: _Hard(fn, param, coordinate, True)(xc, out, p),
                       lambda: _Hard(fn, param, coordinate, False)(xc, out, p))


def parametric_problem(
    problem: Problem,
    param: str,
    value_range: tuple[float, float] | None = None,
    coordinate: str = "p",
    eval_values: Sequence[float] | int = 3,
    max_reference_values: int = 4096,
    broadcast: bool | None = None,
) -> ParametricProblem:
    r"""``problem`` with parameter ``param`` turned into an extra coordinate (module docstring).

    Parameters
    ----------
    problem:
        The problem; its other parameters stay fixed at their current values.
    param:
        The parameter to turn into a coordinate.
    value_range:
        ``(mu_0, mu_1)`` spanned by the new coordinate; default: the in-distribution range of
        the problem's shift family for ``param``.
    coordinate:
        Name of the new coordinate: one letter, not ``"u"``, not already a coordinate.
    eval_values:
        Parameter values of the evaluation grid (the original grid at each), or how many
        evenly spread ones over ``value_range`` (default 3: both ends and the middle).
    max_reference_values:
        Refuse reference requests with more distinct parameter values than this (numerical
        references cost one solve per value).
    broadcast:
        ``None`` (default): probe each function and pass the tensor column where it
        broadcasts, else evaluate per value; ``False``: evaluate every function per value
        (slow; for checks); ``True``: pass the column without probing.

    Returns
    -------
    ParametricProblem
        Domain ``problem.domain x [mu_0, mu_1]`` (the new coordinate last), the same declared
        partials, residual and conditions with :math:`\mu` replaced by the column ``p``, each
        condition on the extended face of its original face, the hard transform likewise,
        shift families of the other parameters, and the reference per distinct ``p``.
    """
    if not isinstance(problem, Problem):
        raise PinnddError(f"parametric_problem needs a pinndd Problem; got {type(problem).__name__}")
    if isinstance(problem, ParametricProblem):
        raise PinnddError("the problem is already parametric; build the parametric problem from the original one")
    if param not in problem.params:
        raise PinnddError(f"problem {problem.name!r} has no parameter {param!r}; it has {list(problem.params)}")
    if value_range is None:
        value_range = problem.shift(param).in_range
    lo, hi = (float(v) for v in value_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise PinnddError(f"value_range must be finite with lower < upper; got {value_range} (a single value needs no "
                          "parametric network: use problem.with_params)")
    if not (isinstance(coordinate, str) and len(coordinate) == 1 and coordinate.isalpha() and coordinate != "u"):
        raise PinnddError(f"coordinate must be a single letter other than 'u'; got {coordinate!r}")
    if coordinate in problem.domain.names:
        free = [c for c in "pqmkrsw" if c not in problem.domain.names]
        raise PinnddError(f"coordinate {coordinate!r} clashes with the coordinates {problem.domain.names} of "
                          f"{problem.name!r}; pick another letter, e.g. coordinate={free[0]!r}")
    base_box = problem.domain
    box = Box(base_box.names + (coordinate,), base_box.lower + (lo,), base_box.upper + (hi,))
    fallbacks: list[str] = []

    def probe(check: Callable[..., bool], *args: Any) -> bool:
        return check(*args) if broadcast is None else bool(broadcast)

    ok = probe(_check_residual_broadcast, problem, box, param, coordinate)
    if not ok:
        fallbacks.append("residual")
    residual = _Residual(problem.residual, param, coordinate, ok)

    conditions = []
    for c in problem.conditions:
        face = box.face(c.face.coordinate, c.face.side)
        ok = probe(_check_value_broadcast, c.value, face, problem, param, coordinate)
        if not ok:
            fallbacks.append(c.name)
        conditions.append(Condition(c.name, face, c.kind, _ConditionValue(c.value, param, coordinate, ok), c.weight))

    hard = None
    if problem.hard_transform is not None:
        ok = probe(_check_hard_broadcast, problem.hard_transform, box, problem, param, coordinate)
        if not ok:
            fallbacks.append("hard_transform")
        hard = _Hard(problem.hard_transform, param, coordinate, ok)
    if fallbacks:
        log.info("parametric %s[%s]: %s evaluated per parameter value (no broadcasting over a tensor parameter)",
                 problem.name, param, ", ".join(fallbacks))

    if isinstance(eval_values, int):
        if eval_values < 1:
            raise PinnddError(f"eval_values must be a positive count or a list of values; got {eval_values}")
        eval_values = np.linspace(lo, hi, eval_values) if eval_values > 1 else [(lo + hi) / 2.0]
    eval_values = [float(v) for v in eval_values]
    if not eval_values:
        raise PinnddError("eval_values must not be empty")
    base_eval = problem.evaluation_points()
    eval_points = np.concatenate([np.concatenate([base_eval, np.full((len(base_eval), 1), v)], axis=1) for v in eval_values])

    params = {k: v for k, v in problem.params.items() if k != param}
    nominal = {k: v for k, v in (problem.nominal or {}).items() if k != param}
    return ParametricProblem(
        name=f"{problem.name}[{param}]",
        domain=box,
        partials=problem.partials,
        residual=residual,
        conditions=tuple(conditions),
        params=params,
        reference_fn=_Reference(problem.reference_fn, param, max_reference_values) if problem.reference_fn else None,
        shifts=tuple(s for s in problem.shifts if s.param != param),
        hard_transform=hard,
        hard_conditions=problem.hard_conditions,
        eval_points=eval_points,
        nominal=nominal,
        description=f"{problem.description} -- parametric in {param} over [{lo:g}, {hi:g}] (coordinate {coordinate!r})",
        base=problem,
        param=param,
        coordinate=coordinate,
        fallbacks=tuple(fallbacks),
    )


# ---------------------------------------------------------------------------------------------
# The network at a fixed parameter value
# ---------------------------------------------------------------------------------------------
class FixedParameter(nn.Module):
    r"""``u(x) = model([x, mu])``: a parametric network with its last input fixed to ``value``.

    Points ``(..., d)`` of the original domain map to ``(...)``; gradients w.r.t. ``x`` are
    the partial derivatives of the parametric network in the original coordinates.
    """

    #: The input column this module appends (so input-dimension checks see the original domain).
    appends_inputs = 1

    def __init__(self, model: nn.Module, value: float):
        super().__init__()
        self.model = model
        self.value = float(value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        col = torch.full_like(x[..., :1], self.value)
        return self.model(torch.cat([x, col], dim=-1))


def evaluate_parametric(
    problem: ParametricProblem,
    model: nn.Module,
    values: Sequence[float] | None = None,
    residual_points: int = 0,
    seed: int = 99_999,
) -> list[dict[str, Any]]:
    r"""Reference errors of a parametric network at parameter values inside and outside its range.

    For each value :math:`\mu` the network :math:`u(x, \mu)` is compared with the original
    problem's reference at :math:`\mu` on the original evaluation grid (values outside the
    training range extrapolate the parameter input; nothing checks containment):

    .. math:: \mathrm{L2RE}(\mu) = \|u(\cdot, \mu) - u^*(\cdot; \mu)\|_2 / \|u^*(\cdot; \mu)\|_2 .

    Parameters
    ----------
    problem:
        A :class:`ParametricProblem`.
    model:
        A network on the extended domain (e.g. ``train_parametric(...).model``).
    values:
        Parameter values; default: the original problem's shift family for the parameter
        (``values(3, 2)``), or 5 values across the range when none is declared.
    residual_points:
        When positive, also the mean squared PDE residual of the fixed-parameter network on
        this many uniform points of the original domain (``residual_mse``).

    Returns
    -------
    list of dict
        One row per value: ``param, value, in_distribution`` (inside the trained range),
        ``l2re, l1re, max_abs`` (and ``residual_mse``).
    """
    if not isinstance(problem, ParametricProblem):
        raise PinnddError("evaluate_parametric needs the ParametricProblem the model was trained on (parametric_problem(...))")
    if values is None:
        try:
            values = [v for v, _ in problem.base.shift(problem.param).values(3, 2)]
        except PinnddError:
            values = list(np.linspace(*problem.value_range, 5))
    base = problem.at(float(values[0])) if len(values) else problem.base
    grid = base.evaluation_points()
    held = None
    if residual_points > 0:
        held = base.domain.from_unit(np.random.default_rng(seed).random((int(residual_points), base.domain.dim)))
    rows = []
    for v in values:
        v = float(v)
        shifted = problem.at(v)
        fixed = FixedParameter(model, v)
        row = {"pde": problem.base.name, "param": problem.param, "value": v, "in_distribution": problem.contains_value(v),
               **errors(predict(fixed, grid), shifted.reference(grid))}
        if held is not None:
            row["residual_mse"] = residual_mse(shifted, fixed, held)
        rows.append(row)
    return rows


@dataclass
class ParametricTeacher:
    """A parametric network as a teacher factory: ``teacher(shifted_problem) -> Teacher``.

    Calling it with a shifted problem (or :meth:`at` with a value) returns a
    :class:`pinndd.methods.labelled.teacher.Teacher` whose model is the parametric network with its parameter
    input fixed to the shifted value (``source="parametric-pinn"``), made for exactly the
    shifted problem's parameters, so :func:`pinndd.methods.labelled.teacher.label` can relabel a point set for
    it. It is usable directly as the ``labels`` argument of :func:`pinndd.eval.ood.retrain_ood`.
    """

    problem: ParametricProblem
    model: nn.Module
    cost_seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    def at(self, value: float) -> Teacher:
        """The teacher for the original problem at parameter ``value``."""
        return self._teacher(self.problem.at(float(value)))

    def __call__(self, shifted: Problem) -> Teacher:
        pp = self.problem
        if shifted.name != pp.base.name:
            raise PinnddError(f"this parametric teacher is for {pp.base.name!r}, not {shifted.name!r}")
        if pp.param not in shifted.params:
            raise PinnddError(f"problem {shifted.name!r} has no parameter {pp.param!r}")
        others = {k: v for k, v in shifted.params.items() if k != pp.param}
        if others != dict(pp.params):
            raise PinnddError(
                f"this parametric teacher fixes {dict(pp.params)} and varies only {pp.param!r}; the problem has "
                f"{dict(shifted.params)}. Train a parametric teacher at those other parameters"
            )
        return self._teacher(shifted)

    def _teacher(self, shifted: Problem) -> Teacher:
        pp = self.problem
        value = float(shifted.params[pp.param])
        info = {**self.info, "param": pp.param, "value": value, "value_range": list(pp.value_range),
                "in_distribution": pp.contains_value(value)}
        return Teacher(FixedParameter(self.model, value), shifted.name, dict(shifted.params), "parametric-pinn",
                       self.cost_seconds, info)


@dataclass
class ParametricResult:
    """What :func:`train_parametric` returns: the problem, the point set, the training result."""

    problem: ParametricProblem
    pointset: PointSet
    result: TrainResult
    cost_seconds: float

    @property
    def model(self) -> nn.Module:
        return self.result.model

    def teacher(self) -> ParametricTeacher:
        """The trained network as a :class:`ParametricTeacher` (cost: point set + training)."""
        info = {"budget": self.pointset.n_interior, "method": self.pointset.metadata.get("method"),
                "config": self.result.config.to_dict()}
        return ParametricTeacher(self.problem, self.model, self.cost_seconds, info)

    def evaluate(self, values: Sequence[float] | None = None, residual_points: int = 0) -> list[dict[str, Any]]:
        return evaluate_parametric(self.problem, self.model, values, residual_points)


def train_parametric(
    problem: Problem,
    param: str,
    value_range: tuple[float, float] | None = None,
    *,
    method: str = "sobol",
    budget: int = 4096,
    config: TrainConfig | None = None,
    seed: int = 0,
    coordinate: str = "p",
    method_settings: Mapping[str, Any] | None = None,
) -> ParametricResult:
    """Train a PINN on ``parametric_problem(problem, param, value_range)``.

    The point set comes from the registered method ``method`` (``budget`` interior points of
    the extended box, the budget rule's condition points on the extended faces); ``seed``
    seeds the set, ``config.seed`` the network.

    Returns
    -------
    ParametricResult
        ``.model`` (input ``(x, p)``), ``.evaluate(values)``, ``.teacher()``.
    """
    pp = parametric_problem(problem, param, value_range, coordinate)
    t0 = time.perf_counter()
    ps = get_method(method, **dict(method_settings or {})).make(pp, budget, seed=seed)
    res = train(pp, ps, TrainConfig() if config is None else config)
    return ParametricResult(pp, ps, res, time.perf_counter() - t0)


__all__ = [
    "FixedParameter", "ParametricProblem", "ParametricResult", "ParametricTeacher", "evaluate_parametric",
    "parametric_problem", "train_parametric",
]
