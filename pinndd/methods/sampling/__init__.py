"""Fixed samplers: quasi-random and random points in the unit box and on faces (:mod:`.qmc`) and
the registered sampler methods (:mod:`.samplers`: ``uniform``, ``sobol``, ``halton``, ``dense``, ...)."""

from .qmc import KINDS, sample_face, sample_unit

__all__ = ["KINDS", "sample_face", "sample_unit"]
