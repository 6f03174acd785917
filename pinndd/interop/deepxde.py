"""pinndd inside the DeepXDE world: export point sets, train stock DeepXDE models on them, and
import DeepXDE problems (optional extra ``pip install "pinndd[deepxde]"``; imported lazily).

Export (:func:`export`) maps a :class:`~pinndd.pointset.PointSet` onto DeepXDE's loss so that a
stock DeepXDE model trains the same objective as :func:`pinndd.train`:

- interior points are the ``anchors`` of a ``dde.data.PDE`` with ``num_domain = num_boundary = 0``
  (condition points are *not* anchors: anchors enter the PDE mean);
- each condition is its own ``PointSetBC`` with its target values, shape ``(m, 1)`` (a flat
  vector broadcasts silently), or a ``PointSetOperatorBC`` for Neumann and initial-velocity
  conditions; one BC per face keeps each face's own weight;
- a labelled set's targets are one more ``PointSetBC`` on the interior points, weighted by the
  set's data weight;
- per-point weights have no place in DeepXDE's means: weights that are integer multiples of the
  smallest are expressed by repeating points, and the loss weights are rescaled so every term
  equals pinndd's ``(1/n) sum_i w_i r_i^2``; other weights raise :class:`~pinndd.PinnddError`.

:func:`build_model` starts DeepXDE's network from pinndd's initial weights and input rescaling
(the same seed is not the same network), and :func:`train_model` uses pinndd's Adam and L-BFGS
settings (DeepXDE's pytorch backend fixes L-BFGS's per-call limits when it is imported; they are
set here). :func:`cross_check` trains both and reports both errors on the same reference grid.

Import (:func:`problem_from_deepxde`) turns a box geometry (``Interval``, ``Rectangle``,
``Hypercube``/``Cuboid``, each optionally in a ``GeometryXTime``), its ``pde(x, y)`` function and
its ``DirichletBC``/``NeumannBC``/``IC``/``PeriodicBC`` objects into a pinndd
:class:`~pinndd.problem.Problem`, so points can be distilled for a problem a DeepXDE user
already has. Other geometries, operator and Robin BCs, point-set BCs and multi-output pdes are
refused with a message saying why.

``DDE_BACKEND=pytorch`` is set before DeepXDE is imported (otherwise it asks for a backend and
writes a config file in the home folder), and torch's default device, which DeepXDE switches to
CUDA on a GPU machine, is restored after import.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from ..conditions import parse_partial
from ..domain import Box
from ..engine.evaluation import evaluate
from ..engine.training import TrainConfig, check_labels, make_model, train
from ..errors import PinnddError
from ..pointset import PointSet
from ..problem import Problem
from ._dde import import_deepxde, quiet_float
from .deepxde_problems import problem_from_deepxde  # noqa: F401 (public here too)

log = logging.getLogger(__name__)

#: pinndd activations and DeepXDE's names for them.
ACTIVATIONS = {"tanh": "tanh", "sin": "sin", "sigmoid": "sigmoid", "silu": "silu", "gelu": "gelu"}
#: Repeating points to express weights may grow a set at most this many times.
MAX_REPEAT = 16


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------
def repeats(weights: np.ndarray, what: str, max_repeat: int = MAX_REPEAT) -> tuple[np.ndarray, float]:
    """Integer repeat counts ``k_i = w_i / c`` (``c`` the smallest weight) and the factor
    ``N c / n`` with ``N = sum k_i`` that turns DeepXDE's mean over the repeated points into
    pinndd's ``(1/n) sum_i w_i r_i^2``.

    Raises
    ------
    PinnddError
        Weights that are not integer multiples of the smallest (to 1e-6), or that would grow the
        set more than ``max_repeat`` times.
    """
    w = np.asarray(weights, dtype=np.float64)
    c = float(w.min())
    k = w / c
    kr = np.rint(k)
    if np.any(np.abs(k - kr) > 1e-6 * k) or kr.sum() > max_repeat * len(w):
        raise PinnddError(f"{what}: per-point weights (min {c:.3g}, max {w.max():.3g}) cannot be expressed in DeepXDE, "
                          "whose loss terms are plain means; only integer multiples of the smallest weight can be "
                          f"(by repeating points, at most {max_repeat}x the points). Use an unweighted set "
                          "(e.g. PointSet(ps.interior, None, ps.conditions, ...)) or train it with pinndd")
    counts = kr.astype(int)
    return counts, float(counts.sum() * c / len(w))


@dataclass
class Exported:
    """A point set as DeepXDE data: ``data`` (a ``dde.data.PDE``), the ``loss_weights`` in
    DeepXDE's order (PDE, then ``names[1:]``) and the term ``names`` as pinndd calls them."""

    data: Any
    loss_weights: list[float]
    names: list[str]


