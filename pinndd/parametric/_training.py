"""A network over the domain and a parameter: trained (:func:`train_parametric`), evaluated at
fixed values (:class:`FixedParameter`, :func:`evaluate_parametric`) and used as a teacher for
any shifted problem (:class:`ParametricTeacher`)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine.evaluation import errors, predict, residual_mse
from ..engine.training import TrainConfig, TrainResult, train
from ..errors import PinnddError
from ..methods.base import get as get_method
from ..methods.labelled.teacher import Teacher
from ..pointset import PointSet
from ..problem import Problem
from ._problem import ParametricProblem, parametric_problem


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


