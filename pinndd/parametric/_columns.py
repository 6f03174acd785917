"""Substituting the parameter column: a problem's residual, condition values, hard-constraint
transform and reference called with the parameter as a tensor column, broadcasting where the
functions allow and once per distinct value where they do not (decided by a probe)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from ..domain import Box, Face
from ..errors import PinnddError
from ..problem import Problem

#: Probe tolerance: the broadcast and per-value calls must agree to this relative accuracy.
PROBE_RTOL = 1e-9
#: Number of probe points (distinct parameter values) per function.
PROBE_N = 5
#: Cached condition targets kept per condition on the per-value path.
CACHE_SIZE = 8


def split_column(x: Mapping[str, torch.Tensor], coordinate: str) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    return {k: v for k, v in x.items() if k != coordinate}, x[coordinate]


def per_value(call: Callable[[Callable[[torch.Tensor], torch.Tensor], float], torch.Tensor],
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


def broadcasts(broadcast: Callable[[], torch.Tensor], per_value: Callable[[], torch.Tensor]) -> bool:
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
    return bool(torch.allclose(a, b, rtol=PROBE_RTOL, atol=PROBE_RTOL * (1.0 + float(b.abs().max())), equal_nan=True))


class ResidualColumn:
    """``R(d, x, p) = R_base(d, x without p, {**p, param: x[p]})`` (broadcast or per value)."""

    def __init__(self, base: Callable, param: str, coordinate: str, broadcast: bool = True):
        self.base, self.param, self.coordinate, self.broadcast = base, param, coordinate, broadcast

    def __call__(self, d, x, p):
        xo, col = split_column(x, self.coordinate)
        if self.broadcast:
            return self.base(d, xo, {**p, self.param: col})

        def call(take, v):
            return self.base({k: take(t) for k, t in d.items()}, {k: take(t) for k, t in xo.items()}, {**p, self.param: v})

        return per_value(call, col)


class ConditionColumn:
    """``g(x, p) = g_base(x without p, {**p, param: x[p]})``; on the per-value path the targets
    at points that do not need gradients are cached (they do not depend on the network)."""

    def __init__(self, base: Callable, param: str, coordinate: str, broadcast: bool = True):
        self.base, self.param, self.coordinate, self.broadcast = base, param, coordinate, broadcast
        self._cache: list[tuple[tuple, dict[str, torch.Tensor], torch.Tensor]] = []

    def _key(self, p) -> tuple:
        return tuple(sorted((k, float(v)) for k, v in p.items()))

    def __call__(self, x, p):
        xo, col = split_column(x, self.coordinate)
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

        out = per_value(call, col)
        if cacheable:
            self._cache.append((key, {n: t.detach().clone() for n, t in x.items()}, out.detach()))
            del self._cache[:-CACHE_SIZE]
        return out


class HardColumn:
    """``hard(x, out, p)`` of the base problem with the parameter column substituted."""

    def __init__(self, base: Callable, param: str, coordinate: str, broadcast: bool = True):
        self.base, self.param, self.coordinate, self.broadcast = base, param, coordinate, broadcast

    def __call__(self, x, out, p):
        xo, col = split_column(x, self.coordinate)
        if self.broadcast:
            return self.base(xo, out, {**p, self.param: col})
        return per_value(lambda take, v: self.base({k: take(t) for k, t in xo.items()}, take(out), {**p, self.param: v}), col)


class ReferenceColumn:
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


def probe_points(box: Box, face: Face | None, rng: np.random.Generator) -> np.ndarray:
    """Probe points in ``box`` (or on ``face``) with distinct, spread values of the last coordinate."""
    u = rng.random((PROBE_N, box.dim))
    u[:, -1] = np.linspace(0.1, 0.9, PROBE_N)
    pts = box.from_unit(u)
    if face is not None:
        pts[:, face.axis] = face.value
    return pts


def check_residual_broadcast(problem: Problem, box: Box, param: str, coordinate: str) -> bool:
    rng = np.random.default_rng(0)
    x = torch.as_tensor(probe_points(box, None, rng))
    xc = {n: x[:, i] for i, n in enumerate(box.names)}
    d = {name: torch.as_tensor(rng.uniform(-1.0, 1.0, PROBE_N)) for name in problem.partials}
    d.setdefault("u", torch.as_tensor(rng.uniform(-1.0, 1.0, PROBE_N)))
    p = dict(problem.params)
    return broadcasts(lambda: ResidualColumn(problem.residual, param, coordinate, True)(d, xc, p),
                       lambda: ResidualColumn(problem.residual, param, coordinate, False)(d, xc, p))


def check_value_broadcast(fn: Callable, face: Face, problem: Problem, param: str, coordinate: str) -> bool:
    x = torch.as_tensor(probe_points(face.box, face, np.random.default_rng(1)))
    xc = {n: x[:, i] for i, n in enumerate(face.box.names)}
    p = dict(problem.params)
    return broadcasts(lambda: ConditionColumn(fn, param, coordinate, True)(xc, p),
                       lambda: ConditionColumn(fn, param, coordinate, False)(xc, p))


def check_hard_broadcast(fn: Callable, box: Box, problem: Problem, param: str, coordinate: str) -> bool:
    rng = np.random.default_rng(2)
    x = torch.as_tensor(probe_points(box, None, rng))
    xc = {n: x[:, i] for i, n in enumerate(box.names)}
    out = torch.as_tensor(rng.uniform(-1.0, 1.0, PROBE_N))
    p = dict(problem.params)
    return broadcasts(lambda: HardColumn(fn, param, coordinate, True)(xc, out, p),
                       lambda: HardColumn(fn, param, coordinate, False)(xc, out, p))


