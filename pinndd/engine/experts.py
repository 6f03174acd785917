"""Expert trajectories: PINNs trained on a dense set with their parameters recorded along the way.

Trajectory matching (MTT) and the checkpoint states of gradient and kernel matching need the
path a network takes when trained on the dense set. :func:`train_experts` trains ``n`` PINNs
with full-batch Adam on the same loss as :func:`pinndd.train`,

    L(theta) = L_pde + sum_c lambda_c L_c     (soft conditions, weighted means),

and records, after ``0, k, 2k, ..., steps`` Adam steps, the flattened parameter vector
``theta_t`` and the Adam moments ``m_t``, ``v_t`` (so a student can replay Adam from them).

An :class:`ExpertSet` keeps them as three ``(E, T, P)`` float arrays (experts x records x
parameters) plus the parameter layout; :meth:`ExpertSet.save` writes ONE ``.npz`` file of
those arrays and a JSON metadata string, read back with ``allow_pickle=False``: no pickled
objects, ever.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import PinnddError
from . import adam
from .losses import TensorPoints, loss_terms, total_loss
from .nn import PINN, resolve_dtype
from .training import TrainConfig, make_model

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


def make_student(problem, width: int, depth: int, activation: str, dtype: str, device: str, seed: int = 0) -> PINN:
    """A soft-constraint PINN (``hard=False``) with Glorot-normal weights seeded by ``seed``: the
    trainer's :func:`~pinndd.engine.training.make_model` for these settings."""
    return make_model(problem, TrainConfig(width=width, depth=depth, activation=activation, dtype=dtype, device=device,
                                           seed=seed, hard=False))


