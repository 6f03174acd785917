r"""Learned labels: KIP with learnable coordinates, weights *and* labels (method ``"kip_labels"``).

A labelled set (see :mod:`pinndd.methods.labelled.teacher_sets`) is points ``x_s``, weights ``w_s`` and
solution targets ``y_s``; a student trained on it minimises

    L = L_pde + sum_c lambda_c L_c + lambda_data * sum_i w_i (u(x_i) - y_i)^2,

with ``w_i`` the loss weights of :class:`~pinndd.engine.losses.TensorPoints` (the set's mean-one
weights divided by ``n``; a learnable set's are ``softmax(a)``).

``kip_labels`` learns ``x_s``, optionally ``w_s``, and ``y_s`` jointly so that a *fresh* student
trained on the set reproduces the teacher ``u_T`` on a dense set; this is KIP (Nguyen et al.,
2021: kernel inducing points with learned labels) on the student's empirical neural tangent kernel.

Setup (once per run):

- the teacher ``u_T``: a PINN trained on a dense set (:func:`pinndd.methods.labelled.teacher.train_teacher`,
  ``teacher_dense`` Sobol points, protocol ``teacher_protocol`` with ``teacher_scale`` times its
  steps, cached per process); its cost is
  reported as ``teacher_seconds``;
- the start: the registered method ``init`` (default ``teacher_density``, which places points
  where ``|grad u_T|`` is large) at the same budget and seed, labels ``y_s = u_T(x_s)``;
- the dense targets ``u_T(x_d)`` on the distiller's dense Sobol set (``dense`` points).

Outer objective at outer step ``k`` (all randomness from a generator seeded by ``(seed, k)``):
draw ``states_per_step`` fresh initialisations ``theta_0`` (Glorot normal) and a random subset
of ``dense_batch`` dense points ``x_d``. At ``theta_0`` stack the student's least-squares residual
rows and their Jacobian ``J = d e / d theta``:

    data rows     e_i = sqrt(lambda_data w_i) (u_0(x_i) - y_i),     J_i = sqrt(lambda_data w_i) du/dtheta(x_i)
    physics rows  e   = [sqrt(w_i) r(x_i) ; sqrt(lambda_c w_cj) r_c(x_cj)]   (only with ``physics=True``),

so ``|e|^2`` is the trainer's loss ``L``. The student linearised at ``theta_0`` and trained to
convergence by kernel ridge regression moves by ``delta = -J^T (K_ss + lambda I)^{-1} e`` with
``K_ss = J J^T`` (the eNTK of the value rows, and of the residual operators for the physics
rows), ``lambda = ridge * tr(K_ss) / n_rows``. Its values on the dense points are

    u_d = u_0(x_d) + J_d delta = u_0(x_d) - K_ds (K_ss + lambda I)^{-1} e,    J_d = du/dtheta(x_d),

which for the data rows alone is the familiar ``u_0(x_d) + K_ds (K_ss + lambda I)^{-1} (y_s - u_0(x_s))``
(with ``sqrt(w)`` scaling). The objective, averaged over the states, is

    O(x_s, w_s, y_s) = |u_d - u_T(x_d)|^2 / |u_T(x_d)|^2,

minimised by Adam on the raw coordinates (``outer_lr``, sigmoid map: the points stay in the box
by construction), the weight logits (``learn_weights``) and the labels (``label_lr``). ``J`` is
formed with :func:`torch.func.jacrev` through :func:`torch.func.functional_call` and keeps its
graph to ``x_s`` and ``w_s``, so the meta-gradient is exact; ``J_d`` does not depend on anything
learnable and is formed without a graph.

The result is a labelled :class:`~pinndd.pointset.PointSet`: ``targets`` are the learned labels,
``target_weight`` the setting (default 100), metadata ``labels = {"source": "learned",
"teacher": ...}`` and ``labels_params`` (the teacher's parameters, so :func:`pinndd.train`
refuses the set for shifted parameters), beside the distiller's ``outer_log`` and costs.

Capabilities (:class:`~pinndd.methods.base.Capabilities`): it needs a teacher, makes labelled
sets, learns its labels (so they are not the teacher's predictions) and checkpoints its outer
loop; its report family is ``"label_distiller"``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch

from ...budget import FixedRule
from ...cache import Cache, problem_fingerprint
from ...engine.nn import resolve_dtype
from ...errors import PinnddError
from ...labels import LabelRecord
from ...pointset import PointSet
from ..base import Capabilities, get, register
from ..distill.context import DistillContext
from ..distill.kernel_matching import residual_jacobian
from ..distill.loop import Distiller
from ..distill.synthetic import SyntheticSet
from .teacher_sets import TeacherSettings

#: Initial (labelled or not) point sets by settings, shared by :meth:`KipLabels.synthetic` and
#: :meth:`KipLabels.setup` within one run (small; cleared when it grows).
#: Starting sets made in this process (a teacher-labelled init is costly to remake).
INITS = Cache("label-distill starting sets", 8)


@dataclass(frozen=True)
class LabelledDistiller(TeacherSettings, Distiller):
    """Shared base of the distillers that output *labelled* sets (family ``"label_distiller"``):
    the teacher, the starting set, the labels and the labelled output.

    Labels come in two forms:

    - ``follow_teacher=False``: free labels ``y_s``, one learnable value per interior point,
      starting at the teacher's ``u_T(x_s)`` (``ctx.learnable["labels"]``). Moving a point leaves
      its label behind.
    - ``follow_teacher=True``: labels that follow the points,
      ``y_s = u_T(x_s) + delta_s`` with the teacher evaluated (differentiably) at the current
      coordinates and learnable offsets ``delta_s`` starting at zero
      (``ctx.learnable["label_offsets"]``), so a point that moves carries a valid label.

    Parameters (beside :class:`~pinndd.methods.distill.loop.Distiller`'s)
    ----------
    init:
        Registered method of the starting points (default ``teacher_density``; a ``"labelled"``
        init gets this method's teacher settings, so both share one cached teacher).
    learn_labels, label_lr:
        Whether the labels (or offsets) move, and their Adam learning rate (in units of ``u``).
    follow_teacher:
        See above.
    target_weight, teacher_dense, teacher_seed, teacher_protocol, teacher_scale, teacher_candidates:
        The teacher settings (:class:`~pinndd.methods.labelled.teacher_sets.TeacherSettings`); ``target_weight``
        is also the data-term weight of the student's loss.
    """

    family = "label_distiller"
    capabilities = Capabilities(needs_teacher=True, labelled=True, learns_labels=True, checkpoints=True)

    init: str = "teacher_density"
    n_experts: int = 0
    learn_conditions: bool = False
    learn_labels: bool = True
    label_lr: float = 0.005
    follow_teacher: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_teacher_settings()
        if not self.label_lr > 0:
            raise PinnddError(f"label_lr must be positive; got {self.label_lr}")

    # -- teacher and start ---------------------------------------------------------------------
    def uses_experts(self) -> bool:
        return False

    def _init_method(self):
        caps = get(self.init).capabilities
        if caps.learns_labels:
            raise PinnddError(f"init method {self.init!r} is itself a label distiller; pick a placement method")
        return get(self.init, **self.teacher_settings()) if caps.needs_teacher else get(self.init)

    def init_pointset(self, problem, counts: dict[str, int], seed: int) -> PointSet:
        """The starting set of method ``init`` (same budget, condition counts and seed), cached."""
        method = self._init_method()
        key = json.dumps([method.name, method.config(), problem_fingerprint(problem), counts, seed],
                         sort_keys=True, default=str)
        if key not in INITS:
            rule = FixedRule({k: v for k, v in counts.items() if k != "interior"})
            INITS.put(key, method.make(problem, counts["interior"], seed, rule=rule))
        return INITS.get(key)

    def synthetic(self, problem, counts: dict[str, int], seed: int) -> SyntheticSet:
        init = self.init_pointset(problem, counts, seed).without_labels()
        return SyntheticSet(problem, init, self.learn_points, self.learn_conditions, self.learn_weights,
                            resolve_dtype(self.dtype), self._device())

    def setup(self, ctx: DistillContext) -> None:
        """Teacher, dense targets ``u_T(x_d)`` and the learnable labels (or label offsets)."""
        teacher = self.teacher(ctx.problem, ctx.seed)
        n = ctx.counts["interior"]
        if self.follow_teacher:
            if not isinstance(teacher.model, torch.nn.Module):
                raise PinnddError("follow_teacher needs a torch-module teacher (evaluated with gradients at moving points)")
            model = teacher.model
            state = {k: v.detach().to(device=ctx.device, dtype=ctx.dtype)
                     for k, v in [*model.named_parameters(), *model.named_buffers()]}
            ctx.constants["teacher_fn"] = lambda x: torch.func.functional_call(model, state, (x,))
            offsets = torch.zeros(n, dtype=ctx.dtype, device=ctx.device)
            ctx.learnable["label_offsets"] = offsets.requires_grad_(self.learn_labels)
            ctx.lr["label_offsets"] = self.label_lr
        else:
            init = self.init_pointset(ctx.problem, ctx.counts, ctx.seed)
            y0 = torch.as_tensor(teacher.predict(init.interior), dtype=ctx.dtype, device=ctx.device).clone()
            ctx.learnable["labels"] = y0.requires_grad_(self.learn_labels)
            ctx.lr["labels"] = self.label_lr
        u_dense = teacher.predict(ctx.dense.interior.detach().cpu().double().numpy())
        ctx.constants["teacher"] = teacher
        ctx.constants["u_dense"] = torch.as_tensor(u_dense, dtype=ctx.dtype, device=ctx.device)

    def labels(self, ctx: DistillContext, interior: torch.Tensor) -> torch.Tensor:
        """The labels of the interior points ``interior`` (the synthetic set's current ones)."""
        if self.follow_teacher:
            return ctx.constants["teacher_fn"](interior).reshape(-1) + ctx.learnable["label_offsets"]
        return ctx.learnable["labels"]

    # -- output --------------------------------------------------------------------------------
    def extra_metadata(self, ctx: DistillContext) -> dict[str, Any]:
        teacher = ctx.constants["teacher"]
        return {
            "labels": {"source": "learned" if self.learn_labels else "dense-pinn", "teacher": teacher.describe(),
                       "follow_teacher": self.follow_teacher},
            "labels_params": dict(teacher.params),
            "teacher_seconds": teacher.cost_seconds,
            # the dense training this method needs is the teacher's, not an expert's
            "dense_training_seconds": self.dense_training_seconds(teacher),
        }

    def finish(self, run):
        ps, meta = super().finish(run)
        with torch.no_grad():
            targets = self.labels(run.context, run.synthetic.interior()).to("cpu", torch.float64).numpy()
        teacher = run.context.constants["teacher"]
        record = LabelRecord(dict(teacher.params), "learned" if self.learn_labels else "teacher", teacher.record())
        return PointSet(ps.interior, ps.interior_weights, ps.conditions, targets, self.target_weight, ps.metadata,
                        record), meta


@register
@dataclass(frozen=True)
class KipLabels(LabelledDistiller):
    """Joint learning of coordinates, weights and labels by eNTK kernel regression (module docstring).

    Parameters (beside :class:`LabelledDistiller`'s)
    ----------
    physics:
        Include the PDE and condition residual rows (their eNTK) in the kernel regression
        (default off: the data rows carry ``lambda_data = 100``, and the residual Jacobian with
        its graph to the points made an outer step ~5x dearer on Burgers at 256 points).
    states_per_step:
        Fresh initialisations averaged per outer step.
    dense_batch:
        Dense points (a fresh random subset of the ``dense`` set per outer step) the objective
        compares on; ``0`` uses all of them.
    ridge:
        ``lambda = ridge * tr(K_ss) / n_rows``.
    """

    name = "kip_labels"

    physics: bool = False
    states_per_step: int = 2
    dense_batch: int = 1024
    ridge: float = 1e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.states_per_step < 1 or self.dense_batch < 0:
            raise PinnddError(f"need states_per_step >= 1 and dense_batch >= 0; got {self.states_per_step}, {self.dense_batch}")
        if not self.ridge > 0:
            raise PinnddError(f"ridge must be positive; got {self.ridge}")

    # -- the objective -------------------------------------------------------------------------
    def _value(self, ctx: DistillContext, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(ctx.model, params, (x,))

    def _value_jacobian(self, ctx: DistillContext, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """``du/dtheta`` at ``x``, shape ``(n, P)`` (graph to ``x`` kept)."""
        jac = torch.func.jacrev(lambda p: self._value(ctx, p, x))(params)
        return torch.cat([j.reshape(j.shape[0], -1) for j in jac.values()], dim=1)

    def objective(self, ctx: DistillContext, step: int, synthetic: SyntheticSet, rng: torch.Generator) -> torch.Tensor:
        tp = synthetic.tensor_points()
        n_dense = ctx.dense.interior.shape[0]
        total = 0.0
        for _ in range(self.states_per_step):
            state = OrderedDict((k, v.detach()) for k, v in ctx.fresh(rng).items())
            if self.dense_batch and self.dense_batch < n_dense:
                idx = torch.randperm(n_dense, generator=rng)[: self.dense_batch].to(ctx.device)
            else:
                idx = torch.arange(n_dense, device=ctx.device)
            total = total + self.kernel_fit_error(ctx, state, tp, idx)
        return total / self.states_per_step

    def kernel_fit_error(self, ctx: DistillContext, state: dict[str, torch.Tensor], tp, idx: torch.Tensor) -> torch.Tensor:
        """``|u_0(x_d) - J_d J^T (K_ss + lambda I)^{-1} e - u_T(x_d)|^2 / |u_T(x_d)|^2`` at ``state``
        on the dense points ``idx`` (module docstring)."""
        labels = self.labels(ctx, tp.interior)
        scale = torch.sqrt(self.target_weight * tp.interior_w)
        e = [scale * (self._value(ctx, state, tp.interior) - labels)]
        jac = [scale[:, None] * self._value_jacobian(ctx, state, tp.interior)]
        if self.physics:
            e.append(ctx.residuals(state, tp))
            jac.append(residual_jacobian(ctx, state, tp))
        e_s, j_s = torch.cat(e), torch.cat(jac)
        n = e_s.shape[0]
        k_ss = j_s @ j_s.T
        lam = self.ridge * torch.diagonal(k_ss).sum() / n
        alpha = torch.linalg.solve(k_ss + lam * torch.eye(n, dtype=k_ss.dtype, device=k_ss.device), e_s)
        delta = -(j_s.T @ alpha)  # (P,)
        x_d = ctx.dense.interior[idx]
        with torch.no_grad():
            j_d = self._value_jacobian(ctx, state, x_d)
            u0_d = self._value(ctx, state, x_d)
        target = ctx.constants["u_dense"][idx]
        u_d = u0_d + j_d @ delta
        return (u_d - target).square().sum() / (target.square().sum() + 1e-30)
