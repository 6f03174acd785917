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


class Column:
    """A problem function with the parameter ``param`` read from the coordinate column
    ``coordinate``: the coordinates argument (position ``at``: 1 for ``residual(d, x, p)``, 0
    for condition values ``g(x, p)`` and ``hard(x, out, p)``) loses the column, and the
    parameters (always the last argument) get it as ``p[param]``."""

    def __init__(self, base: Callable, param: str, coordinate: str, at: int):
        self.base, self.param, self.coordinate, self.at = base, param, coordinate, at

    def __call__(self, *args):
        args = list(args)
        args[self.at], col = split_column(args[self.at], self.coordinate)
        args[-1] = {**args[-1], self.param: col}
        return self.base(*args)


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
