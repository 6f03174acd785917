"""The shared machinery of dataset distillers (family ``"distiller"``).

A distiller learns the coordinates (and optionally the weights) of a
:class:`~pinndd.methods.distill.synthetic.SyntheticSet` by minimising an *outer objective* that compares
the synthetic set with a dense reference set through networks trained on them:

1. the dense set (``dense`` Sobol interior points, condition points by the budget rule) and
   ``n_experts`` expert trajectories on it (:func:`pinndd.engine.experts.train_experts`) are built once
   per problem and settings in a process (cached);
2. the synthetic set starts from the registered method ``init`` (default ``"sobol"``) at the
   same budget and seed;
3. ``outer_steps`` Adam steps (``outer_lr``) on the raw synthetic tensors and on the objective's
   own learnable tensors (e.g. MTT's step size) minimise ``objective(ctx, step, synthetic, rng)``,
   where ``rng`` is a :class:`torch.Generator` seeded by ``(seed, step)`` only, so that a run
   resumed from a checkpoint is the uninterrupted run exactly;
4. every ``checkpoint_every`` steps the state (raw synthetic tensors, the objective's tensors,
   the outer Adam moments and the step) is written to
   ``checkpoint_dir/<name>-<problem>-<key>-step<k>.npz`` (``np.savez``, no pickle, written
   atomically), where ``key`` hashes every setting except ``outer_steps``, ``checkpoint_every``,
   ``checkpoint_dir`` and ``progress``; a later run with the same key resumes from the latest
   intact checkpoint at or before its ``outer_steps`` (a damaged one is skipped with a warning).
   Ctrl-C raises :class:`pinndd.errors.Interrupted`, whose one-line message names the last
   checkpoint.

The student networks are soft-constraint PINNs (MLP ``depth`` x ``width``, ``activation``) used
through :func:`torch.func.functional_call`, so a network *state* is a dict of tensors: fresh
initialisations (Glorot normal from ``rng``) or expert checkpoints. Losses are those of
:func:`pinndd.train`: ``L = L_pde + sum_c lambda_c L_c`` with weighted means.

Costs are reported in the point set's metadata: ``cost_seconds_experts`` (dense set and experts;
the original cost even when the cache was hit), ``cost_seconds_outer`` (the outer loop) and
``dense_training_seconds`` (one expert, i.e. one dense training of ``expert_steps`` Adam steps),
beside ``outer_log`` (the objective at every outer step).
"""

from __future__ import annotations

import json
import logging
import math
import time
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ...budget import DEFAULT_RULE, FixedRule
from ...cache import Cache, problem_fingerprint
from ...cost import charge
from ...engine import derivatives
from ...engine.experts import make_student, param_layout, train_experts
from ...engine.losses import TensorPoints
from ...engine.nn import resolve_dtype
from ...engine.training import show_progress
from ...errors import PinnddError
from ..base import Capabilities, PointSetMethod, get
from .checkpoint import Checkpointed
from .context import DistillContext, DistillRun, step_generator
from .synthetic import SyntheticSet

log = logging.getLogger(__name__)

#: Dense sets and expert trajectories made in this process, as ``(dense, experts, seconds)``.
EXPERTS = Cache("distillation experts", 8)


