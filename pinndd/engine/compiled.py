"""Compiled training steps (``TrainConfig(compile=True)``).

Two graphs are compiled with :func:`torch.compile`, both needing the forward derivative engine
(the autograd engine's double backward cannot be compiled):

- the **loss** (derivatives, residual, conditions, weighted sum); backward goes through
  AOTAutograd. Used by L-BFGS's closure, and by Adam where the whole step cannot be compiled
  (``optimizer="sgd"``);
- the **whole Adam step**: the loss, its gradient by :func:`torch.func.grad_and_value` and
  the Adam update (``torch.optim.Adam``'s rule and defaults) of the network's tensors in
  place, one graph and one call per step, with no autograd engine, optimiser object or
  per-parameter dispatch around it. Measured against the compiled loss with eager fused Adam
  (Burgers, 3x32 tanh, float32, 1 thread, 2-core CPU under load from other jobs;
  ``experiments/throughput.py``): see experiments/RESULTS.md §6.

Both are *functional*: they take the network's tensors (a :class:`pinndd.engine.forward.NetView`) and
the points as inputs and close over no model, so one compilation serves every fresh model of
the same architecture, point shapes, problem and loss weights in the process (sweeps over
seeds and methods compile once per budget); each cache key gets its own code object, so
dynamo's per-function recompile limit is never shared between keys. Compile time (seconds,
cold; less with inductor's on-disk cache) is logged and kept in :data:`COMPILE_LOG`. Where
compiling fails (no C++ compiler, say) training falls back to the eager step with a one-time
warning; a model the forward engine does not support (a hard-constraint transform) trains
eagerly with a warning.
"""

from __future__ import annotations

import itertools
import logging
import time
import types
from collections.abc import Callable

import torch

from ..cache import Cache
from . import adam, forward
from .losses import TensorPoints, loss_terms, total_loss

log = logging.getLogger(__name__)

#: One entry per compilation of a training step in this process: ``{"problem", "key",
#: "seconds"}`` (``seconds`` is the first call's wall time: tracing, inductor and the C++
#: compiler, or ``None`` when compiling failed and training fell back to eager).
COMPILE_LOG: list[dict] = []
#: Compiled graphs kept per process, least recently used dropped first (with its code object,
#: so dynamo's cache entry goes too; a training loop holding one keeps it alive).
MAX_GRAPHS = 32
#: Compiled graphs by problem, architecture, shapes and weights (least recently used out first).
GRAPHS = Cache("compiled graphs", MAX_GRAPHS)
_FAILED: set[tuple] = set()
_SERIAL = itertools.count()
_UNCALLED: set[tuple] = set()  # keys compiled (wrapped) but not yet run: their first call compiles
_WARNED: set[str] = set()



def warn_once(message: str) -> None:
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


def _adam_graph(loss: Callable, n_weights: int) -> Callable:
    """A function of ``(params, exp_avg, exp_avg_sq, step, lr, in_scale, in_shift, interior,
    interior_w, conditions, targets)`` that does one Adam step on ``params`` (weights then
    biases) and the moments in place and returns the ``[loss, *terms]`` row before the step;
    ``step`` (float64, 0-d) is this step's number, counted by the caller."""

    def pinndd_adam_step(params, exp_avg, exp_avg_sq, step, lr, in_scale, in_shift, interior, interior_w, conds,
                         targets):
        def objective(ps):
            return loss(ps[:n_weights], ps[n_weights:], in_scale, in_shift, interior, interior_w, conds, targets)

        grads, (_, row) = torch.func.grad_and_value(objective, has_aux=True)(params)
        adam.update_(params, grads, exp_avg, exp_avg_sq, step, lr)  # step (already counted), lr: float64
        return row

    return pinndd_adam_step


def _compiled(kind: str, problem, net: forward.NetView, tp: TensorPoints, skip, weights: dict, names: list[str]):
    """The compiled ``kind`` (``"loss"`` or ``"adam"``) graph for this problem, architecture,
    point shapes and weights (cached), and its key; ``None`` when compiling failed before."""
    shapes = lambda ts: tuple((tuple(t.shape), t.dtype, t.device) for t in ts)  # noqa: E731
    conds = [t for pw in tp.conditions.values() for t in pw]
    key = (kind, _problem_key(problem), net.activation, net.batched, shapes(net.weights),
           shapes([tp.interior, tp.interior_w]), tuple(tp.conditions), shapes(conds),
           None if tp.targets is None else shapes([tp.targets]), tp.target_weight, tuple(skip),
           tuple(sorted(weights.items())), tuple(names))
    if key in _FAILED:
        return None, key
    fn = GRAPHS.get(key)
    if fn is None:
        graph = _loss_graph(problem, net, tp, skip, weights, names)
        if kind == "adam":
            graph = _adam_graph(graph, len(net.weights))
        # a code object of its own per key: dynamo caches compiled frames per code object, and
        # keys sharing one would count as recompiles of one frame (limit 8) and then run eagerly
        name = f"{graph.__name__}_{next(_SERIAL)}"
        graph = types.FunctionType(graph.__code__.replace(co_name=name), graph.__globals__, name, None, graph.__closure__)
        # on CPU, inductor's C++ wrapper calls the graph's ~70 kernels without Python in between:
        # 5-15% off a step at 2048 / 256 points (throughput.py, 1 thread)
        cpu = tp.interior.device.type == "cpu"
        fn = GRAPHS.put(key, torch.compile(graph, dynamic=False, options={"cpp_wrapper": True} if cpu else None))
        _UNCALLED.add(key)
    return fn, key


