"""Fixed samplers: uniform, grid, LHS, Sobol, Halton, Hammersley interior points.

Condition points come from :func:`pinndd.methods.base.condition_points` (Sobol on each face),
the same for every method, so samplers differ only in the interior.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..pointset import PointSet
from .base import PointSetMethod, condition_points, interior_points, register


@dataclass(frozen=True)
class _Sampler(PointSetMethod):
    family = "sampler"

    def _make(self, problem, counts, seed):
        interior = interior_points(problem, self.name, counts["interior"], seed)
        return PointSet(interior, None, condition_points(problem, counts, seed)), {}


def _sampler(kind: str, doc: str) -> type[_Sampler]:
    cls = type(kind.capitalize() + "Sampler", (_Sampler,), {"name": kind, "__doc__": doc, "__module__": __name__})
    return register(dataclass(frozen=True)(cls))


UniformSampler = _sampler("uniform", "I.i.d. uniform interior points.")
GridSampler = _sampler("grid", "A cell-centred grid, randomly shifted by the seed.")
LhsSampler = _sampler("lhs", "Latin hypercube interior points.")
SobolSampler = _sampler("sobol", "Scrambled Sobol interior points.")
HaltonSampler = _sampler("halton", "Scrambled Halton interior points.")
HammersleySampler = _sampler("hammersley", "Hammersley interior points (scrambled Halton + stratified first axis).")
