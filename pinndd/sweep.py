"""Sweeps: independent cells (one training, or a few, each) run serially or as Ray tasks, their
rows streamed into one tidy table as they finish.

A *cell* is a JSON-serialisable mapping of everything its result depends on (problem, method,
budget, seed, training settings, ...); ``fn(cell)`` computes it and returns one row (a dict), a
list of rows, or ``None``. The engine::

    from pinndd.sweep import run_cells

    def one(cell: dict) -> dict:                 # module level, or a closure cloudpickle can ship
        problem = equations.get(cell["pde"])
        ps = pinndd.methods.get(cell["method"]).make(problem, cell["budget"], seed=cell["seed"])
        res = pinndd.train(problem, ps, pinndd.TrainConfig(**cell["config"]))
        return {**cell, **pinndd.evaluate(problem, res.model)}

    cells = [{"pde": "heat", "method": m, "budget": 64, "seed": s, "config": {...}} for m in ... for s in ...]
    result = run_cells(cells, one, out="experiments/out/sweep")     # Ray on this machine's cores
    result.rows, result.failures                                      # rows in cell order

``run_cells(cells, fn, out=None, *, stem="rows", resume=True, serial=False, address=None,
workers=None, threads=1, gpus=0.0, progress=None, desc="cells") -> SweepResult``:

- **Ray** by default: each cell is one task asking for ``threads`` CPUs and ``gpus`` GPUs (a
  fraction shares one device). ``address`` (or ``$RAY_ADDRESS``) joins a running cluster;
  otherwise an embedded ``ray.init()`` is sized to ``workers * threads`` CPUs (default: every
  core) and shut down afterwards. At most ``workers`` cells are in flight. Ray is imported
  only here (``pip install "pinndd[ray]"``).
- ``serial=True`` runs the cells in this process, in order (for debugging; no Ray needed).
- **The same rows either way**: every cell runs with ``torch.set_num_threads(threads)`` (in the
  worker, or around the call in this process), so on a CPU the rows of a Ray sweep equal a
  serial sweep's bit for bit when ``fn`` is deterministic given its cell (seeded); only
  wall-time columns differ. The table lists rows in cell order whatever order cells finish in.
- **Streaming and resuming**: with ``out``, ``OUT/STEM.csv`` and ``OUT/STEM.json`` are rewritten
  (atomically) after every finished cell. Each row carries ``cell_key``, a hash of its cell's
  full settings; with ``resume=True`` cells whose key is already in ``OUT/STEM.json`` are
  skipped and their rows kept, so a stopped sweep continues where it stopped and a cell with
  any setting changed runs again. Rows in the file from cells not in this sweep are kept (first).
  ``resume=False`` starts a fresh table.
- **Failures**: a cell that raises (or whose worker dies) is logged with the cell and the
  traceback and left out of the table; the sweep goes on. They are in ``result.failures`` and
  ``OUT/STEM_failures.json``; a resumed sweep tries them again.
- **Progress**: a tqdm bar advanced as cells finish (shown on a terminal, or as ``progress`` says).

Environment variables named ``PINNDD_*`` (the teacher cache folder, say) are passed on to
Ray workers, and the driver's ``sys.path`` is prepended to theirs. A module-level ``fn`` of the
script being run is imported from that script's file in the workers (under another module name,
so its ``if __name__ == "__main__"`` part does not run), also inside a ``functools.partial``
whose bound arguments (a trained teacher, say) are pickled; other functions are pickled. On a
cluster the package, the script and its folder must be at the same paths on every node.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from .errors import PinnddError
from .rows import Row, atomic_write_text, read_table, write_table

log = logging.getLogger(__name__)

#: The column that ties a row to its cell.
KEY = "cell_key"

CellFn = Callable[[dict], "Row | list[Row] | None"]


@dataclass
class SweepResult:
    """What a sweep produced.

    Attributes
    ----------
    rows:
        Every row of the table (kept earlier rows first, then this sweep's cells in order).
    failures:
        ``{"cell", "cell_key", "error"}`` per failed cell (``error``: the traceback's last lines).
    ran, skipped:
        Cells computed now, and cells found already done in the output (``resume``).
    wall_seconds:
        Wall time of the whole call (Ray's start-up included).
    """

    rows: list[Row]
    failures: list[dict] = field(default_factory=list)
    ran: int = 0
    skipped: int = 0
    wall_seconds: float = 0.0


def cell_key(cell: Mapping) -> str:
    """A hash of the cell's full settings (canonical JSON, keys sorted)."""
    try:
        text = json.dumps(cell, sort_keys=True, allow_nan=True)
    except TypeError as e:
        raise PinnddError(f"a sweep cell must be JSON-serialisable (numbers, strings, lists, dicts); {cell!r}: {e}. "
                          "Put settings in as plain values (TrainConfig.to_dict(), names) and rebuild objects in fn") from e
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _as_rows(value, key: str) -> list[Row]:
    if value is None:
        return []
    rows = [value] if isinstance(value, Mapping) else list(value) if isinstance(value, (list, tuple)) else [value]
    if not all(isinstance(r, Mapping) for r in rows):
        raise PinnddError(f"a cell function must return a dict, a list of dicts or None; got {type(value).__name__}")
    return [{**r, KEY: key} for r in rows]


def _call(fn: CellFn, cell: dict, key: str, threads: int) -> tuple[list[Row] | None, str | None]:
    """``fn(cell)`` with ``threads`` torch threads: ``(rows, None)`` or ``(None, traceback)``."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _as_rows(fn(cell), key), None
    except Exception:
        return None, traceback.format_exc()
    finally:
        torch.set_num_threads(before)


def _payload(fn: CellFn) -> tuple:
    """How a worker finds ``fn``: a module-level function of the script being run (``__main__``)
    is imported from the script's file there (so the script's other module-level helpers, caches
    included, work as they do here), also under :func:`functools.partial` (whose arguments are
    pickled); anything else is pickled (by reference to its module where it has one, else by
    value)."""
    from ray import cloudpickle

    if isinstance(fn, functools.partial):  # the function found as below, its bound arguments pickled
        return ("partial", _payload(fn.func), cloudpickle.dumps((fn.args, fn.keywords)))
    main = sys.modules.get("__main__")
    path, name = getattr(main, "__file__", None), getattr(fn, "__qualname__", "")
    if getattr(fn, "__module__", None) == "__main__" and path and getattr(main, name, None) is fn:
        return ("script", os.path.abspath(path), name)
    return ("pickle", cloudpickle.dumps(fn))


_SCRIPTS: dict[str, Any] = {}


def _load(payload: tuple) -> CellFn:
    if payload[0] in ("pickle", "partial"):
        from ray import cloudpickle

        if payload[0] == "partial":
            args, kwargs = cloudpickle.loads(payload[2])
            return functools.partial(_load(payload[1]), *args, **kwargs)
        return cloudpickle.loads(payload[1])
    _, path, name = payload
    module = _SCRIPTS.get(path)
    if module is None:  # imported under another name than __main__: its command-line entry does not run
        spec = importlib.util.spec_from_file_location(f"_pinndd_sweep_script_{len(_SCRIPTS)}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        _SCRIPTS[path] = module
    return getattr(module, name)


def _remote_cell(payload: tuple, paths: list[str], env: dict[str, str], level: int, cell: dict, key: str, threads: int):
    """Body of a Ray task: the driver's import paths, ``PINNDD_*`` variables and logging level
    first, then the cell function (sent as a reference or pickled, so it is loaded only after the
    paths are in place)."""
    for p in reversed(paths):
        if p not in sys.path:
            sys.path.insert(0, p)
    os.environ.update(env)
    root = logging.getLogger()
    if not root.handlers:  # the cell's log lines reach the driver's console as in a serial run
        logging.basicConfig(level=level, format="%(asctime)s %(message)s")
    try:
        fn = _load(payload)
    except Exception:
        return None, traceback.format_exc()
    return _call(fn, cell, key, threads)


def _import_ray():
    try:
        import ray
    except ImportError as e:
        raise PinnddError("Ray is not installed: pip install 'pinndd[ray]' (or run the sweep with serial=True, "
                          "--serial in the experiment scripts)") from e
    return ray


def run_cells(cells: Sequence[Mapping], fn: CellFn, out: str | Path | None = None, *, stem: str = "rows",
              resume: bool = True, serial: bool = False, address: str | None = None, workers: int | None = None,
              threads: int = 1, gpus: float = 0.0, progress: bool | None = None, desc: str = "cells") -> SweepResult:
    """Run ``fn`` on every cell and gather the rows (see the module docstring).

    Parameters
    ----------
    cells:
        JSON-serialisable mappings, one per independent job; identical cells run once.
    fn:
        ``fn(cell) -> row | [rows] | None``; deterministic given the cell for reproducible rows.
    out, stem:
        Where the table is streamed (``OUT/STEM.csv``, ``OUT/STEM.json``); ``None`` keeps it in memory.
    resume:
        Skip cells whose ``cell_key`` is already in ``OUT/STEM.json`` (and keep those rows).
    serial:
        Run in this process, in order, without Ray.
    address:
        A Ray cluster to join (default ``$RAY_ADDRESS``; neither: an embedded local instance).
    workers:
        Cells in flight at once (default: the CPUs Ray has, divided by ``threads``).
    threads, gpus:
        Torch threads and Ray CPUs per cell; GPUs per cell (a fraction shares a device).
    progress, desc:
        tqdm bar (``None``: only on a terminal) and its label.

    Returns
    -------
    SweepResult
    """
    t0 = time.perf_counter()
    if threads < 1:
        raise PinnddError(f"threads must be >= 1; got {threads}")
    if workers is not None and workers < 1:
        raise PinnddError(f"workers must be >= 1; got {workers}")
    if gpus < 0:
        raise PinnddError(f"gpus must be >= 0; got {gpus}")
    unique: dict[str, dict] = {}
    for c in cells:
        unique.setdefault(cell_key(c), dict(c))
    old = read_table(out, stem) if (out is not None and resume) else []
    kept = [r for r in old if r.get(KEY) not in unique]
    if any(KEY not in r for r in old):
        log.warning("%d rows in %s have no %s (written before this engine): kept as they are, and their cells run "
                    "again; remove them or start afresh (resume=False, no --resume) to avoid counting them twice",
                    sum(KEY not in r for r in old), Path(out) / f"{stem}.json", KEY)
    done: dict[str, list[Row]] = {}
    for r in old:
        if r.get(KEY) in unique:
            done.setdefault(r[KEY], []).append(r)
    todo = [k for k in unique if k not in done]
    result = SweepResult(rows=[], ran=len(todo), skipped=len(unique) - len(todo))
    if result.skipped:
        log.info("%d of %d cells already in %s; running %d", result.skipped, len(unique), Path(out) / f"{stem}.json",
                 len(todo))

    def table() -> list[Row]:
        return kept + [r for k in unique for r in done.get(k, ())]

    def finished(key: str, rows: list[Row] | None, error: str | None) -> None:
        if error is not None:
            cell = unique[key]
            log.error("sweep cell failed (left out of the table): %s\n%s", json.dumps(cell, sort_keys=True), error)
            result.failures.append({"cell": cell, KEY: key, "error": error.strip().splitlines()[-1]})
        else:
            done[key] = rows
            if out is not None:
                write_table(table(), out, stem)

    bar = tqdm(total=len(todo), desc=desc, disable=not (sys.stderr.isatty() if progress is None else progress))
    try:
        if serial or not todo:
            for key in todo:
                finished(key, *_call(fn, unique[key], key, threads))
                bar.update(1)
        else:
            _run_ray(todo, unique, fn, finished, bar, address, workers, threads, gpus)
    finally:
        bar.close()
    result.rows = table()
    if out is not None:
        if not todo and not Path(out, f"{stem}.json").exists():
            write_table(result.rows, out, stem)
        failures_path = Path(out) / f"{stem}_failures.json"
        if result.failures:
            failures_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(failures_path, json.dumps(result.failures, indent=1))
        elif failures_path.exists():
            failures_path.unlink()
    result.wall_seconds = time.perf_counter() - t0
    log.info("sweep: %d cells run, %d skipped, %d failed in %.1f s", result.ran, result.skipped, len(result.failures),
             result.wall_seconds)
    return result


def _run_ray(todo: list[str], unique: dict[str, dict], fn: CellFn, finished, bar, address, workers, threads, gpus) -> None:
    ray = _import_ray()
    address = address or os.environ.get("RAY_ADDRESS") or None
    started = False
    if not ray.is_initialized():
        opts: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
        if address in (None, "local"):
            opts["num_cpus"] = workers * threads if workers else (os.cpu_count() or 1)
        ray.init(address=address, **opts)
        started = True
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        limit = workers or max(1, cpus // threads)
        payload = ray.put(_payload(fn))
        env = {k: v for k, v in os.environ.items() if k.startswith("PINNDD_")}
        level = logging.getLogger().getEffectiveLevel()
        task = ray.remote(_remote_cell).options(num_cpus=threads, num_gpus=gpus, max_retries=0)
        pending: dict[Any, str] = {}
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < limit:
                key = queue.pop(0)
                pending[task.remote(payload, list(sys.path), env, level, unique[key], key, threads)] = key
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                key = pending.pop(ref)
                try:
                    rows, error = ray.get(ref)
                except Exception:  # the worker died (out of memory, a crash): that cell fails, not the sweep
                    rows, error = None, traceback.format_exc()
                finished(key, rows, error)
                bar.update(1)
    finally:
        if started:
            ray.shutdown()