def _geometry(dde, box: Box):
    if box.dim == 1:
        return dde.geometry.Interval(box.lower[0], box.upper[0])
    return dde.geometry.Hypercube(list(box.lower), list(box.upper))


def _partial_from_dde(dde, y, x, axes: tuple[int, ...]):
    if len(axes) == 2:
        return dde.grad.hessian(y, x, component=0, i=axes[0], j=axes[1])
    g = y
    for a in axes:
        g = dde.grad.jacobian(g, x, i=0, j=a)
    return g


def _pde_function(dde, problem: Problem):
    box = problem.domain
    need = tuple(sorted(set(problem.partials) | {"u"}))
    axes = {p: parse_partial(p, box) for p in need}

    def pde(x, y):
        d = {p: _partial_from_dde(dde, y, x, axes[p])[:, 0] for p in need}
        r = problem.residual(d, {n: x[:, i] for i, n in enumerate(box.names)}, problem.params)
        return r.reshape(-1, 1)

    return pde


def _condition_bc(dde, problem: Problem, name: str, pts: np.ndarray, np_dtype):
    cond = problem.condition(name)
    with torch.no_grad():
        values = cond.target(torch.as_tensor(pts, dtype=torch.float64), problem.params).double().numpy().reshape(-1, 1)
    points = pts.astype(np_dtype)
    values = values.astype(np_dtype)
    if cond.kind in ("dirichlet", "initial"):
        return dde.icbc.PointSetBC(points, values, component=0)
    if cond.kind in ("neumann", "initial_velocity"):
        axis = cond.face.axis
        sign = cond.face.normal_sign if cond.kind == "neumann" else 1.0

        def operator(inputs, outputs, X):
            return sign * dde.grad.jacobian(outputs, inputs, i=0, j=axis)

        return dde.icbc.PointSetOperatorBC(points, values, operator)
    raise PinnddError(f"condition {name!r} is {cond.kind}: u(x) - u(x') needs the partner point's output, which DeepXDE's "
                      "point-set conditions cannot express (its PeriodicBC samples its own points); train this problem "
                      "with pinndd or drop the condition")


def export(problem: Problem, pointset: PointSet, config: TrainConfig | None = None) -> Exported:
    """``pointset`` as DeepXDE data with the loss weights that make DeepXDE's loss pinndd's.

    Parameters
    ----------
    problem:
        The problem (its current parameters give the condition targets).
    pointset:
        Any valid set; labels must be made for ``problem``'s parameters.
    config:
        Condition-weight overrides, ``hard`` (conditions the transform enforces are left out)
        and ``dtype`` are read from it.

    Raises
    ------
    PinnddError
        Weights DeepXDE cannot express, periodic conditions, or labels for other parameters.
    """
    config = config or TrainConfig()
    dde = import_deepxde()
    pointset.validate(problem)
    check_labels(problem, pointset)
    np_dtype = np.float64 if config.dtype == "float64" else np.float32
    k_int, f_int = repeats(pointset.interior_weights, "interior")
    anchors = np.repeat(pointset.interior, k_int, axis=0)
    bcs, weights, names = [], [f_int], ["pde"]
    skip = problem.hard_conditions if config.hard else ()
    for name, (pts, w) in pointset.conditions.items():
        if name in skip:
            continue
        k, f = repeats(w, f"condition {name!r}")
        bcs.append(_condition_bc(dde, problem, name, np.repeat(pts, k, axis=0), np_dtype))
        weights.append(f * float(config.condition_weights.get(name, problem.condition(name).weight)))
        names.append(name)
    if pointset.labelled:
        t = np.repeat(pointset.targets, k_int).reshape(-1, 1).astype(np_dtype)
        bcs.append(dde.icbc.PointSetBC(anchors.astype(np_dtype), t, component=0))
        weights.append(f_int * pointset.target_weight)
        names.append("data")
    with quiet_float(dde, config.dtype):
        data = dde.data.PDE(_geometry(dde, problem.domain), _pde_function(dde, problem), bcs, num_domain=0,
                            num_boundary=0, anchors=anchors.astype(np_dtype))
    return Exported(data, weights, names)


