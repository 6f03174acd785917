"""The one trainer: full-batch Adam, then optional L-BFGS, on a point set.

The loop does no host synchronisation per step: loss terms are written into a preallocated
tensor on the device and read back every ``log_every`` steps, where non-finite values are
detected and reported with the step and the term that blew up.

With ``TrainConfig(compile=True)`` each Adam step (loss, gradient and update) is one
:func:`torch.compile` graph and L-BFGS evaluates a compiled loss (:mod:`pinndd.engine.compiled`);
compiling needs the forward derivative engine. :data:`COMPILE_LOG` records every compilation.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from ..cost import Cost
from ..errors import PinnddError, TrainingDiverged
from ..labels import check_for
from ..pointset import PointSet
from . import adam
from .checks import check_problem  # noqa: F401 (public here too)
from .compiled import COMPILE_LOG, adam_step, loss_step  # noqa: F401 (COMPILE_LOG: public here)
from .config import TrainConfig, TrainResult, check_device  # noqa: F401 (public here too)
from .evaluation import evaluate
from .losses import TensorPoints
from .nn import MLP, PINN, resolve_dtype

log = logging.getLogger(__name__)


def make_model(problem, config: TrainConfig) -> PINN:
    """A freshly initialised PINN for ``problem`` seeded by ``config.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = MLP(problem.domain, config.width, config.depth, config.activation, config.dtype, "cpu")
    return PINN(net.to(config.device), problem, hard=config.hard)


def show_progress(flag: bool | None) -> bool:
    return sys.stderr.isatty() if flag is None else flag


def check_labels(problem, pointset: PointSet) -> None:
    """Refuse labels made for other parameters (:func:`pinndd.labels.check_for`)."""
    if pointset.labelled:
        check_for(problem, pointset.label_record)


def term_names(problem, pointset: PointSet, hard: bool) -> tuple[list[str], tuple[str, ...]]:
    skip = problem.hard_conditions if hard else ()
    names = ["pde"] + [c for c in pointset.conditions if c not in skip] + (["data"] if pointset.labelled else [])
    return names, skip


def _raise_if_nonfinite(block: np.ndarray, first_step: int, names: list[str]) -> None:
    bad = ~np.isfinite(block)
    if bad.any():
        idx = np.argwhere(bad)[0]
        raise TrainingDiverged(first_step + int(idx[0]), (["loss"] + names)[idx[1]], float(block[tuple(idx)]))


