"""Labelled sets: points, weights and solution targets from a teacher (family ``"labelled"``).

For PINN collocation points the implicit label is "residual = 0". A labelled set adds solution
values ``y_i = u_T(x_i)`` from a teacher ``u_T`` (a PINN trained on a dense set, see
:mod:`pinndd.methods.labelled.teacher`), and the student minimises

    L = L_pde + sum_c lambda_c L_c + lambda_data * (1/n) sum_i w_i (u(x_i) - y_i)^2.

This is dataset distillation's learned-label idea (KIP, soft labels) carried to PINNs.

- ``teacher_labels``: teacher labels on the points of any registered fixed-budget method
  (``base``, default Sobol).
- ``teacher_density``: placement from the teacher itself, no prior knowledge of where the
  features are: a fraction ``coverage`` of the budget is space-filling (Sobol), the rest is
  drawn without replacement from a Sobol candidate pool with probability

      p(x) ∝ (g(x) / mean g)^k,  g(x) = |grad u_T(x)|  (coordinates scaled to the unit box),

  which puts points where the solution is steep (shocks, layers) while coverage keeps the
  smooth regions anchored. All points are labelled by the teacher.

The teacher's cost (``teacher_seconds``) is part of the set's reported cost. Labels are valid
only at the parameters they were made for (``labels_params`` in the metadata).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ... import protocols
from ...errors import PinnddError
from ...labels import DEFAULT_LABEL_WEIGHT
from ...pointset import PointSet
from ..base import Capabilities, PointSetMethod, condition_points, get, interior_points, register
from ..sampling.qmc import sample_unit
from .teacher import label, train_teacher


@dataclass(frozen=True)
class TeacherSettings:
    """The teacher settings shared by every method that labels points (the labelled methods
    here and the label distillers), in one place.

    Parameters
    ----------
    target_weight:
        ``lambda_data``, the data-term weight of the output set.
    teacher_dense, teacher_seed, teacher_protocol:
        The teacher: :func:`pinndd.methods.labelled.teacher.train_teacher` on ``teacher_dense`` Sobol points
        with the training settings of protocol ``teacher_protocol``, point and network seed
        ``teacher_seed``; ``None`` (the default) uses the set's own seed, so sets of different
        seeds are independent pipelines whose spread includes teacher failures. Give a number to
        share one teacher across seeds.
    teacher_scale:
        The teacher trains ``teacher_scale`` times the protocol's Adam and L-BFGS steps
        (students keep the protocol's). A labelled student is held to its teacher's error; under
        the quick protocol a 3x longer teacher (seed 0) has 0.33x (Burgers), 0.41x (heat) and
        0.53x (Poisson) the error of a protocol-length one, but 1.8x on advection
        (experiments/RESULTS.md). Its cost is counted in ``teacher_seconds``.
    teacher_candidates:
        Train that many teachers (seeds ``teacher_seed + i``) and keep the one with the lowest
        physics loss on held-out points (no reference used; :func:`pinndd.methods.labelled.teacher.train_teacher`):
        one dense PINN run in a few fails, and a labelled set inherits its teacher's failure.
        On Burgers (5 amplitudes, 3x teachers) 3 of 15 runs failed; the best of three came within
        6% of the oracle choice, the best of two kept a failed run once (experiments/RESULTS.md
        §7e). Set ``$PINNDD_TEACHER_CACHE`` to keep the runs on disk for later processes.
    """

    target_weight: float = DEFAULT_LABEL_WEIGHT
    teacher_dense: int = 4096
    teacher_seed: int | None = None
    teacher_protocol: str = "quick"
    teacher_scale: float = 1.0
    teacher_candidates: int = 1

    def check_teacher_settings(self) -> None:
        if not self.target_weight > 0:
            raise PinnddError(f"target_weight must be positive; got {self.target_weight}")
        if self.teacher_dense < 1:
            raise PinnddError("teacher_dense must be a positive number of interior points")
        if not self.teacher_scale > 0:
            raise PinnddError(f"teacher_scale must be positive; got {self.teacher_scale}")
        if self.teacher_seed is not None and not (isinstance(self.teacher_seed, int) and self.teacher_seed >= 0):
            raise PinnddError(f"teacher_seed must be None (the set's seed) or an integer >= 0; got {self.teacher_seed!r}")
        if self.teacher_candidates < 1:
            raise PinnddError(f"teacher_candidates must be >= 1; got {self.teacher_candidates}")

    def teacher_settings(self) -> dict:
        """These settings as keyword arguments (to give a labelled start method the same teacher)."""
        return {"target_weight": self.target_weight, "teacher_dense": self.teacher_dense,
                "teacher_seed": self.teacher_seed, "teacher_protocol": self.teacher_protocol,
                "teacher_scale": self.teacher_scale, "teacher_candidates": self.teacher_candidates}

    def teacher_config(self):
        """The teacher's training settings: the protocol's, steps scaled by ``teacher_scale``."""
        cfg = protocols.get(self.teacher_protocol).train
        if self.teacher_scale == 1.0:
            return cfg
        return replace(cfg, adam_steps=max(1, round(cfg.adam_steps * self.teacher_scale)),
                       lbfgs_steps=round(cfg.lbfgs_steps * self.teacher_scale))

    def teacher(self, problem, seed: int = 0):
        """The teacher for ``problem`` of the set of seed ``seed`` (``teacher_seed`` when given)."""
        s = int(seed) if self.teacher_seed is None else int(self.teacher_seed)
        return train_teacher(problem, self.teacher_dense, replace(self.teacher_config(), seed=s), s,
                             candidates=self.teacher_candidates)

    def dense_training_seconds(self, teacher) -> float:
        """One protocol-length dense training's cost, estimated from the teacher's (``teacher_candidates``
        trainings of ``teacher_scale`` times the steps)."""
        return teacher.cost_seconds / (self.teacher_scale * self.teacher_candidates)


@dataclass(frozen=True)
class TeacherMethod(TeacherSettings, PointSetMethod):
    """Base of the methods that label their points with a dense teacher (:class:`TeacherSettings`)."""

    family = "labelled"
    capabilities = Capabilities(needs_teacher=True, labelled=True)

    def __post_init__(self) -> None:
        self.check_teacher_settings()

    def _finish(self, problem, interior, counts, seed, teacher, extra):
        ps = PointSet(interior, None, condition_points(problem, counts, seed))
        out = label(ps, teacher, self.target_weight)
        return out, {**extra, "labels": out.metadata["labels"], "labels_params": out.metadata["labels_params"],
                     "teacher_seconds": teacher.cost_seconds}


@register
@dataclass(frozen=True)
class TeacherLabels(TeacherMethod):
    """Teacher labels on the interior points of the registered method ``base``."""

    name = "teacher_labels"
    base: str = "sobol"

    def _make(self, problem, counts, seed):
        if get(self.base).capabilities.labelled:
            raise PinnddError("teacher_labels needs an unlabelled base method")
        base = get(self.base).make(problem, counts["interior"], seed)
        teacher = self.teacher(problem, seed)
        return self._finish(problem, base.interior, counts, seed, teacher, {"base_method": self.base})


@register
@dataclass(frozen=True)
class TeacherDensity(TeacherMethod):
    """Coverage plus points drawn where the teacher's gradient is large; all labelled."""

    name = "teacher_density"
    coverage: float = 0.5
    k: float = 1.0
    pool_factor: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.coverage <= 1.0:
            raise PinnddError(f"coverage must lie in [0, 1]; got {self.coverage}")
        if self.k < 0 or self.pool_factor < 2:
            raise PinnddError("need k >= 0 and pool_factor >= 2")

    def _make(self, problem, counts, seed):
        n = counts["interior"]
        n_cov = int(round(self.coverage * n))
        teacher = self.teacher(problem, seed)
        cover = interior_points(problem, "sobol", n_cov, seed) if n_cov else np.zeros((0, problem.domain.dim))
        rest = n - n_cov
        chosen = np.zeros((0, problem.domain.dim))
        if rest:
            pool = problem.domain.from_unit(sample_unit("sobol", self.pool_factor * n, problem.domain.dim, seed + 7919))
            g = teacher.gradient_norm(pool, problem.domain)
            p = (g / g.mean()) ** self.k + 1e-12
            idx = np.random.default_rng(seed).choice(len(pool), size=rest, replace=False, p=p / p.sum())
            chosen = pool[idx]
        return self._finish(problem, np.vstack([cover, chosen]), counts, seed, teacher, {"n_coverage": n_cov})
