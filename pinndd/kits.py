"""Kits for the family task: a saved artefact (point set, warm-start weights, the fine-tune recipe
of :mod:`pinndd.family`, the values it was made on and its cost) that solves a new value of the
family in one call (:meth:`Kit.solve`).

Files are ``.npz`` arrays plus JSON, read with ``allow_pickle=False``; saves are atomic.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .engine.nn import PINN
from .engine.training import TrainConfig, TrainResult
from .errors import PinnddError
from .family import fine_tune, warm_copy
from .npz import write_npz
from .pointset import PointSet
from .problem import Problem

KIT_FORMAT_VERSION = 1

log = logging.getLogger(__name__)


def start_from(members: Mapping[float, Mapping[str, Any]], value: float, interpolate: bool) -> dict[str, np.ndarray]:
    """The warm start for ``value`` from ``members`` (weights by parameter value): the nearest
    member, or inside their span with ``interpolate`` the two bracketing members' weights mixed
    linearly (see :meth:`Kit.start_for`)."""
    vals = np.array(sorted(members))
    if not interpolate or len(vals) == 1 or value <= vals[0] or value >= vals[-1]:
        return {k: np.asarray(a) for k, a in members[float(vals[np.argmin(np.abs(vals - value))])].items()}
    j = int(np.searchsorted(vals, value))
    a, b = float(vals[j - 1]), float(vals[j])
    t = (value - a) / (b - a)
    return {k: (1 - t) * np.asarray(members[a][k]) + t * np.asarray(members[b][k]) for k in members[a]}


def _atomic_dir_write(path: Path, write) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    write(tmp)
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    return path


@dataclass
class Kit:
    """Points, warm-start weights and a fine-tune recipe that solve any value of a family.

    ``pointset`` holds no labels (its condition values are the problem's at whatever value is
    solved); ``warm_state`` the nominal PINN's weights; ``bank`` optional further warm starts by
    parameter value (a solve starts from the one nearest its value, the nominal included);
    ``config`` the network and the fine-tune
    recipe; ``made_on`` the values the kit was chosen on (score it elsewhere); ``cost`` the
    one-off seconds by part (``warm_start``, ``distillation``, ...).
    """

    problem_name: str
    param: str
    value_range: tuple[float, float]
    made_on: tuple[float, ...]
    pointset: PointSet
    warm_state: dict[str, np.ndarray]
    config: TrainConfig
    cost: dict[str, float] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    bank: dict[float, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def interpolate(self) -> bool:
        """Whether a solve starts from the bank interpolated in the parameter (``metadata["start"]``)."""
        return self.metadata.get("start", "nearest") == "interpolate"

    def members(self) -> dict[float, dict[str, np.ndarray]]:
        """Every warm start by parameter value: the nominal one and the bank."""
        nominal = float(self.metadata.get("params", {}).get(self.param, np.nan))
        out = dict(self.bank)
        if np.isfinite(nominal):
            out[nominal] = self.warm_state
        return dict(sorted(out.items()))

    def start_for(self, value: float) -> dict[str, np.ndarray]:
        """The warm start for ``value``.

        ``start = "nearest"``: the member nearest ``value`` (ties: the lower value). ``start =
        "interpolate"``: inside the members' span, the weights of the two bracketing members
        ``mu_a <= value <= mu_b`` mixed linearly, ``(1 - t) theta_a + t theta_b`` with ``t =
        (value - mu_a) / (mu_b - mu_a)`` (fine-tunes of one nominal network stay linearly
        connected in weight space, so the mix is itself close to the solution in between);
        beyond the span, the nearest member."""
        return start_from(self.members() or {0.0: self.warm_state}, value, self.interpolate)

    def model(self, problem: Problem) -> PINN:
        """The warm-start PINN for ``problem`` (no training)."""
        return warm_copy(problem, self.start_for(float(problem.params[self.param])), self.config)

    def solve(self, problem: Problem | float) -> TrainResult:
        """Fine-tune the warm start on the kit's points for ``problem`` (or the family's value)."""
        if not isinstance(problem, Problem):
            raise PinnddError("Kit.solve needs the shifted problem (e.g. kit.solve(problem.with_params(a=1.3)))")
        if problem.name != self.problem_name:
            raise PinnddError(f"this kit was made for {self.problem_name!r}, not {problem.name!r}")
        value = float(problem.params[self.param])
        if not self.value_range[0] <= value <= self.value_range[1]:
            log.warning("%s = %g is outside the kit's range %s: extrapolating", self.param, value,
                                                self.value_range)
        start = self.start_for(value)
        if self.config.adam_steps == 0 and self.config.lbfgs_steps == 0:  # the kit's recipe: no fine-tune
            model = warm_copy(problem, start, self.config)
            return TrainResult(model, {"step": np.zeros(0), "loss": np.zeros(0)}, 0.0, self.config, problem.name)
        return fine_tune(problem, start, self.pointset, self.config)

    def save(self, path: str | Path) -> Path:
        """Write a folder: ``points.npz`` (the point set), ``warm.npz`` (weights) and ``kit.json``."""
        meta = {"format_version": KIT_FORMAT_VERSION, "problem": self.problem_name, "param": self.param,
                "value_range": list(self.value_range), "made_on": list(self.made_on), "config": self.config.to_dict(),
                "cost": self.cost, "metadata": self.metadata, "bank": sorted(self.bank)}

        def write(d: Path) -> None:
            self.pointset.save(d / "points.npz")
            arrays = {k: np.asarray(v) for k, v in self.warm_state.items()}
            for i, v in enumerate(sorted(self.bank)):
                arrays.update({f"bank{i}/{k}": np.asarray(a) for k, a in self.bank[v].items()})
            write_npz(d / "warm.npz", arrays)
            (d / "kit.json").write_text(json.dumps(meta, indent=1))

        return _atomic_dir_write(Path(path), write)

    @classmethod
    def load(cls, path: str | Path, problem: Problem | None = None) -> Kit:
        """Read a folder written by :meth:`save` (no pickle); validates the points against ``problem``."""
        path = Path(path)
        try:
            meta = json.loads((path / "kit.json").read_text())
            with np.load(path / "warm.npz", allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except (OSError, ValueError) as e:
            raise PinnddError(f"cannot read kit {path}: {e}") from None
        if not isinstance(meta, dict) or meta.get("format_version") != KIT_FORMAT_VERSION:
            raise PinnddError(f"{path} is not a pinndd kit of format {KIT_FORMAT_VERSION}")
        if problem is not None and meta.get("problem") != problem.name:
            raise PinnddError(f"kit {path} was made for {meta.get('problem')!r}, not {problem.name!r}")
        try:
            config = TrainConfig(**meta["config"])
            bank_values = [float(v) for v in meta.get("bank", [])]
            warm = {k: a for k, a in arrays.items() if not k.startswith("bank")}
            bank = {v: {k.split("/", 1)[1]: a for k, a in arrays.items() if k.startswith(f"bank{i}/")}
                    for i, v in enumerate(bank_values)}
            kit = cls(str(meta["problem"]), str(meta["param"]), tuple(meta["value_range"]), tuple(meta["made_on"]),
                      PointSet.load(path / "points.npz", problem), warm, config, dict(meta["cost"]), dict(meta["metadata"]),
                      bank)
        except (KeyError, TypeError) as e:
            raise PinnddError(f"{path}/kit.json is malformed: {e}") from None
        return kit
