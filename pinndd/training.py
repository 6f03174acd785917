"""The one trainer: full-batch Adam, then optional L-BFGS, on a point set.

The loop does no host synchronisation per step: loss terms are written into a preallocated
tensor on the device and read back every ``log_every`` steps, where non-finite values are
detected and reported with the step and the term that blew up.

With ``TrainConfig(compile=True)`` each Adam step (loss, gradient and update) is one
:func:`torch.compile` graph and L-BFGS evaluates a compiled loss (:mod:`pinndd.compiled`);
compiling needs the forward derivative engine. :data:`COMPILE_LOG` records every compilation.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from .compiled import ADAM_BETAS, ADAM_EPS, COMPILE_LOG, adam_step, loss_step  # noqa: F401 (COMPILE_LOG: public here)
from .errors import PinnddError, TrainingDiverged
from .evaluation import evaluate
from .losses import TensorPoints
from .nn import MLP, PINN, resolve_dtype
from .pointset import PointSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Network and optimiser settings for :func:`train`.

    Parameters
    ----------
    width, depth, activation:
        The MLP (``depth`` hidden layers of ``width`` units).
    adam_steps, lr:
        Full-batch steps and learning rate of the first phase (Adam unless ``optimizer`` says
        otherwise; the name is kept for the common case).
    optimizer, momentum:
        First-phase optimiser, ``"adam"`` or ``"sgd"`` (with ``momentum``).
    lbfgs_steps:
        Maximum L-BFGS iterations after Adam (strong-Wolfe line search); 0 skips it.
    seed:
        Seeds the network initialisation (the global torch RNG is left untouched).
    dtype, device:
        ``"float32"``/``"float64"``; ``"cpu"``/``"cuda"``.
    hard:
        Use the problem's hard-constraint transform and drop the conditions it enforces.
    condition_weights:
        Overrides of the conditions' loss weights by name.
    engine:
        Derivative engine, ``"auto"``, ``"autograd"`` or ``"forward"``.
    compile:
        Compile each Adam step (loss, gradient and update in one graph) and L-BFGS's loss with
        :func:`torch.compile` (:mod:`pinndd.compiled`). Needs the forward engine
        (``engine="auto"`` or ``"forward"``; ``"autograd"`` raises); a model the forward engine
        does not support (a hard-constraint transform) trains eagerly with a warning. Costs a
        compilation per graph (tens of seconds measured on a 2-core CPU, cold) once per
        architecture, point shapes and problem in a process.
    log_every:
        Steps between reads of the loss history (and divergence checks).
    eval_every:
        Steps between reference-error evaluations recorded in the history (a multiple of
        ``log_every``); 0 disables.
    progress:
        Show a tqdm bar; ``None`` shows it only on a terminal.
    """

    width: int = 32
    depth: int = 3
    activation: str = "tanh"
    adam_steps: int = 5000
    lr: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    lbfgs_steps: int = 0
    seed: int = 0
    dtype: str = "float32"
    device: str = "cpu"
    hard: bool = False
    condition_weights: Mapping[str, float] = field(default_factory=dict)
    engine: str = "auto"
    compile: bool = False
    log_every: int = 100
    eval_every: int = 0
    progress: bool | None = None

    def __post_init__(self) -> None:
        if self.adam_steps < 0 or self.lbfgs_steps < 0:
            raise PinnddError("adam_steps and lbfgs_steps must be >= 0")
        if self.optimizer not in ("adam", "sgd"):
            raise PinnddError(f"optimizer must be 'adam' or 'sgd'; got {self.optimizer!r}")
        if not self.lr > 0:
            raise PinnddError(f"lr must be positive; got {self.lr}")
        if self.log_every < 1:
            raise PinnddError("log_every must be >= 1")
        if self.eval_every < 0 or (self.eval_every and self.eval_every % self.log_every):
            raise PinnddError(f"eval_every ({self.eval_every}) must be 0 or a multiple of log_every ({self.log_every})")
        resolve_dtype(self.dtype)
        if self.compile and self.engine == "autograd":
            raise PinnddError(
                "compile=True needs the forward derivative engine: the autograd engine differentiates twice "
                "(double backward), which torch.compile cannot compile; use engine='auto' or 'forward'"
            )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["condition_weights"] = dict(self.condition_weights)
        return d


