r"""Task-aware exchange distillation of a labelled set (method ``"task_exchange"``).

``label_exchange`` (:mod:`pinndd.methods.label_exchange`) judges every exchange by students
trained under the *nominal* conditions; ``task_exchange`` names the task as the boundary
conditions the set must serve, shifted ones included, in the sense of Kungurtsev et al. (the
distillation objective names the inference task). With the shift family ``F`` of parameter
``mu`` chosen as in :mod:`pinndd.methods.task_aware` (``shift_family``; automatic: the first
declared family that moves a condition) and the finite task

.. math::

    M = \text{shift\_values}(F, n_\text{in}, n_\text{out}, \text{nominal})
      = \{\mu_1, \dots, \mu_K\}

(``n_in`` values spread over the in-distribution range, ``n_out`` on each out-of-distribution
side, and the nominal value; :func:`pinndd.ood.shift_values`), the distiller minimises

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
other method); at a shifted value evaluate it with :func:`pinndd.ood.retrain_ood` and
``labels="relabel"``, which rebuilds the same teachers. The metadata records the task
(``"task"``: parameter, nominal, ranges, the values ``M`` and the value each round served).

Cost: ``K`` teachers (each ``teacher_scale`` times the protocol's steps; ``teacher_seconds`` is
their sum) plus ``2 * outer_steps`` short student trainings. The evaluator retraining at the
same values needs the same teachers, so in one process they are paid for once (across
processes with ``$PINNDD_TEACHER_CACHE``).

Measured (experiments/RESULTS.md §7d, §7e; Burgers, amplitude 0.5-1.5, 256 points): with
``teacher_candidates=3`` the set is 0.17-0.49x the dense set's error at every value; with one
teacher per value a single failed teacher run (one in five, measured) made it 6.45x at that
value, and with two 1.06x once. Where every value must be served, use three candidates (three
times the teachers' cost); the default stays one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PinnddError
from ..ood import shift_values
from .base import register
from .label_exchange import LabelExchange
from .task_aware import resolve_task


@register
@dataclass(frozen=True)
class TaskExchange(LabelExchange):
    """``label_exchange`` whose rounds serve the values of a shift family (module docstring).

    Parameters (beside ``label_exchange``'s)
    ----------
    shift_family, allow_pde_shift:
        The family, as for ``task_aware``.
    n_in, n_out:
        The served values: ``n_in`` in distribution and ``n_out`` on each out-of-distribution
        side, plus the nominal value.
    """

    name = "task_exchange"

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
        return fam.param, shift_values(fam, n_in=self.n_in, n_out=self.n_out, nominal=problem.params[fam.param])

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
        return out, {**meta, "task": task}


__all__ = ["TaskExchange"]
