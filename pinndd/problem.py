"""PDE problems: a box domain, a residual in named partials, named conditions, parameters.

A problem is written once, in terms of the partial derivatives it *declares*::

    residual(d, x, p) = d["u_t"] + d["u"] * d["u_x"] - p["nu"] * d["u_xx"]

where ``d`` maps declared partial names (``"u"``, ``"u_x"``, ``"u_xx"``, ``"u_xt"``, ...) to
tensors of shape ``(n,)``, ``x`` maps coordinate names to tensors of shape ``(n,)`` and ``p``
maps parameter names to floats. Because the partials are declared, the derivative engine
(:mod:`pinndd.engine.derivatives`) computes exactly those and nothing more.

Conditions are named and live on faces of the box (:mod:`pinndd.conditions`); their target
values may depend on parameters, so ``problem.with_params(a=1.3)`` shifts them. Each problem
also declares *shift families* (:mod:`pinndd.shifts`): a parameter with an in-distribution and
an out-of-distribution range.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from .conditions import (  # noqa: F401 (the problem contract's names, public here too)
    CONDITION_KINDS,
    Condition,
    Coords,
    Derivs,
    Evaluator,
    Params,
    ValueFn,
    as_param,
    canonical_partial,
    coords,
    dirichlet,
    initial_value,
    initial_velocity,
    neumann,
    parse_partial,
    periodic,
)
from .domain import Box
from .errors import PinnddError
from .shifts import ShiftFamily

#: ``reference(points (n, d) float64 numpy, params) -> values (n,)``.
ReferenceFn = Callable[[np.ndarray, Params], np.ndarray]
#: ``hard(x, net_output (n,), params) -> u (n,)``: an output transform that enforces conditions.
HardTransform = Callable[[Coords, torch.Tensor, Params], torch.Tensor]


@dataclass(frozen=True, eq=False)
class Problem:
    """A PDE problem. Build one directly or see ``equations/`` for the registered ones.

    Parameters
    ----------
    name:
        Registry name, e.g. ``"burgers"``.
    domain:
        The space-time box.
    partials:
        The partial derivatives the residual uses, e.g. ``("u", "u_t", "u_x", "u_xx")``.
    residual:
        ``residual(d, x, p) -> tensor (n,)``, zero for the exact solution.
    conditions:
        Named boundary/initial conditions.
    params:
        Parameter values (the nominal ones on a freshly built problem). The contract: the
        residual, condition values and hard transform take each parameter ``p[name]`` as a float
        *or* as a torch tensor of one value per point, with the same result (write them with
        torch operations: ``torch.sin(p["a"])``, not ``math.sin``; no Python ``if`` on a
        parameter). A parametric problem is then a column substitution
        (:mod:`pinndd.parametric`); :func:`pinndd.engine.checks.check_problem` checks it before
        training. References take floats.
    reference_fn:
        ``reference_fn(points, params) -> values``, the solution for any parameter values, or
        ``None`` where none is known.
    shifts:
        Declared shift families.
    hard_transform:
        Optional output transform ``u = hard(x, net(x), p)`` enforcing ``hard_conditions``
        exactly (as DeepXDE's ``output_transform``); training uses it only when asked.
    eval_counts:
        Sizes of the tensor-product evaluation grid per coordinate (never a training set),
        unless ``eval_points`` is given.
    eval_points:
        Explicit evaluation points, e.g. a published reference grid.
    check_params:
        ``check_params(params)`` raises :class:`~pinndd.errors.PinnddError` for parameter values
        the problem does not support (an ill-posed PDE, or data its reference does not resolve);
        :meth:`with_params` calls it, so a bad value fails where it is set, not when the
        reference is first evaluated.
    """

    name: str
    domain: Box
    partials: tuple[str, ...]
    residual: Callable[[Derivs, Coords, Params], torch.Tensor]
    conditions: tuple[Condition, ...]
    params: Mapping[str, float] = field(default_factory=dict)
    reference_fn: ReferenceFn | None = None
    shifts: tuple[ShiftFamily, ...] = ()
    hard_transform: HardTransform | None = None
    hard_conditions: tuple[str, ...] = ()
    eval_counts: tuple[int, ...] | None = None
    eval_points: np.ndarray | None = None
    nominal: Mapping[str, float] | None = None
    description: str = ""
    check_params: Callable[[Params], None] | None = None

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        if not isinstance(self.params, Mapping):
            raise PinnddError(f"problem {self.name!r}: params must be a mapping name -> value; got {type(self.params).__name__}")
        set_("params", MappingProxyType({k: as_param(k, v) for k, v in dict(self.params).items()}))
        if self.nominal is None:
            set_("nominal", self.params)
        set_("conditions", tuple(self.conditions))
        set_("shifts", tuple(self.shifts))
        set_("partials", tuple(canonical_partial(p, self.domain) for p in self.partials))
        names = [c.name for c in self.conditions]
        if len(set(names)) != len(names):
            raise PinnddError(f"problem {self.name!r}: condition names must be distinct; got {names}")
        for c in self.conditions:
            if c.face.box != self.domain:
                raise PinnddError(f"condition {c.name!r} lives on a face of another box than the problem's domain")
        for s in self.shifts:
            if s.param not in self.params:
                raise PinnddError(f"shift family names unknown parameter {s.param!r}; parameters: {list(self.params)}")
        unknown = set(self.hard_conditions) - set(names)
        if unknown:
            raise PinnddError(f"hard_conditions names unknown conditions {sorted(unknown)}; conditions: {names}")

    # -- parameters -------------------------------------------------------------------------
    def with_params(self, **values: float) -> Problem:
        """The same problem with some parameters changed, e.g. ``burgers.with_params(a=1.3)``."""
        unknown = set(values) - set(self.params)
        if unknown:
            raise PinnddError(f"problem {self.name!r} has no parameter(s) {sorted(unknown)}; it has {list(self.params)}")
        checked = {k: as_param(k, v) for k, v in values.items()}
        params = {**self.params, **checked}
        if self.check_params is not None:
            self.check_params(MappingProxyType(params))
        return dataclasses.replace(self, params=params, nominal=self.nominal)

    @property
    def is_nominal(self) -> bool:
        return dict(self.params) == dict(self.nominal)

    def shift(self, param: str) -> ShiftFamily:
        for s in self.shifts:
            if s.param == param:
                return s
        known = [s.param for s in self.shifts]
        raise PinnddError(f"problem {self.name!r} declares no shift family for {param!r}; it has {known}")

    # -- conditions ----------------------------------------------------------------------------
    def condition(self, name: str) -> Condition:
        for c in self.conditions:
            if c.name == name:
                return c
        raise PinnddError(f"problem {self.name!r} has no condition {name!r}; it has {[c.name for c in self.conditions]}")

    @property
    def condition_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.conditions)

    # -- the solution ----------------------------------------------------------------------------
    def output(self, x: torch.Tensor, net_out: torch.Tensor, hard: bool) -> torch.Tensor:
        """The field ``u`` from the network output; applies the hard transform when ``hard``."""
        if not hard:
            return net_out
        if self.hard_transform is None:
            raise PinnddError(f"problem {self.name!r} has no hard-constraint transform; train with hard=False")
        return self.hard_transform(coords(x, self.domain), net_out, self.params)

    def pde_residual(self, evaluate: Evaluator, points: torch.Tensor) -> torch.Tensor:
        """The PDE residual at interior ``points`` (shape ``(n,)``)."""
        return self.residual(evaluate(points, self.partials), coords(points, self.domain), self.params)

    @property
    def has_reference(self) -> bool:
        return self.reference_fn is not None

    def reference(self, points: np.ndarray) -> np.ndarray:
        """The reference solution at ``points`` (shape ``(n, d)``) for the current parameters."""
        if self.reference_fn is None:
            raise PinnddError(f"problem {self.name!r} has no reference solution")
        pts = np.asarray(points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != self.domain.dim:
            raise PinnddError(f"reference points must have shape (n, {self.domain.dim}); got {pts.shape}")
        return np.asarray(self.reference_fn(pts, self.params), dtype=np.float64).reshape(len(pts))

    def evaluation_points(self) -> np.ndarray:
        """The reference grid used by :func:`pinndd.evaluate`; it is never a training set."""
        if self.eval_points is not None:
            return np.asarray(self.eval_points, dtype=np.float64)
        counts = self.eval_counts or ((101,) * self.domain.dim if self.domain.dim <= 2 else (31,) * self.domain.dim)
        return self.domain.grid(tuple(counts))

    def describe(self) -> dict[str, Any]:
        """JSON-friendly summary (for metadata)."""
        return {"name": self.name, "params": dict(self.params), "domain": {
            "names": list(self.domain.names), "lower": list(self.domain.lower), "upper": list(self.domain.upper)}}
