"""The one contract for every way of choosing points, and the registry that finds them by name.

A method is a small frozen dataclass of its settings with one method::

    make(problem, budget, seed=0, rule=DEFAULT_RULE) -> PointSet

``budget`` counts interior points; :class:`pinndd.budget.BudgetRule` fixes the condition
points, the same for every method. Fixed samplers, residual-adaptive methods, coresets and
distillers all register here, so an experiment loops over :func:`names`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

import numpy as np

from .. import __version__, protocols
from ..budget import DEFAULT_RULE, BudgetRule, as_integer, check_budget
from ..cost import measure
from ..engine.training import check_problem
from ..errors import PinnddError
from ..pointset import PointSet
from .sampling.qmc import sample_face, sample_unit

_REGISTRY: dict[str, type[PointSetMethod]] = {}


@dataclass(frozen=True)
class Capabilities:
    """What a method needs and does, as types rather than family names: experiments and tests
    select methods by these (:func:`names`), and methods check each other's (an init method that
    makes labelled sets is refused where an unlabelled one is needed).

    Attributes
    ----------
    needs_teacher:
        Its sets are made with a dense teacher (labels, or a teacher behind learned labels),
        charged to the set's cost as ``teacher``.
    needs_warmup:
        It trains a warm-up network before choosing points (charged as ``warmup``).
    labelled:
        Its sets carry labels (targets) valid only at the parameters they were made for.
    learns_labels:
        It optimises the labels themselves (a label distiller), not only where they sit.
    checkpoints:
        It runs an outer loop that writes checkpoint files and resumes from them.
    shift_aware:
        It is made for a whole shift family (it records the values it was made on).
    """

    needs_teacher: bool = False
    needs_warmup: bool = False
    labelled: bool = False
    learns_labels: bool = False
    checkpoints: bool = False
    shift_aware: bool = False

    def __or__(self, other: Capabilities) -> Capabilities:
        """Both sets of capabilities (for a class that combines two bases)."""
        return Capabilities(**{f.name: getattr(self, f.name) or getattr(other, f.name) for f in fields(self)})


@dataclass(frozen=True)
class PointSetMethod(ABC):
    """Base class of every point-selection method (see the module docstring)."""

    name: ClassVar[str] = ""
    #: A label for reports and tables (recorded in the set's metadata): "baseline", "sampler",
    #: "adaptive", "coreset", "distiller", "labelled", "label_distiller" or "family". Code selects
    #: methods by :attr:`capabilities`, not by this label.
    family: ClassVar[str] = ""
    #: What the method needs and does (:class:`Capabilities`).
    capabilities: ClassVar[Capabilities] = Capabilities()

    def make(self, problem, budget: int, seed: int = 0, rule: BudgetRule = DEFAULT_RULE) -> PointSet:
        """A point set of ``budget`` interior points for ``problem``, reproducible from ``seed``."""
        budget, seed = check_budget(budget), check_seed(seed)
        check_problem(problem)
        counts = rule.split(problem, budget)
        with measure() as spent:
            ps, extra = self._make(problem, counts, int(seed))
        meta = {
            "problem": problem.name,
            "params": dict(problem.params),
            "method": self.name,
            "family": self.family,
            "config": self.config(),
            "budget": int(budget),
            "seed": int(seed),
            "rule": asdict(rule),
            "cost_seconds": spent.wall,
            "pinndd_version": __version__,
            **extra,
            "cost": spent.cost.to_dict(),
        }
        out = PointSet(ps.interior, ps.interior_weights, ps.conditions, ps.targets, ps.target_weight, {**ps.metadata, **meta},
                       ps.label_record)
        return out.validate(problem)

    @abstractmethod
    def _make(self, problem, counts: dict[str, int], seed: int) -> tuple[PointSet, dict[str, Any]]:
        """Build the set for ``counts`` (from the budget rule); return it and extra metadata."""

    def config(self) -> dict[str, Any]:
        return asdict(self)


#: Seeds are non-negative integers below 2**32 (numpy's and scipy's generators take no more).
MAX_SEED = 2**32 - 1


def check_seed(seed) -> int:
    """``seed`` as an ``int`` in ``0 .. MAX_SEED``, or a :class:`PinnddError` saying why not
    (strings of digits are accepted, as a command line gives them)."""
    message = f"seed must be an integer in 0 .. {MAX_SEED}; got {seed!r}"
    value = as_integer(seed, message)
    if not 0 <= value <= MAX_SEED:
        raise PinnddError(message)
    return value


def register(cls: type[PointSetMethod]) -> type[PointSetMethod]:
    """Class decorator adding a method to the registry under ``cls.name``."""
    if not cls.name:
        raise PinnddError(f"{cls.__name__} needs a non-empty class attribute 'name'")
    _REGISTRY[cls.name] = cls
    return cls


def get(name: str, **config: Any) -> PointSetMethod:
    """A method by registry name, with optional settings: ``get("rad", k=2.0)``."""
    if name not in _REGISTRY:
        raise PinnddError(f"unknown method {name!r}; registered: {names()}")
    try:
        return _REGISTRY[name](**config)
    except TypeError as e:
        raise PinnddError(f"bad settings for method {name!r}: {e}") from None


def names(family: str | None = None, **capabilities: bool) -> list[str]:
    """Registered method names, optionally of one report family and with the given
    :class:`Capabilities`: ``names(needs_teacher=True, learns_labels=False)``."""
    known = {f.name for f in fields(Capabilities)}
    if set(capabilities) - known:
        raise PinnddError(f"unknown capabilities {sorted(set(capabilities) - known)}; known: {sorted(known)}")
    return sorted(n for n, c in _REGISTRY.items() if (family is None or c.family == family)
                  and all(getattr(c.capabilities, k) == bool(v) for k, v in capabilities.items()))


def condition_points(problem, counts: dict[str, int], seed: int, kind: str = "sobol") -> dict[str, tuple[np.ndarray, None]]:
    """Condition points shared by every method that does not distil them: ``kind`` samples on
    each face, seeded per condition, so methods differ only where they choose differently."""
    out = {}
    for i, cond in enumerate(problem.conditions):
        out[cond.name] = (sample_face(cond.face, kind, counts[cond.name], seed * 1009 + 17 * i + 1), None)
    return out


def interior_points(problem, kind: str, n: int, seed: int) -> np.ndarray:
    """``n`` interior points from sampler ``kind``."""
    return problem.domain.from_unit(sample_unit(kind, n, problem.domain.dim, seed))


def method_settings(name: str, proto: protocols.Protocol | str, device: str | None = None) -> dict:
    """Settings that tie a method's own training to the protocol (explicit settings override them).

    Labelled methods train their teacher with the protocol and its dense size; under ``smoke``
    warm-ups are as short as the protocol's training; methods that train on a device of their
    own (distillers) get ``device`` when it is given.

    Parameters
    ----------
    name:
        A registered method name.
    proto:
        A :class:`~pinndd.protocols.Protocol` or its name.
    device:
        ``"cpu"``/``"cuda"`` for methods with a ``device`` setting; ``None`` keeps their default.
    """
    proto = protocols.get(proto) if isinstance(proto, str) else proto
    settable = {f.name for f in fields(get(name))}
    out: dict = {}
    if "teacher_protocol" in settable:
        out.update(teacher_protocol=proto.name, teacher_dense=proto.dense)
    if proto.name == "smoke" and "warmup_steps" in settable:
        out["warmup_steps"] = proto.train.adam_steps
    if device is not None and "device" in settable:
        out["device"] = device
    return out