def _make_optimizer(params: list[torch.nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum)
    # fused Adam: one kernel for all parameters; measured faster than the default (for-loop)
    # and foreach implementations on CPU (see experiments/throughput.py)
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    return torch.optim.Adam(params, lr=config.lr, betas=adam.BETAS, eps=adam.EPS, fused=fused or None)


class _LastFinite:
    """Copies of the parameters at recorded steps, to put back the last ones whose loss is known
    finite when training diverges. ``pending`` holds the parameters whose loss is the next row to
    be recorded; once that row is read back finite they become ``verified``."""

    def __init__(self, params: list[torch.Tensor]):
        self.params = params
        self.verified: tuple[int, list[torch.Tensor]] | None = None
        self.pending: tuple[int, list[torch.Tensor]] = (0, self._copy())

    def _copy(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.params]

    def checked(self, finite_rows: int) -> None:
        """Rows ``< finite_rows`` are finite; the current parameters' loss is row ``finite_rows``."""
        if self.pending[0] < finite_rows:
            self.verified = self.pending
        self.pending = (finite_rows, self._copy())

    def finite_now(self, row: int) -> None:
        """The current parameters gave the finite loss of row ``row``."""
        self.verified = (row, self._copy())

    def restore(self, bad_row: int) -> int | None:
        """Put back the latest parameters whose loss row is finite (before ``bad_row``); return
        that row, or ``None`` when there is none (the initial loss already was not finite)."""
        found = [c for c in (self.pending, self.verified) if c is not None and c[0] < bad_row]
        row, saved = max(found, key=lambda c: c[0]) if found else self.pending
        if found or row == 0:  # nothing finite: at least the initial parameters, not NaN ones
            with torch.no_grad():
                for p, v in zip(self.params, saved):
                    p.copy_(v)
        return row if found else None


def _diverged(e: TrainingDiverged, snapshots: _LastFinite, rows: list[np.ndarray]) -> TrainingDiverged:
    e.last_finite_step = snapshots.restore(e.step)
    e.rows = rows
    return e


def optimise(problem, model: torch.nn.Module, tp: TensorPoints, config: TrainConfig, term_names: list[str],
             skip: tuple[str, ...], bar=None, on_log=None) -> list[np.ndarray]:
    """Run Adam then L-BFGS on ``model``; return the recorded blocks of
    ``[loss, *terms]`` (one row per step; an extra trailing axis per ensemble member).

    Losses may have shape ``()`` or ``(K,)`` (an ensemble); the optimised objective is their
    sum, which gives every member the gradient of its own loss. ``on_log(step)`` is called at
    every history read (used for reference-error evaluations).

    On a non-finite loss it raises :class:`TrainingDiverged` with the model's parameters put back
    to the last ones whose loss was finite (``last_finite_step``; ``None`` when even the first
    loss was not finite) and the finite blocks recorded so far (``rows``).
    """
    made: list[Callable[[], tuple[torch.Tensor, torch.Tensor]]] = []

    def compute():  # built at first use: a whole compiled Adam step and no L-BFGS never needs it
        if not made:
            made.append(loss_step(problem, model, tp, config, term_names, skip))
        return made[0]()

    rows: list[np.ndarray] = []
    params = list(model.parameters())
    snapshots = _LastFinite(params)
    step = None
    if config.adam_steps:
        opt = _make_optimizer(params, config)

        def eager_step() -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            loss, row = compute()
            loss.backward()
            opt.step()
            return row

        step = adam_step(problem, model, tp, config, term_names, skip, eager_step) or eager_step
    record = None
    last = 0
    for i in range(config.adam_steps):
        row = step()
        if record is None:
            record = torch.empty((config.adam_steps, *row.shape), dtype=row.dtype, device=row.device)
        record[i] = row
        if (i + 1) % config.log_every == 0 or i + 1 == config.adam_steps:
            block = record[last : i + 1].cpu().numpy()
            try:
                _raise_if_nonfinite(block, last, term_names)
            except TrainingDiverged as e:
                raise _diverged(e, snapshots, rows) from None
            rows.append(block)
            snapshots.checked(i + 1)
            if bar is not None:
                bar.update(i + 1 - last)
                bar.set_postfix(loss=f"{float(np.mean(block[-1, 0])):.3e}")
            last = i + 1
            if on_log is not None:
                on_log(i + 1)

    if config.lbfgs_steps:
        lbfgs = torch.optim.LBFGS(params, lr=1.0, max_iter=config.lbfgs_steps,
                                  max_eval=int(config.lbfgs_steps * 1.25), history_size=50,
                                  tolerance_grad=1e-9, tolerance_change=1e-12, line_search_fn="strong_wolfe")
        lb_rows: list[torch.Tensor] = []

        def closure():
            lbfgs.zero_grad(set_to_none=True)
            loss, row = compute()
            loss.backward()
            lb_rows.append(row if row.ndim == 1 else row.sum(-1))
            if bool(torch.isfinite(row).all()):  # L-BFGS reads the loss on the host anyway
                snapshots.finite_now(config.adam_steps + len(lb_rows) - 1)
            return loss

        lbfgs.step(closure)
        if lb_rows:
            block = torch.stack(lb_rows).cpu().numpy()
            try:
                _raise_if_nonfinite(block, config.adam_steps, term_names)
            except TrainingDiverged as e:
                raise _diverged(e, snapshots, rows) from None
            rows.append(block)
        if bar is not None:
            bar.update(config.lbfgs_steps)
    return rows


def train(problem, pointset: PointSet, config: TrainConfig = TrainConfig(), model: PINN | None = None) -> TrainResult:  # noqa: B008 (frozen)
    """Train a PINN for ``problem`` on ``pointset``.

    Parameters
    ----------
    problem:
        The PDE problem (its current parameters are the ones trained for).
    pointset:
        Points, weights and (optionally) targets; validated against ``problem``.
    config:
        See :class:`TrainConfig`.
    model:
        Continue training this PINN instead of a fresh one.

    Raises
    ------
    TrainingDiverged
        When a loss term becomes NaN or inf; names the step and the term.
    PinnddError
        For a point set that does not fit the problem, or labels made for other parameters.
    """
    pointset.validate(problem)
    check_labels(problem, pointset)
    check_problem(problem, pointset)
    unknown = set(config.condition_weights) - set(problem.condition_names)
    if unknown:
        raise PinnddError(f"condition_weights names unknown condition(s) {sorted(unknown)}; "
                          f"{problem.name!r} has {list(problem.condition_names)}")
    enforced = problem.hard_conditions if config.hard else ()
    missing = [c for c in problem.condition_names if c not in pointset.conditions and c not in enforced]
    if missing:
        warnings.warn(f"the point set has no points for condition(s) {missing} of {problem.name!r}: the PINN is "
                      "trained without them and its solution is not determined; add condition points (every "
                      "method's make() does) or train with hard=True", UserWarning, stacklevel=2)
    if config.adam_steps == 0 and config.lbfgs_steps == 0:
        warnings.warn("adam_steps = lbfgs_steps = 0: the model is returned untrained", UserWarning, stacklevel=2)
    model = model if model is not None else make_model(problem, config)
    model.problem = problem
    tp = TensorPoints.from_pointset(pointset, resolve_dtype(config.dtype), torch.device(config.device))
    names, skip = term_names(problem, pointset, config.hard)
    evals: list[tuple[int, float]] = []

    def on_log(step: int) -> None:
        if config.eval_every and problem.has_reference and step % config.eval_every == 0:
            evals.append((step, evaluate(problem, model)["l2re"]))

    bar = tqdm(total=config.adam_steps + config.lbfgs_steps, desc=f"train {problem.name}",
               disable=not show_progress(config.progress), leave=False)
    t0 = time.perf_counter()
    try:
        rows = optimise(problem, model, tp, config, names, skip, bar, on_log)
    except TrainingDiverged as e:
        bar.close()
        e.model = model  # restored by optimise to the last parameters with a finite loss
        e.result = TrainResult(model, _history(e.rows, names, evals), time.perf_counter() - t0, config, problem.name)
        raise
    wall = time.perf_counter() - t0
    bar.close()
    history = _history(rows, names, evals)
    log.info("trained %s on %d points: loss %.3e in %.1f s", problem.name, len(pointset),
             history["loss"][-1] if len(history["loss"]) else float("nan"), wall)
    return TrainResult(model, history, wall, config, problem.name, Cost.of(pointset.metadata).with_training(wall))


def _history(rows: list[np.ndarray], names: list[str], evals: list[tuple[int, float]]) -> dict[str, np.ndarray]:
    table = np.concatenate(rows) if rows else np.zeros((0, len(names) + 1))
    history = {"step": np.arange(len(table)), "loss": table[:, 0]}
    for j, name in enumerate(names):
        history[name] = table[:, j + 1]
    if evals:
        history["eval_step"] = np.array([s for s, _ in evals])
        history["l2re"] = np.array([e for _, e in evals])
    return history
