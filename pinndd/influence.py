r"""Which points carry the information: the influence of each training point on a trained PINN.

A PINN trained on a point set minimises

.. math:: L(\theta) = \sum_b \frac{1}{m_b} \sum_{i \in b} c_i\, r_i(\theta)^2 ,

a sum over *blocks* :math:`b` (the PDE residual at the interior points, each condition at its
points, the data term of a labelled set), with :math:`m_b` the block's number of points and
:math:`c_i = \lambda_b w_i` the condition weight times the point weight (the trainer's loss,
:mod:`pinndd.engine.losses`). Removing point :math:`j` from its block and training again as the trainer
does (the mean over the :math:`m_b - 1` points left) changes the loss by

.. math:: D_j(\theta) = \frac{1}{m_b - 1}\Big(T_b(\theta) - c_j\, r_j(\theta)^2\Big),
          \qquad T_b = \frac{1}{m_b}\sum_{i \in b} c_i r_i^2

(a labelled interior point leaves its PDE and its data block at once). One Newton step from the
trained parameters :math:`\theta^*` gives :math:`\Delta\theta_j \approx -H^{-1} \nabla D_j`, so a
quantity :math:`Q(\theta)` changes by

.. math:: \Delta Q_j \approx -\nabla Q^\top H^{-1} \nabla D_j = -v^\top \nabla D_j,
          \qquad v = H^{-1} \nabla Q,

and :math:`v^\top \nabla r_i = (J v)_i` for every point at once: **one** linear solve and one
Jacobian-vector product give the influence of every point (Koh and Liang 2017; for PINNs,
PINNfluence, Naujoks et al., arXiv 2506.16443). :func:`point_influence` returns
:math:`\Delta Q_j`, the *predicted change of Q when point j is removed*: positive means the
point is useful (without it Q, an error, would rise), negative that it hurts.

Quantities :math:`Q`:

- ``"reference"``: the L2 relative error against the reference on the problem's evaluation grid;
- ``"physics"``: the physics loss :math:`L_{pde} + \sum_c \lambda_c L_c` on a held-out set
  (4096 uniform interior points and 256 per condition by default): reference-free;
- any callable ``model -> scalar tensor``.

The curvature :math:`H` (``hessian``):

- ``"gauss_newton"`` (default): :math:`G = 2 J^\top C J`, products by a Jacobian-vector and a
  vector-Jacobian product. :math:`G` is positive semi-definite for any parameters, so conjugate
  gradients never meet negative curvature, also at a network that is not at a minimum (a short
  warm-up, Adam stopped early), where the exact Hessian is often indefinite. At a minimum with
  small residuals the two agree: they differ by :math:`2 \sum_i c_i r_i \nabla^2 r_i / m_b`.
- ``"exact"``: Hessian-vector products by double backward; the right choice at a well-converged
  minimum (it is what leave-one-out retraining follows), and CG stops with a logged warning at a
  direction of negative curvature.

Both are solved by conjugate gradients on :math:`(H + \delta I) v = \nabla Q` with
:math:`\delta` = ``damping`` times :math:`\mathrm{tr}(H)/P` (Hutchinson estimate, ``P``
parameters). The Gauss-Newton matrix has rank at most the number of points: with more parameters
than points a small damping lets :math:`v` grow along the null space and a large one turns the
method into gradient alignment (measured before this module existed); with fewer
parameters than points (the check in the tests) a tiny damping is exact.

``method="alignment"`` is the cheap baseline: :math:`H = I` (:math:`v = \nabla Q`), the change of
Q after one unit gradient step on :math:`D_j` (TracIn-like, at the final parameters only). It
needs no solve; it ranks by the alignment of each point's gradient with Q's gradient.

:func:`candidate_influence` scores points *not* in the set: the predicted change of Q when the
candidate is added to the interior (the same algebra with :math:`m \to m + 1`); the
``influence_select`` method (:mod:`pinndd.methods.adaptive.influence_select`) keeps pool points by it.

Everything runs on a float64 copy of the model (``dtype``); the model passed in is untouched.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from .conditions import coords
from .engine import derivatives
from .engine.evaluation import predict
from .engine.losses import TensorPoints, loss_terms, total_loss
from .engine.nn import PINN, resolve_dtype
from .errors import PinnddError
from .pointset import PointSet

log = logging.getLogger(__name__)

QUANTITIES = ("reference", "physics")
HESSIANS = ("gauss_newton", "exact")
METHODS = ("influence", "alignment")

Quantity = str | Callable[[torch.nn.Module], torch.Tensor]


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
def _flat(tensors, params) -> torch.Tensor:
    return torch.cat([(t if t is not None else torch.zeros_like(p)).reshape(-1) for t, p in zip(tensors, params)])


def _unflat(vec: torch.Tensor, params) -> list[torch.Tensor]:
    out, i = [], 0
    for p in params:
        out.append(vec[i : i + p.numel()].view_as(p))
        i += p.numel()
    return out


def jvp(outputs: torch.Tensor, params: list[torch.Tensor], v: torch.Tensor) -> torch.Tensor:
    r"""``J v`` for the Jacobian ``J = d outputs / d params`` and a flat vector ``v``, by the
    double-vector-Jacobian trick: :math:`g(u) = J^\top u` is linear in ``u``, and
    :math:`\partial (g(u)^\top v) / \partial u = J v`. Works through any autograd graph
    (including input derivatives taken with ``create_graph=True``)."""
    u = torch.zeros_like(outputs, requires_grad=True)
    g = torch.autograd.grad(outputs, params, grad_outputs=u, create_graph=True, allow_unused=True)
    pairs = [(gi, vi) for gi, vi in zip(g, _unflat(v, params)) if gi is not None]
    if not pairs:
        return torch.zeros_like(outputs)
    (out,) = torch.autograd.grad([gi for gi, _ in pairs], u, grad_outputs=[vi for _, vi in pairs], retain_graph=True,
                                 allow_unused=True)
    return out if out is not None else torch.zeros_like(outputs)


def conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, damping: float = 0.0,
                       tol: float = 1e-10, maxiter: int = 500) -> tuple[torch.Tensor, int, float]:
    r"""Solve :math:`(A + \delta I) x = b` for a symmetric positive (semi-)definite ``A`` given by
    ``matvec``. Stops at relative residual ``tol``, after ``maxiter`` iterations, or (with a
    logged warning) at a direction of non-positive curvature.

    Returns
    -------
    x, iterations, relative residual ``||b - (A + delta) x|| / ||b||``.
    """
    x = torch.zeros_like(b)
    bnorm = float(b.norm())
    if bnorm == 0.0:
        return x, 0, 0.0
    r = b.clone()
    p = r.clone()
    rr = r @ r
    it = 0
    for it in range(1, maxiter + 1):
        ap = matvec(p) + damping * p
        pap = p @ ap
        if not pap > 0:
            log.warning("conjugate gradients met non-positive curvature (p'Ap = %.3e) at iteration %d; stopping "
                        "(use hessian='gauss_newton' or a larger damping)", float(pap), it)
            it -= 1
            break
        alpha = rr / pap
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = r @ r
        if float(rr_new.sqrt()) <= tol * bnorm:
            rr = rr_new
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x, it, float(rr.sqrt()) / bnorm


# -- the trained loss, block by block ----------------------------------------------------------------
@dataclass
class _Block:
    owner: str  # "interior" or a condition name: the points this block's residuals belong to
    residual: torch.Tensor  # (m,)
    coef: torch.Tensor  # (m,) lambda_b * w_i


def _float64_copy(problem, model: torch.nn.Module, dtype: str) -> PINN:
    if not isinstance(model, PINN):
        raise PinnddError(f"influence needs a pinndd PINN (as train() returns); got {type(model).__name__}")
    net = copy.deepcopy(model.net).to(resolve_dtype(dtype))
    return PINN(net, problem, hard=model.hard)


def _evaluator(problem, model):
    def evaluate(pts, names):
        return derivatives.partials(model, pts, names, problem.domain)

    return evaluate


def _blocks(problem, model: PINN, ps: PointSet, weights: Mapping[str, float]) -> list[_Block]:
    """The residual blocks of the trainer's loss (module docstring), with graphs to the parameters."""
    p0 = next(model.parameters())

    def t(a):
        return torch.as_tensor(a, dtype=p0.dtype, device=p0.device)

    evaluate = _evaluator(problem, model)
    x = t(ps.interior)
    need = set(problem.partials) | ({"u"} if ps.labelled else set())
    d = evaluate(x, tuple(sorted(need)))
    w = t(ps.interior_weights)
    blocks = [_Block("interior", problem.residual(d, coords(x, problem.domain), problem.params), w)]
    if ps.labelled:
        blocks.append(_Block("interior", d["u"] - t(ps.targets), ps.target_weight * w))
    skip = problem.hard_conditions if model.hard else ()
    for name, (pts, wc) in ps.conditions.items():
        if name in skip:
            continue
        cond = problem.condition(name)
        lam = float(weights.get(name, cond.weight))
        blocks.append(_Block(name, cond.residual(evaluate, t(pts), problem.params), lam * t(wc)))
    return blocks


