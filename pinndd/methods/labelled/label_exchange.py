r"""Outcome-targeted distillation of a labelled set by exchange moves (method ``"label_exchange"``).

The task a labelled set serves is "a fresh PINN trained on it reproduces the dense-trained
solution". The gradient-based distillers estimate that outcome from a short differentiable unroll
of a fresh student, and on Burgers that estimate points the wrong way: ``label_outcome`` lowered
its 20-step objective 4x and made the fully trained student 6.5x worse (experiments/RESULTS.md).
This method measures the outcome with *real* students instead (the trainer, Adam then L-BFGS,
``student_fraction`` of the protocol's steps) and improves the set by discrete exchange moves,
which need no gradient through training.

Round ``r = 0 .. outer_steps - 1`` (every random choice from a generator seeded by ``(seed, r)``):

1. draw a student seed and two disjoint random subsets of the dense Sobol pool (``dense``
   points): candidates ``C_r`` and validation points ``V_r`` (``dense_batch`` each);
2. train a student on the current set ``S`` (points labelled by the teacher ``u_T``) and
   measure the outcome

   .. math::

       J(S) = \frac{\sum_{x \in V_r} (u_S(x) - u_T(x))^2}{\sum_{x \in V_r} u_T(x)^2},

   the relative squared error against the teacher on points the set never saw;
3. propose ``S'``: remove the ``m = round(exchange_fraction * n)`` interior points whose
   neighbourhood the student already fits best (smallest mean ``|u_S - u_T|`` over their
   ``neighbours`` nearest validation points, unit-box coordinates) and add ``m`` candidates drawn
   without replacement with probability proportional to ``|u_S - u_T|`` there;
4. train a student with the *same* seed on ``S'``; keep ``S'`` if ``J(S') < J(S)`` on ``V_r``.

``outer_log`` holds ``J(S)`` of every round, ``proposal_log`` ``J(S')`` and ``accepted`` whether
the proposal was kept. Condition
points (the budget rule's) and unit weights do not change; every interior point is labelled by
the teacher at its final position (``target_weight``), so labels stay valid as points move.

Checkpoint every ``checkpoint_every`` rounds (``np.savez``, no pickle, written atomically: the
interior points, the round, the logs) and resume from the latest intact one at or before
``outer_steps`` (a damaged one is skipped); a resumed run equals the uninterrupted one. Ctrl-C
raises :class:`pinndd.errors.Interrupted`, whose one-line message names the last checkpoint.

Cost: the teacher (one dense training of ``teacher_scale`` times the protocol's steps,
``teacher_seconds``) plus ``2 * outer_steps`` short student trainings (``cost_seconds_outer``);
``dense_training_seconds`` is one protocol-length dense training, estimated as
``teacher_seconds / teacher_scale``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from ... import protocols
from ...budget import FixedRule
from ...engine.evaluation import predict
from ...engine.training import show_progress, train
from ...errors import PinnddError
from ...pointset import PointSet
from ..base import Capabilities, condition_points, get, register
from ..distill.checkpoint import Checkpointed
from ..distill.context import step_seed
from ..sampling.qmc import sample_unit
from .teacher import label
from .teacher_sets import TeacherMethod

log = logging.getLogger(__name__)


@register
@dataclass(frozen=True)
class LabelExchange(Checkpointed, TeacherMethod):
    """Labelled set improved by accepted exchange moves judged by trained students (module docstring).

    Parameters (beside the teacher settings of the labelled methods; ``teacher_scale`` defaults
    to 3 here)
    ----------
    init:
        Registered placement the set starts from (same budget and seed); labels are dropped and
        made again by the teacher. Default ``sobol``: the exchanges, not a prior on where the
        features are, do the placement.
    outer_steps:
        Exchange rounds (each trains two students).
    exchange_fraction:
        Fraction of the interior points a proposal swaps.
    neighbours:
        Validation points averaged when scoring how well a point's neighbourhood is fitted.
    dense, dense_batch:
        Size of the Sobol pool, and of the candidate and validation subsets drawn per round.
    student_fraction:
        Students train ``student_fraction`` of the teacher protocol's Adam and L-BFGS steps.
    width, depth:
        Student network (``None``: the protocol's).
    device:
        Where students train (``"cpu"`` or ``"cuda"``).
    checkpoint_every, checkpoint_dir, progress:
        As for the gradient distillers.
    """

    name = "label_exchange"
    family = "label_distiller"
    capabilities = TeacherMethod.capabilities | Capabilities(learns_labels=True, checkpoints=True)

    init: str = "sobol"
    #: Students are held to the teacher's error; a 3x longer teacher took Burgers at 256 points
    #: from 0.0212 to 0.0122 L2RE, Poisson from 0.0046 to 0.0032, Klein-Gordon from 0.12 to
    #: 0.049 (5 seeds each; heat and advection unchanged) at about 3.6x one dense training in all
    #: (experiments/RESULTS.md §5b).
    teacher_scale: float = 3.0
    outer_steps: int = 6
    exchange_fraction: float = 0.125
    neighbours: int = 8
    dense: int = 4096
    dense_batch: int = 2048
    student_fraction: float = 0.25
    width: int | None = None
    depth: int | None = None
    device: str = "cpu"
    checkpoint_every: int = 0
    checkpoint_dir: str | None = None
    progress: bool | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.outer_steps < 0 or not 0.0 < self.exchange_fraction <= 0.5:
            raise PinnddError(f"need outer_steps >= 0 and 0 < exchange_fraction <= 0.5; got "
                              f"{self.outer_steps}, {self.exchange_fraction}")
        if self.neighbours < 1 or self.dense < 4 or self.dense_batch < 2 or not 0.0 < self.student_fraction <= 1.0:
            raise PinnddError("need neighbours >= 1, dense >= 4, dense_batch >= 2 and 0 < student_fraction <= 1")
        if self.checkpoint_every < 0:
            raise PinnddError("checkpoint_every must be >= 0")

    # -- pieces --------------------------------------------------------------------------------
    def student_config(self):
        cfg = protocols.get(self.teacher_protocol).train
        return replace(cfg, adam_steps=max(1, round(cfg.adam_steps * self.student_fraction)),
                       lbfgs_steps=round(cfg.lbfgs_steps * self.student_fraction), width=self.width or cfg.width,
                       depth=self.depth or cfg.depth, device=self.device, progress=False, eval_every=0)

    def _init_points(self, problem, counts, seed) -> np.ndarray:
        caps = get(self.init).capabilities
        if caps.learns_labels:
            raise PinnddError(f"init method {self.init!r} is itself a label distiller; pick a placement method")
        method = get(self.init, **self.teacher_settings()) if caps.needs_teacher else get(self.init)
        rule = FixedRule({k: v for k, v in counts.items() if k != "interior"})
        return method.make(problem, counts["interior"], seed, rule=rule).interior

    def outcome(self, problem, pointset: PointSet, teacher, student_seed: int, val: np.ndarray, u_val: np.ndarray):
        """``(J, |u_S - u_T| at val, model)`` of a student trained on ``pointset`` with ``student_seed``."""
        res = train(problem, pointset, replace(self.student_config(), seed=student_seed))
        err = np.abs(predict(res.model, val) - u_val)
        return float(np.sum(err**2) / (np.sum(u_val**2) + 1e-30)), err, res.model

    def propose(self, problem, interior: np.ndarray, err_val: np.ndarray, val: np.ndarray, cand: np.ndarray,
                err_cand: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The interior points after one exchange (module docstring, step 3)."""
        box = problem.domain
        n = len(interior)
        m = max(1, int(round(self.exchange_fraction * n)))
        k = min(self.neighbours, len(val))
        _, idx = cKDTree(box.to_unit(val)).query(box.to_unit(interior), k=k)
        local = err_val[np.asarray(idx).reshape(n, k)].mean(axis=1)
        keep = np.sort(np.argsort(local, kind="stable")[m:])
        p = err_cand + 1e-12
        add = rng.choice(len(cand), size=min(m, len(cand)), replace=False, p=p / p.sum())
        return np.vstack([interior[keep], cand[add]])

    # -- checkpoints ---------------------------------------------------------------------------
    def _resume(self, problem, key, dim: int):
        """The state of the latest intact checkpoint (a damaged one is skipped), or ``None``."""
        def read(path, data):
            r = int(data["step"])
            ok = {"outer_log": (r,), "proposal_log": (r,), "accepted": (r,)}
            interior = data.get("interior")
            ok["interior"] = (len(interior) if interior is not None and interior.ndim == 2 else -1, dim)
            for k, shape in ok.items():
                if k not in data or data[k].shape != shape or data[k].dtype.kind not in ("b" if k == "accepted" else "f"):
                    raise PinnddError(f"checkpoint {path}: {k!r} is missing or has the wrong type or shape")
            return (r, data["interior"], [float(v) for v in data["outer_log"]],
                    [float(v) for v in data["proposal_log"]], [bool(a) for a in data["accepted"]])

        return self._read_latest(problem, key, read)

    # -- tasks (one here; several in task_exchange) --------------------------------------------
    def tasks(self, problem) -> list:
        """The problems the set serves; round ``r`` trains its students on ``tasks[round_task]``."""
        return [problem]

    def round_task(self, n_tasks: int, seed: int, r: int) -> int:
        """Index of the task of round ``r`` (deterministic in ``(seed, r)``)."""
        return 0

    # -- the loop ------------------------------------------------------------------------------
    def _make(self, problem, counts, seed):
        teacher = self.teacher(problem, seed)
        conds = condition_points(problem, counts, seed)
        pool = problem.domain.from_unit(sample_unit("sobol", self.dense, problem.domain.dim, seed + 104_729))
        tasks = self.tasks(problem)
        served: dict[int, tuple] = {}  # task index -> (teacher, teacher at the pool), made when first needed

        def task(i):
            if i not in served:
                t = self.teacher(tasks[i], seed)
                served[i] = (t, t.predict(pool))
            return served[i]

        key = self.checkpoint_key(problem, counts, seed)
        state = self._resume(problem, key, problem.domain.dim)
        last_path = None
        if state is None:
            start, interior, outer_log, proposal_log, accepted = 0, self._init_points(problem, counts, seed), [], [], []
        else:
            start, interior, outer_log, proposal_log, accepted = state
            last_path = self._ckpt_path(problem, key, start)
            log.info("label_exchange: resumed at round %d", start)

        def labelled(points, by):
            return label(PointSet(points, None, conds), by, self.target_weight)

        t0 = time.perf_counter()
        bar = tqdm(total=self.outer_steps, initial=start, desc=f"{self.name} {problem.name}",
                   disable=not show_progress(self.progress), leave=False)
        r = start
        try:
            for r in range(start, self.outer_steps):
                rng = np.random.default_rng(step_seed(seed, r))
                student_seed = int(rng.integers(2**31 - 1))
                order = rng.permutation(len(pool))
                half = min(self.dense_batch, len(pool) // 2)
                cand, val = order[:half], order[half:2 * half]
                i = self.round_task(len(tasks), seed, r)
                task_problem, (by, u_pool) = tasks[i], task(i)
                j_cur, err_val, model = self.outcome(task_problem, labelled(interior, by), by, student_seed,
                                                     pool[val], u_pool[val])
                err_cand = np.abs(predict(model, pool[cand]) - u_pool[cand])
                proposal = self.propose(problem, interior, err_val, pool[val], pool[cand], err_cand, rng)
                j_new, _, _ = self.outcome(task_problem, labelled(proposal, by), by, student_seed, pool[val], u_pool[val])
                outer_log.append(j_cur)
                proposal_log.append(j_new)
                accepted.append(j_new < j_cur)
                if j_new < j_cur:
                    interior = proposal
                bar.update(1)
                bar.set_postfix(objective=f"{min(j_cur, j_new):.3e}")
                if self.checkpoint_dir and self.checkpoint_every and (r + 1) % self.checkpoint_every == 0:
                    last_path = self._ckpt_path(problem, key, r + 1)
                    self._write_npz(last_path, {
                        "step": np.array(r + 1), "interior": interior, "outer_log": np.asarray(outer_log, dtype=np.float64),
                        "proposal_log": np.asarray(proposal_log, dtype=np.float64), "accepted": np.asarray(accepted, dtype=bool)})
        except KeyboardInterrupt:
            bar.close()
            raise self._interrupted(r, last_path) from None
        bar.close()
        out = labelled(interior, teacher)
        teachers = {id(t): t for t in [teacher, *(t for t, _ in served.values())]}
        meta = {"init_method": self.init, "outer_log": outer_log, "proposal_log": proposal_log, "accepted": accepted,
                "resumed_from_step": start,
                "labels": out.metadata["labels"], "labels_params": out.metadata["labels_params"],
                "teacher_seconds": sum(t.cost_seconds for t in teachers.values()),
                "dense_training_seconds": self.dense_training_seconds(teacher),
                "cost_seconds_outer": time.perf_counter() - t0, "student_config": self.student_config().to_dict()}
        return out, meta


__all__ = ["LabelExchange"]
