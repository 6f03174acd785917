"""Labels at shifted parameters: the named, charged *label sources* of an out-of-distribution run
(:mod:`pinndd.eval.ood` describes them: ``"none"``, ``"once"``, ``"per_shift"``, ``"reference"``),
the teacher that made a set's labels remade at another value (:func:`teacher_like`), and the
seconds each value is charged for its labels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..engine.training import TrainConfig
from ..errors import PinnddError
from ..methods.labelled.teacher import Teacher, label, labels_teacher, rebuild, reference_teacher, train_teacher
from ..pointset import PointSet
from ..problem import Problem

#: Named sources of labels at shifted parameters (``labels=`` of :func:`pinndd.eval.ood.retrain_ood`).
LABEL_SOURCES = ("none", "once", "per_shift", "reference")
#: Older names, still accepted.
LABEL_ALIASES = {"drop": "none", "relabel": "per_shift"}
#: Sources for diagnostics only, never a headline: a dense teacher at every value, the oracle.
DIAGNOSTIC_SOURCES = ("per_shift", "reference")
#: Every accepted ``labels=`` string.
LABEL_MODES = (*LABEL_SOURCES, *LABEL_ALIASES)

TeacherFactory = Callable[[Problem], Teacher]


def teacher_like(problem: Problem, pointset: PointSet) -> Teacher:
    """A teacher of the same kind as the one that labelled ``pointset``, made for ``problem``
    (typically a shifted one), rebuilt from the set's ``labels`` metadata.

    ``dense-pinn`` labels: :func:`pinndd.methods.labelled.teacher.train_teacher` with the recorded dense size,
    sampler, seed and training settings (one dense training per new parameter tuple, cached in
    the process). ``reference`` labels: the shifted reference. Anything else (a user's model,
    a parametric network) cannot be rebuilt from metadata: pass a teacher factory instead.
    Labels a label distiller learned are replaced by its teacher's at the shifted parameters.
    """
    record = pointset.label_record
    if record is not None and record.teacher is not None:  # the typed record (learned adjustments are dropped)
        return rebuild(record.teacher, problem, problem.params)
    info = labels_teacher(pointset.metadata)  # a set without a record: its metadata, as older files have it
    source = info.get("source")
    if source == "dense-pinn":
        try:
            config = TrainConfig(**info["config"])
            return train_teacher(problem, int(info["dense"]), config, int(info["seed"]), str(info["method"]),
                                 int(info.get("candidates", 1)))
        except (KeyError, TypeError) as e:
            raise PinnddError(f"the set's labels metadata lacks the dense teacher's settings ({e}); "
                              "pass labels=<callable shifted_problem -> Teacher>") from None
    if source == "reference":
        return reference_teacher(problem)
    raise PinnddError(
        f"cannot rebuild a teacher of source {source!r} from the set's metadata; pass labels=<callable "
        "shifted_problem -> Teacher> (e.g. pinndd.parametric.ParametricTeacher) or labels='drop'"
    )


@dataclass(frozen=True)
class LabelSource:
    """Where a labelled set's labels come from at shifted parameters, and what they cost.

    Parameters
    ----------
    kind:
        One of :data:`LABEL_SOURCES` (module docstring).
    factory:
        ``shifted_problem -> Teacher``: for ``"once"`` the family's one teacher (required);
        for ``"per_shift"`` a maker of a new teacher per value (default: a teacher of the kind
        that labelled the set, :func:`teacher_like`); unused otherwise.
    cost_seconds:
        ``"once"`` only: the one teacher's cost, spread over the values a run scores.
    """

    kind: str
    factory: TeacherFactory | None = None
    cost_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in LABEL_SOURCES:
            raise PinnddError(f"label source must be one of {LABEL_SOURCES}; got {self.kind!r}")
        if self.factory is not None and not callable(self.factory):
            raise PinnddError(f"a label source's factory must be callable shifted_problem -> Teacher; "
                              f"got {type(self.factory).__name__}")
        if self.kind == "once" and self.factory is None:
            raise PinnddError("label source 'once' needs the family's teacher: pass ood.once(teacher, cost_seconds) "
                              "(e.g. train_parametric(...).teacher())")
        if not (np.isfinite(self.cost_seconds) and self.cost_seconds >= 0):
            raise PinnddError(f"cost_seconds must be finite and >= 0; got {self.cost_seconds}")

    @property
    def diagnostic(self) -> bool:
        """``True`` for sources that never belong in a headline (:data:`DIAGNOSTIC_SOURCES`)."""
        return self.kind in DIAGNOSTIC_SOURCES


def once(teacher: TeacherFactory, cost_seconds: float | None = None) -> LabelSource:
    """The label source ``"once"``: one teacher over the whole family (``shifted_problem ->
    Teacher``, e.g. :class:`pinndd.parametric.ParametricTeacher`), made once at a cost of
    ``cost_seconds`` (default: the teacher's own ``cost_seconds``)."""
    cost = getattr(teacher, "cost_seconds", None) if cost_seconds is None else cost_seconds
    if cost is None:
        raise PinnddError("ood.once: the teacher has no cost_seconds; pass cost_seconds= (what making it cost)")
    return LabelSource("once", teacher, float(cost))


def per_shift(factory: TeacherFactory | None = None) -> LabelSource:
    """The label source ``"per_shift"``: a new teacher at every shift value (``factory``, default
    :func:`teacher_like`), each charged in full to its value. A diagnostic."""
    return LabelSource("per_shift", factory)


def label_source(labels: str | LabelSource | TeacherFactory) -> LabelSource:
    """``labels`` as a :class:`LabelSource`: a name of :data:`LABEL_SOURCES` or an alias of
    :data:`LABEL_ALIASES`; a source as is; a callable ``shifted_problem -> Teacher`` with a
    ``cost_seconds`` attribute (a teacher made once for the family, such as
    :class:`pinndd.parametric.ParametricTeacher`) is ``"once"``, any other callable
    ``"per_shift"`` (each teacher it returns is charged in full to its value)."""
    if isinstance(labels, LabelSource):
        return labels
    if isinstance(labels, str):
        kind = LABEL_ALIASES.get(labels, labels)
        if kind == "once":
            raise PinnddError("labels='once' needs the family's teacher: pass labels=ood.once(teacher) "
                              "(e.g. train_parametric(...).teacher())")
        if kind in LABEL_SOURCES:
            return LabelSource(kind)
    elif callable(labels):
        return once(labels) if getattr(labels, "cost_seconds", None) is not None else per_shift(labels)
    raise PinnddError(f"labels must be one of {LABEL_MODES}, an ood.LabelSource or a callable "
                      f"shifted_problem -> Teacher; got {labels!r}")


def shifted_labels(pointset: PointSet, shifted: Problem, labels: str | LabelSource | TeacherFactory = "none",
                   keep_valid_labels: bool = True) -> tuple[PointSet, str, Teacher | None]:
    """:func:`shifted_pointset` and the teacher that made the new labels (``None`` where no
    teacher labelled the set for ``shifted``)."""
    source = label_source(labels)
    if not pointset.labelled:
        return pointset, "none", None
    record = pointset.label_record
    made_for = record.params if record is not None else None
    if keep_valid_labels and made_for is not None and made_for == {k: float(v) for k, v in shifted.params.items()}:
        return pointset, "kept", None
    if source.kind == "none":
        return pointset.without_labels(), "dropped", None
    if source.kind == "reference":
        teacher = reference_teacher(shifted)
    elif source.factory is None:  # per_shift, rebuilt from the set's own teacher settings
        teacher = teacher_like(shifted, pointset)
    else:
        teacher = source.factory(shifted)
        if not isinstance(teacher, Teacher):
            raise PinnddError("the labels factory must return a pinndd.methods.labelled.teacher.Teacher; "
                              f"got {type(teacher).__name__}")
    if dict(teacher.params) != dict(shifted.params):
        raise PinnddError(
            f"the teacher was made for parameters {dict(teacher.params)}, not the shifted {dict(shifted.params)}; "
            "the labels factory must return a teacher for the problem it is given"
        )
    return label(pointset.without_labels(), teacher, pointset.target_weight), f"relabelled:{teacher.source}", teacher


def shifted_pointset(pointset: PointSet, shifted: Problem, labels: str | LabelSource | TeacherFactory = "none",
                     keep_valid_labels: bool = True) -> tuple[PointSet, str]:
    """The point set to train ``shifted`` on, and what happened to its labels.

    Coordinates and weights are kept. An unlabelled set is returned as is (``"none"``). A
    labelled set whose labels were made for exactly ``shifted.params`` keeps them when
    ``keep_valid_labels`` (``"kept"``); otherwise the label source ``labels``
    (:func:`label_source`) decides:

    - ``"none"`` (``"drop"``): train on physics and conditions only (``"dropped"``);
    - ``"per_shift"`` (``"relabel"``): a teacher of the kind that made the labels, for the
      shifted parameters (:func:`teacher_like`), or the source's own factory;
    - ``"reference"``: the shifted reference (an oracle, for experiments);
    - ``"once"`` or a callable ``shifted_problem -> Teacher`` (e.g. a
      :class:`pinndd.parametric.ParametricTeacher`).

    Relabelled sets keep the original data-term weight; the outcome reads
    ``"relabelled:<teacher source>"``.
    """
    ps, outcome, _ = shifted_labels(pointset, shifted, labels, keep_valid_labels)
    return ps, outcome


def label_seconds(source: LabelSource, outcome: str, teacher: Teacher | None, n_values: int) -> float:
    """Seconds charged to one shift value for its labels (module docstring): ``"once"``: the
    one teacher's cost over the ``n_values`` values of the run, at every value of a labelled
    set (the teacher was made for the run whether or not a value kept the set's own labels);
    ``"per_shift"``: the full cost of the teacher made for this value; else 0."""
    if outcome == "none":  # an unlabelled set uses no labels
        return 0.0
    if source.kind == "once":
        return source.cost_seconds / max(1, int(n_values))
    if source.kind == "per_shift" and teacher is not None:
        return float(teacher.cost_seconds)
    return 0.0
