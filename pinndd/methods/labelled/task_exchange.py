r"""Task-aware exchange distillation of a labelled set (method ``"task_exchange"``).

``label_exchange`` (:mod:`pinndd.methods.labelled.label_exchange`) judges every exchange by students
trained under the *nominal* conditions; ``task_exchange`` names the task as the boundary
conditions the set must serve, shifted ones included, in the sense of Kungurtsev et al. (the
distillation objective names the inference task). With the shift family ``F`` of parameter
``mu`` chosen as in :mod:`pinndd.methods.distill.task_aware` (``shift_family``; automatic: the first
declared family that moves a condition) and the finite task

.. math::

    M = F.\text{train\_values}(n_\text{in}, n_\text{out}, \text{nominal})
      = \{\mu_1, \dots, \mu_K\}

(the family's declared train values: ``n_in`` values spread over the in-distribution range,
ends included, ``n_out`` strictly inside each out-of-distribution side, and the nominal value;
:meth:`pinndd.problem.ShiftFamily.train_values`), the distiller minimises

.. math::

    \frac{1}{K} \sum_{k=1}^{K} J_{\mu_k}(S), \qquad
    J_\mu(S) = \frac{\sum_{x \in V} (u_{S,\mu}(x) - u_{T,\mu}(x))^2}{\sum_{x \in V} u_{T,\mu}(x)^2},

where ``u_{S,mu}`` is a student trained under the shifted problem ``P_mu`` on the set's points
labelled by ``u_{T,mu}``, a dense teacher for ``P_mu`` (the labelled methods' teacher settings,
one per value, trained when first needed and cached). Exchange round ``r`` serves one value:
the values are visited in a seeded random order, each once per ``K`` rounds (so
``outer_steps = 2K`` serves every value twice), and the round is ``label_exchange``'s with
``P_mu`` and ``u_{T,mu}`` in place of the nominal ones: a proposal is kept when it lowers
``J_mu`` for that round's student seed and validation points. A proposal is thus judged on one
value at a time, a stochastic estimate of the sum above.

The output is labelled by the nominal teacher (a set made at the nominal conditions, like every
other method). The metadata records the task (``"task"``: parameter, nominal, ranges, the values
``M`` and the value each round served) and the values it was made on (``"made_on"``:
``{"param": ..., "values": M}``), so :func:`pinndd.eval.ood.retrain_ood` scores it only at values
outside ``M`` (by default the family's held-out values,
:meth:`~pinndd.problem.ShiftFamily.held_out_values`, disjoint from ``M``). Its labels there come
from a named label source: ``labels="per_shift"`` rebuilds a dense teacher per value (a
diagnostic, each teacher charged in full to its value), ``ood.once(...)`` a family teacher.

Cost: ``K`` teachers (each ``teacher_scale`` times the protocol's steps; ``teacher_seconds`` is
their sum) plus ``2 * outer_steps`` short student trainings. Labels at the held-out values it
is scored on cost extra and are charged to those values by the evaluator's label source.

Measured (experiments/RESULTS.md §7d, §7e; Burgers, amplitude 0.5-1.5, 256 points), before
train and held-out values were separated, so scored on the very values it was made on and
relabelled by a 3x dense teacher per value (several dense trainings per value, not counted
there): with ``teacher_candidates=3`` the set is 0.17-0.49x the dense set's error at every
value; with one teacher per value a single failed teacher run (one in five, measured) made it 6.45x at that
value, and with two 1.06x once. Where every value must be served, use three candidates (three
times the teachers' cost); the default stays one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import PinnddError
from ..base import Capabilities, register
from ..distill.task_aware import resolve_task
from .label_exchange import LabelExchange


@register
@dataclass(frozen=True)
class TaskExchange(LabelExchange):
    """``label_exchange`` whose rounds serve the values of a shift family (module docstring).

    Parameters (beside ``label_exchange``'s)
    ----------
    shift_family, allow_pde_shift:
        The family, as for ``task_aware``.
    n_in, n_out:
        The served values, the family's ``train_values(n_in, n_out, nominal)``: ``n_in`` in
        distribution and ``n_out`` strictly inside each out-of-distribution side, plus the
        nominal value.
    """

    name = "task_exchange"
    capabilities = LabelExchange.capabilities | Capabilities(shift_aware=True)

    outer_steps: int = 10
    shift_family: str | None = None
    allow_pde_shift: bool = False
    n_in: int = 3
    n_out: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_in < 1 or self.n_out < 0:
            raise PinnddError(f"need n_in >= 1 and n_out >= 0; got {self.n_in}, {self.n_out}")

    def task_values(self, problem) -> tuple[str | None, list[tuple[float, bool]]]:
        """``(param, [(value, in_distribution), ...])``; ``(None, [])`` for a problem without a family."""
        plan = resolve_task(problem, self.shift_family, self.allow_pde_shift)
        if plan.family is None:
            return None, []
        fam = plan.family
        values = fam.train_values(self.n_in, self.n_out, nominal=problem.params[fam.param])
        return fam.param, [(v, fam.is_in_distribution(v)) for v in values]

    def made_on(self, problem) -> dict | None:
        """``{"param": ..., "values": [...]}``: the shift values a set for ``problem`` is made on
        (the metadata's ``"made_on"``), ``None`` for a problem without a family."""
        param, values = self.task_values(problem)
        return None if param is None else {"param": param, "values": [v for v, _ in values]}

    def tasks(self, problem) -> list:
        param, values = self.task_values(problem)
        return [problem] if param is None else [problem.with_params(**{param: v}) for v, _ in values]

    def round_task(self, n_tasks: int, seed: int, r: int) -> int:
        epoch, pos = divmod(r, n_tasks)
        order = np.random.default_rng([int(seed) & 0xFFFFFFFF, epoch, 0x7A5C]).permutation(n_tasks)
        return int(order[pos])

    def _make(self, problem, counts, seed):
        out, meta = super()._make(problem, counts, seed)
        param, values = self.task_values(problem)
        n = max(1, len(values))
        task = {"param": param, "values": [v for v, _ in values],
                "round_values": [values[self.round_task(n, seed, r)][0] for r in range(self.outer_steps)] if values else []}
        if param is not None:
            fam = problem.shift(param)
            task.update(nominal=float(problem.params[param]), in_range=list(fam.in_range), out_range=list(fam.out_range))
        made = self.made_on(problem)
        return out, {**meta, "task": task, **({"made_on": made} if made is not None else {})}


__all__ = ["TaskExchange"]
