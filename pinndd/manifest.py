"""Run folders: atomic file writes, stage timings and ``manifest.json``.

A run folder holds everything one CLI job produced (point sets, models, metrics, figures) and a
``manifest.json`` saying how: the command line, the resolved configuration, seeds, versions of
pinndd/torch/numpy, the git commit of the source when there is one, the machine, device and
threads, and every stage's wall time and cost. Files are written atomically (a temporary file in
the same folder, flushed and fsynced, then renamed), so an interrupted run never leaves a
half-written file under a final name.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write ``path`` through ``write(file)`` into a temporary file beside it, fsync, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    """``obj`` as indented JSON at ``path`` (atomically); NaN is written as ``null``."""
    text = json.dumps(json_safe(obj), indent=2)
    return atomic_write(path, lambda f: f.write(text.encode()))


def json_safe(obj: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, non-finite floats to ``None``, tuples to lists."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy scalars and arrays
        return json_safe(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def git_commit(folder: str | Path | None = None) -> str | None:
    """The commit of the git checkout holding ``folder`` (default: pinndd's source), with
    ``+dirty`` when tracked files are modified; ``None`` outside a checkout or without git."""
    folder = Path(folder) if folder is not None else Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict[str, Any]:
    """Versions, machine and torch threads (recorded beside every number)."""
    import numpy as np
    import torch

    from . import __version__

    info: dict[str, Any] = {
        "pinndd": __version__, "torch": torch.__version__, "numpy": np.__version__,
        "python": platform.python_version(), "git_commit": git_commit(),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(), "hostname": platform.node()},
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        info["machine"]["gpu"] = torch.cuda.get_device_name(0)
    return info


class RunFolder:
    """One job's output folder: files written atomically, stage timings and costs, the manifest.

    Parameters
    ----------
    path:
        The folder (created).
    command:
        The command line (``sys.argv`` by default).
    config:
        The resolved configuration (JSON-serialisable).
    """

    def __init__(self, path: str | Path, command: list[str] | None = None, config: dict | None = None):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.command = list(sys.argv if command is None else command)
        self.config = dict(config or {})
        self.timings: dict[str, float] = {}
        self.costs: dict[str, float] = {}
        self.files: list[str] = []
        self.extra: dict[str, Any] = {}
        self._t0 = time.perf_counter()
        self._started = time.strftime("%Y-%m-%dT%H:%M:%S%z")

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time a stage (``timings[name]`` in seconds, summed when a stage repeats)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0

    def record(self, name: str) -> Path:
        """Note a file written into the folder (listed in the manifest); returns its path."""
        if name not in self.files:
            self.files.append(name)
        return self.path / name

    def write_json(self, name: str, obj: Any) -> Path:
        return write_json(self.record(name), obj)

    def manifest(self, **extra: Any) -> dict[str, Any]:
        return {
            "command": self.command, "cwd": os.getcwd(), "started": self._started,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": self.config,
            **environment(), "timings_seconds": {**self.timings, "total": time.perf_counter() - self._t0},
            "costs_seconds": self.costs, "files": sorted(self.files), **self.extra, **extra,
        }

    def finish(self, **extra: Any) -> Path:
        """Write ``manifest.json``; returns its path."""
        return write_json(self.path / MANIFEST, self.manifest(**extra))
