"""Every way of choosing points, behind one contract and one registry by name."""

from . import labelled, samplers  # noqa: F401  (importing registers the methods)
from .base import PointSetMethod, condition_points, get, interior_points, names, register

__all__ = ["PointSetMethod", "condition_points", "get", "interior_points", "names", "register"]
