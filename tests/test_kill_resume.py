"""Kill and resume: a distillation killed with SIGKILL in a real subprocess and resumed here ends
with the same point set as an uninterrupted run (CPU, same seed), for a gradient distiller and
for label_exchange; Ctrl-C stops with pinndd.errors.Interrupted, one line naming the last
checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import equations
from pinndd import methods
from pinndd.errors import Interrupted
from pinndd.methods.labelled.label_exchange import LabelExchange

CASES = {
    "gradient_matching": (dict(width=6, depth=2, dense=64, n_experts=1, expert_steps=20, expert_every=5,
                               states_per_step=1, learn_weights=True, outer_steps=8), 8),
    "label_exchange": (dict(teacher_dense=64, teacher_protocol="smoke", dense=256, dense_batch=64,
                            student_fraction=0.5, outer_steps=5), 24),
}
SEED = 3

#: The child distils with a pause after every checkpoint written, so the parent can kill it
#: between checkpoints at a known point (a kill during a write leaves only a temporary file,
#: which resume ignores: writes are atomic).
CHILD = """
import json, sys, time
import torch
torch.set_num_threads(1)
import equations
from pinndd import methods
from pinndd.methods.distill.checkpoint import Checkpointed
name, folder, settings, budget, seed = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
write = Checkpointed._write_npz
def slow(path, arrays):
    write(path, arrays)
    time.sleep(0.4)
Checkpointed._write_npz = staticmethod(slow)
methods.get(name, **settings, checkpoint_every=1, checkpoint_dir=folder, progress=False).make(
    equations.get("heat"), budget, seed=seed)
print("finished")
"""


def _steps(folder: Path) -> list[int]:
    return sorted(int(p.stem.rsplit("step", 1)[1]) for p in folder.glob("*-step*.npz"))


@pytest.mark.parametrize("name", list(CASES))
def test_sigkill_then_resume_equals_uninterrupted_run(name, tmp_path):
    settings, budget = CASES[name]
    killed = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PINNDD_THREADS": "1"}
    child = subprocess.Popen([sys.executable, "-c", CHILD, name, str(killed), json.dumps(settings), str(budget), str(SEED)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while (not killed.exists() or not _steps(killed) or _steps(killed)[-1] < 2) and time.monotonic() < deadline:
        assert child.poll() is None, child.stdout.read().decode()
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    out = child.communicate()[0].decode()
    assert child.returncode == -signal.SIGKILL and "finished" not in out
    reached = _steps(killed)[-1]
    assert 2 <= reached < settings["outer_steps"]

    heat = equations.get("heat")
    resumed = methods.get(name, **settings, checkpoint_every=1, checkpoint_dir=str(killed),
                          progress=False).make(heat, budget, seed=SEED)
    full = methods.get(name, **settings, progress=False).make(heat, budget, seed=SEED)
    assert resumed.metadata["resumed_from_step"] == reached and full.metadata["resumed_from_step"] == 0
    np.testing.assert_array_equal(resumed.interior, full.interior)
    np.testing.assert_array_equal(resumed.interior_weights, full.interior_weights)
    for k in full.conditions:
        np.testing.assert_array_equal(resumed.conditions[k][0], full.conditions[k][0])
    if full.targets is not None:
        np.testing.assert_array_equal(resumed.targets, full.targets)
    assert resumed.metadata["outer_log"] == full.metadata["outer_log"]


def test_ctrl_c_in_a_distiller_names_the_last_checkpoint(tmp_path, monkeypatch, caplog):
    settings, budget = CASES["gradient_matching"]
    m = methods.get("gradient_matching", **settings, checkpoint_every=2, checkpoint_dir=str(tmp_path), progress=False)
    objective = type(m).objective

    def interrupt_at_5(self, ctx, step, syn, rng):
        if step == 5:
            raise KeyboardInterrupt
        return objective(self, ctx, step, syn, rng)

    monkeypatch.setattr(type(m), "objective", interrupt_at_5)
    with pytest.raises(Interrupted) as info:
        m.make(equations.get("heat"), budget, seed=SEED)
    e = info.value
    assert e.step == 5 and e.checkpoint is not None and Path(e.checkpoint).name.endswith("step0000004.npz")
    assert Path(e.checkpoint).exists()
    message = str(e)
    assert "\n" not in message and str(e.checkpoint) in message and "resume" in message
    assert isinstance(e, KeyboardInterrupt)  # callers that stop on Ctrl-C keep stopping
    assert message in caplog.text


def test_ctrl_c_in_label_exchange_without_checkpoints_says_so(monkeypatch):
    settings, budget = CASES["label_exchange"]
    calls = {"n": 0}
    outcome = LabelExchange.outcome

    def interrupt_second_round(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # two student trainings per round: the third is round 1's first
            raise KeyboardInterrupt
        return outcome(self, *args, **kwargs)

    monkeypatch.setattr(LabelExchange, "outcome", interrupt_second_round)
    with pytest.raises(Interrupted, match="label_exchange interrupted at step 1: no checkpoint was written") as info:
        methods.get("label_exchange", **settings, progress=False).make(equations.get("heat"), budget, seed=SEED)
    assert info.value.checkpoint is None
