"""Dense teacher runs kept on disk, so later processes reuse them instead of retraining.

Set ``$PINNDD_TEACHER_CACHE`` to a folder and every run of :func:`pinndd.methods.labelled.teacher.dense_run`
is written there as one ``.npz`` file: the network's tensors as numeric arrays and a JSON
record (its key and the original training cost). Files are read with ``allow_pickle=False``;
one that cannot be read, or whose key, format or tensor shapes do not match, is ignored (and
the run retrained and rewritten).

The key holds everything the trained network depends on that can be named: problem name,
parameters, domain, partials and conditions; the dense size, point method and seeds; the
training settings; and a fingerprint of the code: the source files of the modules that train
(:data:`TRAINING_MODULES`) and of the problem's residual and condition functions. Editing any of
those makes earlier files unused rather than wrong.

Several processes may share one folder (the Ray workers of a sweep, say):

- a file is written to a temporary file of its own in the same folder, flushed and synced,
  then renamed over the final name, so a reader sees either no file or a whole one, never a
  partial write, and concurrent writers of one key leave one valid file;
- :func:`load_or_train` lets one process train a missing key while the others wait on a lock
  file next to it (``teacher-<hash>.lock``, POSIX ``flock``) and then load its result, so a
  teacher is trained once per folder. Where ``flock`` is unavailable or does not lock (some
  network file systems) each process trains and writes its own copy: duplicated work, same
  safety.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from ...engine.training import make_model

log = logging.getLogger(__name__)

#: The folder, when set.
CACHE_ENV = "PINNDD_TEACHER_CACHE"
FORMAT = 1
#: Modules (relative to the package) whose source is part of every key.
TRAINING_MODULES = ("engine/training", "engine/config", "engine/adam", "engine/compiled", "engine/losses", "engine/nn",
                    "engine/forward", "engine/derivatives", "problem", "conditions", "domain", "budget",
                    "methods/sampling/qmc", "methods/sampling/samplers", "methods/base")


def _source_bytes(fn) -> bytes:
    """The source file of ``fn``'s module, or its bytecode and constants where there is no file."""
    try:
        return Path(inspect.getsourcefile(fn)).read_bytes()
    except (TypeError, OSError):
        code = getattr(fn, "__code__", None)
        return code.co_code + repr(code.co_consts).encode() if code is not None else repr(fn).encode()


def code_fingerprint(problem) -> str:
    """A hash of the training code and of the problem's functions' source."""
    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parents[2]  # the pinndd package
    for name in TRAINING_MODULES:
        h.update((pkg / f"{name}.py").read_bytes())
    for fn in (problem.residual, *(c.value for c in problem.conditions)):
        h.update(_source_bytes(fn))
    return h.hexdigest()[:20]


def run_key(problem, dense: int, config, seed: int, method: str) -> str:
    conditions = [[c.name, c.kind, repr(c.face), c.weight] for c in problem.conditions]
    return json.dumps([problem.name, sorted(problem.params.items()), repr(problem.domain), list(problem.partials),
                       conditions, dense, config.to_dict(), seed, method, code_fingerprint(problem)], sort_keys=True)


def path_for(key: str) -> Path | None:
    folder = os.environ.get(CACHE_ENV)
    return Path(folder) / f"teacher-{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz" if folder else None


def load(problem, config, key: str) -> tuple[torch.nn.Module, float] | None:
    """The model and original cost of a cached run, or ``None`` (no folder, no file, or a file
    that does not match or cannot be read)."""
    path = path_for(key)
    if path is None or not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        meta = json.loads(str(arrays.pop("metadata")))
        if not isinstance(meta, dict) or meta.get("key") != key or meta.get("format") != FORMAT:
            return None
        model = make_model(problem, config)
        state = model.state_dict()
        if set(state) != set(arrays) or any(tuple(state[k].shape) != arrays[k].shape for k in state):
            return None
        model.load_state_dict({k: torch.as_tensor(arrays[k], dtype=state[k].dtype) for k in state})
        return model.to(config.device), float(meta["cost_seconds"])
    except Exception as e:  # a truncated or foreign file: ignore it, the run is retrained
        log.warning("ignoring unreadable teacher cache file %s (%s: %s)", path, type(e).__name__, e)
        return None


def save(key: str, model: torch.nn.Module, cost: float) -> None:
    """Write the run atomically: a temporary file of this writer's own in the same folder,
    flushed and synced, then renamed over the final name. A folder that cannot be written loses
    the cache entry, not the trained model."""
    path = path_for(key)
    if path is None:
        return
    tmp = path.with_name(f"{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
        with open(tmp, "wb") as f:
            np.savez(f, metadata=np.array(json.dumps({"key": key, "format": FORMAT, "cost_seconds": cost})), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        log.warning("could not write the teacher cache file %s (%s)", path, e)
        tmp.unlink(missing_ok=True)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` with ``.lock`` for a suffix (waits for other holders);
    a no-op where the lock cannot be taken."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, every process trains its own copy
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(path.with_suffix(".lock"), "a")
    except OSError as e:
        log.warning("no lock for the teacher cache file %s (%s); training without it", path, e)
        yield
        return
    with f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        except OSError as e:
            log.warning("could not lock %s (%s); training without the lock", f.name, e)
        yield  # closing the file releases the lock


def load_or_train(problem, config, key: str,
                  train: Callable[[], tuple[torch.nn.Module, float]]) -> tuple[torch.nn.Module, float]:
    """The cached run for ``key``, else ``train()`` (``-> (model, cost)``) written to the cache.
    With a folder set, one process at a time trains a missing key; the others wait for it and
    load its file (one training per key across the processes sharing the folder)."""
    hit = load(problem, config, key)
    if hit is not None:
        return hit
    path = path_for(key)
    if path is None:
        return train()
    with _locked(path):
        hit = load(problem, config, key)  # written while this process waited for the lock
        if hit is not None:
            return hit
        model, cost = train()
        save(key, model, cost)
    return model, cost
