"""Every way of choosing points, behind one contract and one registry by name."""

from . import samplers  # noqa: F401  (registers the samplers)
from .base import PointSetMethod, condition_points, get, interior_points, names, register

__all__ = ["PointSetMethod", "condition_points", "get", "interior_points", "names", "register"]
