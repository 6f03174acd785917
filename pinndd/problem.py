"""PDE problems: a box domain, a residual in named partials, named conditions, parameters.

A problem is written once, in terms of the partial derivatives it *declares*::

    residual(d, x, p) = d["u_t"] + d["u"] * d["u_x"] - p["nu"] * d["u_xx"]

where ``d`` maps declared partial names (``"u"``, ``"u_x"``, ``"u_xx"``, ``"u_xt"``, ...) to
tensors of shape ``(n,)``, ``x`` maps coordinate names to tensors of shape ``(n,)`` and ``p``
maps parameter names to floats. Because the partials are declared, the derivative engine
(:mod:`pinndd.engine.derivatives`) computes exactly those and nothing more.

Conditions are named and live on faces of the box; their target values may depend on
parameters, so ``problem.with_params(a=1.3)`` shifts them. Each problem also declares
*shift families*: a parameter with an in-distribution and an out-of-distribution range.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from .domain import Box, Face
from .errors import PinnddError

Coords = Mapping[str, torch.Tensor]
Params = Mapping[str, float]
Derivs = Mapping[str, torch.Tensor]
#: ``value(x, p) -> tensor (n,)``: a condition's target at coordinates ``x`` under parameters ``p``.
ValueFn = Callable[[Coords, Params], torch.Tensor]
#: ``evaluate(points, partials) -> {partial: tensor (n,)}``, supplied by the trainer.
Evaluator = Callable[[torch.Tensor, tuple[str, ...]], Derivs]

CONDITION_KINDS = ("dirichlet", "neumann", "initial", "initial_velocity", "periodic")


def coords(points: torch.Tensor, box: Box) -> dict[str, torch.Tensor]:
    """Split points of shape ``(..., d)`` into ``{name: tensor (...)}``."""
    return {n: points[..., i] for i, n in enumerate(box.names)}


def parse_partial(name: str, box: Box) -> tuple[int, ...]:
    """Axes differentiated by a partial name, sorted: ``"u_xt"`` on ``("x", "t")`` -> ``(0, 1)``."""
    if name == "u":
        return ()
    if not name.startswith("u_") or len(name) < 3:
        raise PinnddError(f"partial names look like 'u', 'u_x', 'u_xx', 'u_xt'; got {name!r}")
    axes = []
    for ch in name[2:]:
        if ch not in box.names:
            raise PinnddError(f"partial {name!r} differentiates by {ch!r}, which is not a coordinate of {box.names}")
        axes.append(box.names.index(ch))
    return tuple(sorted(axes))


def canonical_partial(name: str, box: Box) -> str:
    """The canonical spelling of a partial (coordinates in box order): ``u_tx`` -> ``u_xt``."""
    axes = parse_partial(name, box)
    return "u" if not axes else "u_" + "".join(box.names[a] for a in axes)


def as_param(name: str, value: Any, where: str = "parameter") -> float:
    """``value`` as a finite float, or a :class:`PinnddError` naming ``name`` and what was given."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real | np.ndarray | np.generic | torch.Tensor):
        raise PinnddError(f"{where} {name!r} must be a finite number; got {value!r} ({type(value).__name__})")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise PinnddError(f"{where} {name!r} must be a single finite number; got {value!r}") from None
    if not math.isfinite(out):
        raise PinnddError(f"{where} {name!r} must be finite; got {value!r}")
    return out


def _constant(value: float) -> ValueFn:
    try:
        as_param("value", value)
    except PinnddError:
        raise PinnddError(f"a condition's value must be a finite number or a function value(x, p); got {value!r}") from None

    def fn(x: Coords, p: Params) -> torch.Tensor:
        return torch.full_like(next(iter(x.values())), float(value))

    fn.__qualname__ = f"constant({value})"
    return fn