def param_layout(model: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    """``[(name, shape), ...]`` of the model's parameters in registration order."""
    return [(n, tuple(p.shape)) for n, p in model.named_parameters()]


def flatten(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Concatenate parameter tensors (in dict order) into one vector."""
    return torch.cat([p.reshape(-1) for p in params.values()])


def unflatten(vec: torch.Tensor, layout: list[tuple[str, tuple[int, ...]]]) -> OrderedDict[str, torch.Tensor]:
    """Inverse of :func:`flatten` for ``layout`` (views into ``vec``, differentiable)."""
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    i = 0
    for name, shape in layout:
        n = int(np.prod(shape)) if shape else 1
        out[name] = vec[i : i + n].reshape(shape)
        i += n
    if i != vec.shape[-1]:
        raise PinnddError(f"parameter vector has {vec.shape[-1]} entries; the layout needs {i}")
    return out


@dataclass
class ExpertSet:
    """Recorded dense-training trajectories.

    Parameters
    ----------
    params, exp_avg, exp_avg_sq:
        ``(E, T, P)``: parameters and Adam's first and second moments after ``steps[t]`` steps.
    steps:
        ``(T,)`` Adam step counts of the records (``0, k, 2k, ...``).
    layout:
        ``[(name, shape), ...]`` to unflatten a parameter vector for ``functional_call``.
    metadata:
        JSON-friendly: problem, params, dense size, optimiser (``lr``, ``betas``, ``eps``),
        network, seeds, ``seconds`` (wall time of all experts), ``seconds_per_expert``.
    """

    params: np.ndarray
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray
    steps: np.ndarray
    layout: list[tuple[str, tuple[int, ...]]]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shape = np.shape(self.params)
        if len(shape) != 3 or np.shape(self.exp_avg) != shape or np.shape(self.exp_avg_sq) != shape:
            raise PinnddError(f"expert arrays must share one (E, T, P) shape; got {shape}, {np.shape(self.exp_avg)}, "
                              f"{np.shape(self.exp_avg_sq)}")
        if np.shape(self.steps) != (shape[1],):
            raise PinnddError(f"steps needs one entry per record ({shape[1]}); got shape {np.shape(self.steps)}")
        self.layout = [(str(n), tuple(int(s) for s in shp)) for n, shp in self.layout]

    @property
    def n_experts(self) -> int:
        return self.params.shape[0]

    @property
    def n_records(self) -> int:
        return self.params.shape[1]

    def tensor(self, which: str, expert: int, record: int, dtype: torch.dtype, device) -> torch.Tensor:
        """One flattened vector (``which`` in ``params``, ``exp_avg``, ``exp_avg_sq``) as a tensor."""
        return torch.as_tensor(getattr(self, which)[expert, record], dtype=dtype, device=device)

    def state(self, expert: int, record: int, dtype: torch.dtype, device) -> OrderedDict[str, torch.Tensor]:
        """The parameters after ``steps[record]`` steps of expert ``expert`` as a params dict."""
        return unflatten(self.tensor("params", expert, record, dtype, device), self.layout)

    # -- files ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write one ``.npz`` file (numeric arrays + JSON metadata). Returns the path."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        meta = {**self.metadata, "layout": [[n, list(s)] for n, s in self.layout], "format_version": FORMAT_VERSION}
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, params=self.params, exp_avg=self.exp_avg, exp_avg_sq=self.exp_avg_sq, steps=self.steps,
                 metadata=np.array(json.dumps(meta)))
        return path

    @classmethod
    def load(cls, path: str | Path) -> ExpertSet:
        """Read a file written by :meth:`save` (``allow_pickle=False``)."""
        try:
            with np.load(Path(path), allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
        except (OSError, ValueError) as e:
            raise PinnddError(f"cannot read expert file {path}: {e}") from None
        missing = {"params", "exp_avg", "exp_avg_sq", "steps", "metadata"} - set(data)
        if missing:
            raise PinnddError(f"{path} is not a pinndd expert file (missing {sorted(missing)})")
        meta = json.loads(str(data["metadata"]))
        if int(meta.get("format_version", 0)) > FORMAT_VERSION:
            raise PinnddError(f"{path} has format version {meta['format_version']}; this pinndd reads up to {FORMAT_VERSION}")
        layout = [(n, tuple(s)) for n, s in meta.pop("layout")]
        return cls(data["params"], data["exp_avg"], data["exp_avg_sq"], data["steps"], layout, meta)


def _record(arrays: dict[str, np.ndarray], e: int, r: int, params: list[torch.Tensor], opt: torch.optim.Adam) -> None:
    """Write expert ``e``'s parameters and Adam moments into record ``r`` (moments stay zero
    before the first step)."""
    with torch.no_grad():
        arrays["params"][e, r] = torch.cat([p.reshape(-1) for p in params]).double().cpu().numpy()
        if opt.state:
            for k in ("exp_avg", "exp_avg_sq"):
                arrays[k][e, r] = torch.cat([opt.state[p][k].reshape(-1) for p in params]).double().cpu().numpy()


def train_experts(
    problem,
    points: TensorPoints,
    n_experts: int = 2,
    steps: int = 2000,
    every: int = 50,
    lr: float = 1e-3,
    width: int = 32,
    depth: int = 3,
    activation: str = "tanh",
    dtype: str = "float32",
    device: str = "cpu",
    seed: int = 0,
    engine: str = "auto",
    progress: bool = False,
) -> ExpertSet:
    """Train ``n_experts`` PINNs on ``points`` with full-batch Adam and record their trajectories.

    Expert ``e`` starts from :func:`make_student` with seed ``seed + e`` and takes ``steps``
    Adam steps (``lr``, betas ``(0.9, 0.999)``, eps ``1e-8``) on the soft-constraint loss;
    parameters and moments are recorded after ``0, every, 2 every, ..., steps`` steps.

    Raises
    ------
    PinnddError
        For non-positive counts, or a loss that becomes non-finite.
    """
    if n_experts < 1 or steps < 1 or every < 1 or steps % every:
        raise PinnddError(f"need n_experts >= 1, steps >= 1 and every >= 1 dividing steps; got {n_experts}, {steps}, {every}")
    from tqdm.auto import tqdm

    resolve_dtype(dtype)
    records = steps // every + 1
    arrays = {k: None for k in ("params", "exp_avg", "exp_avg_sq")}
    layout = None
    betas, eps = adam.BETAS, adam.EPS
    t0 = time.perf_counter()
    bar = tqdm(total=n_experts * steps, desc=f"experts {problem.name}", disable=not progress, leave=False)
    for e in range(n_experts):
        model = make_student(problem, width, depth, activation, dtype, device, seed + e)
        params = list(model.parameters())
        if layout is None:
            layout = param_layout(model)
            for k in arrays:
                arrays[k] = np.zeros((n_experts, records, sum(p.numel() for p in params)), dtype=np.float64)
        opt = torch.optim.Adam(params, lr=lr, betas=betas, eps=eps)

        _record(arrays, e, 0, params, opt)
        for step in range(1, steps + 1):
            opt.zero_grad(set_to_none=True)
            loss = total_loss(problem, loss_terms(problem, model, points, engine=engine), {}, 1.0)
            loss.backward()
            opt.step()
            if step % every == 0:
                if not torch.isfinite(loss):
                    raise PinnddError(f"expert {e} diverged at step {step} (loss {float(loss)}); lower the expert lr")
                _record(arrays, e, step // every, params, opt)
        bar.update(steps)
    bar.close()
    seconds = time.perf_counter() - t0
    meta = {"problem": problem.name, "params": dict(problem.params), "n_dense": int(points.interior.shape[0]),
            "lr": lr, "betas": list(betas), "eps": eps, "width": width, "depth": depth, "activation": activation,
            "dtype": str(dtype), "seed": seed, "seconds": seconds, "seconds_per_expert": seconds / n_experts}
    log.info("trained %d experts on %s (%d steps) in %.1f s", n_experts, problem.name, steps, seconds)
    return ExpertSet(arrays["params"], arrays["exp_avg"], arrays["exp_avg_sq"], np.arange(records) * every, layout, meta)
