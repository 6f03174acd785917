"""Determinism on the CPU: for every registered method, the same seed gives bitwise the same point
set and, trained on it, bitwise the same history and model, twice in one process and in another
process. (On a GPU some kernels are not deterministic; see README, "Errors and warnings".)"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_methods import cheap  # the tiny settings that keep every method to seconds

import equations
import pinndd
from pinndd import TrainConfig, methods

BUDGET, SEED = 12, 5
#: Smaller still, where a method has these settings: warm-ups, candidate pools, unrolls.
FAST = dict(warmup_steps=20, warmup_width=8, warmup_depth=1, pool_size=128, inner_steps=3, students=1)
TRAIN = TrainConfig(width=4, depth=1, adam_steps=6, lbfgs_steps=3, lr=1e-2, seed=2, log_every=3, progress=False)


def _hash(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def digest(name: str) -> dict[str, str]:
    """Hashes of ``name``'s set on heat (points, weights, labels) and of a tiny training on it."""
    problem = equations.get("heat")
    m = cheap(name)
    names = {f.name for f in dataclasses.fields(m)}
    ps = dataclasses.replace(m, **{k: v for k, v in FAST.items() if k in names}).make(problem, BUDGET, seed=SEED)
    arrays = [ps.interior, ps.interior_weights] + [a for k in sorted(ps.conditions) for a in ps.conditions[k]]
    if ps.targets is not None:
        arrays.append(ps.targets)
    res = pinndd.train(problem, ps, TRAIN)
    return {"set": _hash(*arrays),
            "history": _hash(*(res.history[k] for k in sorted(res.history))),
            "model": _hash(*(t.detach().numpy() for t in res.model.state_dict().values()))}


def digests() -> dict[str, dict[str, str]]:
    torch.set_num_threads(1)
    return {name: digest(name) for name in methods.names()}


CHILD = "import json, sys; sys.path.insert(0, sys.argv[1]); import test_determinism as t; print(json.dumps(t.digests()))"


@pytest.fixture(scope="module")
def other_process():
    """The digests computed in a fresh process, started first so that it runs beside this one."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PINNDD_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(Path(__file__).parent)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env, text=True)
    yield child
    if child.poll() is None:
        child.kill()
        child.wait()


def test_same_seed_same_set_and_history_in_one_process_and_across(other_process):
    first = digests()
    second = digests()  # in-process caches (experts, teachers) are warm now: results must not change
    assert first == second
    out, err = other_process.communicate(timeout=600)
    assert other_process.returncode == 0, err[-3000:]
    across = json.loads(out.strip().splitlines()[-1])
    assert across == first
    assert set(first) == set(methods.names())
    # the hashes see a change: another seed gives another set for a random method
    other = cheap("uniform").make(equations.get("heat"), BUDGET, seed=SEED + 1)
    assert _hash(other.interior) != _hash(cheap("uniform").make(equations.get("heat"), BUDGET, seed=SEED).interior)