@dataclass(frozen=True, eq=False)
class Condition:
    """A named condition on a face of the domain.

    Kinds and their residuals at points ``x`` on ``face``:

    - ``"dirichlet"`` / ``"initial"``: ``u(x) - g(x)``
    - ``"neumann"``: ``n . grad u(x) - g(x)`` with the outward normal ``n`` of the face
    - ``"initial_velocity"``: ``u_t(x) - g(x)`` (``t`` = the face's coordinate)
    - ``"periodic"``: ``u(x) - u(x')`` where ``x'`` is ``x`` moved to the opposite face;
      points live on the ``lower`` face.

    Use the helper constructors :func:`dirichlet`, :func:`neumann`, :func:`initial_value`,
    :func:`initial_velocity` and :func:`periodic`.
    """

    name: str
    face: Face
    kind: str
    value: ValueFn
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in CONDITION_KINDS:
            raise PinnddError(f"condition kind must be one of {CONDITION_KINDS}; got {self.kind!r}")
        if not self.name.isidentifier():
            raise PinnddError(f"condition names must be identifiers (they name loss terms); got {self.name!r}")
        if not (self.weight > 0 and np.isfinite(self.weight)):
            raise PinnddError(f"condition {self.name!r}: weight must be positive and finite; got {self.weight}")
        if self.kind == "periodic" and self.face.side != "lower":
            raise PinnddError(f"periodic condition {self.name!r} must live on the lower face")

    @property
    def partials(self) -> tuple[str, ...]:
        """The partials this condition needs from the derivative engine."""
        if self.kind == "neumann":
            return (f"u_{self.face.coordinate}",)
        if self.kind == "initial_velocity":
            return (f"u_{self.face.coordinate}",)
        return ("u",)

    def target(self, points: torch.Tensor, params: Params) -> torch.Tensor:
        """The condition's target value ``g`` at ``points`` (shape ``(n, d)``)."""
        return self.value(coords(points, self.face.box), params)

    def check_target(self, points: torch.Tensor, params: Params) -> None:
        """Raise :class:`PinnddError` unless the value function returns a finite torch tensor
        with one value per point (called once before training, not per step)."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DeprecationWarning)
            g = self.target(points, params)
        if any("__array_wrap__" in str(w.message) for w in caught):
            warnings.warn(f"condition {self.name!r}: its value function applies numpy to torch tensors (e.g. np.sin); "
                          "that works on the CPU only through a conversion numpy deprecates, and fails on a GPU, under "
                          "autograd and in compiled steps: use torch functions (torch.sin)", UserWarning, stacklevel=3)
        if not isinstance(g, torch.Tensor):
            raise PinnddError(
                f"condition {self.name!r}: its value function returned {type(g).__name__}, not a torch tensor; "
                "write it with torch functions (torch.sin, not np.sin) of the coordinate tensors")
        if tuple(g.shape) != tuple(points.shape[:-1]):
            raise PinnddError(f"condition {self.name!r}: its value function must return one value per point, shape "
                              f"{tuple(points.shape[:-1])}; got {tuple(g.shape)}")
        if not bool(torch.isfinite(g).all()):
            raise PinnddError(f"condition {self.name!r}: its value function returned NaN or inf at parameters {dict(params)}")

    def residual(self, evaluate: Evaluator, points: torch.Tensor, params: Params) -> torch.Tensor:
        """Residual of the condition at ``points`` (shape ``(n,)``); zero when satisfied."""
        if self.kind == "periodic":
            partner = points.clone()
            partner[..., self.face.axis] = self.face.opposite().value
            return evaluate(points, ("u",))["u"] - evaluate(partner, ("u",))["u"]
        (name,) = self.partials
        d = evaluate(points, self.partials)
        lhs = d[name] * self.face.normal_sign if self.kind == "neumann" else d[name]
        return lhs - self.target(points, params)


def _value(value: float | ValueFn) -> ValueFn:
    return value if callable(value) else _constant(value)


def dirichlet(name: str, face: Face, value: float | ValueFn = 0.0, weight: float = 1.0) -> Condition:
    """``u = g`` on ``face``."""
    return Condition(name, face, "dirichlet", _value(value), weight)


def neumann(name: str, face: Face, value: float | ValueFn = 0.0, weight: float = 1.0) -> Condition:
    """``du/dn = g`` on ``face`` (outward normal derivative)."""
    return Condition(name, face, "neumann", _value(value), weight)


def initial_value(name: str, box: Box, value: float | ValueFn, time: str = "t", weight: float = 1.0) -> Condition:
    """``u = g`` at the lower bound of coordinate ``time``."""
    return Condition(name, box.face(time, "lower"), "initial", _value(value), weight)


def initial_velocity(name: str, box: Box, value: float | ValueFn = 0.0, time: str = "t", weight: float = 1.0) -> Condition:
    """``u_t = g`` at the lower bound of coordinate ``time``."""
    return Condition(name, box.face(time, "lower"), "initial_velocity", _value(value), weight)


def periodic(name: str, box: Box, coordinate: str, weight: float = 1.0) -> Condition:
    """``u(lower) = u(upper)`` along ``coordinate``; points live on the lower face."""
    return Condition(name, box.face(coordinate, "lower"), "periodic", _constant(0.0), weight)


@dataclass(frozen=True)
class ShiftFamily:
    """A parameter whose value may move, with its in- and out-of-distribution ranges.

    ``in_range`` contains the nominal value; ``out_range`` contains ``in_range``; values in
    ``out_range`` but outside ``in_range`` are out of distribution.
    """

    param: str
    in_range: tuple[float, float]
    out_range: tuple[float, float]

    def __post_init__(self) -> None:
        (a, b), (c, d) = self.in_range, self.out_range
        if not (a <= b and c <= a and b <= d):
            raise PinnddError(
                f"shift family {self.param!r}: need in_range inside out_range; got in {self.in_range}, out {self.out_range}"
            )

    def values(self, n_in: int = 3, n_out: int = 2) -> list[tuple[float, bool]]:
        """``n_in`` evenly spread in-distribution values and ``n_out`` on each OOD side, each with
        a flag ``True`` when it is in distribution."""
        (a, b), (c, d) = self.in_range, self.out_range
        vals = [(float(v), True) for v in np.linspace(a, b, n_in)]
        if c < a:
            vals += [(float(v), False) for v in np.linspace(c, a, n_out + 1)[:-1]]
        if d > b:
            vals += [(float(v), False) for v in np.linspace(b, d, n_out + 1)[1:]]
        return sorted(vals)

    def is_in_distribution(self, value: float) -> bool:
        return self.in_range[0] <= value <= self.in_range[1]

    def train_values(self, n_in: int = 3, n_out: int = 1, nominal: float | None = None) -> tuple[float, ...]:
        r"""The values a task-aware method may train (or judge) on, sorted.

        With the in-distribution range :math:`I = [a, b]` and the out-of-distribution range
        :math:`O = [c, d]`:

        - ``n_in`` values evenly spread over :math:`I`, its two ends included
          (``n_in = 1``: the middle);
        - on each side where :math:`O` extends beyond :math:`I`, ``n_out`` values evenly spread
          *strictly inside* that side: :math:`a - k (a - c) / (n_	ext{out} + 1)`,
          :math:`k = 1..n_	ext{out}` (and the same towards :math:`d`);
        - ``nominal``, when given (every set is made at the nominal problem, so a method that
          serves the family has always seen it).

        Why this grid: the in-distribution range is what a method is told to serve, so its ends
        belong to the training grid; the two ends of :math:`O` never do, so the farthest shifts
        the problem declares stay for evaluation (:meth:`held_out_values`), and every held-out
        value stays inside the range the problem vouches for (no extrapolation of the reference
        beyond :math:`O`). Values are rounded to 12 decimals so that the same call gives the same
        floats everywhere (they are compared across files).
        """
        if n_in < 1 or n_out < 0:
            raise PinnddError(f"shift family {self.param!r}: train_values needs n_in >= 1 and n_out >= 0; "
                              f"got n_in={n_in}, n_out={n_out}")
        (a, b), (c, d) = self.in_range, self.out_range
        vals = list(np.linspace(a, b, n_in)) if n_in > 1 else [(a + b) / 2]
        vals += [a - k * (a - c) / (n_out + 1) for k in range(1, n_out + 1) if c < a]
        vals += [b + k * (d - b) / (n_out + 1) for k in range(1, n_out + 1) if d > b]
        if nominal is not None:
            vals.append(float(nominal))
        return _distinct(vals)

    def held_out_values(self, n_in: int = 3, n_out: int = 1, nominal: float | None = None,
                        per_gap: int = 1) -> tuple[float, ...]:
        """Values for evaluation that :meth:`train_values` (same ``n_in, n_out, nominal``) never
        gives, sorted: ``per_gap`` values evenly spread strictly inside every gap between two
        consecutive train values, and the two ends of the out-of-distribution range where they
        lie beyond every train value. So they probe a task-aware method between the values it
        was made on (in and out of distribution) and beyond them, and are disjoint from the
        train values by construction (Burgers ``a``, in [0.8, 1.2], out [0.5, 1.5]: train 0.65,
        0.8, 1.0, 1.2, 1.35; held out 0.5, 0.725, 0.9, 1.1, 1.275, 1.5).
        """
        if per_gap < 1:
            raise PinnddError(f"shift family {self.param!r}: per_gap must be >= 1; got {per_gap}")
        train = self.train_values(n_in, n_out, nominal)
        vals = [lo + (hi - lo) * k / (per_gap + 1) for lo, hi in zip(train[:-1], train[1:], strict=True)
                for k in range(1, per_gap + 1)]
        (c, d) = self.out_range
        vals += [e for e in (c, d) if e < train[0] or e > train[-1]]
        out = _distinct(vals)
        clash = [v for v in out if any(math.isclose(v, t, rel_tol=1e-9, abs_tol=1e-12) for t in train)]
        if clash:  # only a degenerate family (a zero-length range) gets here
            raise PinnddError(f"shift family {self.param!r}: held-out values {clash} coincide with train values; "
                              "widen its ranges")
        return out


def _distinct(values) -> tuple[float, ...]:
    """``values`` rounded to 12 decimals, sorted, without repeats."""
    return tuple(sorted({round(float(v), 12) + 0.0 for v in values}))


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
        Parameter values (the nominal ones on a freshly built problem).
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