@dataclass(frozen=True)
class Distiller(Checkpointed, PointSetMethod):
    """Base class of the distillers: settings, dense set and experts, outer loop, checkpoints.

    Parameters
    ----------
    init:
        Registered method whose point set (same budget and seed) the synthetic set starts from.
    outer_steps, outer_lr:
        Adam steps and learning rate on the raw synthetic tensors (logits).
    learn_points, learn_conditions, learn_weights:
        What moves: interior coordinates, condition points along their faces, weights.
    width, depth, activation, dtype:
        The student (and expert) network: ``depth`` hidden layers of ``width`` units.
    dense:
        Interior points of the dense reference set (Sobol; conditions by the default budget rule).
    n_experts, expert_steps, expert_every, expert_lr, expert_seed:
        Expert trajectories on the dense set: Adam steps, record spacing, learning rate, first
        network seed. The dense set's seed is ``expert_seed`` too, so every method seed shares one
        cached set of experts.
    device:
        ``"cpu"`` or ``"cuda"`` (``"cuda"`` without a GPU raises :class:`PinnddError`).
    engine:
        Derivative engine (``"auto"``: forward propagation where supported).
    checkpoint_every, checkpoint_dir:
        Write a checkpoint every ``checkpoint_every`` outer steps into ``checkpoint_dir``
        (``None`` or 0: no checkpoints) and resume from one (see the module docstring).
    progress:
        Show a tqdm bar; ``None`` shows it only on a terminal.
    """

    family = "distiller"
    capabilities = Capabilities(checkpoints=True)

    init: str = "sobol"
    outer_steps: int = 100
    outer_lr: float = 0.02
    learn_points: bool = True
    learn_conditions: bool = True
    learn_weights: bool = False
    width: int = 32
    depth: int = 3
    activation: str = "tanh"
    dtype: str = "float32"
    dense: int = 4096
    n_experts: int = 2
    expert_steps: int = 2000
    expert_every: int = 50
    expert_lr: float = 1e-3
    expert_seed: int = 0
    device: str = "cpu"
    engine: str = "auto"
    checkpoint_every: int = 0
    checkpoint_dir: str | None = None
    progress: bool | None = None

    def __post_init__(self) -> None:
        if self.outer_steps < 0 or not self.outer_lr > 0:
            raise PinnddError(f"need outer_steps >= 0 and outer_lr > 0; got {self.outer_steps}, {self.outer_lr}")
        if not (self.learn_points or self.learn_conditions or self.learn_weights):
            raise PinnddError("nothing to learn: set learn_points, learn_conditions or learn_weights")
        if self.dense < 1 or self.n_experts < 0:
            raise PinnddError(f"need dense >= 1 and n_experts >= 0; got {self.dense}, {self.n_experts}")
        if self.n_experts and (self.expert_steps < 1 or self.expert_every < 1 or self.expert_steps % self.expert_every):
            raise PinnddError(f"expert_every ({self.expert_every}) must be >= 1 and divide expert_steps ({self.expert_steps})")
        if self.checkpoint_every < 0:
            raise PinnddError("checkpoint_every must be >= 0")
        if self.device.split(":")[0] not in ("cpu", "cuda"):
            raise PinnddError(f"device must be 'cpu' or 'cuda[:k]'; got {self.device!r}")
        if self.engine not in derivatives.ENGINES:
            raise PinnddError(f"engine must be one of {derivatives.ENGINES}; got {self.engine!r}")
        resolve_dtype(self.dtype)

    # -- hooks for subclasses ------------------------------------------------------------------
    def uses_experts(self) -> bool:
        """Whether the objective needs expert trajectories (default: when ``n_experts > 0``)."""
        return self.n_experts > 0

    def setup(self, ctx: DistillContext) -> None:
        """Create the objective's own learnable tensors in ``ctx.learnable`` (and their learning
        rates in ``ctx.lr``); default none."""

    @abstractmethod
    def objective(self, ctx: DistillContext, step: int, synthetic: SyntheticSet, rng: torch.Generator) -> torch.Tensor:
        """The outer objective at outer step ``step`` (a scalar tensor differentiable w.r.t. the
        synthetic set's raw tensors and ``ctx.learnable``). All randomness must come from ``rng``."""

    def extra_metadata(self, ctx: DistillContext) -> dict[str, Any]:
        """JSON-friendly facts to store in the point set's metadata (e.g. learned step sizes)."""
        return {}

    # -- building blocks -----------------------------------------------------------------------
    def _device(self) -> torch.device:
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise PinnddError(f"device {self.device!r} asked for, but torch sees no CUDA device; use device='cpu'")
        return torch.device(self.device)

    def context(self, problem, counts: dict[str, int], seed: int) -> DistillContext:
        """The dense set, experts (cached per problem and settings) and student template."""
        device = self._device()
        dt = resolve_dtype(self.dtype)
        n_exp = self.n_experts if self.uses_experts() else 0
        hit = True
        t_call = time.perf_counter()
        key = json.dumps([problem_fingerprint(problem), self.dense, n_exp, self.expert_steps,
                          self.expert_every, self.expert_lr, self.expert_seed, self.width, self.depth, self.activation,
                          self.dtype, str(device), self.engine], sort_keys=True)
        if key not in EXPERTS:
            hit = False
            t0 = time.perf_counter()
            dense_ps = get("sobol").make(problem, self.dense, seed=self.expert_seed, rule=DEFAULT_RULE)
            dense = TensorPoints.from_pointset(dense_ps, dt, device)
            experts = None
            if n_exp:
                experts = train_experts(problem, dense, n_exp, self.expert_steps, self.expert_every, self.expert_lr,
                                        self.width, self.depth, self.activation, self.dtype, str(device),
                                        self.expert_seed, self.engine, show_progress(self.progress))
            EXPERTS.put(key, (dense, experts, time.perf_counter() - t0))
        dense, experts, cost = EXPERTS.get(key)
        if experts is not None:  # the expert runs are dense trainings the set learns from: charged in full
            charge("teacher", cost, spent=time.perf_counter() - t_call, key=key)
        model = make_student(problem, self.width, self.depth, self.activation, self.dtype, str(device))
        for p in model.parameters():
            p.requires_grad_(False)
        return DistillContext(problem, dict(counts), int(seed), dense, experts, model, param_layout(model), dt, device,
                              self.engine, cost, hit)

    def synthetic(self, problem, counts: dict[str, int], seed: int) -> SyntheticSet:
        """The synthetic set initialised from method ``init`` at the same budget and seed."""
        if get(self.init).capabilities.labelled:
            raise PinnddError(f"init method {self.init!r} makes labelled sets; a distiller needs an unlabelled init")
        rule_counts = {k: v for k, v in counts.items() if k != "interior"}
        init = get(self.init).make(problem, counts["interior"], seed, rule=FixedRule(rule_counts))
        return SyntheticSet(problem, init, self.learn_points, self.learn_conditions, self.learn_weights,
                            resolve_dtype(self.dtype), self._device())

    # -- the outer loop ------------------------------------------------------------------------
    def run(self, problem, counts: dict[str, int], seed: int) -> DistillRun:
        """Build the context and the synthetic set, and run (or resume) the outer loop.

        :meth:`make` calls this and freezes the result; tests and experiments may call it to
        inspect the objective (``self.objective(run.context, step, run.synthetic, rng)``).
        """
        ctx = self.context(problem, counts, seed)
        syn = self.synthetic(problem, counts, seed)
        self.setup(ctx)
        params = syn.learnable() + list(ctx.learnable.values())
        groups = [{"params": syn.learnable(), "lr": self.outer_lr}]
        for name, t in ctx.learnable.items():
            groups.append({"params": [t], "lr": ctx.lr.get(name, self.outer_lr)})
        opt = torch.optim.Adam(groups)
        outer_log: list[float] = []
        start = 0
        key = self.checkpoint_key(problem, counts, seed)
        # _load_checkpoint checks every array before it changes the run, so a refused file is skipped
        found = self._read_latest(problem, key, lambda path, data: (
            path, int(data["step"]), self._load_checkpoint(path, data, syn, ctx, opt, params)))
        last_path = None
        if found is not None:
            last_path, start, outer_log = found
            log.info("%s: resumed from %s (step %d)", self.name, last_path, start)

        t1 = time.perf_counter()
        bar = tqdm(total=self.outer_steps, initial=start, desc=f"{self.name} {problem.name}",
                      disable=not show_progress(self.progress), leave=False)
        step = start
        try:
            for step in range(start, self.outer_steps):
                rng = step_generator(seed, step)
                opt.zero_grad(set_to_none=True)
                loss = self.objective(ctx, step, syn, rng)
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise PinnddError(f"{self.name}: the outer objective became {value} at outer step {step}; "
                                      "use dtype='float64' (trajectory matching on Poisson needed it; a lower "
                                      "outer_lr did not help there) or lower outer_lr")
                loss.backward()
                opt.step()
                outer_log.append(value)
                bar.update(1)
                bar.set_postfix(objective=f"{value:.3e}")
                if self.checkpoint_dir and self.checkpoint_every and (step + 1) % self.checkpoint_every == 0:
                    last_path = self._ckpt_path(problem, key, step + 1)
                    self._save_checkpoint(last_path, step + 1, syn, ctx, opt, params, outer_log)
        except KeyboardInterrupt:
            bar.close()
            raise self._interrupted(step, last_path) from None
        bar.close()
        t_outer = time.perf_counter() - t1
        log.info("%s on %s: %d outer steps in %.1f s, objective %s -> %s", self.name, problem.name,
                 self.outer_steps - start, t_outer, outer_log[0] if outer_log else None, outer_log[-1] if outer_log else None)
        return DistillRun(syn, ctx, outer_log, start, t_outer)

    def _make(self, problem, counts, seed):
        return self.finish(self.run(problem, counts, seed))

    def finish(self, run: DistillRun) -> tuple[Any, dict[str, Any]]:
        """Freeze a finished run into ``(PointSet, metadata)`` (what :meth:`make` returns)."""
        ctx = run.context
        meta = {
            "outer_log": run.outer_log,
            "resumed_from_step": run.resumed_from,
            "init_method": self.init,
            "cost_seconds_experts": ctx.cost_seconds,
            "experts_cached": ctx.cached,
            "cost_seconds_outer": run.seconds,
            "dense_training_seconds": (ctx.experts.metadata["seconds_per_expert"] if ctx.experts is not None else None),
            **self.extra_metadata(ctx),
        }
        return run.synthetic.to_pointset(), meta

    # -- checkpoints ---------------------------------------------------------------------------
    def _save_checkpoint(self, path: Path, step: int, syn: SyntheticSet, ctx: DistillContext, opt: torch.optim.Optimizer,
                         params: list[torch.Tensor], outer_log: list[float]) -> None:
        def np_(t: torch.Tensor) -> np.ndarray:
            return t.detach().cpu().numpy()

        arrays: dict[str, np.ndarray] = {"step": np.array(step), "outer_log": np.asarray(outer_log, dtype=np.float64)}
        for k, t in syn.raw().items():
            arrays[f"syn/{k}"] = np_(t)
        for k, t in ctx.learnable.items():
            arrays[f"obj/{k}"] = np_(t)
        for i, p in enumerate(params):
            st = opt.state.get(p)
            if st:
                arrays[f"adam/{i}/exp_avg"] = np_(st["exp_avg"])
                arrays[f"adam/{i}/exp_avg_sq"] = np_(st["exp_avg_sq"])
                arrays[f"adam/{i}/step"] = np_(torch.as_tensor(st["step"]))
        self._write_npz(path, arrays)

    def _load_checkpoint(self, path: Path, data: dict[str, np.ndarray], syn: SyntheticSet, ctx: DistillContext,
                         opt: torch.optim.Optimizer, params: list[torch.Tensor]) -> list[float]:
        """Put the state of checkpoint ``data`` (read from ``path``) into the run; every array is
        checked before anything is changed, so a refused file leaves the run as it was."""
        def need(key: str, shape: tuple[int, ...] | None) -> np.ndarray:
            a = data.get(key)
            if a is None or a.dtype.kind not in "fiu" or (shape is not None and a.shape != shape):
                raise PinnddError(f"checkpoint {path}: {key!r} is missing or has the wrong type or shape "
                                  f"(expected {shape}); it belongs to other settings or is damaged")
            return a

        syn_arrays = {k: need(f"syn/{k}", tuple(t.shape)) for k, t in syn.raw().items()}
        obj_arrays = {k: need(f"obj/{k}", tuple(t.shape)) for k, t in ctx.learnable.items()}
        outer_log = need("outer_log", (int(data["step"]),))
        moments = {}
        for i, p in enumerate(params):
            if f"adam/{i}/exp_avg" in data:
                moments[i] = (need(f"adam/{i}/step", ()), need(f"adam/{i}/exp_avg", tuple(p.shape)),
                              need(f"adam/{i}/exp_avg_sq", tuple(p.shape)))
        syn.load_raw(syn_arrays)
        for k, t in ctx.learnable.items():
            with torch.no_grad():
                t.copy_(torch.as_tensor(obj_arrays[k], dtype=t.dtype, device=t.device))
        state = {}
        for i, (step, avg, avg_sq) in moments.items():
            p = params[i]
            state[i] = {
                "step": torch.as_tensor(step),
                "exp_avg": torch.as_tensor(avg, dtype=p.dtype, device=p.device),
                "exp_avg_sq": torch.as_tensor(avg_sq, dtype=p.dtype, device=p.device),
            }
        opt.load_state_dict({"state": state, "param_groups": opt.state_dict()["param_groups"]})
        return [float(v) for v in outer_log]
