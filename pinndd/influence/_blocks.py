"""The trained loss block by block (interior residuals, labels, each condition), the held-out set
and the quantities whose influence is measured."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from ..conditions import coords
from ..engine import derivatives
from ..engine.losses import TensorPoints, loss_terms, total_loss
from ..engine.nn import PINN, resolve_dtype
from ..errors import PinnddError
from ..pointset import PointSet

QUANTITIES = ("reference", "physics")
HESSIANS = ("gauss_newton", "exact")
METHODS = ("influence", "alignment")

Quantity = str | Callable[[torch.nn.Module], torch.Tensor]


# -- the trained loss, block by block ----------------------------------------------------------------
@dataclass
class Block:
    owner: str  # "interior" or a condition name: the points this block's residuals belong to
    residual: torch.Tensor  # (m,)
    coef: torch.Tensor  # (m,) lambda_b * w_i


def float64_copy(problem, model: torch.nn.Module, dtype: str) -> PINN:
    if not isinstance(model, PINN):
        raise PinnddError(f"influence needs a pinndd PINN (as train() returns); got {type(model).__name__}")
    net = copy.deepcopy(model.net).to(resolve_dtype(dtype))
    return PINN(net, problem, hard=model.hard)


def evaluator(problem, model):
    def evaluate(pts, names):
        return derivatives.partials(model, pts, names, problem.domain)

    return evaluate


def loss_blocks(problem, model: PINN, ps: PointSet, weights: Mapping[str, float]) -> list[Block]:
    """The residual blocks of the trainer's loss (module docstring), with graphs to the parameters."""
    p0 = next(model.parameters())

    def t(a):
        return torch.as_tensor(a, dtype=p0.dtype, device=p0.device)

    evaluate = evaluator(problem, model)
    x = t(ps.interior)
    need = set(problem.partials) | ({"u"} if ps.labelled else set())
    d = evaluate(x, tuple(sorted(need)))
    w = t(ps.interior_weights)
    blocks = [Block("interior", problem.residual(d, coords(x, problem.domain), problem.params), w)]
    if ps.labelled:
        blocks.append(Block("interior", d["u"] - t(ps.targets), ps.target_weight * w))
    skip = problem.hard_conditions if model.hard else ()
    for name, (pts, wc) in ps.conditions.items():
        if name in skip:
            continue
        cond = problem.condition(name)
        lam = float(weights.get(name, cond.weight))
        blocks.append(Block(name, cond.residual(evaluate, t(pts), problem.params), lam * t(wc)))
    return blocks


def held_out_set(problem, n_interior: int = 4096, n_condition: int = 256, seed: int = 99_999) -> PointSet:
    """A held-out set for the physics quantity: uniform interior points and ``n_condition``
    uniform points per condition, from ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    interior = problem.domain.from_unit(rng.random((n_interior, problem.domain.dim)))
    conds = {c.name: (c.face.from_unit(rng.random((n_condition, problem.domain.dim - 1))), None)
             for c in problem.conditions}
    return PointSet(interior, None, conds)


def quantity_of(problem, model: PINN, quantity: Quantity, held_out: PointSet | None,
                weights: Mapping[str, float]) -> tuple[str, torch.Tensor]:
    if callable(quantity):
        return getattr(quantity, "__name__", "custom"), quantity(model)
    if quantity == "reference":
        if not problem.has_reference:
            raise PinnddError(f"problem {problem.name!r} has no reference; use quantity='physics' (reference-free)")
        pts = problem.evaluation_points()
        p0 = next(model.parameters())
        ref = torch.as_tensor(problem.reference(pts), dtype=p0.dtype, device=p0.device)
        diff = model(torch.as_tensor(pts, dtype=p0.dtype, device=p0.device)) - ref
        return "reference", diff.norm() / ref.norm()
    if quantity == "physics":
        ps = held_out if held_out is not None else held_out_set(problem)
        p0 = next(model.parameters())
        skip = tuple(problem.hard_conditions) if model.hard else ()
        tp = TensorPoints.from_pointset(ps.without_labels(), p0.dtype, p0.device)
        return "physics", total_loss(problem, loss_terms(problem, model, tp, skip=skip), weights, 0.0)
    raise PinnddError(f"quantity must be one of {QUANTITIES} or a callable model -> scalar tensor; got {quantity!r}")


