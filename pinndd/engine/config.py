"""Settings and results of a training run: :class:`TrainConfig` (architecture, optimiser, steps,
device, checked when made), :class:`TrainResult` (the model, its loss history, wall time and
cost record) and :func:`check_device`."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..cost import Cost
from ..errors import PinnddError
from .nn import ACTIVATIONS, PINN, resolve_dtype


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
        :func:`torch.compile` (:mod:`pinndd.engine.compiled`). Needs the forward engine
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
        for name in ("width", "depth", "adam_steps", "lbfgs_steps", "seed", "log_every", "eval_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise PinnddError(f"TrainConfig.{name} must be an integer; got {value!r} ({type(value).__name__})")
        for name in ("lr", "momentum"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise PinnddError(f"TrainConfig.{name} must be a finite number; got {value!r}")
        if self.adam_steps < 0 or self.lbfgs_steps < 0:
            raise PinnddError(f"adam_steps and lbfgs_steps must be >= 0; got {self.adam_steps}, {self.lbfgs_steps}")
        if self.width < 1 or self.depth < 1:
            raise PinnddError(f"width and depth must be >= 1; got width={self.width}, depth={self.depth}")
        if self.seed < 0:
            raise PinnddError(f"seed must be a non-negative integer; got {self.seed}")
        if self.optimizer not in ("adam", "sgd"):
            raise PinnddError(f"optimizer must be 'adam' or 'sgd'; got {self.optimizer!r}")
        if self.activation not in ACTIVATIONS:
            raise PinnddError(f"activation must be one of {list(ACTIVATIONS)}; got {self.activation!r}")
        if self.engine not in ("auto", "autograd", "forward"):
            raise PinnddError(f"engine must be 'auto', 'autograd' or 'forward'; got {self.engine!r}")
        if not self.lr > 0:
            raise PinnddError(f"lr must be positive; got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise PinnddError(f"momentum must be in [0, 1); got {self.momentum}")
        if self.log_every < 1:
            raise PinnddError("log_every must be >= 1")
        if self.eval_every < 0 or (self.eval_every and self.eval_every % self.log_every):
            raise PinnddError(f"eval_every ({self.eval_every}) must be 0 or a multiple of log_every ({self.log_every})")
        if not isinstance(self.condition_weights, Mapping):
            raise PinnddError(f"condition_weights must map condition names to weights; got {self.condition_weights!r}")
        for name, w in self.condition_weights.items():
            if isinstance(w, bool) or not isinstance(w, numbers.Real) or not (math.isfinite(w) and w > 0):
                raise PinnddError(f"condition_weights[{name!r}] must be a positive finite number; got {w!r}")
        resolve_dtype(self.dtype)
        check_device(self.device)
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
    ``cost`` is the typed record of getting this model: the point set's (its warm-up, teachers
    and distillation, :mod:`pinndd.cost`) plus ``wall_time`` of training.
    """

    model: PINN
    history: dict[str, np.ndarray]
    wall_time: float
    config: TrainConfig
    problem_name: str
    cost: Cost = field(default_factory=Cost)

    def final(self, term: str = "loss") -> float:
        """The last recorded value of ``term`` (default the total loss)."""
        if term not in self.history:
            raise PinnddError(f"no loss term {term!r} in this history; terms: {sorted(self.history)}")
        if len(self.history[term]) == 0:
            raise PinnddError(f"no {term!r} recorded: the training ran zero steps (adam_steps = lbfgs_steps = 0)")
        return float(self.history[term][-1])


def check_device(device) -> torch.device:
    """``device`` as a :class:`torch.device` that exists on this machine, or a :class:`PinnddError`."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise PinnddError(f"device must be 'cpu', 'cuda' or 'cuda:<index>'; got {device!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise PinnddError(f"device {device!r} asked for, but this torch has no CUDA device; use device='cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise PinnddError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type != "cpu":
        raise PinnddError(f"device must be 'cpu' or 'cuda'; got {device!r}")
    return dev
