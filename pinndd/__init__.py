"""pinndd: distil the collocation and boundary points a physics-informed neural network needs.

The public API::

    problem = equations.get("burgers")
    points = pinndd.methods.get("sobol").make(problem, budget=256, seed=0)
    result = pinndd.train(problem, points, pinndd.TrainConfig(adam_steps=3000))
    pinndd.evaluate(problem, result.model)      # {'l2re': ..., 'l1re': ..., 'max_abs': ...}
"""

__version__ = "0.1.0"

# Names are imported on first use (PEP 562), so ``import pinndd`` and ``pinndd --help`` do not
# import torch: the command line answers --help and argument errors at once.
_LAZY = {
    "methods": (".methods", None), "BudgetRule": (".budget", "BudgetRule"), "Box": (".domain", "Box"),
    "Face": (".domain", "Face"), "train_ensemble": (".engine.ensemble", "train_ensemble"),
    "PinnddError": (".errors", "PinnddError"),
    "clear_caches": (".cache", "clear_caches"), "TrainingDiverged": (".errors", "TrainingDiverged"),
    "evaluate": (".engine.evaluation", "evaluate"), "residual_mse": (".engine.evaluation", "residual_mse"),
    "PointSet": (".pointset", "PointSet"), "TrainConfig": (".engine.training", "TrainConfig"),
    "TrainResult": (".engine.training", "TrainResult"), "train": (".engine.training", "train"),
    "Problem": (".problem", "Problem"), "ShiftFamily": (".shifts", "ShiftFamily"),
    **{name: (".conditions", name) for name in ("Condition", "dirichlet", "initial_value", "initial_velocity", "neumann",
                                                "periodic")},
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'pinndd' has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    mod = importlib.import_module(module, __name__)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Box", "BudgetRule", "Condition", "Face", "PinnddError", "PointSet", "Problem", "ShiftFamily",
    "TrainConfig", "TrainResult", "TrainingDiverged", "clear_caches", "dirichlet", "evaluate", "initial_value",
    "initial_velocity", "methods", "neumann", "periodic", "residual_mse", "train", "train_ensemble", "__version__",
]
