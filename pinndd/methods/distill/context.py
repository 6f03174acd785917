"""What a distiller's objective works with: the student's loss as a function of its parameters
(:class:`Functional` through :func:`torch.func.functional_call`), the context of one run
(:class:`DistillContext`: dense set, experts, fresh initialisations), the run's outcome
(:class:`DistillRun`) and the per-step random helpers (seeded by ``(seed, step)`` only, so a
resumed run is the uninterrupted run exactly)."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ...engine.experts import ExpertSet
from ...engine.losses import TensorPoints, residual_terms
from ...errors import PinnddError
from .synthetic import SyntheticSet


def step_seed(seed: int, step: int) -> int:
    """The seed of outer step ``step`` of a run with method seed ``seed``
    (:class:`numpy.random.SeedSequence` of both, so nearby pairs are independent)."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(step), 0x5EED]).generate_state(1)[0])


def step_generator(seed: int, step: int) -> torch.Generator:
    """A CPU :class:`torch.Generator` seeded by ``(seed, step)``."""
    return torch.Generator(device="cpu").manual_seed(step_seed(seed, step))


def randint(rng: torch.Generator, high: int) -> int:
    """A uniform integer in ``[0, high)`` from ``rng``."""
    return int(torch.randint(high, (1,), generator=rng).item())


def uniform(rng: torch.Generator) -> float:
    """A uniform float in ``[0, 1)`` from ``rng``."""
    return float(torch.rand(1, generator=rng, dtype=torch.float64).item())


def layerwise_cosine_distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], tiny: float = 1e-30) -> torch.Tensor:
    """``sum_l (1 - <a_l, b_l> / (|a_l| |b_l|))`` over every parameter tensor ``l`` (weights and
    biases alike); ``tiny`` inside the square root keeps zero tensors differentiable."""
    total = 0.0
    for k in a:
        x, y = a[k].reshape(-1), b[k].reshape(-1)
        total = total + 1.0 - (x @ y) / torch.sqrt((x @ x) * (y @ y) + tiny)
    return total


class Functional(torch.nn.Module):
    """The trainer's loss on the student, as a module :func:`torch.func.functional_call` can
    substitute parameters into: built on :func:`pinndd.engine.losses.residual_terms` (the one
    loss evaluation: shared value passes, conditions a hard-constraint model enforces skipped),
    labels left out (label distillers add their own data term)."""

    def __init__(self, problem, model: torch.nn.Module, engine: str):
        super().__init__()
        self.problem, self.model, self.engine = problem, model, engine

    def forward(self, tp: TensorPoints, vector: bool) -> torch.Tensor:
        problem = self.problem
        skip = tuple(problem.hard_conditions) if getattr(self.model, "hard", False) else ()
        terms = residual_terms(problem, self.model, replace(tp, targets=None), skip, self.engine)
        parts = [(w if name == "pde" else problem.condition(name).weight * w).sqrt() * r for name, (r, w) in terms.items()]
        if vector:
            return torch.cat(parts)
        return sum(p.square().sum() for p in parts)


@dataclass
class DistillContext:
    """What an objective works with during one :meth:`Distiller.make`.

    Attributes
    ----------
    problem, counts, seed:
        As given to ``make``.
    dense:
        The dense reference set as tensors.
    experts:
        Expert trajectories on the dense set, or ``None`` when the distiller uses none.
    model:
        A student PINN used only as a template for :meth:`loss` and :meth:`residuals`.
    layout:
        ``[(name, shape), ...]`` of the student's parameters.
    dtype, device:
        Of every tensor.
    cost_seconds, cached:
        Wall time of building the dense set and experts (the original cost when ``cached``).
    learnable:
        The objective's own learnable tensors by name (optimised beside the synthetic set,
        checkpointed with it), with their outer learning rates in ``lr``.
    constants:
        Anything else :meth:`Distiller.setup` computes once (e.g. a fixed step size).
    """

    problem: Any
    counts: dict[str, int]
    seed: int
    dense: TensorPoints
    experts: ExpertSet | None
    model: torch.nn.Module
    layout: list[tuple[str, tuple[int, ...]]]
    dtype: torch.dtype
    device: torch.device
    engine: str = "auto"
    cost_seconds: float = 0.0
    cached: bool = False
    learnable: OrderedDict[str, torch.Tensor] = field(default_factory=OrderedDict)
    lr: dict[str, float] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._fn = Functional(self.problem, self.model, self.engine)

    def _call(self, params: dict[str, torch.Tensor], tp: TensorPoints, vector: bool) -> torch.Tensor:
        return torch.func.functional_call(self._fn, {"model." + k: v for k, v in params.items()}, (tp, vector))

    def loss(self, params: dict[str, torch.Tensor], tp: TensorPoints) -> torch.Tensor:
        """``L(theta) = sum_i w_i r_i^2 + sum_c lambda_c sum_j w_cj r_cj^2`` (weights summing to
        one per set), the trainer's loss, at parameters ``params``."""
        return self._call(params, tp, False)

    def residuals(self, params: dict[str, torch.Tensor], tp: TensorPoints) -> torch.Tensor:
        """The stacked residual vector ``[sqrt(w_i) r_i ; sqrt(lambda_c w_cj) r_cj]`` whose squared
        norm is :meth:`loss`."""
        return self._call(params, tp, True)

    def fresh(self, rng: torch.Generator) -> OrderedDict[str, torch.Tensor]:
        """A fresh initialisation drawn from ``rng``: Glorot-normal weights
        ``N(0, 2 / (fan_in + fan_out))`` and zero biases, as :class:`pinndd.engine.nn.MLP`."""
        out: OrderedDict[str, torch.Tensor] = OrderedDict()
        for name, shape in self.layout:
            if len(shape) == 2:
                std = math.sqrt(2.0 / (shape[0] + shape[1]))
                t = torch.randn(shape, generator=rng, dtype=torch.float64) * std
            else:
                t = torch.zeros(shape, dtype=torch.float64)
            out[name] = t.to(self.dtype).to(self.device)
        return out

    def expert_state(self, expert: int, record: int) -> OrderedDict[str, torch.Tensor]:
        """Parameters of expert ``expert`` at record ``record`` as a params dict."""
        if self.experts is None:
            raise PinnddError("this distiller was built without experts (n_experts=0)")
        return self.experts.state(expert, record, self.dtype, self.device)

    def flat(self, which: str, expert: int, record: int) -> torch.Tensor:
        """A flattened expert vector (``params``, ``exp_avg`` or ``exp_avg_sq``)."""
        if self.experts is None:
            raise PinnddError("this distiller was built without experts (n_experts=0)")
        return self.experts.tensor(which, expert, record, self.dtype, self.device)


@dataclass
class DistillRun:
    """The outcome of :meth:`Distiller.run`: the learned set, its context, the objective at every
    outer step (including steps before a resume), the step resumed from and the loop's seconds."""

    synthetic: SyntheticSet
    context: DistillContext
    outer_log: list[float]
    resumed_from: int
    seconds: float
