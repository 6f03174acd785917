"""``TrainConfig(compile=True)``: same training as eager, one compilation reused across models.

Compiling costs seconds to tens of seconds on a small CPU, so this module compiles once for a
single model and once for an ensemble, on a tiny network and point set.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

import equations
from pinndd import PinnddError, TrainConfig, methods, train
from pinndd.engine import training
from pinndd.engine.ensemble import train_ensemble
from pinndd.engine.training import make_model

TINY = TrainConfig(width=8, depth=1, adam_steps=20, lbfgs_steps=5, lr=1e-2, log_every=10, progress=False)
EPS32 = float(np.finfo(np.float32).eps)


def float64_twin(problem, ps, cfg: TrainConfig, adam_steps: int | None = None):
    """The same training in float64 from the float32 run's initial weights cast up: the answer
    both float32 runs (eager and compiled) approximate with their own rounding."""
    cfg = replace(cfg, dtype="float64", compile=False, lbfgs_steps=0, adam_steps=adam_steps or cfg.adam_steps)
    return train(problem, ps, cfg, model=make_model(problem, replace(cfg, dtype="float32")).double())


def assert_as_accurate_as_eager(comp: dict, eager: dict, exact: dict, what: str) -> None:
    """Float32 compiled values stay as close to the float64 twin as the eager float32 ones do:
    ``|comp - exact| <= 4 |eager - exact| + 16 eps32 max|exact|`` per named array. The bound
    follows the rounding of the machine it runs on (eager's own deviation is measured there),
    where a fixed tolerance held on one CPU only; a compiled graph that computes something else
    (a wrong term, a missed update) is off by far more."""
    for name, ref in exact.items():
        ref = np.asarray(ref, dtype=np.float64)
        dev_e = np.abs(np.asarray(eager[name], dtype=np.float64) - ref).max()
        dev_c = np.abs(np.asarray(comp[name], dtype=np.float64) - ref).max()
        bound = 4 * dev_e + 16 * EPS32 * np.abs(ref).max()
        assert dev_c <= bound, f"{what} {name}: compiled is {dev_c:.3g} from float64, eager {dev_e:.3g} (bound {bound:.3g})"


def histories(res, steps: int, names=("loss", "pde", "left", "right", "initial")) -> dict:
    return {n: res.history[n][:steps] for n in names}


def states(res) -> dict:
    return {k: v.double().numpy() for k, v in res.model.state_dict().items()}


@pytest.fixture(scope="module")
def heat():
    problem = equations.get("heat")
    return problem, methods.get("sobol").make(problem, 24, seed=0)


def test_compile_with_autograd_engine_raises():
    with pytest.raises(PinnddError, match="double backward"):
        TrainConfig(compile=True, engine="autograd")
    TrainConfig(compile=True, engine="forward")


def test_compiled_matches_eager_and_is_reused(heat):
    problem, ps = heat
    n_log = len(training.COMPILE_LOG)
    eager = train(problem, ps, TINY)
    comp = train(problem, ps, replace(TINY, compile=True))
    # two graphs: the whole Adam step and the loss L-BFGS evaluates
    assert len(training.COMPILE_LOG) == n_log + 2 and all(e["seconds"] > 0 for e in training.COMPILE_LOG[-2:])
    assert [e["key"][0] for e in training.COMPILE_LOG[-2:]] == ["adam", "loss"]
    adam = TINY.adam_steps
    exact = float64_twin(problem, ps, TINY)
    assert_as_accurate_as_eager(histories(comp, adam), histories(eager, adam), histories(exact, adam), "Adam history")
    # L-BFGS ran through the compiled loss too and lowered it (its line search may take other
    # branches in float32 than eager, so its values are not compared)
    assert len(comp.history["loss"]) > adam
    assert comp.history["loss"][adam:].min() < comp.history["loss"][adam - 1]

    # a fresh model, problem object and point tensors of the same shapes: no recompilation
    graphs = counters["stats"]["unique_graphs"]
    again = train(equations.get("heat"), ps, replace(TINY, compile=True, seed=1, lbfgs_steps=0))
    assert counters["stats"]["unique_graphs"] == graphs
    assert len(training.COMPILE_LOG) == n_log + 2
    ref = train(problem, ps, replace(TINY, seed=1, lbfgs_steps=0))
    exact = float64_twin(problem, ps, replace(TINY, seed=1))
    assert_as_accurate_as_eager(histories(again, adam), histories(ref, adam), histories(exact, adam), "history, seed 1")
    # the compiled Adam step updates the model's own parameters as torch.optim.Adam does
    assert_as_accurate_as_eager(states(again), states(ref), states(exact), "parameters")
    assert not torch.equal(again.model.state_dict()["net.layers.0.weight"],
                           make_model(problem, replace(TINY, seed=1)).state_dict()["net.layers.0.weight"])


def test_compiled_ensemble_matches_eager(heat):
    problem, ps = heat
    cfg = replace(TINY, lbfgs_steps=0)
    eager = train_ensemble(problem, ps, cfg, seeds=[0, 1, 2])
    comp = train_ensemble(problem, ps, replace(cfg, compile=True), seeds=[0, 1, 2])
    for a, b, seed in zip(comp.results, eager.results, [0, 1, 2]):
        exact = float64_twin(problem, ps, replace(cfg, seed=seed))
        assert_as_accurate_as_eager(histories(a, cfg.adam_steps), histories(b, cfg.adam_steps),
                                    histories(exact, cfg.adam_steps), f"member {seed}")


def test_compile_failure_falls_back_to_eager(heat, monkeypatch, caplog):
    problem, ps = heat
    small = methods.get("sobol").make(problem, 17, seed=0)  # a shape no other test compiled

    def broken(fn, **kwargs):
        def call(*args):
            raise RuntimeError("no C++ compiler")

        return call

    monkeypatch.setattr(torch, "compile", broken)
    with caplog.at_level(logging.WARNING, logger="pinndd.engine.compiled"):
        comp = train(problem, small, replace(TINY, compile=True))
    assert "torch.compile failed" in caplog.text and "no C++ compiler" in caplog.text
    np.testing.assert_array_equal(comp.history["loss"], train(problem, small, TINY).history["loss"])


def test_unsupported_model_trains_eagerly(heat):
    problem, ps = heat
    cfg = replace(TINY, compile=True, hard=True, lbfgs_steps=0)  # the forward engine has no hard transforms
    res = train(problem, ps, cfg)
    np.testing.assert_array_equal(res.history["loss"], train(problem, ps, replace(cfg, compile=False)).history["loss"])


def test_compiled_graphs_are_evicted_least_recently_used(heat, monkeypatch):
    """The per-process cache keeps at most MAX_GRAPHS graphs; an evicted key is compiled (and
    logged) again when it comes back. torch.compile is replaced by the identity here, so the
    cache logic is tested without paying for compilations."""
    from pinndd.engine import compiled

    problem, _ = heat
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: fn)
    monkeypatch.setattr(compiled.GRAPHS, "max_items", 2)
    compiled.GRAPHS.clear()
    cfg = replace(TINY, compile=True, lbfgs_steps=0, adam_steps=2, log_every=1)
    sets = [methods.get("sobol").make(problem, n, seed=0) for n in (29, 30, 31)]  # three shapes, three keys
    n_log = len(training.COMPILE_LOG)
    for ps in sets:
        train(problem, ps, cfg)
    keys = [e["key"] for e in training.COMPILE_LOG[n_log:]]
    assert len(keys) == 3 and len(set(keys)) == 3 and compiled.GRAPHS.keys() == keys[1:]
    train(problem, sets[1], cfg)  # a hit: no new entry, now the most recent
    assert len(training.COMPILE_LOG) == n_log + 3 and compiled.GRAPHS.keys() == [keys[2], keys[1]]
    train(problem, sets[0], cfg)  # evicted before: compiled and logged again, evicting keys[2]
    assert training.COMPILE_LOG[-1]["key"] == keys[0] and compiled.GRAPHS.keys() == [keys[1], keys[0]]


def test_compiled_adam_step_matches_torch_adam_in_float64(heat):
    """In float64 the compiled Adam step (bias corrections from a float64 step counter) agrees
    with torch.optim.Adam to rounding."""
    problem, ps = heat
    cfg = replace(TINY, dtype="float64", lbfgs_steps=0)
    eager = train(problem, ps, cfg)
    comp = train(problem, ps, replace(cfg, compile=True))
    np.testing.assert_allclose(comp.history["loss"], eager.history["loss"], rtol=1e-10)
    for a, b in zip(comp.model.state_dict().values(), eager.model.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-13)
