"""Labels as typed parts of a point set: their values, their loss weight, the parameters they
were made for and the teacher that made them.

A labelled :class:`~pinndd.pointset.PointSet` stores the values (``targets``) and their
data-term weight (``target_weight``) as arrays, and a :class:`LabelRecord`: the parameters the
labels hold for, how they were made (``kind``) and a :class:`TeacherRecord`, a serialisable
description of the teacher from which it can be rebuilt (:meth:`TeacherRecord.rebuild`).
:attr:`PointSet.labels <pinndd.pointset.PointSet.labels>` returns all of it as one
:class:`Labels`.

The trainer refuses a labelled set for parameters other than its record's, and a labelled set
*without* a record (values given by hand) for any parameters but the problem's nominal ones: a
set whose labels' origin is unknown cannot pass for labels of a shifted problem by accident.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import PinnddError

#: The data-term weight ``lambda_data`` of every labelled set unless a method is told otherwise:
#: 100 beat 10 on Burgers at 256 points (teacher_density, 3 seeds: 0.022 vs 0.029 mean L2RE;
#: experiments/RESULTS.md §3).
DEFAULT_LABEL_WEIGHT = 100.0

#: How labels were made: by a teacher's predictions, learned by a distiller (from a teacher's),
#: or given by a user.
KINDS = ("teacher", "learned", "user")

#: Teacher sources pinndd can rebuild from a record.
REBUILDABLE = ("dense-pinn", "reference")


def _params(p: Mapping[str, Any], what: str) -> dict[str, float]:
    if not isinstance(p, Mapping):
        raise PinnddError(f"{what} must be a mapping of parameter names to numbers; got {type(p).__name__}")
    out = {}
    for k, v in p.items():
        try:
            out[str(k)] = float(v)
        except (TypeError, ValueError):
            raise PinnddError(f"{what}: parameter {k!r} must be a number; got {v!r}") from None
    return out


@dataclass(frozen=True)
class TeacherRecord:
    """What made a set's labels, enough to rebuild it.

    Parameters
    ----------
    source:
        ``"dense-pinn"`` (:func:`pinndd.teacher.train_teacher`), ``"reference"``, ``"model"``
        (a user's model) or ``"parametric"`` (a PINN over a shift family).
    problem, params:
        The problem and parameter values the teacher was made for.
    cost_seconds:
        What making it cost (every candidate of a best-of-k teacher).
    settings:
        For ``"dense-pinn"``: ``dense``, ``method``, ``seed``, ``config`` (a
        :class:`~pinndd.training.TrainConfig` as a dict) and ``candidates``.
    diagnostics:
        What was measured on it (its reference error ``l2re``, the chosen candidate, ...).
    """

    source: str
    problem: str
    params: dict[str, float]
    cost_seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _params(self.params, "teacher params"))
        if not (math.isfinite(self.cost_seconds) and self.cost_seconds >= 0):
            raise PinnddError(f"a teacher's cost must be finite and >= 0 seconds; got {self.cost_seconds}")

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "problem": self.problem, "params": dict(self.params),
                "cost_seconds": float(self.cost_seconds), "settings": dict(self.settings),
                "diagnostics": dict(self.diagnostics)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TeacherRecord:
        if not isinstance(d, Mapping) or not {"source", "problem", "params"} <= set(d):
            raise PinnddError(f"a teacher record needs 'source', 'problem' and 'params'; got {d!r}")
        return cls(str(d["source"]), str(d["problem"]), d["params"], float(d.get("cost_seconds", 0.0)),
                   dict(d.get("settings", {})), dict(d.get("diagnostics", {})))

    def rebuild(self, problem, params: Mapping[str, float] | None = None):
        """The teacher this record describes, for ``problem`` (the same problem) at ``params``
        (default the record's own; give a shifted problem's to make a teacher *of the same kind*
        for it). Dense-PINN teachers are retrained with the recorded settings (bitwise the same on
        the CPU at the record's parameters; from pinndd's caches when they hold it)."""
        from . import teacher as teachers
        from .training import TrainConfig

        if problem.name != self.problem:
            raise PinnddError(f"this teacher was made for problem {self.problem!r}, not {problem.name!r}")
        shifted = problem.with_params(**(self.params if params is None else _params(params, "params")))
        if self.source == "reference":
            return teachers.reference_teacher(shifted)
        if self.source != "dense-pinn":
            raise PinnddError(f"cannot rebuild a {self.source!r} teacher from its record (pinndd rebuilds "
                              f"{REBUILDABLE}); keep the model itself, or pass a teacher factory")
        s = self.settings
        try:
            return teachers.train_teacher(shifted, int(s["dense"]), TrainConfig(**s["config"]), int(s["seed"]),
                                          str(s["method"]), int(s.get("candidates", 1)))
        except KeyError as e:
            raise PinnddError(f"this teacher record lacks the setting {e.args[0]!r} needed to rebuild it") from None


@dataclass(frozen=True)
class LabelRecord:
    """Where a set's labels come from: the parameters they hold for, how they were made and the
    teacher (``None`` for labels a user gave)."""

    params: dict[str, float]
    kind: str = "teacher"
    teacher: TeacherRecord | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _params(self.params, "label params"))
        if self.kind not in KINDS:
            raise PinnddError(f"label kind must be one of {KINDS}; got {self.kind!r}")
        if self.kind != "user" and self.teacher is None:
            raise PinnddError(f"{self.kind!r} labels need the record of the teacher they came from")

    def to_dict(self) -> dict[str, Any]:
        return {"params": dict(self.params), "kind": self.kind,
                "teacher": None if self.teacher is None else self.teacher.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LabelRecord:
        if not isinstance(d, Mapping) or "params" not in d:
            raise PinnddError(f"a label record needs 'params'; got {d!r}")
        t = d.get("teacher")
        return cls(d["params"], str(d.get("kind", "teacher")), None if t is None else TeacherRecord.from_dict(t))


@dataclass(frozen=True, eq=False)
class Labels:
    """A set's labels in one object: values at the interior points, their data-term weight, and
    their record (``None`` when the set carries values without one)."""

    values: np.ndarray
    weight: float
    record: LabelRecord | None

    @property
    def params(self) -> dict[str, float] | None:
        return None if self.record is None else dict(self.record.params)

    @property
    def teacher(self) -> TeacherRecord | None:
        return None if self.record is None else self.record.teacher


def check_for(problem, record: LabelRecord | None) -> None:
    """Refuse labels for ``problem`` unless they were made for its parameters; labels without a
    record only at the problem's nominal parameters (module docstring)."""
    now = {k: float(v) for k, v in problem.params.items()}
    if record is None:
        if not problem.is_nominal:
            raise PinnddError(
                f"this labelled point set has no label record (the parameters its labels were made for are unknown) "
                f"and the problem's parameters {now} are shifted from its nominal ones; drop the labels "
                "(pointset.without_labels()) or label it for these parameters (pinndd.teacher.label)")
        return
    if record.params != now:
        raise PinnddError(
            f"this labelled point set was made for parameters {record.params}, not {now}; drop the labels "
            "(pointset.without_labels()) or relabel it for the shifted problem (pinndd.teacher.label with a "
            "teacher for the shifted parameters)")


__all__ = ["DEFAULT_LABEL_WEIGHT", "KINDS", "LabelRecord", "Labels", "TeacherRecord", "check_for"]
