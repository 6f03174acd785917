"""The one trainer: full-batch Adam, then optional L-BFGS, on a point set.

The loop does no host synchronisation per step: loss terms are written into a preallocated
tensor on the device and read back every ``log_every`` steps, where non-finite values are
detected and reported with the step and the term that blew up.

With ``TrainConfig(compile=True)`` the loss (derivatives by the forward engine, residual,
conditions, weighted sum) is one :func:`torch.compile` graph; backward and the optimiser
step stay eager (inductor compiles the backward graph too, through AOTAutograd). The
autograd engine's double backward cannot be compiled, so compiling needs the forward engine.
The compiled function is *functional*: it takes the network's tensors (a
:class:`pinndd.forward.NetView`) and the points as inputs and closes over no model, so one
compilation serves every fresh model of the same architecture, point shapes, problem and
loss weights in the process (sweeps over seeds and methods compile once per budget); each
cache key gets its own code object, so dynamo's per-function recompile limit is never shared
between keys. Compile time (seconds, cold; less with inductor's on-disk cache) is logged
and kept in :data:`COMPILE_LOG`. Where compiling fails (no C++ compiler, say) training
falls back to the eager step with a one-time warning.
"""

from __future__ import annotations

import logging
import sys
import time
import types
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from . import forward
from .errors import PinnddError, TrainingDiverged
from .evaluation import evaluate
from .losses import TensorPoints, loss_terms, total_loss
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
        Compile the loss computation with :func:`torch.compile` (see the module docstring).
        Needs the forward engine (``engine="auto"`` or ``"forward"``; ``"autograd"`` raises);
        a model the forward engine does not support (a hard-constraint transform) trains
        eagerly with a warning. Costs a compilation (13-30 s measured on a 2-core CPU, cold) once per
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


#: One entry per compilation of a training step in this process: ``{"problem", "key",
#: "seconds"}`` (``seconds`` is the first call's wall time: tracing, inductor and the C++
#: compiler, or ``None`` when compiling failed and training fell back to eager).
COMPILE_LOG: list[dict] = []
_COMPILED: dict[tuple, Callable] = {}
_FAILED: set[tuple] = set()
_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        log.warning(message)


