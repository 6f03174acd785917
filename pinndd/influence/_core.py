"""Influence of points on a trained PINN: the solved direction and the per-point values
(:func:`point_influence`, :func:`candidate_influence`); the method is in :mod:`pinndd.influence`."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from ..conditions import coords
from ..engine import derivatives
from ..engine.evaluation import predict
from ..engine.nn import PINN
from ..errors import PinnddError
from ..pointset import PointSet
from ._blocks import HESSIANS, METHODS, Block, Quantity, float64_copy, loss_blocks, quantity_of
from ._linalg import conjugate_gradient, flatten, jvp, unflatten

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Influence:
    """Per-point influence of a training set on a quantity ``Q`` (module docstring).

    Attributes
    ----------
    interior:
        Predicted change of ``Q`` when each interior point is removed, shape ``(n,)``.
    conditions:
        The same per condition, ``{name: (m,)}``; conditions a hard-constraint model enforces
        are absent (they are not trained on).
    quantity, value:
        The quantity's name and its value at the trained parameters.
    method, hessian:
        ``"influence"`` or ``"alignment"``; the curvature used (``None`` for alignment).
    damping:
        The absolute damping ``delta`` added to the curvature.
    cg_iterations, cg_relative_residual:
        Conjugate-gradient iterations and the final ``||b - (H + delta) v|| / ||b||``.
    seconds:
        Wall time.
    """

    interior: np.ndarray
    conditions: dict[str, np.ndarray]
    quantity: str
    value: float
    method: str
    hessian: str | None
    damping: float
    cg_iterations: int
    cg_relative_residual: float
    seconds: float
    metadata: dict = field(default_factory=dict)

    def flat(self) -> np.ndarray:
        """Interior influences, then each condition's in order: one value per trained point."""
        return np.concatenate([self.interior, *self.conditions.values()])

    def owners(self) -> list[str]:
        """The block name (``"interior"`` or a condition) of each entry of :meth:`flat`."""
        out = ["interior"] * len(self.interior)
        for name, v in self.conditions.items():
            out += [name] * len(v)
        return out


# -- small vector helpers (parameters as one flat vector) ----------------------------------------
@dataclass
class _Solved:
    """A trained model's loss blocks, the quantity and the solved direction ``v``."""

    model: PINN
    params: list[torch.Tensor]
    blocks: list[Block]
    name: str
    value: float
    v: torch.Tensor
    jv: list[torch.Tensor]  # (J v) per block
    method: str
    hessian: str | None
    damping: float
    iterations: int
    relres: float

    def term_slopes(self) -> dict[int, torch.Tensor]:
        """``v . grad T_b`` per block index."""
        return {i: (2 * b.coef * b.residual * jv).sum() / len(b.residual)
                for i, (b, jv) in enumerate(zip(self.blocks, self.jv))}