@dataclass
class TrainResult:
    """A trained PINN with its history.

    ``history`` maps ``"step"``, ``"loss"`` and every loss-term name (``"pde"``, conditions,
    ``"data"``) to arrays with one entry per recorded step (every Adam step, then every L-BFGS
    function evaluation); ``"eval_step"``, ``"l2re"`` hold reference errors when requested.
    """

    model: PINN
    history: dict[str, np.ndarray]
    wall_time: float
    config: TrainConfig
    problem_name: str

    def final(self, term: str = "loss") -> float:
        return float(self.history[term][-1])


def make_model(problem, config: TrainConfig) -> PINN:
    """A freshly initialised PINN for ``problem`` seeded by ``config.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = MLP(problem.domain, config.width, config.depth, config.activation, config.dtype, "cpu")
    return PINN(net.to(config.device), problem, hard=config.hard)


def show_progress(flag: bool | None) -> bool:
    return sys.stderr.isatty() if flag is None else flag


def check_labels(problem, pointset: PointSet) -> None:
    made_for = pointset.metadata.get("labels_params")
    if pointset.labelled and made_for is not None and dict(made_for) != dict(problem.params):
        raise PinnddError(
            f"this labelled point set was made for parameters {made_for}, not {dict(problem.params)}; "
            "drop the labels (pointset.without_labels()) or relabel it for the shifted problem "
            "(pinndd.teacher.label with a teacher for the shifted parameters)"
        )


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
    return torch.optim.Adam(params, lr=config.lr, betas=ADAM_BETAS, eps=ADAM_EPS, fused=fused or None)


def optimise(problem, model: torch.nn.Module, tp: TensorPoints, config: TrainConfig, term_names: list[str],
             skip: tuple[str, ...], bar=None, on_log=None) -> list[np.ndarray]:
    """Run Adam then L-BFGS on ``model``; return the recorded blocks of
    ``[loss, *terms]`` (one row per step; an extra trailing axis per ensemble member).

    Losses may have shape ``()`` or ``(K,)`` (an ensemble); the optimised objective is their
    sum, which gives every member the gradient of its own loss. ``on_log(step)`` is called at
    every history read (used for reference-error evaluations).
    """
    made: list[Callable[[], tuple[torch.Tensor, torch.Tensor]]] = []

    def compute():  # built at first use: a whole compiled Adam step and no L-BFGS never needs it
        if not made:
            made.append(loss_step(problem, model, tp, config, term_names, skip))
        return made[0]()

    rows: list[np.ndarray] = []
    params = list(model.parameters())
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
            _raise_if_nonfinite(block, last, term_names)
            rows.append(block)
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
            return loss

        lbfgs.step(closure)
        if lb_rows:
            block = torch.stack(lb_rows).cpu().numpy()
            _raise_if_nonfinite(block, config.adam_steps, term_names)
            rows.append(block)
        if bar is not None:
            bar.update(config.lbfgs_steps)
    return rows


def train(problem, pointset: PointSet, config: TrainConfig = TrainConfig(), model: PINN | None = None) -> TrainResult:
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
    rows = optimise(problem, model, tp, config, names, skip, bar, on_log)
    wall = time.perf_counter() - t0
    bar.close()
    table = np.concatenate(rows) if rows else np.zeros((0, len(names) + 1))
    history = {"step": np.arange(len(table)), "loss": table[:, 0]}
    for j, name in enumerate(names):
        history[name] = table[:, j + 1]
    if evals:
        history["eval_step"] = np.array([s for s, _ in evals])
        history["l2re"] = np.array([e for _, e in evals])
    log.info("trained %s on %d points: loss %.3e in %.1f s", problem.name, len(pointset),
             history["loss"][-1] if len(table) else float("nan"), wall)
    return TrainResult(model, history, wall, config, problem.name)
