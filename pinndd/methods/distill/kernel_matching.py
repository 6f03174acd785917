"""Kernel inducing points (KIP; Nguyen et al., "Dataset Meta-Learning from Kernel Ridge-Regression",
2021) on the PINN's empirical neural tangent kernel.

The canonical kernel DD objective: fit the synthetic set by kernel ridge regression and score
the fit on the full data. For a PINN the "labels" are zero residuals and the kernel is the
empirical NTK of the residual and condition *operators*. At a network state ``theta`` (a fresh
initialisation with probability ``fresh_fraction``, else an expert checkpoint), let

    r_s = [sqrt(w_i) r(x_i) ; sqrt(lambda_c w_cj) r_c(x_cj)]     (synthetic, weights summing to 1)
    r_d = the same on the dense set,           J_s = d r_s / d theta,   J_d = d r_d / d theta,

so ``|r|^2`` is the trainer's loss. Linearising the network at ``theta``, the damped
Gauss-Newton (kernel ridge) fit of the synthetic residuals moves the parameters by
``delta = -J_s^T (J_s J_s^T + lambda I)^{-1} r_s``, and the dense residual becomes

    r_d + J_d delta = r_d - J_d J_s^T (K_ss + lambda I)^{-1} r_s,     K_ss = J_s J_s^T.

The outer objective is its squared norm relative to ``|r_d|^2``, with ``lambda = ridge *
tr(K_ss) / n_s``. Computation:

- ``J_s`` (``n_s x P``) by :func:`torch.func.jacrev` (reverse mode, vectorised over the rows)
  when the forward derivative engine supports the student (the residual is then a pure
  function of the parameters); otherwise row by row with :func:`torch.autograd.grad`;
- ``J_d`` is never formed: with ``alpha = (K_ss + lambda I)^{-1} r_s`` and ``v = J_s^T alpha``,
  ``J_d v`` is one Jacobian-vector product, done by the double-VJP identity
  ``J_d v = d/du <J_d^T u, v>`` (two backward passes over the dense set), so the dense cost is
  that of a few training steps and the memory ``O(n_d)`` instead of ``O(n_d P)``.

Everything stays differentiable w.r.t. the synthetic points and weights (through ``r_s`` and
``J_s``), so the outer gradient is exact.

Untested as a winner: a Gauss-Newton feasibility check run before this package (exact Jacobian, damped,
warm student, dense physics loss) gave no gain on Burgers at 256 points; KIP on fresh and
expert states is the canonical kernel baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...engine import derivatives
from ...errors import PinnddError
from ..base import register
from .context import DistillContext
from .state_sampled import StateSampled
from .synthetic import SyntheticSet


def residual_jacobian(ctx: DistillContext, params: dict[str, torch.Tensor], tp) -> torch.Tensor:
    """``J = d r / d theta`` of the stacked residual vector on ``tp``, shape ``(n, P)``, keeping
    the graph to the points (see the module docstring for the two paths)."""
    names = tuple(ctx.problem.partials) + tuple(p for c in ctx.problem.conditions for p in c.partials)
    if ctx.engine != "autograd" and derivatives.forward_supported(ctx.model, names, ctx.problem.domain):
        jac = torch.func.jacrev(lambda p: ctx.residuals(p, tp))(params)
        return torch.cat([j.reshape(j.shape[0], -1) for j in jac.values()], dim=1)
    p = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    r = ctx.residuals(p, tp)
    rows = []
    for i in range(r.shape[0]):
        g = torch.autograd.grad(r[i], list(p.values()), create_graph=True, retain_graph=True)
        rows.append(torch.cat([x.reshape(-1) for x in g]))
    return torch.stack(rows)


@register
@dataclass(frozen=True)
class KernelMatching(StateSampled):
    """KIP on the empirical NTK of the PINN residual operators (see the module docstring).

    Parameters
    ----------
    ridge:
        ``lambda = ridge * tr(K_ss) / n_s``.
    (and the state settings of :class:`~pinndd.methods.distill.state_sampled.StateSampled`)
    """

    name = "kernel_matching"
    ridge: float = 1e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.ridge > 0:
            raise PinnddError(f"ridge must be positive; got {self.ridge}")

    def objective(self, ctx: DistillContext, step: int, synthetic: SyntheticSet, rng: torch.Generator) -> torch.Tensor:
        tp = synthetic.tensor_points()
        total = 0.0
        for _ in range(self.states_per_step):
            state, _ = self.draw_state(ctx, rng)
            total = total + self.kernel_residual(ctx, state, tp)
        return total / self.states_per_step

    def kernel_residual(self, ctx: DistillContext, state: dict[str, torch.Tensor], tp) -> torch.Tensor:
        """``|r_d - J_d J_s^T (K_ss + lambda I)^{-1} r_s|^2 / |r_d|^2`` at ``state``."""
        state = {k: v.detach() for k, v in state.items()}
        j_s = residual_jacobian(ctx, state, tp)
        r_s = ctx.residuals(state, tp)
        n_s = r_s.shape[0]
        k_ss = j_s @ j_s.T
        lam = self.ridge * torch.diagonal(k_ss).sum() / n_s
        eye = torch.eye(n_s, dtype=k_ss.dtype, device=k_ss.device)
        alpha = torch.linalg.solve(k_ss + lam * eye, r_s)
        v = j_s.T @ alpha  # (P,)
        # J_d v by the double-VJP identity: J_d^T u is linear in u, and d/du <J_d^T u, v> = J_d v
        params = {k: t.requires_grad_(True) for k, t in state.items()}
        r_d = ctx.residuals(params, ctx.dense)
        u = torch.zeros_like(r_d, requires_grad=True)
        jt_u = torch.autograd.grad(r_d, list(params.values()), u, create_graph=True)
        jt_u = torch.cat([g.reshape(-1) for g in jt_u])
        (jd_v,) = torch.autograd.grad(jt_u @ v, u, create_graph=True)
        r_d = r_d.detach()
        pred = r_d - jd_v
        return pred.square().sum() / r_d.square().sum()
