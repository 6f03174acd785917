"""What a result cost: one typed record for every point set and every trained model.

A :class:`Cost` has four parts, in seconds of wall time:

``warmup``
    networks trained only to steer the choice of points (residual-adaptive warm-ups, the
    nominal PINN a family kit starts from);
``teacher``
    dense trainings whose outputs a method learns from: label teachers (every candidate of a
    best-of-k teacher), the expert runs of the gradient and trajectory distillers;
``distillation``
    everything else spent making the set (sampling, scoring, outer loops, exchange rounds);
``training``
    training the model on the set (zero for a set alone).

Charged in full: a teacher or warm-up that came out of a cache (in this process or on disk) is
charged its original cost, so a number never depends on what ran before it.

How parts are measured. :meth:`pinndd.methods.PointSetMethod.make` runs the method inside
:func:`measure`; the code that trains a teacher or a warm-up calls :func:`charge` with what it
cost and with the wall time it spent in this call. ``distillation`` is then the call's wall
time minus the time spent inside those charges, so a cached teacher (charged in full, spent ~0)
is not counted twice and a teacher trained inside the call is not counted in two parts. A set
made inside another method's ``make`` (a base set, a start set) hands its whole record to the
outer one.

Units. :meth:`Cost.units` expresses a record in *dense trainings*: one protocol-length training
on the protocol's dense set, timed with the same code, settings and machine (a sweep's own dense
rows, or :func:`pinndd.eval.family.calibrate`), so costs compare across methods and machines.
"""

from __future__ import annotations

import contextvars
import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields

from .errors import PinnddError

#: The parts of a cost, in the order tables show them.
PARTS = ("warmup", "teacher", "distillation", "training")


@dataclass(frozen=True)
class Cost:
    """Seconds spent on each part of getting a result (module docstring); all finite and >= 0."""

    warmup: float = 0.0
    teacher: float = 0.0
    distillation: float = 0.0
    training: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                raise PinnddError(f"cost part {f.name!r} must be a finite number of seconds >= 0; got {v!r}")
            object.__setattr__(self, f.name, float(v))

    @property
    def total(self) -> float:
        """Seconds in all: what getting this result cost."""
        return self.warmup + self.teacher + self.distillation + self.training

    @property
    def making(self) -> float:
        """Seconds spent making the set (everything but training on it)."""
        return self.warmup + self.teacher + self.distillation

    def __add__(self, other: Cost) -> Cost:
        if not isinstance(other, Cost):
            return NotImplemented
        return Cost(*(getattr(self, p) + getattr(other, p) for p in PARTS))

    def scaled(self, factor: float) -> Cost:
        """Every part times ``factor`` (e.g. ``1 / n`` to spread a one-off cost over ``n`` uses)."""
        if not (math.isfinite(factor) and factor >= 0):
            raise PinnddError(f"a cost can only be scaled by a finite factor >= 0; got {factor}")
        return Cost(*(getattr(self, p) * factor for p in PARTS))

    def with_training(self, seconds: float) -> Cost:
        """This record with ``seconds`` of training added (the set's cost plus training on it)."""
        return Cost(self.warmup, self.teacher, self.distillation, self.training + seconds)

    def units(self, dense_seconds: float) -> dict[str, float]:
        """Each part and the total in dense trainings of ``dense_seconds`` each."""
        if not (math.isfinite(dense_seconds) and dense_seconds > 0):
            raise PinnddError(f"a dense training must take a positive, finite time; got {dense_seconds}")
        return {**{p: getattr(self, p) / dense_seconds for p in PARTS}, "total": self.total / dense_seconds}

    def to_dict(self) -> dict[str, float]:
        """The parts and their total, JSON-ready."""
        return {**{p: getattr(self, p) for p in PARTS}, "total": self.total}

    @classmethod
    def from_dict(cls, d: Mapping[str, float]) -> Cost:
        """The record :meth:`to_dict` wrote (``total`` is recomputed and checked)."""
        if not isinstance(d, Mapping):
            raise PinnddError(f"a cost record must be a mapping of parts to seconds; got {type(d).__name__}")
        unknown = set(d) - set(PARTS) - {"total"}
        if unknown:
            raise PinnddError(f"unknown cost part(s) {sorted(unknown)}; parts are {PARTS}")
        cost = cls(**{p: d.get(p, 0.0) for p in PARTS})
        if "total" in d and not math.isclose(float(d["total"]), cost.total, rel_tol=1e-9, abs_tol=1e-9):
            raise PinnddError(f"cost record's total {d['total']} is not the sum of its parts ({cost.total})")
        return cost

    @classmethod
    def of(cls, metadata: Mapping) -> Cost:
        """The cost record of a point set's metadata (``metadata["cost"]``); a set made outside a
        method's ``make`` (a user's own points) has none and costs nothing."""
        rec = metadata.get("cost")
        return cls() if rec is None else cls.from_dict(rec)


