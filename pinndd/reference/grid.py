"""Smooth interpolation of a solution known on a tensor-product grid."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import RectBivariateSpline, RegularGridInterpolator

from ..domain import GEOMETRY_TOL
from ..errors import PinnddError


class GridSolution:
    """A solution sampled on a tensor-product grid, evaluated anywhere inside it.

    Two-dimensional grids use a quintic tensor spline (smooth enough that finite differences of
    the interpolant approximate second derivatives); other dimensions use scipy's
    ``RegularGridInterpolator`` with cubic splines.

    Parameters
    ----------
    axes:
        One increasing 1-d array per coordinate.
    values:
        Array of shape ``tuple(len(a) for a in axes)``.
    """

    def __init__(self, axes: list[np.ndarray], values: np.ndarray, degree: int = 5):
        self.axes = [np.asarray(a, dtype=np.float64) for a in axes]
        self.values = np.asarray(values, dtype=np.float64)
        if self.values.shape != tuple(len(a) for a in self.axes):
            raise PinnddError(f"grid values of shape {self.values.shape} do not match axes {[len(a) for a in self.axes]}")
        if len(self.axes) == 2:
            k = min(degree, *(len(a) - 1 for a in self.axes))
            self._spline = RectBivariateSpline(self.axes[0], self.axes[1], self.values, kx=k, ky=k, s=0)
            self._interp = None
        else:
            self._spline = None
            self._interp = RegularGridInterpolator(self.axes, self.values, method="cubic")

    def __call__(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=np.float64)
        lo = np.array([a[0] for a in self.axes])
        hi = np.array([a[-1] for a in self.axes])
        slack = GEOMETRY_TOL * (hi - lo)  # the same slack as Box.contains
        if np.any(p < lo - slack) or np.any(p > hi + slack):
            raise PinnddError("reference requested outside the grid it was computed on")
        p = np.clip(p, lo, hi)
        if self._spline is not None:
            return self._spline.ev(p[:, 0], p[:, 1])
        return self._interp(p)
