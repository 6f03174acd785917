"""Loss terms of a PINN on a point set.

For ``n`` interior points ``x_i`` with weights ``w_i`` the PDE term is

    L_pde = (1/n) sum_i w_i r(x_i)^2,

a plain mean for unit weights and an unbiased importance-sampling estimate of the dense mean
when ``w_i = 1 / (N pi_i) * n`` for inclusion probabilities ``pi_i`` (weights then average
about one). Each condition ``c`` contributes ``L_c`` the same way with its own residual, and a
labelled set adds ``L_data = (1/n) sum_i w_i (u(x_i) - y_i)^2``. The total is

    L = L_pde + sum_c lambda_c L_c + lambda_data L_data.

Every term keeps its condition's name, so histories read ``pde``, ``left``, ``initial``, ...

Sums run over the last axis only, so an ensemble whose points have shape ``(K, n, d)`` gets
one value per member (shape ``(K,)``) for every term.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from ..conditions import coords
from ..pointset import PointSet
from . import derivatives


@dataclass
class TensorPoints:
    """A :class:`PointSet` as tensors on one device and dtype, weights divided by the number of
    points (so a term is ``sum_i w_i r_i^2``). Built once before a training loop so the loop
    does no conversion."""

    interior: torch.Tensor
    interior_w: torch.Tensor
    conditions: dict[str, tuple[torch.Tensor, torch.Tensor]]
    targets: torch.Tensor | None
    target_weight: float

    @classmethod
    def from_pointset(cls, ps: PointSet, dtype: torch.dtype, device: torch.device | str) -> TensorPoints:
        def t(a):
            return torch.as_tensor(a, dtype=dtype, device=device)

        def norm(w):
            return t(w) / len(w)

        conds = {k: (t(p), norm(w)) for k, (p, w) in ps.conditions.items()}
        targets = t(ps.targets) if ps.targets is not None else None
        return cls(t(ps.interior), norm(ps.interior_weights), conds, targets, ps.target_weight)


def loss_terms(
    problem,
    model: torch.nn.Module,
    points: TensorPoints,
    skip: tuple[str, ...] = (),
    engine: str = "auto",
) -> dict[str, torch.Tensor]:
    """Named scalar loss terms (unweighted by the lambdas): ``pde``, one per condition, ``data``:
    ``sum_i w_i r_i^2`` of each :func:`residual_terms` entry.

    ``skip`` names conditions left out (e.g. those a hard-constraint transform enforces).
    """
    return {name: (w * r.square()).sum(-1) for name, (r, w) in residual_terms(problem, model, points, skip, engine).items()}


def residual_terms(
    problem,
    model: torch.nn.Module,
    points: TensorPoints,
    skip: tuple[str, ...] = (),
    engine: str = "auto",
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per-point residuals ``r`` and their weights ``w`` (divided by the point count) by term:
    ``pde``, one per condition (``skip`` left out), ``data`` for a labelled set. The one place
    the loss is evaluated: the trainer squares and sums them (:func:`loss_terms`), the
    distillers' functional loss stacks ``sqrt(lambda w) r`` (:mod:`pinndd.methods.distill.context`).
    """
    box = problem.domain
    values: dict[int, torch.Tensor] = {}  # id(points) -> u, for value-only conditions

    def evaluate(pts, names):
        if tuple(names) == ("u",) and id(pts) in values:
            return {"u": values[id(pts)]}
        return derivatives.partials(model, pts, names, box, engine=engine)

    # Conditions that need only u (Dirichlet, initial value) share one network pass: at small
    # point counts the per-call overhead, not the arithmetic, is what a step costs.
    value_only = [p for n, (p, _) in points.conditions.items()
                  if n not in skip and problem.condition(n).kind in ("dirichlet", "initial")]
    if len(value_only) > 1:
        u = evaluate(torch.cat(value_only, dim=-2), ("u",))["u"]
        for p, part in zip(value_only, torch.split(u, [p.shape[-2] for p in value_only], dim=-1)):
            values[id(p)] = part
    need = set(problem.partials) | ({"u"} if points.targets is not None else set())
    d = evaluate(points.interior, tuple(sorted(need)))
    r = problem.residual(d, coords(points.interior, box), problem.params)
    terms = {"pde": (r, points.interior_w)}
    for name, (pts, w) in points.conditions.items():
        if name in skip:
            continue
        terms[name] = (problem.condition(name).residual(evaluate, pts, problem.params), w)
    if points.targets is not None:
        terms["data"] = (d["u"] - points.targets, points.interior_w)
    return terms


def total_loss(problem, terms: Mapping[str, torch.Tensor], weights: Mapping[str, float], target_weight: float) -> torch.Tensor:
    """``L = L_pde + sum_c lambda_c L_c + lambda_data L_data``; ``weights`` overrides the
    conditions' own lambdas by name."""
    total = terms["pde"]
    for name, value in terms.items():
        if name == "pde":
            continue
        lam = target_weight if name == "data" else weights.get(name, problem.condition(name).weight)
        total = total + lam * value
    return total
