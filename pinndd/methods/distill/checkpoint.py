"""Checkpoint files of an iterative method: named by a hash of its settings, written atomically
without pickle, read back skipping damaged files, and the one-line message of a Ctrl-C."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from ...errors import Interrupted, PinnddError
from ...npz import read_npz, write_npz

log = logging.getLogger(__name__)

#: Settings that do not change the result of a step, left out of the checkpoint key.
NOT_IN_KEY = ("outer_steps", "checkpoint_every", "checkpoint_dir", "progress")


class Checkpointed:
    """Checkpoint files of an iterative method (a dataclass with ``name``, ``outer_steps``,
    ``checkpoint_dir`` and ``config()``): ``checkpoint_dir/<name>-<problem>-<key>-step<k>.npz``,
    where ``key`` hashes every setting except those in ``NOT_IN_KEY``, the problem, the counts
    and the seed; written atomically with :func:`numpy.savez` (no pickle)."""

    def checkpoint_key(self, problem, counts: dict[str, int], seed: int) -> str:
        cfg = {k: v for k, v in self.config().items() if k not in NOT_IN_KEY}
        blob = json.dumps([self.name, cfg, problem.name, sorted(problem.params.items()), counts, seed],
                          sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def _ckpt_path(self, problem, key: str, step: int) -> Path:
        return Path(self.checkpoint_dir) / f"{self.name}-{problem.name}-{key}-step{step:07d}.npz"

    def _checkpoints(self, problem, key: str) -> list[tuple[int, Path]]:
        """Checkpoints at or before ``outer_steps`` as ``(step, path)``, latest first."""
        if not self.checkpoint_dir:
            return []
        found = []
        for p in Path(self.checkpoint_dir).glob(f"{self.name}-{problem.name}-{key}-step*.npz"):
            try:
                s = int(p.stem.rsplit("step", 1)[1])
            except ValueError:
                continue
            if s <= self.outer_steps:
                found.append((s, p))
        return sorted(found, reverse=True)

    def _latest_checkpoint(self, problem, key: str) -> tuple[int, Path] | None:
        """The latest checkpoint at or before ``outer_steps`` as ``(step, path)``, or ``None``."""
        found = self._checkpoints(problem, key)
        return found[0] if found else None

    def _read_latest(self, problem, key: str, read):
        """``read(path, data)`` of the latest checkpoint that reads back intact, or ``None``.

        ``data`` is the file's arrays (:func:`pinndd.pointset.read_npz`, never unpickled) with its
        ``step`` checked against the file name. A truncated or damaged checkpoint (a kill during a
        save on a file system without atomic rename, a copy cut short) is skipped with a warning
        and the one before it is used."""
        for step, path in self._checkpoints(problem, key):
            try:
                data = read_npz(path, f"{self.name} checkpoint")
                if "step" not in data or data["step"].shape != () or int(data["step"]) != step:
                    raise PinnddError(f"{path}: its step does not match its name")
                return read(path, data)
            except PinnddError as e:
                log.warning("%s: skipping unreadable checkpoint (%s); trying the previous one", self.name, e)
        return None

    @staticmethod
    def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
        write_npz(path, arrays)

    def _interrupted(self, step: int, last_path: Path | None) -> Interrupted:
        """The exception for Ctrl-C at ``step``, logged as one line naming the last checkpoint."""
        e = Interrupted(self.name, step, last_path)
        log.warning("%s", e)
        return e
