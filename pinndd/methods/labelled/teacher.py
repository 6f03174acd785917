"""Teachers: trained models whose predictions label a point set.

A *labelled* point set carries solution values ``y_i`` at its interior points; the trainer
adds ``lambda_data * (1/n) sum_i w_i (u(x_i) - y_i)^2`` to the loss. Labels come from a
:class:`Teacher`: a PINN trained on a dense set (:func:`train_teacher`, cached per problem,
parameters and settings within a process), any model a user passes (:func:`from_model`), or
the reference itself (:func:`reference_teacher`, an oracle for experiments). Dense runs can be
kept on disk for later processes (``$PINNDD_TEACHER_CACHE``, :func:`dense_run`).

Labels hold only for the parameters they were made under: :func:`label` records them in the
metadata (``labels_params``) and :func:`pinndd.train` refuses a labelled set for other
parameters until its labels are dropped (``PointSet.without_labels``) or remade.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ... import protocols
from ...cache import Cache, problem_fingerprint
from ...cost import charge
from ...engine.evaluation import evaluate, physics_loss, predict
from ...engine.training import TrainConfig, train
from ...errors import PinnddError
from ...labels import DEFAULT_LABEL_WEIGHT, REBUILDABLE, LabelRecord, TeacherRecord
from ...pointset import PointSet
from ..base import get as get_method
from . import teacher_cache


@dataclass
class Teacher:
    """A model ``u(x)`` for one problem at fixed parameters.

    Parameters
    ----------
    model:
        Maps a tensor of points ``(n, d)`` to ``u`` of shape ``(n,)``.
    problem_name, params:
        The problem and parameter values the model was made for.
    source:
        ``"dense-pinn"``, ``"model"`` or ``"reference"``.
    cost_seconds:
        Wall time spent making it (counted in a labelled method's cost).
    info:
        JSON-friendly details (training settings, its own reference error, ...).
    """

    model: Callable[[torch.Tensor], torch.Tensor]
    problem_name: str
    params: dict[str, float]
    source: str
    cost_seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    def predict(self, points: np.ndarray) -> np.ndarray:
        """``u`` at ``points`` as float64 numpy."""
        if isinstance(self.model, torch.nn.Module):
            return predict(self.model, np.asarray(points, dtype=np.float64))
        with torch.no_grad():
            return np.asarray(self.model(torch.as_tensor(points, dtype=torch.float64)), dtype=np.float64).reshape(-1)

    def gradient_norm(self, points: np.ndarray, box) -> np.ndarray:
        """``|grad u|`` at ``points`` with each coordinate scaled to the unit interval
        (``sqrt(sum_a (extent_a du/dx_a)^2)``), so no axis dominates by its units."""
        p = next(iter(self.model.parameters()), None) if isinstance(self.model, torch.nn.Module) else None
        dtype = p.dtype if p is not None else torch.float64
        device = p.device if p is not None else "cpu"
        out = []
        scale = torch.as_tensor(box.extent, dtype=dtype, device=device)
        for i in range(0, len(points), 16384):
            x = torch.as_tensor(points[i : i + 16384], dtype=dtype, device=device).requires_grad_(True)
            g = torch.autograd.grad(self.model(x).sum(), x)[0]
            out.append((g * scale).norm(dim=1).detach().double().cpu().numpy())
        return np.concatenate(out)

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "problem": self.problem_name, "params": dict(self.params),
                "cost_seconds": self.cost_seconds, **self.info}

    def record(self) -> TeacherRecord:
        """This teacher as a serialisable :class:`~pinndd.labels.TeacherRecord` (its settings, from
        which :func:`rebuild` retrains it, and what was measured on it)."""
        settings = {k: self.info[k] for k in _SETTINGS if k in self.info}
        if self.source == "dense-pinn":
            settings.setdefault("candidates", 1)
        diagnostics = {k: v for k, v in self.info.items() if k not in _SETTINGS}
        return TeacherRecord(self.source, self.problem_name, dict(self.params), float(self.cost_seconds),
                             settings, diagnostics)


#: The keys of a dense-PINN teacher's ``info`` that rebuild it (the rest are diagnostics).
_SETTINGS = ("dense", "method", "seed", "config", "candidates")


#: Teachers made in this process (:func:`pinndd.clear_caches` empties it).
TEACHERS = Cache("teachers", 64)


def dense_run(problem, dense: int, config, seed: int = 0, method: str = "sobol") -> tuple[torch.nn.Module, float]:
    """One PINN trained on ``dense`` interior points of ``method`` (point seed ``seed``, network
    seed ``config.seed``) and its cost in seconds. With ``$PINNDD_TEACHER_CACHE`` set, the run
    is kept in that folder (arrays and JSON, no pickle) and reused by any later process with the
    same problem, parameters, settings and training code (:mod:`pinndd.methods.labelled.teacher_cache`; processes
    sharing the folder train a key once); the cost reported is that of the original training."""
    def run() -> tuple[torch.nn.Module, float]:
        t0 = time.perf_counter()
        res = train(problem, get_method(method).make(problem, dense, seed=seed), config)
        return res.model, time.perf_counter() - t0

    return teacher_cache.load_or_train(problem, config, teacher_cache.run_key(problem, dense, config, seed, method), run)


def train_teacher(problem, dense: int = 4096, config=None, seed: int = 0, method: str = "sobol",
                  candidates: int = 1) -> Teacher:
    """Train a PINN on a dense set of ``dense`` interior points (method ``method``) and return
    it as a teacher. Cached within the process per problem (what it computes,
    :func:`pinndd.cache.problem_fingerprint`), size and settings, so a sweep pays for one
    teacher, and on disk across processes when ``$PINNDD_TEACHER_CACHE`` names a folder
    (:func:`dense_run`); ``cost_seconds`` is the cost of making it (point sets + training of
    every candidate) whether or not this call hit a cache.

    ``candidates > 1`` trains that many (candidate ``i``: point-set seed ``seed + i``, network
    seed ``config.seed + i``) and keeps the one with the lowest physics loss
    (:func:`pinndd.engine.evaluation.physics_loss`) on a held-out uniform set of ``dense`` points: no
    reference is used, so a failed run is caught where the error cannot be measured. Candidate
    0 is the single teacher of ``candidates=1``. ``info`` records every candidate's held-out
    loss (and reference error where there is one) and the chosen index.
    """
    config = config or protocols.get("quick").train
    if candidates < 1:
        raise PinnddError(f"candidates must be >= 1; got {candidates}")
    key = json.dumps([problem_fingerprint(problem), dense, config.to_dict(), seed, method, candidates], sort_keys=True)
    t0 = time.perf_counter()
    cached = TEACHERS.get(key)
    if cached is not None:
        charge("teacher", cached.cost_seconds, spent=time.perf_counter() - t0, key=key)
        return cached
    held_out = get_method("uniform").make(problem, dense, seed=seed + 1_000_003) if candidates > 1 else None
    models, losses, cost, run_wall = [], [], 0.0, 0.0
    for i in range(candidates):
        t1 = time.perf_counter()
        model, seconds = dense_run(problem, dense, replace(config, seed=config.seed + i), seed + i, method)
        run_wall += time.perf_counter() - t1
        models.append(model)
        cost += seconds  # the run's own training cost, also when it came from the disk cache
        losses.append(physics_loss(problem, model, held_out) if held_out is not None else float("nan"))
    best = int(np.nanargmin(losses)) if candidates > 1 else 0
    cost += time.perf_counter() - t0 - run_wall  # held-out set and the candidates' losses
    # what this call took (before the diagnostic below): a run read from the disk cache spends its
    # load, not its recorded training, so the rest of the set's wall time stays distillation
    spent = time.perf_counter() - t0
    info: dict[str, Any] = {"dense": dense, "method": method, "seed": seed, "config": config.to_dict()}
    if candidates > 1:
        info.update(candidates=candidates, chosen=best, candidate_heldout_loss=losses)
    if problem.has_reference:
        l2 = [evaluate(problem, m)["l2re"] for m in models]
        info["l2re"] = l2[best]
        if candidates > 1:
            info["candidate_l2re"] = l2
    teacher = Teacher(models[best], problem.name, dict(problem.params), "dense-pinn", cost, info)
    TEACHERS.put(key, teacher)
    charge("teacher", cost, spent=spent, key=key)  # its reference error (a diagnostic) stays out of the charge
    return teacher


def from_model(problem, model: Callable[[torch.Tensor], torch.Tensor], note: str = "") -> Teacher:
    """Any trained model as a teacher for ``problem`` at its current parameters."""
    return Teacher(model, problem.name, dict(problem.params), "model", 0.0, {"note": note} if note else {})


def reference_teacher(problem) -> Teacher:
    """The reference solution as a teacher (an oracle: for experiments, not for users)."""
    if not problem.has_reference:
        raise PinnddError(f"problem {problem.name!r} has no reference to label with")

    def model(x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(problem.reference(x.detach().cpu().numpy()))

    return Teacher(model, problem.name, dict(problem.params), "reference")


def labels_teacher(metadata: dict) -> dict[str, Any]:
    """The description (:meth:`Teacher.describe`) of the teacher behind a set's labels, from its
    metadata: ``labels`` itself for a labelled method, the nested ``labels["teacher"]`` for a
    label distiller (whose labels are learned from, or offsets on, that teacher's); ``{}`` for
    an unlabelled set."""
    info = metadata.get("labels") or {}
    return info["teacher"] if isinstance(info.get("teacher"), dict) else info


def label(pointset: PointSet, teacher: Teacher, target_weight: float = DEFAULT_LABEL_WEIGHT) -> PointSet:
    """``pointset`` with its interior points labelled by ``teacher`` (data-term weight
    ``target_weight``) and the labels' record (:class:`~pinndd.labels.LabelRecord`: the
    teacher's parameters and its :meth:`Teacher.record`); the metadata keeps a readable copy
    (``labels``, ``labels_params``) for reports."""
    targets = teacher.predict(pointset.interior)
    meta = {**pointset.metadata, "labels": teacher.describe(), "labels_params": dict(teacher.params)}
    record = LabelRecord(dict(teacher.params), "teacher", teacher.record())
    return PointSet(pointset.interior, pointset.interior_weights, pointset.conditions, targets, target_weight, meta,
                    record)


def rebuild(record: TeacherRecord, problem, params: Mapping[str, float] | None = None) -> Teacher:
    """The teacher ``record`` describes, for ``problem`` (the same problem) at ``params`` (default
    the record's own; give a shifted problem's to make a teacher *of the same kind* for it).
    Dense-PINN teachers are retrained with the recorded settings (bitwise the same on the CPU at
    the record's parameters; from pinndd's caches when they hold it)."""
    if problem.name != record.problem:
        raise PinnddError(f"this teacher was made for problem {record.problem!r}, not {problem.name!r}")
    shifted = problem.with_params(**(record.params if params is None else {k: float(v) for k, v in params.items()}))
    if record.source == "reference":
        return reference_teacher(shifted)
    if record.source != "dense-pinn":
        raise PinnddError(f"cannot rebuild a {record.source!r} teacher from its record (pinndd rebuilds "
                          f"{REBUILDABLE}); keep the model itself, or pass a teacher factory")
    s = record.settings
    try:
        return train_teacher(shifted, int(s["dense"]), TrainConfig(**s["config"]), int(s["seed"]), str(s["method"]),
                             int(s.get("candidates", 1)))
    except KeyError as e:
        raise PinnddError(f"this teacher record lacks the setting {e.args[0]!r} needed to rebuild it") from None