def _solve(problem, model: torch.nn.Module, pointset: PointSet, quantity: Quantity, *, method: str, hessian: str,
           damping: float, cg_tol: float, cg_maxiter: int, held_out: PointSet | None,
           condition_weights: Mapping[str, float], dtype: str) -> _Solved:
    if method not in METHODS:
        raise PinnddError(f"method must be one of {METHODS}; got {method!r}")
    if hessian not in HESSIANS:
        raise PinnddError(f"hessian must be one of {HESSIANS}; got {hessian!r}")
    if not (np.isfinite(damping) and damping >= 0):
        raise PinnddError(f"damping must be finite and >= 0; got {damping!r}")
    pointset.validate(problem)
    m = float64_copy(problem, model, dtype)
    params = [p for p in m.parameters() if p.requires_grad]
    weights = dict(condition_weights)
    name, q = quantity_of(problem, m, quantity, held_out, weights)
    if q.dim() != 0 or not bool(torch.isfinite(q)):
        raise PinnddError(f"the quantity must be a finite scalar tensor; got shape {tuple(q.shape)}, value {q}")
    gq = flatten(torch.autograd.grad(q, params, allow_unused=True), params).detach()
    blocks = loss_blocks(problem, m, pointset, weights)
    big_r = torch.cat([b.residual for b in blocks])
    scale = torch.cat([b.coef / len(b.residual) for b in blocks])  # L = sum(scale * R^2)
    delta, its, relres = 0.0, 0, 0.0
    if method == "alignment":
        v = gq
    else:
        if hessian == "gauss_newton":
            u = torch.zeros_like(big_r, requires_grad=True)
            g = torch.autograd.grad(big_r, params, grad_outputs=u, create_graph=True, allow_unused=True)
            live = [(gi, i) for i, gi in enumerate(g) if gi is not None]

            def matvec(vec: torch.Tensor) -> torch.Tensor:
                vs = unflatten(vec, params)
                (jv,) = torch.autograd.grad([gi for gi, _ in live], u, grad_outputs=[vs[i] for _, i in live],
                                            retain_graph=True)
                out = torch.autograd.grad(big_r, params, grad_outputs=2 * scale * jv, retain_graph=True,
                                          allow_unused=True)
                return flatten(out, params)
        else:
            grad_l = torch.autograd.grad((scale * big_r.square()).sum(), params, create_graph=True, allow_unused=True)
            live_l = [(gi, i) for i, gi in enumerate(grad_l) if gi is not None and gi.requires_grad]

            def matvec(vec: torch.Tensor) -> torch.Tensor:
                vs = unflatten(vec, params)
                out = torch.autograd.grad([gi for gi, _ in live_l], params, grad_outputs=[vs[i] for _, i in live_l],
                                          retain_graph=True, allow_unused=True)
                return flatten(out, params)

        if damping > 0:
            gen = torch.Generator(device=gq.device).manual_seed(0)
            probes = [torch.randint(0, 2, gq.shape, generator=gen, device=gq.device).to(gq.dtype) * 2 - 1
                      for _ in range(8)]
            trace = float(np.mean([float(z @ matvec(z)) for z in probes]))
            delta = damping * abs(trace) / len(gq)
        v, its, relres = conjugate_gradient(lambda z: matvec(z).detach(), gq, delta, cg_tol, cg_maxiter)
        if relres > 1e-3:
            log.warning("influence: conjugate gradients reached relative residual %.2e after %d iterations; raise "
                        "cg_maxiter or damping", relres, its)
    jv_all = jvp(big_r, params, v).detach()
    jv = list(torch.split(jv_all, [len(b.residual) for b in blocks]))
    for b in blocks:
        b.residual, b.coef = b.residual.detach(), b.coef.detach()
    return _Solved(m, params, blocks, name, float(q.detach()), v, jv, method,
                   None if method == "alignment" else hessian, delta, its, relres)


def point_influence(
    problem,
    model: torch.nn.Module,
    pointset: PointSet,
    quantity: Quantity = "reference",
    *,
    method: str = "influence",
    hessian: str = "gauss_newton",
    damping: float = 1e-3,
    renormalise: bool = True,
    cg_tol: float = 1e-10,
    cg_maxiter: int = 500,
    held_out: PointSet | None = None,
    condition_weights: Mapping[str, float] | None = None,
    dtype: str = "float64",
) -> Influence:
    """The predicted change of ``quantity`` when each training point is removed (module docstring).

    Parameters
    ----------
    problem:
        The problem ``model`` was trained for (its current parameters).
    model:
        The trained PINN (not modified; a ``dtype`` copy is used).
    pointset:
        The set it was trained on.
    quantity:
        ``"reference"`` (L2 relative error on the evaluation grid), ``"physics"`` (held-out physics
        loss, reference-free) or a callable ``model -> scalar tensor``.
    method:
        ``"influence"`` (inverse curvature) or ``"alignment"`` (gradient alignment, no solve).
    hessian:
        ``"gauss_newton"`` (positive semi-definite, default) or ``"exact"``.
    damping:
        ``delta / (tr(H) / P)``: the damping relative to the mean curvature eigenvalue.
    renormalise:
        Account for the trainer's mean over the remaining points (True, what retraining does);
        False treats the loss as a fixed-weight sum.
    cg_tol, cg_maxiter:
        Conjugate-gradient stopping rule.
    held_out:
        The held-out set of the ``"physics"`` quantity (default :func:`held_out_set`).
    condition_weights:
        The trainer's overrides of the condition weights (``TrainConfig.condition_weights``).
    dtype:
        Precision of the computation (``"float64"`` recommended).

    Returns
    -------
    Influence
        Positive entries: points whose removal raises ``Q`` (useful ones).
    """
    t0 = time.perf_counter()
    s = _solve(problem, model, pointset, quantity, method=method, hessian=hessian, damping=damping, cg_tol=cg_tol,
               cg_maxiter=cg_maxiter, held_out=held_out, condition_weights=condition_weights or {}, dtype=dtype)
    slopes = s.term_slopes()
    per_owner: dict[str, torch.Tensor] = {}
    for i, (b, jv) in enumerate(zip(s.blocks, s.jv)):
        mb = len(b.residual)
        point = 2 * b.coef * b.residual * jv  # v . grad(c_j r_j^2)
        if not renormalise:
            dv = -point / mb  # v . grad D_j
        elif mb == 1:
            dv = -slopes[i].reshape(1)
        else:
            dv = (slopes[i] - point) / (mb - 1)
        per_owner[b.owner] = per_owner.get(b.owner, 0) - dv  # Delta Q_j = -v . grad D_j
    interior = per_owner.pop("interior").cpu().numpy()
    conds = {k: v.cpu().numpy() for k, v in per_owner.items()}
    return Influence(interior, conds, s.name, s.value, s.method, s.hessian, s.damping, s.iterations, s.relres,
                     time.perf_counter() - t0, {"renormalise": renormalise, "dtype": dtype})


