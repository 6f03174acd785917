"""Substituting the parameter column: a problem's residual, condition values and hard-constraint
transform called with the parameter as a tensor column (the problem contract says they accept
one, :func:`pinndd.engine.checks.check_broadcast`); the reference once per distinct value."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from ..errors import PinnddError


def split_column(x: Mapping[str, torch.Tensor], coordinate: str) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    return {k: v for k, v in x.items() if k != coordinate}, x[coordinate]


class ResidualColumn:
    """``R(d, x, p) = R_base(d, x without p, {**p, param: x[p]})``."""

    def __init__(self, base: Callable, param: str, coordinate: str):
        self.base, self.param, self.coordinate = base, param, coordinate

    def __call__(self, d, x, p):
        xo, col = split_column(x, self.coordinate)
        return self.base(d, xo, {**p, self.param: col})


class ConditionColumn:
    """``g(x, p) = g_base(x without p, {**p, param: x[p]})``."""

    def __init__(self, base: Callable, param: str, coordinate: str):
        self.base, self.param, self.coordinate = base, param, coordinate

    def __call__(self, x, p):
        xo, col = split_column(x, self.coordinate)
        return self.base(xo, {**p, self.param: col})


class HardColumn:
    """``hard(x, out, p)`` of the base problem with the parameter column substituted."""

    def __init__(self, base: Callable, param: str, coordinate: str):
        self.base, self.param, self.coordinate = base, param, coordinate

    def __call__(self, x, out, p):
        xo, col = split_column(x, self.coordinate)
        return self.base(xo, out, {**p, self.param: col})


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
