"""Every way of choosing points, behind one contract and one registry by name."""

# importing a module registers its methods (label_distill after labelled and kernel_matching)
from . import (  # noqa: F401
    adaptive,
    coreset,
    family_kit,
    gradient_matching,
    influence_select,
    kernel_matching,
    label_distill,
    label_exchange,
    label_outcome,
    labelled,
    nested,
    outcome,
    samplers,
    task_aware,
    task_exchange,
    trajectory_matching,
)
from .base import PointSetMethod, condition_points, get, interior_points, names, register

__all__ = ["PointSetMethod", "condition_points", "get", "interior_points", "names", "register"]