class Field(torch.nn.Module):
    """A DeepXDE network as a pinndd field ``u(x)`` of shape ``(n,)`` (for :func:`pinndd.evaluate`)."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[..., 0]


def build_model(problem: Problem, exported: Exported, config: TrainConfig | None = None):
    """A stock ``dde.Model`` on ``exported`` whose network starts from pinndd's initial weights
    (``make_model(problem, config)``) and input rescaling; hard constraints as DeepXDE's output
    transform. Returns ``(model, field)`` with ``field`` a pinndd-style view of the network."""
    config = config or TrainConfig()
    dde = import_deepxde()
    if config.activation not in ACTIVATIONS:
        raise PinnddError(f"activation {config.activation!r} has no DeepXDE counterpart here; use one of {list(ACTIVATIONS)}")
    start = make_model(problem, replace(config, device="cpu")).net
    sizes = [problem.domain.dim] + [config.width] * config.depth + [1]
    with quiet_float(dde, config.dtype):
        net = dde.nn.FNN(sizes, ACTIVATIONS[config.activation], "Glorot normal")
        with torch.no_grad():
            for theirs, ours in zip(net.linears, start.layers, strict=True):
                theirs.weight.copy_(ours.weight)
                theirs.bias.copy_(ours.bias)
        scale, shift = start.in_scale.clone(), start.in_shift.clone()
        net.apply_feature_transform(lambda x: x * scale.to(x) + shift.to(x))
        if config.hard:
            net.apply_output_transform(lambda x, y: problem.output(x, y[:, 0], True)[:, None])
        model = dde.Model(exported.data, net)
    return model, Field(net)


def train_model(model, exported: Exported, config: TrainConfig | None = None) -> float:
    """Train a DeepXDE model with pinndd's settings: ``config.adam_steps`` Adam steps at
    ``config.lr``, then up to ``config.lbfgs_steps`` L-BFGS iterations with pinndd's history
    size, tolerances, evaluation limit and strong-Wolfe line search, in one call. Returns the
    wall time in seconds."""
    config = config or TrainConfig()
    dde = import_deepxde()
    t0 = time.perf_counter()
    with quiet_float(dde, config.dtype):
        if config.adam_steps:
            model.compile("adam", lr=config.lr, loss_weights=exported.loss_weights)
            model.train(iterations=config.adam_steps, display_every=max(config.adam_steps, 1), verbose=0)
        if config.lbfgs_steps:
            steps = config.lbfgs_steps
            dde.optimizers.set_LBFGS_options(maxcor=50, ftol=1e-12, gtol=1e-9, maxiter=steps, maxfun=int(steps * 1.25),
                                             maxls=25)
            opts = dde.optimizers.config.LBFGS_options
            opts["iter_per_step"], opts["fun_per_step"] = steps, int(steps * 1.25)  # one call, as pinndd
            model.compile("L-BFGS", loss_weights=exported.loss_weights)
            model.train(display_every=steps, verbose=0)
    return time.perf_counter() - t0


def cross_check(problem: Problem, pointset: PointSet, config: TrainConfig | None = None) -> dict[str, Any]:
    """Train pinndd and a stock DeepXDE model on the same set from the same initial network
    and report both errors on the problem's reference grid.

    Returns
    -------
    dict
        ``{"pinndd": {l2re, l1re, max_abs, seconds}, "deepxde": {...}, "l2re_ratio": deepxde / pinndd,
        "terms": [...], "loss_weights": [...]}``.
    """
    config = replace(config or TrainConfig(), device="cpu", compile=False, progress=False)
    if not problem.has_reference:
        raise PinnddError(f"problem {problem.name!r} has no reference solution; a cross-check compares errors against one")
    ours = train(problem, pointset, config)
    exported = export(problem, pointset, config)
    model, field = build_model(problem, exported, config)
    seconds = train_model(model, exported, config)
    a = {**evaluate(problem, ours.model), "seconds": ours.wall_time}
    b = {**evaluate(problem, field), "seconds": seconds}
    return {"pinndd": a, "deepxde": b, "l2re_ratio": b["l2re"] / a["l2re"], "terms": exported.names,
            "loss_weights": exported.loss_weights}


__all__ = ["Exported", "Field", "build_model", "cross_check", "export", "import_deepxde", "problem_from_deepxde",
           "repeats", "train_model"]
