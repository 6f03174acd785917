"""Linear algebra of influence: flattening parameter lists, Jacobian-vector products, conjugate gradients."""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

log = logging.getLogger(__name__)


def flatten(tensors, params) -> torch.Tensor:
    return torch.cat([(t if t is not None else torch.zeros_like(p)).reshape(-1) for t, p in zip(tensors, params)])


def unflatten(vec: torch.Tensor, params) -> list[torch.Tensor]:
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
    pairs = [(gi, vi) for gi, vi in zip(g, unflatten(v, params)) if gi is not None]
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


