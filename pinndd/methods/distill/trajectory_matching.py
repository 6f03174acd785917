"""Matching training trajectories (MTT; Cazenavette et al., "Dataset Distillation by Matching
Training Trajectories", 2022) for PINNs.

The canonical long-range DD objective: a student that starts on an expert's trajectory and
trains a few steps on the synthetic set should land where the expert (trained on the dense
set) landed many steps later. With expert records ``theta*_t`` every ``expert_every`` Adam steps
(:mod:`pinndd.engine.experts`), one outer step

1. picks an expert and a start record ``t`` uniformly (with ``t + M`` recorded, ``M =
   expert_epochs`` records ahead);
2. unrolls ``N = syn_steps`` differentiable steps on the synthetic loss from ``theta_0 =
   theta*_t``:

   - ``student_optimizer="sgd"``: ``theta_{i+1} = theta_i - lr * grad L(theta_i; X_syn)``;
   - ``"adam"`` (replay): Adam from the expert's stored moments ``m_t, v_t`` and step count,
     ``theta_{i+1} = theta_i - lr * m_hat / (sqrt(v_hat) + eps)``;

   with a learnable step size ``lr = exp(log_lr)`` (positive by construction);
3. returns the normalised distance

       ||theta_N - theta*_{t+M}||^2 / ||theta*_t - theta*_{t+M}||^2.

The inner gradients are taken with ``create_graph=True``; the derivative engine differentiates
w.r.t. a *clone* of the points (or propagates derivatives forward), so the PDE partials stay
partial derivatives while the parameters already depend on the points (the total-vs-partial
trap, :mod:`pinndd.methods.distill.outcome`). Memory grows linearly with ``N``: keep segments short.

Known to lose (experiments/RESULTS.md §3): on Burgers, MTT with SGD, fresh-Adam and moment-replaying Adam
students all made 256-point sets worse than the Sobol start; the Adam expert's displacement is
nearly orthogonal to the dense gradient late in training, and a single SGD step size would have
to vary by 100x along the trajectory. It is here as the canonical baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ...engine import adam
from ...engine.experts import unflatten
from ...errors import PinnddError
from ..base import register
from .context import DistillContext, randint
from .loop import Distiller
from .synthetic import SyntheticSet


@register
@dataclass(frozen=True)
class TrajectoryMatching(Distiller):
    """MTT on expert PINN trajectories (see the module docstring).

    Parameters
    ----------
    syn_steps:
        ``N``, unrolled student steps per outer step.
    expert_epochs:
        ``M``, records ahead of the start the student must reach (``M * expert_every`` expert steps).
    max_start_record:
        Latest start record (``None``: any record with ``t + M`` recorded).
    student_optimizer:
        ``"sgd"`` or ``"adam"`` (replay from the expert's moments).
    student_lr:
        Initial step size. ``None`` picks, for Adam, ``expert_lr * M * expert_every / N`` (the
        expert's per-step displacement, spread over the student's steps); for SGD,
        ``|theta*_M - theta*_0| / (N |grad L(theta*_0; X_dense)|)`` on expert 0, so that ``N``
        gradient steps cover the expert's first segment (a fixed ``1e-2`` diverged on
        Klein-Gordon, whose initial loss is ~1e4).
    learn_lr, lr_lr:
        Whether ``log_lr`` is learned, and its outer learning rate.
    """

    name = "trajectory_matching"
    syn_steps: int = 10
    expert_epochs: int = 2
    max_start_record: int | None = None
    student_optimizer: str = "sgd"
    student_lr: float | None = None
    learn_lr: bool = True
    lr_lr: float = 1e-2

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.syn_steps < 1 or self.expert_epochs < 1:
            raise PinnddError(f"need syn_steps >= 1 and expert_epochs >= 1; got {self.syn_steps}, {self.expert_epochs}")
        if self.n_experts < 1:
            raise PinnddError("trajectory matching needs n_experts >= 1")
        if self.expert_epochs > self.expert_steps // self.expert_every:
            raise PinnddError(f"expert_epochs ({self.expert_epochs}) exceeds the records after the start "
                              f"({self.expert_steps // self.expert_every}); lower it or record more often")
        if self.student_optimizer not in ("sgd", "adam"):
            raise PinnddError(f"student_optimizer must be 'sgd' or 'adam'; got {self.student_optimizer!r}")
        if self.student_lr is not None and not self.student_lr > 0:
            raise PinnddError(f"student_lr must be positive; got {self.student_lr}")

    def initial_lr(self, ctx: DistillContext) -> float:
        """The student's initial step size (``student_lr``, or the default described in the class
        docstring)."""
        if self.student_lr is not None:
            return self.student_lr
        if self.student_optimizer == "adam":
            return self.expert_lr * self.expert_epochs * self.expert_every / self.syn_steps
        start, end = ctx.flat("params", 0, 0), ctx.flat("params", 0, self.expert_epochs)
        params = {k: v.requires_grad_(True) for k, v in unflatten(start.clone(), ctx.layout).items()}
        grads = torch.autograd.grad(ctx.loss(params, ctx.dense), list(params.values()))
        gnorm = float(torch.sqrt(sum(g.square().sum() for g in grads)))
        step = float((end - start).norm())
        if not (math.isfinite(gnorm) and gnorm > 0 and step > 0):
            return 1e-2
        return step / (self.syn_steps * gnorm)

    def setup(self, ctx: DistillContext) -> None:
        lr0 = self.initial_lr(ctx)
        ctx.constants["initial_lr"] = lr0
        if self.learn_lr:
            log_lr = torch.tensor(math.log(lr0), dtype=ctx.dtype, device=ctx.device)
            ctx.learnable["log_lr"] = log_lr.requires_grad_(True)
            ctx.lr["log_lr"] = self.lr_lr

    def _lr(self, ctx: DistillContext) -> torch.Tensor | float:
        """``exp(log_lr)`` when learned, else the fixed initial step size."""
        return ctx.learnable["log_lr"].exp() if self.learn_lr else ctx.constants["initial_lr"]

    def objective(self, ctx: DistillContext, step: int, synthetic: SyntheticSet, rng: torch.Generator) -> torch.Tensor:
        ex = ctx.experts
        last = ex.n_records - 1 - self.expert_epochs
        if self.max_start_record is not None:
            last = min(last, self.max_start_record)
        e = randint(rng, ex.n_experts)
        t = randint(rng, last + 1)
        start = ctx.flat("params", e, t)
        target = ctx.flat("params", e, t + self.expert_epochs)
        tp = synthetic.tensor_points()
        lr = self._lr(ctx)
        theta = start.clone().requires_grad_(True)
        if self.student_optimizer == "adam":
            meta = ex.metadata
            b1, b2 = meta["betas"]
            eps = meta["eps"]
            m, v = ctx.flat("exp_avg", e, t), ctx.flat("exp_avg_sq", e, t)
            count = int(ex.steps[t])
        for _ in range(self.syn_steps):
            loss = ctx.loss(unflatten(theta, ctx.layout), tp)
            (g,) = torch.autograd.grad(loss, theta, create_graph=True)
            if self.student_optimizer == "sgd":
                theta = theta - lr * g
            else:
                count += 1
                theta, m, v = adam.step(theta, g, m, v, count, lr, (b1, b2), eps, tiny=1e-30)
        return (theta - target).square().sum() / (start - target).square().sum()

    def extra_metadata(self, ctx: DistillContext) -> dict[str, Any]:
        return {"student_lr": float(torch.as_tensor(self._lr(ctx)).detach()),
                "initial_student_lr": ctx.constants["initial_lr"]}