def held_out_set(problem, n_interior: int = 4096, n_condition: int = 256, seed: int = 99_999) -> PointSet:
    """A held-out set for the physics quantity: uniform interior points and ``n_condition``
    uniform points per condition, from ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    interior = problem.domain.from_unit(rng.random((n_interior, problem.domain.dim)))
    conds = {c.name: (c.face.from_unit(rng.random((n_condition, problem.domain.dim - 1))), None)
             for c in problem.conditions}
    return PointSet(interior, None, conds)


def _quantity(problem, model: PINN, quantity: Quantity, held_out: PointSet | None,
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


@dataclass
class _Solved:
    """A trained model's loss blocks, the quantity and the solved direction ``v``."""

    model: PINN
    params: list[torch.Tensor]
    blocks: list[_Block]
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
    m = _float64_copy(problem, model, dtype)
    params = [p for p in m.parameters() if p.requires_grad]
    weights = dict(condition_weights)
    name, q = _quantity(problem, m, quantity, held_out, weights)
    if q.dim() != 0 or not bool(torch.isfinite(q)):
        raise PinnddError(f"the quantity must be a finite scalar tensor; got shape {tuple(q.shape)}, value {q}")
    gq = _flat(torch.autograd.grad(q, params, allow_unused=True), params).detach()
    blocks = _blocks(problem, m, pointset, weights)
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
                vs = _unflat(vec, params)
                (jv,) = torch.autograd.grad([gi for gi, _ in live], u, grad_outputs=[vs[i] for _, i in live],
                                            retain_graph=True)
                out = torch.autograd.grad(big_r, params, grad_outputs=2 * scale * jv, retain_graph=True,
                                          allow_unused=True)
                return _flat(out, params)
        else:
            grad_l = torch.autograd.grad((scale * big_r.square()).sum(), params, create_graph=True, allow_unused=True)
            live_l = [(gi, i) for i, gi in enumerate(grad_l) if gi is not None and gi.requires_grad]

            def matvec(vec: torch.Tensor) -> torch.Tensor:
                vs = _unflat(vec, params)
                out = torch.autograd.grad([gi for gi, _ in live_l], params, grad_outputs=[vs[i] for _, i in live_l],
                                          retain_graph=True, allow_unused=True)
                return _flat(out, params)

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