def candidate_influence(
    problem,
    model: torch.nn.Module,
    pointset: PointSet,
    candidates: np.ndarray,
    quantity: Quantity = "physics",
    *,
    method: str = "influence",
    hessian: str = "gauss_newton",
    damping: float = 1e-2,
    cg_tol: float = 1e-8,
    cg_maxiter: int = 100,
    held_out: PointSet | None = None,
    condition_weights: Mapping[str, float] | None = None,
    dtype: str = "float64",
    batch: int = 2048,
) -> tuple[np.ndarray, dict]:
    r"""The predicted change of ``quantity`` when each candidate is *added* to the interior of
    ``pointset`` (weight 1, the trainer's mean over :math:`n + 1` points):

    .. math:: \Delta Q(x) \approx -\frac{2 r(x) (J v)(x) - v^\top \nabla T}{n + 1}.

    Negative values: adding the candidate lowers ``Q`` (a useful point). Settings as in
    :func:`point_influence`; the defaults (damping 1e-2, 100 CG iterations) suit a network that
    is not at a minimum (a warm-up). Returns the values (shape ``(N,)``) and a dict of
    diagnostics (quantity value, damping, CG iterations and residual, seconds).
    """
    t0 = time.perf_counter()
    if pointset.labelled:
        raise PinnddError("candidate_influence scores unlabelled additions; pass pointset.without_labels()")
    s = _solve(problem, model, pointset, quantity, method=method, hessian=hessian, damping=damping, cg_tol=cg_tol,
               cg_maxiter=cg_maxiter, held_out=held_out, condition_weights=condition_weights or {}, dtype=dtype)
    slopes = s.term_slopes()
    slope_t = slopes[0]  # block 0: the PDE residual at the interior points
    n = pointset.n_interior
    cand = np.asarray(candidates, dtype=np.float64)
    if cand.ndim != 2 or cand.shape[1] != problem.domain.dim:
        raise PinnddError(f"candidates must have shape (N, {problem.domain.dim}); got {cand.shape}")
    p0 = s.params[0]
    out = []
    for i in range(0, len(cand), batch):
        x = torch.as_tensor(cand[i : i + batch], dtype=p0.dtype, device=p0.device)
        d = derivatives.partials(s.model, x, problem.partials, problem.domain)
        r = problem.residual(d, coords(x, problem.domain), problem.params)
        jv = jvp(r, s.params, s.v)
        out.append((-(2 * r * jv - slope_t) / (n + 1)).detach().cpu().numpy())
    values = np.concatenate(out) if out else np.zeros(0)
    info = {"quantity": s.name, "value": s.value, "method": s.method, "hessian": s.hessian, "damping": s.damping,
            "cg_iterations": s.iterations, "cg_relative_residual": s.relres, "seconds": time.perf_counter() - t0}
    return values, info


def reference_grid_error(problem, model: torch.nn.Module, points: np.ndarray | None = None) -> np.ndarray:
    """``|u - u*|`` on ``points`` (default the evaluation grid), for influence-over-error maps."""
    pts = problem.evaluation_points() if points is None else np.asarray(points, dtype=np.float64)
    return np.abs(predict(model, pts) - problem.reference(pts))
