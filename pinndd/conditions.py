"""Conditions of a problem: named targets on faces of the box (Dirichlet, Neumann, initial value
and velocity, periodic), and the names of coordinates and partials they and residuals use.

A condition's target may depend on the problem's parameters, so ``problem.with_params(a=1.3)``
shifts it. Partials are named ``u``, ``u_x``, ``u_xx``, ``u_xt``, ... after the box's
coordinates (:func:`parse_partial`).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
