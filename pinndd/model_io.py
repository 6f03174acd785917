"""Trained PINNs on disk, without pickle.

A model file is an ``.npz`` archive of numeric arrays (one per tensor of the model's
``state_dict``, float32/float64 as trained) and one JSON string: the format, the training
settings (:class:`~pinndd.engine.training.TrainConfig`), the problem (its ``--pde`` spec, name and
parameters) and any metadata the caller adds (metrics, the point set's metadata, costs). It is
read with ``allow_pickle=False``, so a model file received from someone else never runs code, and
written atomically (temporary file in the same folder, fsync, rename).

>>> save_model("model.npz", result.model, result.config, problem, spec="burgers")   # doctest: +SKIP
>>> model = load_model("model.npz", problem)                                         # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .engine.training import TrainConfig, make_model
from .errors import PinnddError
from .manifest import json_safe
from .npz import read_npz, write_npz

FORMAT = "pinndd-model"
FORMAT_VERSION = 1
_PREFIX = "tensor/"


def save_model(path: str | Path, model: torch.nn.Module, config, problem, spec: str | None = None,
               metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (a PINN built by :func:`pinndd.engine.training.make_model` with ``config``).

    Parameters
    ----------
    path:
        Target file; ``.npz`` is appended when missing.
    model, config:
        The trained PINN and the :class:`~pinndd.engine.training.TrainConfig` it was built with.
    problem:
        The problem it was trained for (name and parameters are stored).
    spec:
        How to find the problem again (``--pde`` spec); default the problem's name.
    metadata:
        JSON-serialisable extras (metrics, costs, the point set's metadata).

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "config": config.to_dict(),
        "problem": {"spec": spec or problem.name, **problem.describe()}, "metadata": json_safe(metadata or {}),
    }
    arrays = {_PREFIX + k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    arrays["metadata"] = np.array(json.dumps(meta))
    return write_npz(path, arrays)


def read_model(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metadata and the arrays of a model file (nothing is built, nothing unpickled)."""
    path = Path(path)
    data = read_npz(path, "model file")
    if "metadata" not in data:
        raise PinnddError(f"{path} is not a pinndd model file (no metadata); a point set? try `pinndd show {path}`")
    try:
        meta = json.loads(str(data.pop("metadata")))
    except json.JSONDecodeError as e:
        raise PinnddError(f"{path}: unreadable metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise PinnddError(f"{path} is not a pinndd model file (format {found!r})")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise PinnddError(f"{path} has model format {meta['format_version']}; this pinndd reads up to {FORMAT_VERSION}; "
                          "upgrade pinndd")
    return meta, {k[len(_PREFIX):]: v for k, v in data.items() if k.startswith(_PREFIX)}


def config_from_dict(d: dict[str, Any]):
    """A :class:`~pinndd.engine.training.TrainConfig` from its ``to_dict()`` (unknown keys ignored)."""
    known = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in d.items() if k in known})


def load_model(path: str | Path, problem, device: str = "cpu") -> torch.nn.Module:
    """Rebuild the PINN saved at ``path`` for ``problem`` on ``device``.

    Raises
    ------
    PinnddError
        An unreadable or foreign file, a model made for another domain dimension, or tensors
        whose names or shapes do not match the stored settings.
    """
    meta, arrays = read_model(path)
    stored = meta.get("problem", {})
    dim = len(stored.get("domain", {}).get("names", [])) or None
    if dim is not None and dim != problem.domain.dim:
        raise PinnddError(f"{path} was trained for a {dim}-d problem ({stored.get('name')!r}); "
                          f"{problem.name!r} is {problem.domain.dim}-d")
    config = config_from_dict({**meta["config"], "device": "cpu", "compile": False})
    model = make_model(problem, config)
    state = model.state_dict()
    if set(state) != set(arrays) or any(tuple(state[k].shape) != arrays[k].shape for k in state):
        raise PinnddError(f"{path}: stored tensors do not match the stored network settings "
                          f"(width {config.width}, depth {config.depth}); the file is damaged or was edited")
    model.load_state_dict({k: torch.as_tensor(arrays[k], dtype=state[k].dtype) for k in state})
    return model.to(device)