def _net_view(problem, model) -> forward.NetView | None:
    need = set(problem.partials) | {p for c in problem.conditions for p in c.partials}
    net = forward.view(model) if forward.supports(model, sorted(need), problem.domain) else None
    if net is None:
        warn_once(f"compile=True: the forward engine does not support this model for {problem.name} "
                  "(a hard-constraint transform, another network or third-order partials); training eagerly")
    return net


def _first_call_logged(fn: Callable, args: tuple, key, problem, tp: TensorPoints, fallback: Callable,
                       backward: bool) -> Callable:
    """``fn(*args)`` as a no-argument callable whose first call (the compilation) is timed into
    :data:`COMPILE_LOG`, and which calls ``fallback`` from then on if compiling fails.
    ``backward``: the output's first element is differentiated later, and AOTAutograd compiles
    the backward graph at that first backward call, so the time runs until then."""
    first = [key in _UNCALLED]
    _UNCALLED.discard(key)
    current: list[Callable] = []

    def done(*_):
        seconds = time.perf_counter() - t0[0]
        COMPILE_LOG.append({"problem": problem.name, "key": key, "seconds": seconds})
        log.info("compiled the %s %s (%s interior points) in %.1f s", problem.name, key[0], tuple(tp.interior.shape),
                 seconds)

    t0 = [0.0]

    def compiled():
        if not first[0]:
            return fn(*args)
        first[0] = False
        t0[0] = time.perf_counter()
        try:
            out = fn(*args)
        except Exception as e:  # compilation failed (e.g. no working C++ compiler): train eagerly
            _FAILED.add(key)
            GRAPHS.pop(key)
            COMPILE_LOG.append({"problem": problem.name, "key": key, "seconds": None})
            warn_once(f"compile=True: torch.compile failed ({type(e).__name__}: {str(e).strip()[:300]}); "
                      "training eagerly")
            current[0] = fallback
            return fallback()
        if backward and out[0].grad_fn is not None:
            out[0].grad_fn.register_hook(done)
        else:
            done()
        return out

    current.append(compiled)
    return lambda: current[0]()


def loss_step(problem, model: torch.nn.Module, tp: TensorPoints, config, names: list[str],
              skip: tuple[str, ...]) -> Callable[[], tuple[torch.Tensor, torch.Tensor]]:
    """``compute() -> (objective, row)``: the summed loss to differentiate and the detached
    ``[loss, *terms]`` (one trailing axis per ensemble member), compiled when asked for."""
    weights = dict(config.condition_weights)

    def eager():
        terms = loss_terms(problem, model, tp, skip=skip, engine=config.engine)
        loss = total_loss(problem, terms, weights, tp.target_weight)
        return loss.sum(), torch.stack([loss.detach()] + [terms[n].detach() for n in names])

    net = _net_view(problem, model) if config.compile else None
    if net is None:
        return eager
    fn, key = _compiled("loss", problem, net, tp, skip, weights, names)
    if fn is None:
        return eager
    args = (net.weights, net.biases, net.in_scale, net.in_shift, tp.interior, tp.interior_w,
            tuple(tp.conditions.values()), tp.targets)
    return _first_call_logged(fn, args, key, problem, tp, eager, backward=True)


def adam_step(problem, model: torch.nn.Module, tp: TensorPoints, config, names: list[str], skip: tuple[str, ...],
              fallback: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor] | None:
    """``step() -> row``: one whole compiled Adam step on ``model``'s tensors (updated in place;
    the Adam state lives here, from zero), returning the ``[loss, *terms]`` row before the step;
    ``None`` where it does not apply (no ``compile``, another optimiser, a model the forward
    engine does not support) or compiling failed before. ``fallback`` (an eager step) takes
    over if compiling fails now."""
    if not config.compile or config.optimizer != "adam":
        return None
    net = _net_view(problem, model)
    if net is None:
        return None
    fn, key = _compiled("adam", problem, net, tp, skip, dict(config.condition_weights), names)
    if fn is None:
        return None
    params = tuple(p.detach() for p in (*net.weights, *net.biases))  # aliases: updated in place
    exp_avg = tuple(torch.zeros_like(p) for p in params)
    exp_avg_sq = tuple(torch.zeros_like(p) for p in params)
    first = params[0]
    step = torch.zeros((), dtype=torch.float64, device=first.device)
    lr = torch.tensor(config.lr, dtype=torch.float64, device=first.device)
    args = (params, exp_avg, exp_avg_sq, step, lr, net.in_scale, net.in_shift, tp.interior, tp.interior_w,
            tuple(tp.conditions.values()), tp.targets)

    def counted(*a):
        # counted outside the graph: an in-graph add_ on this 0-d float64 input was not seen by
        # the graph's own reads (torch 2.13 CPU: the first step divided by 1 - b1**0 = 0)
        step.add_(1)
        return fn(*a)

    return _first_call_logged(counted, args, key, problem, tp, fallback, backward=False)
