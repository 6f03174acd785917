"""Distillers whose objective averages over network states (:class:`StateSampled`): fresh
initialisations or expert checkpoints, drawn from the step's generator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ...errors import PinnddError
from .context import DistillContext, randint, uniform
from .loop import Distiller


@dataclass(frozen=True)
class StateSampled(Distiller):
    """A distiller whose objective averages over network states: fresh initialisations with
    probability ``fresh_fraction``, else a uniformly drawn expert checkpoint.

    Parameters
    ----------
    fresh_fraction:
        Probability that a state is a fresh initialisation (1: no experts needed).
    states_per_step:
        States averaged per outer step.
    """

    #: First expert record that may be drawn (1 skips the experts' initial states).
    first_record: ClassVar[int] = 0
    fresh_fraction: float = 0.5
    states_per_step: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.fresh_fraction <= 1.0:
            raise PinnddError(f"fresh_fraction must lie in [0, 1]; got {self.fresh_fraction}")
        if self.states_per_step < 1:
            raise PinnddError("states_per_step must be >= 1")
        if self.fresh_fraction < 1.0 and self.n_experts < 1:
            raise PinnddError("expert states need n_experts >= 1 (or set fresh_fraction=1)")

    def uses_experts(self) -> bool:
        return self.fresh_fraction < 1.0 and self.n_experts > 0

    def draw_state(self, ctx: DistillContext, rng: torch.Generator):
        """``(state, None)`` for a fresh initialisation or ``(state, (expert, record))``."""
        if ctx.experts is None or uniform(rng) < self.fresh_fraction:
            return ctx.fresh(rng), None
        e = randint(rng, ctx.experts.n_experts)
        r = self.first_record + randint(rng, ctx.experts.n_records - self.first_record)
        return ctx.expert_state(e, r), (e, r)
