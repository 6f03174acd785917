"""Fixed samplers: uniform, grid, LHS, Sobol, Halton, Hammersley interior points.

Condition points come from :func:`pinndd.methods.base.condition_points` (Sobol on each face),
the same for every method, so samplers differ only in the interior.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import PinnddError
from ...pointset import PointSet
from ..base import PointSetMethod, condition_points, get, interior_points, register


@dataclass(frozen=True)
class Sampler(PointSetMethod):
    family = "sampler"

    def _make(self, problem, counts, seed):
        interior = interior_points(problem, self.name, counts["interior"], seed)
        return PointSet(interior, None, condition_points(problem, counts, seed)), {}


def _sampler(kind: str, doc: str) -> type[Sampler]:
    cls = type(kind.capitalize() + "Sampler", (Sampler,), {"name": kind, "__doc__": doc, "__module__": __name__})
    return register(dataclass(frozen=True)(cls))


UniformSampler = _sampler("uniform", "I.i.d. uniform interior points.")
GridSampler = _sampler("grid", "A cell-centred grid, randomly shifted by the seed.")
LhsSampler = _sampler("lhs", "Latin hypercube interior points.")
SobolSampler = _sampler("sobol", "Scrambled Sobol interior points.")
HaltonSampler = _sampler("halton", "Scrambled Halton interior points.")
HammersleySampler = _sampler("hammersley", "Hammersley interior points (scrambled Halton + stratified first axis).")


@register
@dataclass(frozen=True)
class Dense(PointSetMethod):
    """The dense baseline as a method: ``budget`` interior points of ``sampler`` (the protocols
    use ``protocol.dense`` = 4096 Sobol points), so tables make it, cost it and train on it like
    any other row. Its set costs nothing beyond sampling; a dense row's cost is its training."""

    name = "dense"
    family = "baseline"
    sampler: str = "sobol"

    def __post_init__(self) -> None:
        if not isinstance(get(self.sampler), Sampler):
            raise PinnddError(f"dense needs a fixed sampler (uniform, grid, lhs, sobol, halton, hammersley); "
                              f"got {self.sampler!r}")

    def _make(self, problem, counts, seed):
        interior = interior_points(problem, self.sampler, counts["interior"], seed)
        return PointSet(interior, None, condition_points(problem, counts, seed)), {}
