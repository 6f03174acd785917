"""Every way of choosing points, behind one contract and one registry by name.

Grouped by kind: :mod:`.sampling` (fixed samplers), :mod:`.adaptive` (warm-up based: residual
adaptive, coresets, nested, influence), :mod:`.distill` (distillers), :mod:`.labelled` (teacher
labels and label distillers) and :mod:`.family_kit` (the family task's kits).
"""

# importing a module registers its methods (label_distill after teacher_sets and kernel_matching)
from . import family_interp, family_kit  # noqa: F401
from .adaptive import coreset, influence_select, nested, rad  # noqa: F401
from .base import Capabilities, PointSetMethod, condition_points, get, interior_points, names, register
from .distill import gradient_matching, kernel_matching, outcome, task_aware, trajectory_matching  # noqa: F401
from .labelled import label_distill, label_exchange, label_outcome, task_exchange, teacher_sets  # noqa: F401
from .sampling import samplers  # noqa: F401

__all__ = ["Capabilities", "PointSetMethod", "condition_points", "get", "interior_points", "names", "register"]
