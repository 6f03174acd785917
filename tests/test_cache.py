"""The in-process caches (pinndd/cache.py): bounded, keyed by what a problem computes, emptied by
``pinndd.clear_caches()``."""

from __future__ import annotations

import uuid

import pytest
import torch

import equations
import pinndd
from pinndd import Box, PinnddError, Problem, TrainConfig, dirichlet, initial_value
from pinndd.cache import Cache, caches, function_fingerprint, problem_fingerprint
from pinndd.engine import compiled
from pinndd.methods.distill import loop
from pinndd.methods.labelled import label_distill
from pinndd.methods.labelled import teacher as teachers

torch.set_num_threads(1)

TINY = TrainConfig(width=4, depth=1, adam_steps=3, lbfgs_steps=0, progress=False, log_every=1, dtype="float64")


def user_heat(kappa_in_code: float, left: float = 0.0) -> Problem:
    """A heat problem a user writes, named the same whatever the edit."""
    box = Box(("x", "t"), (0.0, 0.0), (1.0, 1.0))
    conds = (
        dirichlet("left", box.face("x", "lower"), left),
        dirichlet("right", box.face("x", "upper"), 0.0),
        initial_value("initial", box, lambda x, p: torch.sin(torch.pi * x["x"])),
    )
    return Problem("user_heat", box, ("u_t", "u_xx"), lambda d, x, p: d["u_t"] - kappa_in_code * d["u_xx"], conds)


def test_lru_cache_is_bounded_and_evicts_the_least_recently_used():
    c = Cache(f"test-{uuid.uuid4()}", 3)
    for k in "abcd":
        c.put(k, k.upper())
    assert c.keys() == ["b", "c", "d"] and len(c) == 3 and c.get("a") is None
    assert c.get("b") == "B"  # now the most recent: "c" goes next
    c.put("e", "E")
    assert c.keys() == ["d", "b", "e"]
    with pytest.raises(PinnddError, match="at least one item"):
        Cache(f"test-{uuid.uuid4()}", 0)
    with pytest.raises(PinnddError, match="exists already"):
        Cache(c.name, 2)


def test_every_process_cache_is_registered_and_bounded():
    """Teachers, distillation experts, label-distill starting sets and compiled graphs are all
    caches of this module, each with a finite bound."""
    registered = caches()
    for c in (teachers.TEACHERS, loop.EXPERTS, label_distill.INITS, compiled.GRAPHS):
        assert registered[c.name] is c and 1 <= c.max_items <= 64


def test_fingerprint_follows_what_the_problem_computes():
    base = problem_fingerprint(user_heat(0.1))
    assert problem_fingerprint(user_heat(0.1)) == base  # rebuilt alike: the same key
    assert problem_fingerprint(user_heat(0.2)) != base  # a constant in the residual's closure
    assert problem_fingerprint(user_heat(0.1, left=0.5)) != base  # a condition's value
    burgers = equations.get("burgers")
    assert problem_fingerprint(equations.get("burgers")) == problem_fingerprint(burgers)
    assert problem_fingerprint(burgers.with_params(a=1.3)) != problem_fingerprint(burgers)
    # other code, same closure values
    f, g = (lambda d: d["u"] + 1.0), (lambda d: d["u"] * 1.0)
    assert function_fingerprint(f) != function_fingerprint(g)


SCALE = 1.0


def _reads_a_global(d):
    return SCALE * d["u"]


def test_fingerprint_reads_module_constants(monkeypatch):
    before = function_fingerprint(_reads_a_global)
    monkeypatch.setattr(__import__(__name__), "SCALE", 2.0)
    assert function_fingerprint(_reads_a_global) != before


def test_an_edited_problem_with_the_same_name_gets_a_new_teacher(monkeypatch):
    monkeypatch.delenv("PINNDD_TEACHER_CACHE", raising=False)
    teachers.TEACHERS.clear()
    first = teachers.train_teacher(user_heat(0.1), dense=8, config=TINY)
    assert teachers.train_teacher(user_heat(0.1), dense=8, config=TINY) is first  # same problem: a hit
    edited = teachers.train_teacher(user_heat(0.3), dense=8, config=TINY)  # same name, other residual
    assert edited is not first and len(teachers.TEACHERS) == 2
    x = torch.rand(16, 2, dtype=torch.float64)
    assert not torch.equal(torch.as_tensor(edited.predict(x.numpy())), torch.as_tensor(first.predict(x.numpy())))


def test_teacher_cache_is_bounded(monkeypatch):
    monkeypatch.delenv("PINNDD_TEACHER_CACHE", raising=False)
    monkeypatch.setattr(teachers.TEACHERS, "max_items", 2)
    teachers.TEACHERS.clear()
    made = [teachers.train_teacher(user_heat(k), dense=8, config=TINY) for k in (0.1, 0.2, 0.3)]
    assert len(teachers.TEACHERS) == 2
    assert teachers.train_teacher(user_heat(0.3), dense=8, config=TINY) is made[2]  # kept
    assert teachers.train_teacher(user_heat(0.1), dense=8, config=TINY) is not made[0]  # evicted: retrained


def test_clear_caches_empties_every_cache(monkeypatch):
    monkeypatch.delenv("PINNDD_TEACHER_CACHE", raising=False)
    teachers.train_teacher(user_heat(0.1), dense=8, config=TINY)
    own = Cache(f"test-{uuid.uuid4()}", 4)
    own.put("k", 1)
    assert len(teachers.TEACHERS) >= 1
    pinndd.clear_caches()
    assert all(len(c) == 0 for c in caches().values())


def test_disk_cache_fingerprints_the_training_code():
    """Every module the disk teacher cache hashes exists, and the ones a dense run's result
    depends on (trainer, Adam, losses, derivatives, conditions, the dense set's sampler) are in."""
    from pathlib import Path

    from pinndd.methods.labelled import teacher_cache

    root = Path(pinndd.__file__).resolve().parent
    assert all((root / f"{m}.py").is_file() for m in teacher_cache.TRAINING_MODULES)
    assert {"engine/training", "engine/adam", "engine/losses", "engine/derivatives", "conditions",
            "methods/sampling/qmc"} <= set(teacher_cache.TRAINING_MODULES)
