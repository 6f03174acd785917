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
from pinndd import PinnddError, TrainConfig, methods, train, training
from pinndd.ensemble import train_ensemble
from pinndd.training import make_model

TINY = TrainConfig(width=8, depth=1, adam_steps=20, lbfgs_steps=5, lr=1e-2, log_every=10, progress=False)


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
    np.testing.assert_allclose(comp.history["loss"][:adam], eager.history["loss"][:adam], rtol=2e-5)
    for name in ("pde", "left", "right", "initial"):
        np.testing.assert_allclose(comp.history[name][:adam], eager.history[name][:adam], rtol=2e-5, atol=1e-7)
    # L-BFGS ran through the compiled loss too (a line search may take other branches in float32)
    assert len(comp.history["loss"]) > adam
    np.testing.assert_allclose(comp.history["loss"][-1], eager.history["loss"][-1], rtol=1e-2)

    # a fresh model, problem object and point tensors of the same shapes: no recompilation
    graphs = counters["stats"]["unique_graphs"]
    again = train(equations.get("heat"), ps, replace(TINY, compile=True, seed=1, lbfgs_steps=0))
    assert counters["stats"]["unique_graphs"] == graphs
    assert len(training.COMPILE_LOG) == n_log + 2
    ref = train(problem, ps, replace(TINY, seed=1, lbfgs_steps=0))
    np.testing.assert_allclose(again.history["loss"], ref.history["loss"], rtol=2e-5)
    # the compiled Adam step updates the model's own parameters as torch.optim.Adam does
    for (name, a), b in zip(again.model.state_dict().items(), ref.model.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)
    assert not torch.equal(again.model.state_dict()["net.layers.0.weight"],
                           make_model(problem, replace(TINY, seed=1)).state_dict()["net.layers.0.weight"])


def test_compiled_ensemble_matches_eager(heat):
    problem, ps = heat
    cfg = replace(TINY, lbfgs_steps=0)
    eager = train_ensemble(problem, ps, cfg, seeds=[0, 1, 2])
    comp = train_ensemble(problem, ps, replace(cfg, compile=True), seeds=[0, 1, 2])
    for a, b in zip(comp.results, eager.results):
        np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=2e-5)


def test_compile_failure_falls_back_to_eager(heat, monkeypatch, caplog):
    problem, ps = heat
    small = methods.get("sobol").make(problem, 17, seed=0)  # a shape no other test compiled

    def broken(fn, **kwargs):
        def call(*args):
            raise RuntimeError("no C++ compiler")

        return call

    monkeypatch.setattr(torch, "compile", broken)
    with caplog.at_level(logging.WARNING, logger="pinndd.compiled"):
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
    from pinndd import compiled

    problem, _ = heat
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: fn)
    monkeypatch.setattr(compiled, "MAX_GRAPHS", 2)
    monkeypatch.setattr(compiled, "_COMPILED", type(compiled._COMPILED)())
    cfg = replace(TINY, compile=True, lbfgs_steps=0, adam_steps=2, log_every=1)
    sets = [methods.get("sobol").make(problem, n, seed=0) for n in (29, 30, 31)]  # three shapes, three keys
    n_log = len(training.COMPILE_LOG)
    for ps in sets:
        train(problem, ps, cfg)
    keys = [e["key"] for e in training.COMPILE_LOG[n_log:]]
    assert len(keys) == 3 and len(set(keys)) == 3 and list(compiled._COMPILED) == keys[1:]
    train(problem, sets[1], cfg)  # a hit: no new entry, now the most recent
    assert len(training.COMPILE_LOG) == n_log + 3 and list(compiled._COMPILED) == [keys[2], keys[1]]
    train(problem, sets[0], cfg)  # evicted before: compiled and logged again, evicting keys[2]
    assert training.COMPILE_LOG[-1]["key"] == keys[0] and list(compiled._COMPILED) == [keys[1], keys[0]]


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
