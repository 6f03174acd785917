"""Bad input through the Python API: each case is a one-line PinnddError naming what was wrong
(or, where the input is legal but suspicious, a warning), never a raw exception from inside
Python, numpy, zipfile, json or torch. The table in README.md ("Errors and warnings") lists
these cases."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

import equations
import pinndd
from pinndd import Box, PinnddError, PointSet, Problem, TrainConfig, dirichlet, initial_value, methods, validate
from pinndd.engine.evaluation import evaluate
from pinndd.engine.training import TrainResult, make_model
from pinndd.labels import LabelRecord

TINY = TrainConfig(width=4, depth=1, adam_steps=2, lbfgs_steps=0, progress=False, log_every=1)


@pytest.fixture(scope="module")
def heat():
    return equations.get("heat")


@pytest.fixture(scope="module")
def heat_set(heat):
    return methods.get("sobol").make(heat, 16, seed=0)


def _box():
    return Box(("x", "t"), (0.0, 0.0), (1.0, 1.0))


def user_problem(residual, partials=("u_t", "u_xx"), initial=None):
    """A heat-like problem a user writes, with the residual (and initial value) under test."""
    box = _box()
    conds = (
        dirichlet("left", box.face("x", "lower"), 0.0),
        dirichlet("right", box.face("x", "upper"), 0.0),
        initial_value("initial", box, initial or (lambda x, p: torch.sin(torch.pi * x["x"]))),
    )
    return Problem("user_heat", box, partials, residual, conds, params={"kappa": 0.1})


def _train_user(residual, partials=("u_t", "u_xx"), initial=None):
    problem = user_problem(residual, partials, initial)
    pinndd.train(problem, methods.get("sobol").make(problem, 8, seed=0), TINY)


def _file(tmp_path, heat_set, edit):
    """Save ``heat_set``, change its arrays with ``edit(dict) -> dict``, save again, load."""
    path = heat_set.save(tmp_path / "s.npz")
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    np.savez(path, **edit(arrays))
    return PointSet.load(path)


def _model_for(name):
    problem = equations.get(name)
    return make_model(problem, TINY)


# (case id, the call, a regular expression its message must match)
CASES = [
    ("unknown PDE name", lambda h, s, t: equations.get("nosuch"), "unknown problem 'nosuch'; registered"),
    ("unknown method name", lambda h, s, t: methods.get("nosuch"), "unknown method 'nosuch'; registered"),
    ("unknown method setting", lambda h, s, t: methods.get("rad", kk=2.0), "bad settings for method 'rad'"),
    ("unknown protocol", lambda h, s, t: validate.protocol("fast"), "unknown protocol 'fast'"),
    ("unknown parameter", lambda h, s, t: h.with_params(zz=1.0), "has no parameter"),
    ("parameter not a number", lambda h, s, t: h.with_params(alpha="abc"), "'alpha' must be a finite number"),
    ("parameter None", lambda h, s, t: h.with_params(alpha=None), "'alpha' must be a finite number"),
    ("parameter NaN", lambda h, s, t: h.with_params(alpha=float("nan")), "'alpha' must be finite"),
    ("parameter from the command line", lambda h, s, t: validate.params(h, ["alpha"]), "name=value"),
    ("ill-posed parameter (heat alpha <= 0)", lambda h, s, t: h.with_params(alpha=-0.1), "alpha > 0"),
    ("wave speed c <= 0", lambda h, s, t: equations.get("wave", c=0.0), "0 < c"),
    ("Helmholtz k huge", lambda h, s, t: equations.get("helmholtz", k=1e6), r"\|k\| <= 50"),
    ("Poisson source huge", lambda h, s, t: equations.get("poisson", s=1e9), "rescale u"),
    ("Burgers data the reference does not resolve", lambda h, s, t: equations.get("burgers", a=50.0), "resolved for"),
    ("budget 0", lambda h, s, t: methods.get("sobol").make(h, 0), "positive integer"),
    ("budget negative", lambda h, s, t: methods.get("sobol").make(h, -5), "positive integer"),
    ("budget not an integer", lambda h, s, t: methods.get("sobol").make(h, 2.5), "positive integer"),
    ("budget text", lambda h, s, t: methods.get("sobol").make(h, "abc"), "positive integer"),
    ("budget absurdly large", lambda h, s, t: methods.get("sobol").make(h, 10**9), "above the limit"),
    ("budget larger than the method's pool", lambda h, s, t: methods.get("rad", pool_size=20).make(h, 32),
     "pool_size .* must be at least the budget"),
    ("seed negative", lambda h, s, t: methods.get("sobol").make(h, 16, seed=-1), "seed must be an integer"),
    ("seed not an integer", lambda h, s, t: methods.get("sobol").make(h, 16, seed=1.5), "seed must be an integer"),
    ("points outside the domain", lambda h, s, t: PointSet(s.interior + 5.0, None, s.conditions).validate(h),
     "outside the domain"),
    ("condition points off their face",
     lambda h, s, t: PointSet(s.interior, None, {**s.conditions, "left": (s.conditions["left"][0] + 0.3, None)}).validate(h),
     "not on its face"),
    ("points of a condition the problem does not have",
     lambda h, s, t: PointSet(s.interior, None, {"top": s.conditions["left"]}).validate(h), "has no condition 'top'"),
    ("NaN point coordinates", lambda h, s, t: PointSet(np.full((4, 2), np.nan)), "NaN or inf"),
    ("negative weights", lambda h, s, t: PointSet(s.interior, -np.ones(len(s.interior))), "positive and finite"),
    ("NaN weights", lambda h, s, t: PointSet(s.interior, np.full(len(s.interior), np.nan)), "positive and finite"),
    ("mismatched dimensions", lambda h, s, t: PointSet(np.zeros((4, 3)) + 0.5, None).validate(h), "3-d but problem"),
    ("a set made for another problem",
     lambda h, s, t: pinndd.train(equations.get("wave"), s, TINY), "made for problem 'heat', not 'wave'"),
    ("labels made for other parameters",
     lambda h, s, t: pinndd.train(h.with_params(TR=1.1), PointSet(s.interior, None, s.conditions, np.zeros(len(s.interior)),
                                                                   1.0, s.metadata, LabelRecord(dict(h.params), "user")), TINY),
     "made for parameters"),
    ("a residual that needs a float parameter (math.sqrt)",
     lambda h, s, t: _train_user(lambda d, x, p: d["u_t"] - math.sqrt(p["kappa"]) ** 2 * d["u_xx"]),
     "fails with parameters given as tensors"),
    ("labels without a record at shifted parameters",
     lambda h, s, t: pinndd.train(h.with_params(TR=1.1), PointSet(s.interior, None, s.conditions, np.zeros(len(s.interior))),
                                  TINY),
     "no label record"),
    ("residual of shape (n, 1)", lambda h, s, t: _train_user(lambda d, x, p: (d["u_t"] - d["u_xx"])[:, None]),
     r"shape \(\d+,\); got \(\d+, 1\)"),
    ("residual of shape (3,)", lambda h, s, t: _train_user(lambda d, x, p: (d["u_t"] - d["u_xx"])[:3]),
     r"got \(3,\)"),
    ("residual returning a scalar mean", lambda h, s, t: _train_user(lambda d, x, p: (d["u_t"] - d["u_xx"]).square().mean()),
     r"got \(\)"),
    ("residual reading an undeclared partial ('u' forgotten)",
     lambda h, s, t: _train_user(lambda d, x, p: d["u_t"] - d["u_xx"] + d["u"]), "reads the partial 'u'"),
    ("residual with a misspelt partial", lambda h, s, t: user_problem(lambda d, x, p: d["u_t"], partials=("u_t", "u_zz")),
     "not a coordinate"),
    ("condition value NaN", lambda h, s, t: dirichlet("left", _box().face("x", "lower"), float("nan")),
     "must be a finite number"),
    ("condition on a face that does not exist", lambda h, s, t: _box().face("z", "lower"), "no coordinate 'z'"),
    ("condition on a side that does not exist", lambda h, s, t: _box().face("x", "left"), "side must be 'lower' or 'upper'"),
    ("device cuda without CUDA", lambda h, s, t: TrainConfig(device="cuda"), "no CUDA device"),
    ("device unknown", lambda h, s, t: validate.device("tpu"), "device must be"),
    ("TrainConfig adam_steps 2.5", lambda h, s, t: TrainConfig(adam_steps=2.5), "adam_steps must be an integer"),
    ("TrainConfig adam_steps '100'", lambda h, s, t: TrainConfig(adam_steps="100"), "adam_steps must be an integer"),
    ("TrainConfig negative steps", lambda h, s, t: TrainConfig(lbfgs_steps=-1), ">= 0"),
    ("TrainConfig lr NaN", lambda h, s, t: TrainConfig(lr=float("nan")), "lr must be a finite number"),
    ("TrainConfig dtype", lambda h, s, t: TrainConfig(dtype="float16"), "dtype must be one of"),
    ("TrainConfig activation", lambda h, s, t: TrainConfig(activation="relu6"), "activation must be one of"),
    ("TrainConfig negative condition weight", lambda h, s, t: TrainConfig(condition_weights={"left": -1.0}),
     "must be a positive finite number"),
    ("TrainConfig unknown condition weight",
     lambda h, s, t: pinndd.train(h, s, replace(TINY, condition_weights={"nosuch": 2.0})), "unknown condition"),
    ("no training steps (command line)", lambda h, s, t: validate.steps("0", "0"), "nothing would be trained"),
    ("threads 0", lambda h, s, t: validate.threads(0), "threads must be an integer >= 1"),
    ("output folder is an existing file", lambda h, s, t: validate.output_dir(s.save(t / "f.npz")), "existing file"),
    ("output folder not creatable (under a file)", lambda h, s, t: validate.output_dir(s.save(t / "g.npz") / "run"),
     "cannot write to output folder"),
    ("final() after zero steps",
     lambda h, s, t: TrainResult(None, {"loss": np.zeros(0)}, 0.0, TINY, "heat").final(), "zero steps"),
    ("evaluating a model for another problem", lambda h, s, t: evaluate(h, _model_for("burgers")), "trained for 'burgers'"),
    ("loading a text file named .npz", lambda h, s, t: PointSet.load(_text(t)), "not an .npz archive"),
    ("loading a missing file", lambda h, s, t: PointSet.load(t / "missing.npz"), "no such file"),
    ("point set metadata not JSON",
     lambda h, s, t: _file(t, s, lambda a: {**a, "metadata": np.array("{not json")}), "not valid JSON"),
    ("point set metadata a JSON list",
     lambda h, s, t: _file(t, s, lambda a: {**a, "metadata": np.array(json.dumps([1, 2]))}), "must be a JSON object"),
    ("point set array missing",
     lambda h, s, t: _file(t, s, lambda a: {k: v for k, v in a.items() if k != "interior"}), "missing 'interior'"),
    ("point set format_version 'one'",
     lambda h, s, t: _file(t, s, lambda a: {**a, "format_version": np.array("one")}), "'format_version' has dtype"),
    ("point set format_version -7",
     lambda h, s, t: _file(t, s, lambda a: {**a, "format_version": np.array(-7)}), "format version -7"),
    ("point set format_version from the future",
     lambda h, s, t: _file(t, s, lambda a: {**a, "format_version": np.array(99)}), "upgrade pinndd"),
    ("point set with a pickled object array",
     lambda h, s, t: _file(t, s, lambda a: {**a, "interior": np.array([{"x": 1}], dtype=object)}), "pickled Python objects"),
    ("point set made for another problem, loaded for it",
     lambda h, s, t: PointSet.load(s.save(t / "h.npz"), equations.get("klein_gordon")), "made for problem 'heat'"),
]


def _text(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("x, t\n0.1, 0.2\n")
    return path


def test_at_least_25_kinds():
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_clear_line(case, heat, heat_set, tmp_path):
    _, call, pattern = case
    with pytest.raises(PinnddError, match=pattern) as info:
        call(heat, heat_set, tmp_path)
    message = str(info.value)
    assert "\n" not in message and len(message) < 1000, message
    assert "allow_pickle" not in message  # never advise loading unsafely


def test_a_set_without_condition_points_warns(heat, heat_set):
    bare = PointSet(heat_set.interior, None, {}, metadata=heat_set.metadata)
    with pytest.warns(UserWarning, match="no points for condition"):
        pinndd.train(heat, bare, TINY)


def test_a_condition_written_with_numpy_warns():
    with pytest.warns(UserWarning, match="use torch functions"):
        _train_user(lambda d, x, p: d["u_t"] - d["u_xx"], initial=lambda x, p: np.sin(np.pi * x["x"]))


def test_zero_steps_in_python_warns_and_returns_the_initial_model(heat, heat_set):
    with pytest.warns(UserWarning, match="untrained"):
        res = pinndd.train(heat, heat_set, replace(TINY, adam_steps=0))
    assert len(res.history["loss"]) == 0


def test_validators_return_normalised_values(heat, tmp_path):
    assert validate.budget("256") == 256 and validate.budget(64.0) == 64
    assert validate.seed("7") == 7
    assert validate.device("cpu") == "cpu"
    assert validate.threads("2") == 2
    assert validate.steps("10", 0) == (10, 0)
    assert validate.params(heat, ["alpha=0.2"]).params["alpha"] == 0.2
    assert validate.settings(["outer_steps=3", "init=rad", "learn_weights=true"]) == {
        "outer_steps": 3, "init": "rad", "learn_weights": True}
    assert validate.method("rad", {"k": 2.0}).k == 2.0
    assert validate.output_dir(tmp_path / "new" / "run").is_dir()
    assert validate.pde("heat").name == "heat"
