"""Gradient matching (Zhao et al., "Dataset Condensation with Gradient Matching", 2021) for PINNs.

The canonical DD objective: a small set is good when a network's parameter gradient on it
points where the gradient on the full data points. Carried to PINNs, the "data" is the dense
collocation set and the loss is the physics loss ``L(theta; X) = L_pde + sum_c lambda_c L_c``.
At a network state ``theta`` the outer objective is the layer-wise cosine distance

    D(theta) = sum_l ( 1 - <g^s_l, g^d_l> / (|g^s_l| |g^d_l|) ),

summed over every parameter tensor ``l`` (weights AND biases: for tanh PINNs the biases matter,
unlike the reference code, which drops them), with

- ``g^s = grad_theta L(theta; X_syn)`` (differentiated through to the synthetic points and
  weights: a second-order meta-gradient),
- ``g^d = grad_theta L(theta; X_dense)`` at a fresh initialisation; at an expert checkpoint
  (``match="adam"``, the default) both sides are passed through the expert's *Adam update* from
  its stored moments ``m_t, v_t`` after ``t`` steps,

      a(g) = m_hat / (sqrt(v_hat) + eps),  m_hat = (b1 m_t + (1 - b1) g) / (1 - b1^(t+1)),
                                            v_hat = (b2 v_t + (1 - b2) g^2) / (1 - b2^(t+1)),

  so ``a(g^d)`` is the expert's actual next update direction and ``a(g^s)`` the one the synthetic
  gradient would produce in its place. ``match="gradient"`` compares raw gradients everywhere.

Each outer step averages ``D`` over ``states_per_step`` states: fresh initialisations with
probability ``fresh_fraction``, else a uniformly chosen expert checkpoint (records after at
least one step).

Known to lose (experiments/RESULTS.md §3): on Burgers the Adam expert's displacement is nearly orthogonal
to the dense gradient after ~1000 steps, and gradient-matched 256-point sets trained worse than
the Sobol set they started from. It is here as the canonical baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...engine import adam
from ...engine.experts import unflatten
from ...errors import PinnddError
from ..base import register
from .context import DistillContext, layerwise_cosine_distance
from .state_sampled import StateSampled
from .synthetic import SyntheticSet


def adam_direction(g: torch.Tensor, m: torch.Tensor, v: torch.Tensor, t: int, betas: tuple[float, float], eps: float,
                   tiny: float = 1e-30) -> torch.Tensor:
    """Adam's update direction ``m_hat / (sqrt(v_hat) + eps)`` for gradient ``g`` after moments
    ``m, v`` of ``t`` steps (``v_hat`` clamped below by ``tiny`` so the square root stays
    differentiable where a gradient entry is exactly zero)."""
    return adam.direction(*adam.moments(g, m, v, betas), t + 1, betas, eps, tiny)


@register
@dataclass(frozen=True)
class GradientMatching(StateSampled):
    """Layer-wise cosine gradient matching at fresh and expert states (module docstring).

    Parameters
    ----------
    match:
        ``"adam"`` (expert checkpoints compare Adam update directions) or ``"gradient"``.
    (and the state settings of :class:`~pinndd.methods.distill.state_sampled.StateSampled`)
    """

    name = "gradient_matching"
    first_record = 1
    states_per_step: int = 2
    match: str = "adam"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.match not in ("adam", "gradient"):
            raise PinnddError(f"match must be 'adam' or 'gradient'; got {self.match!r}")

    def objective(self, ctx: DistillContext, step: int, synthetic: SyntheticSet, rng: torch.Generator) -> torch.Tensor:
        tp = synthetic.tensor_points()
        total = 0.0
        for _ in range(self.states_per_step):
            state, record = self.draw_state(ctx, rng)
            params = {k: v.detach().requires_grad_(True) for k, v in state.items()}
            keys = list(params)
            g_d = torch.autograd.grad(ctx.loss(params, ctx.dense), list(params.values()))
            g_s = torch.autograd.grad(ctx.loss(params, tp), list(params.values()), create_graph=True)
            if record is not None and self.match == "adam":
                e, r = record
                g_d, g_s = self._adam(ctx, e, r, g_d), self._adam(ctx, e, r, g_s)
            total = total + layerwise_cosine_distance(dict(zip(keys, g_s, strict=True)), dict(zip(keys, g_d, strict=True)))
        return total / self.states_per_step

    @staticmethod
    def _adam(ctx: DistillContext, e: int, r: int, grads) -> list[torch.Tensor]:
        """``adam_direction`` of each parameter's gradient with expert ``e``'s moments at record ``r``."""
        meta = ctx.experts.metadata
        t = int(ctx.experts.steps[r])
        m = unflatten(ctx.flat("exp_avg", e, r), ctx.layout)
        v = unflatten(ctx.flat("exp_avg_sq", e, r), ctx.layout)
        betas = tuple(meta["betas"])
        return [adam_direction(g, m[k], v[k], t, betas, meta["eps"]) for g, k in zip(grads, m, strict=True)]