def _fn_key(fn):
    """A hashable stand-in for a problem's function: its code and closure values when those
    are plain constants (``equations`` builds new closures such as ``constant(0.0)`` per
    problem object), else the function object itself."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return fn
    cells = tuple(c.cell_contents for c in (fn.__closure__ or ()))
    if all(isinstance(v, (int, float, str, bool, type(None))) for v in cells):
        return (code, cells, id(fn.__globals__))
    return fn


def _problem_key(problem) -> tuple:
    conds = tuple((c.name, c.kind, c.face, c.weight, _fn_key(c.value)) for c in problem.conditions)
    return (problem.name, tuple(sorted(problem.params.items())), problem.domain, problem.partials,
            _fn_key(problem.residual), conds)


def _loss_graph(problem, net: forward.NetView, tp: TensorPoints, skip: tuple[str, ...], weights: dict,
                names: list[str]) -> Callable:
    """A pure function of ``(weights, biases, in_scale, in_shift, interior, interior_w,
    conditions, targets)`` returning ``(summed loss, stacked [loss, *terms])``."""
    activation, batched, target_weight = net.activation, net.batched, tp.target_weight
    cond_names = list(tp.conditions)

    def pinndd_loss(ws, bs, in_scale, in_shift, interior, interior_w, conds, targets):
        model = forward.NetView(activation, batched, ws, bs, in_scale, in_shift)
        # loss_terms keys points by id(): on an input tensor dynamo would guard on its identity and
        # recompile for every new TensorPoints; a view is graph-internal (no guard, no copy)
        conds = [(p.view_as(p), w) for p, w in conds]
        points = TensorPoints(interior, interior_w, dict(zip(cond_names, conds)), targets, target_weight)
        terms = loss_terms(problem, model, points, skip=skip, engine="forward")
        loss = total_loss(problem, terms, weights, target_weight)
        return loss.sum(), torch.stack([loss] + [terms[n] for n in names]).detach()

    return pinndd_loss


def _compiled_loss(problem, net: forward.NetView, tp: TensorPoints, skip, weights: dict, names: list[str]):
    """The compiled loss for this problem, architecture, point shapes and weights (cached),
    and its key; ``None`` when compiling failed before for the key."""
    shapes = lambda ts: tuple((tuple(t.shape), t.dtype, t.device) for t in ts)  # noqa: E731
    conds = [t for pw in tp.conditions.values() for t in pw]
    key = (_problem_key(problem), net.activation, net.batched, shapes(net.weights), shapes([tp.interior, tp.interior_w]),
           tuple(tp.conditions), shapes(conds), None if tp.targets is None else shapes([tp.targets]), tp.target_weight,
           tuple(skip), tuple(sorted(weights.items())), tuple(names))
    if key in _FAILED:
        return None, key
    fn = _COMPILED.get(key)
    if fn is None:
        graph = _loss_graph(problem, net, tp, skip, weights, names)
        # a code object of its own per key: dynamo caches compiled frames per code object, and
        # keys sharing one would count as recompiles of one frame (limit 8) and then run eagerly
        name = f"pinndd_loss_{len(_COMPILED)}"
        graph = types.FunctionType(graph.__code__.replace(co_name=name), graph.__globals__, name, None, graph.__closure__)
        fn = _COMPILED[key] = torch.compile(graph, dynamic=False)
    return fn, key


def _loss_step(problem, model: torch.nn.Module, tp: TensorPoints, config: TrainConfig, names: list[str],
               skip: tuple[str, ...]) -> Callable[[], tuple[torch.Tensor, torch.Tensor]]:
    """``compute() -> (objective, row)``: the summed loss to differentiate and the detached
    ``[loss, *terms]`` (one trailing axis per ensemble member), compiled when asked for."""
    weights = dict(config.condition_weights)

    def eager():
        terms = loss_terms(problem, model, tp, skip=skip, engine=config.engine)
        loss = total_loss(problem, terms, weights, tp.target_weight)
        return loss.sum(), torch.stack([loss.detach()] + [terms[n].detach() for n in names])

    if not config.compile:
        return eager
    need = set(problem.partials) | {p for c in problem.conditions for p in c.partials}
    net = forward.view(model) if forward.supports(model, sorted(need), problem.domain) else None
    if net is None:
        _warn_once(f"compile=True: the forward engine does not support this model for {problem.name} "
                   "(a hard-constraint transform, another network or third-order partials); training eagerly")
        return eager
    fn, key = _compiled_loss(problem, net, tp, skip, weights, names)
    if fn is None:
        return eager
    conds = tuple(tp.conditions.values())
    args = (net.weights, net.biases, net.in_scale, net.in_shift, tp.interior, tp.interior_w, conds, tp.targets)
    first = [key not in {e["key"] for e in COMPILE_LOG}]

    def compiled():
        if not first[0]:
            return fn(*args)
        first[0] = False
        t0 = time.perf_counter()
        try:
            out = fn(*args)
        except Exception as e:  # compilation failed (e.g. no working C++ compiler): train eagerly
            _FAILED.add(key)
            _COMPILED.pop(key, None)
            COMPILE_LOG.append({"problem": problem.name, "key": key, "seconds": None})
            _warn_once(f"compile=True: torch.compile failed ({type(e).__name__}: {str(e).strip()[:300]}); "
                       "training eagerly")
            compute[0] = eager
            return eager()

        def done(*_):  # AOTAutograd compiles the backward graph at the first backward call
            seconds = time.perf_counter() - t0
            COMPILE_LOG.append({"problem": problem.name, "key": key, "seconds": seconds})
            log.info("compiled the %s training step (%s interior points) in %.1f s", problem.name,
                     tuple(tp.interior.shape), seconds)

        if out[0].grad_fn is not None:
            out[0].grad_fn.register_hook(done)
        else:
            done()
        return out

    compute = [compiled]
    return lambda: compute[0]()


def _make_optimizer(params: list[torch.nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum)
    # fused Adam: one kernel for all parameters; measured faster than the default (for-loop)
    # and foreach implementations on CPU (see experiments/throughput.py)
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    return torch.optim.Adam(params, lr=config.lr, fused=fused or None)


def optimise(problem, model: torch.nn.Module, tp: TensorPoints, config: TrainConfig, term_names: list[str],
             skip: tuple[str, ...], bar=None, on_log=None) -> list[np.ndarray]:
    """Run Adam then L-BFGS on ``model``; return the recorded blocks of
    ``[loss, *terms]`` (one row per step; an extra trailing axis per ensemble member).

    Losses may have shape ``()`` or ``(K,)`` (an ensemble); the optimised objective is their
    sum, which gives every member the gradient of its own loss. ``on_log(step)`` is called at
    every history read (used for reference-error evaluations).
    """
    compute = _loss_step(problem, model, tp, config, term_names, skip)
    rows: list[np.ndarray] = []
    params = list(model.parameters())
    opt = _make_optimizer(params, config) if config.adam_steps else None
    record = None
    last = 0
    for step in range(config.adam_steps):
        opt.zero_grad(set_to_none=True)
        loss, row = compute()
        loss.backward()
        opt.step()
        if record is None:
            record = torch.empty((config.adam_steps, *row.shape), dtype=row.dtype, device=row.device)
        record[step] = row
        if (step + 1) % config.log_every == 0 or step + 1 == config.adam_steps:
            block = record[last : step + 1].cpu().numpy()
            _raise_if_nonfinite(block, last, term_names)
            rows.append(block)
            if bar is not None:
                bar.update(step + 1 - last)
                bar.set_postfix(loss=f"{float(np.mean(block[-1, 0])):.3e}")
            last = step + 1
            if on_log is not None:
                on_log(step + 1)

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
