"""Ensembles: K PINNs trained at once, with stacked weights and batched matrix products.

An :class:`EnsembleMLP` holds the weights of K MLPs of one architecture as tensors of shape
``(K, fan_in, fan_out)``; one ``torch.baddbmm`` per layer evaluates all members on points of
shape ``(K, n, d)``. Member losses are summed, so each member receives exactly the gradient of
its own loss, and Adam (elementwise) updates every member as if it were alone: K separate runs
and one ensemble run agree up to floating-point summation order (tested in float64). In
float32 over thousands of steps plus L-BFGS that round-off grows: seen on Burgers, seed 1,
L2RE 0.322 (ensemble) vs 0.306 (separate), inside the seed-to-seed spread.

L-BFGS's line search would couple members through one step length, so after the ensemble's
Adam phase each member runs its own L-BFGS.

On a GPU the Adam phase does no host synchronisation per step (the trainer's loss history is
read every ``log_every`` steps; ``tests/test_cuda.py`` counts them); torch's L-BFGS reads its
loss on the host at every iteration, so the per-member L-BFGS phase does.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from ..cost import Cost
from ..errors import PinnddError
from ..pointset import PointSet
from .losses import TensorPoints
from .nn import PINN, EnsembleMLP, resolve_dtype
from .training import TrainConfig, TrainResult, check_labels, make_model, optimise, term_names


@dataclass
class EnsembleResult:
    """Trained members (``results[k]`` as from :func:`pinndd.train`) and the total wall time."""

    results: list[TrainResult]
    wall_time: float

    @property
    def models(self) -> list[PINN]:
        return [r.model for r in self.results]


def expand_points(tp: TensorPoints, k: int) -> TensorPoints:
    """The same points for each of ``k`` members: shape ``(n, d)`` -> ``(k, n, d)``."""
    ex = lambda t: t.expand(k, *t.shape).contiguous()  # noqa: E731
    return TensorPoints(ex(tp.interior), tp.interior_w, {n: (ex(p), w) for n, (p, w) in tp.conditions.items()},
                        tp.targets, tp.target_weight)


def train_ensemble(problem, pointset: PointSet, config: TrainConfig, seeds: Sequence[int]) -> EnsembleResult:
    """Train one PINN per seed on ``pointset`` at once; same results as separate
    :func:`pinndd.train` calls with ``config.seed = seed`` (up to summation order)."""
    if config.hard:
        raise PinnddError("ensembles do not support hard-constraint transforms yet; train members separately")
    seeds = list(seeds)
    pointset.validate(problem)
    check_labels(problem, pointset)
    dtype, device = resolve_dtype(config.dtype), torch.device(config.device)
    members = [make_model(problem, replace(config, seed=s)).net for s in seeds]
    ens = EnsembleMLP(members).to(device)
    tp = expand_points(TensorPoints.from_pointset(pointset, dtype, device), len(seeds))
    names, skip = term_names(problem, pointset, False)
    t0 = time.perf_counter()
    rows = optimise(problem, ens, tp, replace(config, lbfgs_steps=0), names, skip)
    adam_wall = time.perf_counter() - t0
    table = np.concatenate(rows) if rows else np.zeros((0, len(names) + 1, len(seeds)))
    results = []
    single = TensorPoints.from_pointset(pointset, dtype, device) if config.lbfgs_steps else None  # one copy to the device
    for k, seed in enumerate(seeds):
        model = PINN(ens.member(k), problem, hard=False)
        hist = {"step": np.arange(len(table)), "loss": table[:, 0, k]}
        for j, name in enumerate(names):
            hist[name] = table[:, j + 1, k]
        wall = adam_wall / len(seeds)
        if config.lbfgs_steps:
            t1 = time.perf_counter()
            lb = optimise(problem, model, single, replace(config, adam_steps=0), names, skip)
            wall += time.perf_counter() - t1
            if lb:
                block = np.concatenate(lb)
                for j, name in enumerate(["loss"] + names):
                    hist[name] = np.concatenate([hist[name], block[:, j]])
                hist["step"] = np.arange(len(hist["loss"]))
        results.append(TrainResult(model, hist, wall, replace(config, seed=seed), problem.name,
                                   Cost.of(pointset.metadata).with_training(wall)))
    return EnsembleResult(results, time.perf_counter() - t0)