class _Ledger:
    __slots__ = ("parts", "spent", "keys", "parent")

    def __init__(self, parent: _Ledger | None) -> None:
        self.parts = dict.fromkeys(PARTS, 0.0)
        self.spent = 0.0
        self.keys: set[str] = set()
        self.parent = parent

    def charged(self, key: str) -> bool:
        ledger: _Ledger | None = self
        while ledger is not None:
            if key in ledger.keys:
                return True
            ledger = ledger.parent
        return False


_LEDGER: contextvars.ContextVar[_Ledger | None] = contextvars.ContextVar("pinndd_cost_ledger", default=None)


def charge(part: str, seconds: float, spent: float | None = None, key: str | None = None) -> None:
    """Charge ``seconds`` to ``part`` of the set being made (no-op outside :func:`measure`).

    ``spent`` is the wall time this call actually took (default ``seconds``): less than
    ``seconds`` when the work came from a cache, and subtracted from the distillation part so
    nothing is counted twice. It is capped at ``seconds`` (set-up around the charged work stays
    distillation), so a set's total is never below its wall time. ``key`` names the work (a
    teacher's settings): one set is charged once for the same work however many of its steps use
    it (a start set and the method itself sharing one teacher).
    """
    if part not in PARTS:
        raise PinnddError(f"unknown cost part {part!r}; parts are {PARTS}")
    ledger = _LEDGER.get()
    if ledger is None:
        return
    if key is not None:
        if ledger.charged(key):  # already in this set's record; the lookup's time stays distillation
            return
        ledger.keys.add(key)
    ledger.spent += min(float(seconds if spent is None else spent), float(seconds))
    ledger.parts[part] += float(seconds)


class Measured:
    """Handle of :func:`measure`; ``cost`` and ``wall`` (the block's wall seconds) are set when
    the block ends. ``cost.total >= wall`` whenever every charge's ``spent`` is at most what it
    charges (work from a cache is charged in full; nothing is dropped)."""

    cost: Cost | None = None
    wall: float = 0.0


@contextmanager
def measure() -> Iterator[Measured]:
    """Measure the cost of the block (module docstring); nested blocks hand their record to the
    enclosing one."""
    ledger, handle = _Ledger(_LEDGER.get()), Measured()
    token = _LEDGER.set(ledger)
    t0 = time.perf_counter()
    try:
        yield handle
    finally:
        wall = time.perf_counter() - t0
        _LEDGER.reset(token)
        parts = dict(ledger.parts)
        parts["distillation"] += max(wall - ledger.spent, 0.0)
        handle.cost, handle.wall = Cost(**parts), wall
        outer = _LEDGER.get()
        if outer is not None:
            for p in PARTS:
                outer.parts[p] += parts[p]
            outer.spent += wall
            outer.keys |= ledger.keys


__all__ = ["PARTS", "Cost", "Measured", "charge", "measure"]
