"""pinndd: distil the collocation and boundary points a physics-informed neural network needs.

The public API::

    problem = equations.get("burgers")
    points = pinndd.methods.get("sobol").make(problem, budget=256, seed=0)
    result = pinndd.train(problem, points, pinndd.TrainConfig(adam_steps=3000))
    pinndd.evaluate(problem, result.model)      # {'l2re': ..., 'l1re': ..., 'max_abs': ...}
"""

__version__ = "0.1.0"

from . import methods  # noqa: E402
from .budget import BudgetRule  # noqa: E402
from .domain import Box, Face  # noqa: E402
from .ensemble import train_ensemble  # noqa: E402
from .errors import PinnddError, TrainingDiverged  # noqa: E402
from .evaluation import evaluate, residual_mse  # noqa: E402
from .pointset import PointSet  # noqa: E402
from .problem import (  # noqa: E402
    Condition,
    Problem,
    ShiftFamily,
    dirichlet,
    initial_value,
    initial_velocity,
    neumann,
    periodic,
)
from .training import TrainConfig, TrainResult, train  # noqa: E402

__all__ = [
    "Box", "BudgetRule", "Condition", "Face", "PinnddError", "PointSet", "Problem", "ShiftFamily",
    "TrainConfig", "TrainResult", "TrainingDiverged", "dirichlet", "evaluate", "initial_value",
    "initial_velocity", "methods", "neumann", "periodic", "residual_mse", "train", "train_ensemble", "__version__",
]
