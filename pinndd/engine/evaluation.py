"""Errors against the reference on a grid that never trains, and the physics residual.

For predictions ``u`` and reference ``u*`` on the problem's evaluation points:

    L2RE = ||u - u*||_2 / ||u*||_2,   L1RE = ||u - u*||_1 / ||u*||_1,   max = max |u - u*|.

This module never imports a particular method.
"""

from __future__ import annotations

import numpy as np
import torch

from ..conditions import coords
from ..errors import PinnddError
from . import derivatives
from .losses import TensorPoints, loss_terms, total_loss


def _model_dtype_device(model: torch.nn.Module) -> tuple[torch.dtype, torch.device]:
    p = next(iter(model.parameters()), None)
    return (p.dtype, p.device) if p is not None else (torch.float32, torch.device("cpu"))


def predict(model: torch.nn.Module, points: np.ndarray, batch: int = 65536) -> np.ndarray:
    """``u`` at ``points`` (numpy, shape ``(n, d)``) as a float64 numpy array."""
    dtype, device = _model_dtype_device(model)
    out = []
    with torch.no_grad():
        for i in range(0, len(points), batch):
            x = torch.as_tensor(points[i : i + batch], dtype=dtype, device=device)
            out.append(model(x).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def errors(prediction: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """L2 relative, L1 relative and max absolute error."""
    diff = prediction - reference
    n2, n1 = np.linalg.norm(reference), np.abs(reference).sum()
    if n2 == 0:
        raise PinnddError("the reference is identically zero; relative errors are undefined")
    return {
        "l2re": float(np.linalg.norm(diff) / n2),
        "l1re": float(np.abs(diff).sum() / n1),
        "max_abs": float(np.abs(diff).max()),
    }


def check_model(problem, model: torch.nn.Module) -> None:
    """Raise :class:`PinnddError` when ``model`` was built for another problem (a PINN records
    its problem) or takes inputs of another dimension than ``problem``'s domain."""
    if not isinstance(model, torch.nn.Module):
        raise PinnddError(f"expected a trained model (torch.nn.Module, e.g. result.model); got {type(model).__name__}")
    own = getattr(model, "problem", None)
    if own is not None and getattr(own, "name", problem.name) != problem.name:
        raise PinnddError(f"this model was trained for {own.name!r}, not {problem.name!r}; evaluate it with its own "
                          "problem (shifted parameters of the same problem are fine)")
    appended = sum(int(getattr(m, "appends_inputs", 0)) for m in model.modules())  # e.g. a fixed parameter column
    for name, buf in model.named_buffers():
        if name.endswith("in_scale") and buf.shape[-1] != problem.domain.dim + appended:
            raise PinnddError(f"this model takes {buf.shape[-1] - appended}-d inputs but {problem.name!r} is "
                              f"{problem.domain.dim}-d")


def evaluate(problem, model: torch.nn.Module, points: np.ndarray | None = None) -> dict[str, float]:
    """Reference errors of ``model`` for ``problem`` (at its current parameters).

    ``points`` defaults to ``problem.evaluation_points()``, a grid no method trains on.

    Raises
    ------
    PinnddError
        For a model trained for another problem or of another input dimension.
    """
    check_model(problem, model)
    pts = problem.evaluation_points() if points is None else np.asarray(points, dtype=np.float64)
    return errors(predict(model, pts), problem.reference(pts))


def residuals(problem, model: torch.nn.Module, points: np.ndarray, batch: int = 8192) -> np.ndarray:
    """The PDE residual of ``model`` at ``points`` as float64 numpy (no reference needed)."""
    dtype, device = _model_dtype_device(model)
    out = []
    for i in range(0, len(points), batch):
        x = torch.as_tensor(points[i : i + batch], dtype=dtype, device=device)
        d = derivatives.partials(model, x, problem.partials, problem.domain, create_graph=False)
        r = problem.residual(d, coords(x, problem.domain), problem.params)
        out.append(r.detach().double().cpu().numpy().reshape(-1))
    return np.concatenate(out) if out else np.zeros(0)


def residual_mse(problem, model: torch.nn.Module, points: np.ndarray, batch: int = 8192) -> float:
    """Mean squared PDE residual of ``model`` at ``points`` (physical faithfulness; needs no
    reference). At small budgets it can disagree with the reference errors: report both."""
    return float(np.mean(residuals(problem, model, points, batch) ** 2))


def physics_loss(problem, model: torch.nn.Module, pointset) -> float:
    """The PINN loss ``L_pde + sum_c lambda_c L_c`` of ``model`` on ``pointset`` (its labels, if
    any, ignored; conditions a hard-constraint model enforces skipped): a reference-free measure
    of how well a trained network satisfies the problem, e.g. on a held-out set."""
    dtype, device = _model_dtype_device(model)
    skip = tuple(problem.hard_conditions) if getattr(model, "hard", False) else ()
    terms = loss_terms(problem, model, TensorPoints.from_pointset(pointset.without_labels(), dtype, device), skip=skip)
    return float(total_loss(problem, terms, {}, 0.0).detach())
