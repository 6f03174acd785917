r"""Outcome-targeted distillation of a *labelled* set (method ``"label_outcome"``).

The distillers of :mod:`pinndd.methods.distill.outcome` and :mod:`pinndd.methods.distill.task_aware` optimise
unlabelled points for what a fresh network trained on them achieves; on Burgers at 256 points
they do not beat Sobol, because "residual = 0" at 256 points does not pin the solution down
(experiments/RESULTS.md §3). Labels do: a teacher's values at well-placed points let
256 points reach about the dense error. This distiller optimises placement, weights and labels
*together* for the outcome, as the task names it (Kungurtsev et al.): a fresh student trained on
the set should reproduce the teacher (and satisfy the physics) on a dense set.

Set: interior points ``x_s`` (sigmoid map, inside the box by construction), optional weights
``w_s = n softmax(a)``, labels that follow the points ``y_s = u_T(x_s) + delta_s`` (teacher
evaluated differentiably at the current coordinates, learnable offsets ``delta_s`` from zero;
``follow_teacher=False`` gives free labels instead, see
:class:`~pinndd.methods.labelled.label_distill.LabelledDistiller`), and the condition points of the budget
rule (optionally moving along their faces).

Outer objective at outer step ``k`` (all randomness from a generator seeded by ``(seed, k)``):

1. draw ``S = students`` fresh initialisations ``theta_0^(s)`` and ``dense_batch`` dense interior
   points ``x_d``;
2. train each by a differentiable unroll of ``N = inner_steps`` Adam steps (lr ``inner_lr``) on
   the student's own loss on the set, the trainer's labelled loss

   .. math::

       L(\theta; X, w, y) = L_{pde} + \sum_c \lambda_c L_c
                           + \lambda_{data} \sum_i \tilde w_i (u_\theta(x_i) - y_i)^2,
       \qquad \tilde w = \mathrm{softmax}(a);

3. the outer objective is the students' mean *function-matching* error against the teacher on
   the dense points, plus optional dense physics loss and coverage terms:

   .. math::

       J_k = \frac{1}{S} \sum_s \Big[ \frac{\sum_d (u_{\theta_N^{(s)}}(x_d) - u_T(x_d))^2}
                                          {\sum_d u_T(x_d)^2}
             + \beta\, L_{phys}(\theta_N^{(s)}; D_k) \Big] + \rho\, E_{rep}(X),

   with ``beta = physics_weight`` (default 0) and the repulsion energy of
   :func:`pinndd.methods.distill.outcome.repulsion_energy` (``rho = repulsion``, default 0).

Gradients reach the coordinates through the student's loss (residuals and data term at
``x_s``) *and* through the labels (``u_T(x_s)``); the PDE partials are partial derivatives at
fixed parameters (the derivative engine differentiates w.r.t. a clone of the points).

What to expect (measured, experiments/RESULTS.md): the short unroll sees the early part of
training, where labels dominate; the gain over the starting set is what the table reports,
next to the starting method alone (``init``), so that the distillation step is not credited
with what the teacher's placement already did.

Cost: one dense training (the teacher) plus ``outer_steps`` outer steps; reported as
``teacher_seconds``, ``cost_seconds_outer`` and ``dense_training_seconds`` (the teacher's).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch

from ...errors import PinnddError
from ..base import register
from ..distill.context import DistillContext
from ..distill.outcome import UnrollSettings, dense_subset, physics_loss, unroll
from ..distill.synthetic import SyntheticSet
from .label_distill import LabelledDistiller

Params = dict[str, torch.Tensor]


@register
@dataclass(frozen=True)
class LabelOutcome(LabelledDistiller, UnrollSettings):
    """Labelled set (points, weights, teacher-following labels) distilled for the outcome of
    fresh students: their function-matching error against the teacher on a dense set after a
    short unroll (module docstring).

    Parameters (beside :class:`~pinndd.methods.labelled.label_distill.LabelledDistiller`'s and the
    unroll settings of :mod:`pinndd.methods.distill.outcome`)
    ----------
    physics_weight:
        ``beta``, weight of the students' dense physics loss in the objective (0: off).

    Defaults: start from ``teacher_density``, labels follow the teacher (``follow_teacher``)
    with fixed offsets (``learn_labels=False``), points move, weights and condition points do
    not; 2 fresh students, 20 Adam steps at ``5e-2``, 1024 dense points per outer step, 60
    outer steps.
    """

    name = "label_outcome"

    outer_steps: int = 60
    learn_labels: bool = False
    follow_teacher: bool = True
    physics_weight: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.physics_weight < 0:
            raise PinnddError(f"physics_weight must be >= 0; got {self.physics_weight}")

    def student_loss(self, ctx: DistillContext, params: Params, tp, labels: torch.Tensor) -> torch.Tensor:
        """The trainer's labelled loss of the student at ``params`` on the synthetic set."""
        u = torch.func.functional_call(ctx.model, params, (tp.interior,)).reshape(-1)
        data = (tp.interior_w * (u - labels).square()).sum()
        return physics_loss(ctx, ctx.problem, params, tp) + self.target_weight * data

    def objective(self, ctx: DistillContext, step: int, synthetic: SyntheticSet, rng: torch.Generator) -> torch.Tensor:
        tp = synthetic.tensor_points()
        labels = self.labels(ctx, tp.interior)
        n_dense = ctx.dense.interior.shape[0]
        if self.dense_batch is not None and self.dense_batch < n_dense:
            idx = torch.randperm(n_dense, generator=rng)[: self.dense_batch].to(ctx.device)
        else:
            idx = torch.arange(n_dense, device=ctx.device)
        x_d, target = ctx.dense.interior[idx], ctx.constants["u_dense"][idx]
        scale = target.square().sum() + 1e-30
        dense = dense_subset(ctx.dense, self.dense_batch, rng) if self.physics_weight else None
        total = 0.0
        for _ in range(self.students):
            theta = unroll(lambda p: self.student_loss(ctx, p, tp, labels), ctx.fresh(rng), self.inner_steps,
                           self.inner_lr, self.inner_optimizer)
            u_d = torch.func.functional_call(ctx.model, OrderedDict(theta), (x_d,)).reshape(-1)
            total = total + (u_d - target).square().sum() / scale
            if dense is not None:
                total = total + self.physics_weight * ctx.loss(theta, dense)
        return total / self.students + self.coverage(synthetic)


__all__ = ["LabelOutcome"]
