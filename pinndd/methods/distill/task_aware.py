r"""Task-aware distillation: a point set optimised for the boundary conditions it must serve,
shifted ones included.

A set distilled at the nominal parameters may learn where *that* solution is hard (a shock at
its nominal place) and fail when the conditions move. Task-aware distillation names the task as
a distribution ``S`` over the parameter ``mu`` of one declared shift family (mixing the
in-distribution range ``I`` and the out-of-distribution range ``O \ I``) and optimises the
*outcome* of training under it. With ``P_mu = problem.with_params(param=mu)`` (its residual and
condition targets ``g_c(x; mu)`` follow from the parameters),

.. math::

    \min_{X, w}\; \mathbb{E}_{\mu \sim S}\, \mathbb{E}_{\theta_0}
        \Big[ L^{(\mu)}_{\text{dense}}\big(\theta_N(X, w; \mu, \theta_0)\big)
              + \gamma\, E^{(\mu)}_{\text{ref}}\big(\theta_N(X, w; \mu, \theta_0)\big) \Big]
        + \rho\, R(X),

where

- ``theta_N(X, w; mu, theta_0)`` is a fresh student ``theta_0`` trained by the truncated
  differentiable unroll of :func:`pinndd.methods.distill.outcome.unroll` (``inner_steps`` steps of
  Adam or SGD) on the synthetic set under the shifted problem: the loss
  ``L^(mu)(theta; X, w) = L_pde^(mu) + sum_c lambda_c L_c^(mu)`` uses the shifted residual and
  the shifted condition targets at the synthetic condition points;
- ``L^(mu)_dense`` is the same loss on a random subset of the dense set (``dense_batch`` points,
  fresh each outer step);
- ``E^(mu)_ref(theta) = sum_i w_i (u_theta(x_i) - u*(x_i; mu))^2`` on the dense subset, the squared
  error to the shifted reference, included (``gamma = reference_weight``) only with
  ``use_reference=True`` on a problem that has a reference;
- ``R`` is the optional coverage term of :mod:`pinndd.methods.distill.outcome` (``rho = repulsion``).

Each outer step estimates the expectation by ``n_shifts`` draws of ``mu`` and ``students``
fresh initialisations per draw (all from the step's generator, so a resumed run is the
uninterrupted one). Of the ``n_shifts`` draws, ``floor(f n) + Bernoulli(frac(f n))`` are out
of distribution (``f = ood_fraction``), the rest in distribution. Where they come from
(``train_on``):

- ``"grid"`` (default): the family's declared train values
  (:meth:`pinndd.problem.ShiftFamily.train_values` with ``n_in``, ``n_out`` and the nominal
  value), uniformly among those out of distribution, resp. in distribution. The family's
  held-out values (:meth:`~pinndd.problem.ShiftFamily.held_out_values`, disjoint from them) stay
  for evaluation; the metadata records ``"made_on": {"param": ..., "values": [...]}``;
- ``"range"``: uniform over ``O \ I`` (both sides, by length), resp. over ``I``. Every value of
  ``O`` is then one the set may have been made on: the metadata records
  ``"made_on": {"param": ..., "values": [], "range": [c, d]}`` and
  :func:`pinndd.eval.ood.retrain_ood` refuses to score it anywhere in ``O`` unless told to.

Choosing the family
-------------------
``shift_family=None`` picks the first declared family that moves a condition's target
(:func:`pinndd.eval.ood.shifts_conditions`); when a problem declares none (e.g. advection, whose only
family is a PDE coefficient), it falls back to the first declared family (a PDE shift, recorded
as ``shift_kind="pde"``) and, without any family, to the nominal problem alone (``"none"``: the
objective is then ``outcome``'s). An *explicitly named* family that moves no condition raises
:class:`~pinndd.errors.PinnddError` unless ``allow_pde_shift=True``: the method is about boundary
conditions, and silently training on coefficient shifts would answer a different question.

The point set's metadata records the task under ``"task"``: the parameter, its nominal value,
in- and out-of-distribution ranges, the conditions the family moves, ``ood_fraction``,
``n_shifts``, ``train_on`` and whether the reference was used; and the values it was made on
under ``"made_on"``. Evaluate with :func:`pinndd.eval.ood.retrain_ood` (at held-out values).

The caveats of :mod:`pinndd.methods.distill.outcome` apply: the dense physics loss after a short unroll
is a proxy that, at small budgets, need not predict the reference error (experiments/RESULTS.md §3); the
reference term, where available, targets the error directly, at the cost of one reference
evaluation per draw (a numerical solve for shifts without a closed form).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...errors import PinnddError
from ...shifts import ShiftFamily, shifts_conditions
from ..base import Capabilities, register
from .context import DistillContext, uniform
from .outcome import UnrollSettings, dense_subset, physics_loss
from .synthetic import SyntheticSet

log = logging.getLogger(__name__)

SHIFT_KINDS = ("conditions", "pde", "none")
#: Where the shift draws come from: the family's train values, or its whole ranges.
TRAIN_ON = ("grid", "range")


@dataclass(frozen=True)
class TaskPlan:
    """The resolved task: the shift family (``None`` for ``shift_kind="none"``), its kind and
    the conditions it moves."""

    family: ShiftFamily | None
    shift_kind: str
    moved: tuple[str, ...]


def resolve_task(problem, family: str | None, allow_pde_shift: bool = False) -> TaskPlan:
    """The task of ``problem`` for the ``family`` setting (see the module docstring)."""
    if family is not None:
        fam = problem.shift(family)
        moved = shifts_conditions(problem, fam)
        if moved:
            return TaskPlan(fam, "conditions", moved)
        if allow_pde_shift:
            return TaskPlan(fam, "pde", ())
        movers = [s.param for s in problem.shifts if shifts_conditions(problem, s)]
        raise PinnddError(
            f"shift family {family!r} of {problem.name!r} moves no boundary/initial condition (it shifts only the "
            f"PDE); task-aware distillation serves condition shifts: name one of {movers}, pass shift_family=None to "
            "choose automatically, or allow_pde_shift=True to train under coefficient shifts anyway"
        )
    for fam in problem.shifts:
        moved = shifts_conditions(problem, fam)
        if moved:
            return TaskPlan(fam, "conditions", moved)
    if problem.shifts:
        log.warning("task_aware: %r declares no family that moves a condition; using the PDE shift %r",
                    problem.name, problem.shifts[0].param)
        return TaskPlan(problem.shifts[0], "pde", ())
    log.warning("task_aware: %r declares no shift family; distilling for the nominal problem only", problem.name)
    return TaskPlan(None, "none", ())


def _n_ood(n: int, ood_fraction: float, rng: torch.Generator) -> int:
    """``floor(f n) + Bernoulli(frac(f n))``, at most ``n``."""
    whole = math.floor(ood_fraction * n)
    return min(n, whole + (1 if uniform(rng) < ood_fraction * n - whole else 0))


def draw_shifts(family: ShiftFamily, n: int, ood_fraction: float, rng: torch.Generator) -> list[tuple[float, bool]]:
    """``n`` draws ``(value, in_distribution)``: ``floor(f n) + Bernoulli(frac(f n))`` uniform
    over the out-of-distribution part ``O \\ I`` of the family (by length over both sides; the
    open side away from ``I``), the rest uniform over ``I``; in-distribution draws first."""
    (a, b), (c, d) = family.in_range, family.out_range
    n_ood = _n_ood(n, ood_fraction, rng)
    out = [(a + (b - a) * uniform(rng), True) for _ in range(n - n_ood)]
    left, right = a - c, d - b
    for _ in range(n_ood):
        t = uniform(rng) * (left + right)
        value = c + t if t < left else b + (left + right - t)  # [c, a) or (b, d]
        out.append((float(value), False))
    return out


def draw_train_values(family: ShiftFamily, values: Sequence[float], n: int, ood_fraction: float,
                      rng: torch.Generator) -> list[tuple[float, bool]]:
    """``n`` draws ``(value, in_distribution)`` among ``values`` (a family's train values):
    ``floor(f n) + Bernoulli(frac(f n))`` uniformly among those out of distribution, the rest
    among those in distribution; in-distribution draws first."""
    inside = [float(v) for v in values if family.is_in_distribution(v)]
    outside = [float(v) for v in values if not family.is_in_distribution(v)]
    n_ood = _n_ood(n, ood_fraction, rng)
    if (n_ood and not outside) or (n - n_ood and not inside):
        raise PinnddError(f"shift family {family.param!r}: no {'out-of' if n_ood and not outside else 'in'}-distribution "
                          f"train values among {list(values)} to draw from")
    pick = lambda pool: pool[min(len(pool) - 1, int(uniform(rng) * len(pool)))]  # noqa: E731
    return [(pick(inside), True) for _ in range(n - n_ood)] + [(pick(outside), False) for _ in range(n_ood)]


@register
@dataclass(frozen=True)
class TaskAwareDistiller(UnrollSettings):
    """Fresh students trained under shifted conditions, scored on the shifted dense physics loss
    (and optionally the shifted reference error); see the module docstring.

    Parameters
    ----------
    shift_family:
        Parameter name of a declared shift family, or ``None`` (automatic; module docstring).
        (Named ``shift_family`` because ``family`` is every method's registry family.)
    n_shifts:
        Shift values drawn per outer step.
    ood_fraction:
        Expected fraction of out-of-distribution draws (0: in-distribution only).
    use_reference, reference_weight:
        Add ``reference_weight`` times the squared error to the shifted reference on the dense
        subset (needs a problem with a reference).
    allow_pde_shift:
        Accept an explicitly named family that moves no condition.
    train_on, n_in, n_out:
        ``"grid"``: draw among the family's ``train_values(n_in, n_out, nominal)``;
        ``"range"``: draw from the whole ranges (module docstring).
    students, inner_steps, inner_lr, inner_optimizer, dense_batch, repulsion, repulsion_width:
        As for ``outcome`` (``students`` counts students *per shift*; default 1).
    """

    name = "task_aware"
    capabilities = UnrollSettings.capabilities | Capabilities(shift_aware=True)
    students: int = 1
    shift_family: str | None = None
    n_shifts: int = 2
    ood_fraction: float = 0.5
    use_reference: bool = False
    reference_weight: float = 1.0
    allow_pde_shift: bool = False
    train_on: str = "grid"
    n_in: int = 3
    n_out: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_shifts < 1:
            raise PinnddError(f"n_shifts must be >= 1; got {self.n_shifts}")
        if self.train_on not in TRAIN_ON:
            raise PinnddError(f"train_on must be one of {TRAIN_ON}; got {self.train_on!r}")
        if self.n_in < 1 or self.n_out < 0:
            raise PinnddError(f"need n_in >= 1 and n_out >= 0; got {self.n_in}, {self.n_out}")
        if not 0.0 <= self.ood_fraction <= 1.0:
            raise PinnddError(f"ood_fraction must lie in [0, 1]; got {self.ood_fraction}")
        if not self.reference_weight >= 0:
            raise PinnddError(f"reference_weight must be >= 0; got {self.reference_weight}")

    def plan(self, problem) -> TaskPlan:
        """The task this distiller serves on ``problem`` (validated)."""
        plan = resolve_task(problem, self.shift_family, self.allow_pde_shift)
        fam = plan.family
        if fam is not None and self.ood_fraction > 0 and fam.out_range == fam.in_range:
            raise PinnddError(f"shift family {fam.param!r} has no out-of-distribution range (out_range == in_range); "
                              "set ood_fraction=0")
        if fam is not None and self.train_on == "grid" and self.ood_fraction > 0 and self.n_out == 0:
            raise PinnddError("n_out=0 leaves no out-of-distribution train values; set ood_fraction=0, n_out >= 1 "
                              "or train_on='range'")
        if self.use_reference and not problem.has_reference:
            raise PinnddError(f"use_reference=True, but problem {problem.name!r} has no reference solution")
        return plan

    def train_values(self, problem) -> tuple[float, ...]:
        """The family's train values this distiller draws among (``train_on="grid"``)."""
        fam = self.plan(problem).family
        return () if fam is None else fam.train_values(self.n_in, self.n_out, nominal=problem.params[fam.param])

    def made_on(self, problem) -> dict[str, Any] | None:
        """What a set for ``problem`` is made on (the metadata's ``"made_on"``; module docstring),
        ``None`` without a family."""
        fam = self.plan(problem).family
        if fam is None:
            return None
        if self.train_on == "range":
            return {"param": fam.param, "values": [], "range": [float(v) for v in fam.out_range]}
        return {"param": fam.param, "values": list(self.train_values(problem))}

    def setup(self, ctx: DistillContext) -> None:
        ctx.constants["plan"] = self.plan(ctx.problem)
        ctx.constants["train_values"] = self.train_values(ctx.problem)

    def draws(self, ctx: DistillContext, rng: torch.Generator) -> list[tuple[float, bool]]:
        """The ``(value, in_distribution)`` draws of one outer step (nominal only without a family)."""
        fam = ctx.constants["plan"].family
        if fam is None:
            return [(float("nan"), True)] * self.n_shifts
        if self.train_on == "range":
            return draw_shifts(fam, self.n_shifts, self.ood_fraction, rng)
        return draw_train_values(fam, ctx.constants["train_values"], self.n_shifts, self.ood_fraction, rng)

    def objective(self, ctx: DistillContext, step: int, synthetic: SyntheticSet, rng: torch.Generator) -> torch.Tensor:
        plan: TaskPlan = ctx.constants["plan"]
        tp = synthetic.tensor_points()
        dense = dense_subset(ctx.dense, self.dense_batch, rng)
        total = 0.0
        for value, _ in self.draws(ctx, rng):
            shifted = ctx.problem if plan.family is None else ctx.problem.with_params(**{plan.family.param: value})
            ref = self._reference(ctx, shifted, dense.interior) if self.use_reference else None
            for _ in range(self.students):
                theta = self.trained_student(ctx, shifted, tp, rng)
                term = physics_loss(ctx, shifted, theta, dense)
                if ref is not None:
                    u = torch.func.functional_call(ctx.model, theta, (dense.interior,))
                    term = term + self.reference_weight * (dense.interior_w * (u - ref).square()).sum()
                total = total + term
        return total / (self.n_shifts * self.students) + self.coverage(synthetic)

    @staticmethod
    def _reference(ctx: DistillContext, problem, points: torch.Tensor) -> torch.Tensor:
        values = problem.reference(points.detach().cpu().numpy().astype(np.float64))
        return torch.as_tensor(values, dtype=ctx.dtype, device=ctx.device)

    def extra_metadata(self, ctx: DistillContext) -> dict[str, Any]:
        plan: TaskPlan = ctx.constants["plan"]
        fam = plan.family
        task: dict[str, Any] = {"shift_kind": plan.shift_kind, "shifted_conditions": list(plan.moved),
                                "n_shifts": self.n_shifts, "ood_fraction": self.ood_fraction,
                                "use_reference": self.use_reference, "train_on": self.train_on}
        made: dict[str, Any] = {}
        if fam is not None:
            task.update(param=fam.param, nominal=float(ctx.problem.params[fam.param]),
                        in_range=list(fam.in_range), out_range=list(fam.out_range))
            made = {"made_on": self.made_on(ctx.problem)}
        return {**super().extra_metadata(ctx), "task": task, **made}


__all__ = ["SHIFT_KINDS", "TRAIN_ON", "TaskAwareDistiller", "TaskPlan", "draw_shifts", "draw_train_values",
           "resolve_task"]
