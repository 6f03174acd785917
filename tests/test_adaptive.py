"""Residual-adaptive methods (rad, rard, residual_is) and the shared warm-up helpers."""

import json

import numpy as np
import pytest

import equations
from pinndd import Box, BudgetRule, PinnddError, Problem, dirichlet, methods
from pinndd.methods.adaptive.rad import greedy_indices, is_indices, rad_probabilities
from pinndd.methods.adaptive.warmup import inclusion_probabilities, pps_sample, residual_abs, warmup

#: Where the planted residual is large: [0, 1/4]^2, a sixteenth of the unit square.
AREA = 1 / 16
FAST = {"warmup_steps": 0, "pool_size": 2048}  # the untrained network: |r| ~ 100 in the box, O(1) outside


def planted() -> Problem:
    """``r = u - f`` with ``f = 100`` on ``[0, 1/4]^2`` and 0 elsewhere."""
    box = Box(names=("x", "y"), lower=(0.0, 0.0), upper=(1.0, 1.0))

    def residual(d, x, p):
        return d["u"] - p["height"] * ((x["x"] < 0.25) & (x["y"] < 0.25)).to(d["u"].dtype)

    return Problem(name="planted", domain=box, partials=("u",), residual=residual,
                   conditions=(dirichlet("left", box.face("x", "lower"), 0.0),), params={"height": 100.0})


def in_box(points: np.ndarray) -> np.ndarray:
    return (points[:, 0] < 0.25) & (points[:, 1] < 0.25)


def test_planted_residual_is_large_in_the_box():
    problem = planted()
    warm = warmup(problem, BudgetRule().split(problem, 64), seed=0, steps=0, pool_size=2048)
    inside = in_box(warm.pool)
    assert abs(inside.mean() - AREA) < 0.01  # the Sobol pool covers the square evenly
    assert warm.residuals[inside].min() > 10 * np.median(warm.residuals[~inside])


@pytest.mark.parametrize("method, settings", [
    ("rad", {}),
    ("rad", {"k": 2.0, "c": 0.0}),
    ("residual_is", {}),
])
def test_points_concentrate_where_the_residual_is_large(method, settings):
    problem = planted()
    fractions = [in_box(methods.get(method, **FAST, **settings).make(problem, 64, seed=s).interior).mean()
                 for s in range(3)]
    assert np.mean(fractions) > 4 * AREA  # RAD k=1, c=1 expects ~0.45 here, uniform 0.0625


def test_rad_density_formula():
    r = np.array([0.0, 1.0, 2.0, 3.0])
    p = rad_probabilities(r, k=1.0, c=1.0)
    expected = r / r.mean() + 1.0
    np.testing.assert_allclose(p, expected / expected.sum(), rtol=1e-9)
    np.testing.assert_allclose(rad_probabilities(np.zeros(5), 1.0, 0.0), np.full(5, 0.2))  # no residual: uniform


def test_rard_keeps_a_sobol_base_and_adds_by_residual():
    problem = planted()
    budget = 64
    ps = methods.get("rard", **FAST).make(problem, budget, seed=3)
    n_add, n_base = ps.metadata["n_added"], ps.metadata["n_base"]
    assert n_add == 32 and n_base == 32
    sobol = methods.get("sobol").make(problem, budget, seed=3)
    np.testing.assert_array_equal(ps.interior[:n_base], sobol.interior[:n_base])  # the warm-up's own Sobol prefix
    assert in_box(ps.interior[n_base:]).mean() > 0.9  # k=2, c=0: the box holds ~99.9% of the density
    greedy = methods.get("rard", greedy=True, add_fraction=0.25, **FAST).make(problem, budget, seed=3)
    assert greedy.metadata["n_added"] == 16 and in_box(greedy.interior[48:]).all()
    np.testing.assert_array_equal(greedy_indices(np.array([1.0, 5.0, 3.0, 5.0]), 2), [1, 3])


def test_rard_rounds_refine_the_warmup():
    problem = equations.get("heat")
    ps = methods.get("rard", rounds=2, warmup_steps=5, pool_size=512).make(problem, 16, seed=0)
    assert ps.n_interior == 16 and ps.metadata["n_added"] == 8
    assert len(np.unique(ps.interior, axis=0)) == 16


def test_importance_weights_are_horvitz_thompson():
    problem = planted()
    ps = methods.get("residual_is", **FAST).make(problem, 64, seed=1)
    warm = warmup(problem, BudgetRule().split(problem, 64), seed=1, steps=0, pool_size=2048)
    q = warm.residuals**2 + 0.1 * np.mean(warm.residuals**2)
    pi = inclusion_probabilities(q, 64)
    idx = np.array([np.flatnonzero((warm.pool == x).all(axis=1))[0] for x in ps.interior])
    np.testing.assert_allclose(ps.interior_weights, 64 / (2048 * pi[idx]), rtol=1e-12)
    # the weighted share of the box estimates its area (1/16), although most points sit there
    share = ps.interior_weights[in_box(ps.interior)].sum() / ps.interior_weights.sum()
    assert in_box(ps.interior).mean() > 0.5 and 0.01 < share < 0.25


def test_pps_inclusion_probabilities_are_exact():
    rng = np.random.default_rng(0)
    scores = rng.random(40) ** 3
    scores[:2] = 50.0  # two units taken with certainty
    n, reps = 8, 4000
    pi = inclusion_probabilities(scores, n)
    assert pi.sum() == pytest.approx(n) and pi.max() == 1.0 and np.all(pi[:2] == 1.0)
    counts = np.zeros(40)
    for s in range(reps):
        idx, p = pps_sample(scores, n, np.random.default_rng(s))
        assert len(np.unique(idx)) == n
        np.testing.assert_array_equal(p, pi[idx])
        counts[idx] += 1
    se = np.sqrt(pi * (1 - pi) / reps) + 1e-12
    assert np.all(np.abs(counts / reps - pi) < 5 * se + 1e-9)


def test_importance_sampling_estimate_is_unbiased():
    rng = np.random.default_rng(5)
    r = np.abs(rng.standard_normal(500)) * np.exp(rng.standard_normal(500))
    dense = np.mean(r**2)
    est = []
    for s in range(600):
        idx, w = is_indices(r, 20, floor=0.1, rng=np.random.default_rng(s))
        est.append(np.sum(w * r[idx] ** 2) / 20)
    est = np.array(est)
    assert abs(est.mean() - dense) < 4 * est.std() / np.sqrt(len(est))
    assert est.std() < np.std(r**2) / np.sqrt(20)  # and better than a uniform sample of 20


@pytest.mark.parametrize("method", ["rad", "rard", "residual_is"])
def test_seeded_positive_weights_and_metadata(method):
    problem = planted()
    a = methods.get(method, **FAST).make(problem, 32, seed=7)
    b = methods.get(method, **FAST).make(problem, 32, seed=7)
    c = methods.get(method, **FAST).make(problem, 32, seed=8)
    np.testing.assert_array_equal(a.interior, b.interior)
    np.testing.assert_array_equal(a.interior_weights, b.interior_weights)
    assert not np.array_equal(a.interior, c.interior)
    assert np.all(a.interior_weights > 0) and a.n_interior == 32
    assert len(np.unique(a.interior, axis=0)) == 32
    assert a.metadata["family"] == "adaptive" and a.metadata["warmup_seconds"] >= 0
    assert a.metadata["warmup"]["pool_size"] == 2048 and a.metadata["warmup"]["steps"] == 0
    json.dumps(a.metadata)
    # the conditions are the shared ones
    sobol = methods.get("sobol").make(problem, 32, seed=7)
    np.testing.assert_array_equal(a.conditions["left"][0], sobol.conditions["left"][0])


def test_warmup_trains_and_reports():
    problem = equations.get("heat")
    counts = BudgetRule().split(problem, 16)
    w = warmup(problem, counts, seed=0, steps=20, width=8, depth=2, pool_size=256)
    assert w.pool.shape == (256, 2) and w.residuals.shape == (256,) and np.all(w.residuals >= 0)
    assert w.settings["final_loss"] is not None and w.seconds > 0
    np.testing.assert_allclose(residual_abs(problem, w.model, w.pool[:10], batch=3), w.residuals[:10], rtol=1e-6)
    w2 = warmup(problem, counts, seed=0, steps=20, width=8, depth=2, pool_size=256)
    np.testing.assert_array_equal(w.residuals, w2.residuals)


@pytest.mark.parametrize("method, settings", [
    ("rad", {"k": -1.0}),
    ("rad", {"c": float("nan")}),
    ("rad", {"warmup_steps": -1}),
    ("rad", {"warmup_steps": 2.5}),
    ("rad", {"warmup_width": 0}),
    ("rad", {"warmup_lr": 0.0}),
    ("rad", {"pool_size": -5}),
    ("rard", {"add_fraction": 0.0}),
    ("rard", {"add_fraction": 1.5}),
    ("rard", {"rounds": 0}),
    ("rard", {"greedy": "yes"}),
    ("residual_is", {"floor": -0.1}),
    ("residual_is", {"nonsense": 1}),
])
def test_bad_settings_raise(method, settings):
    with pytest.raises(PinnddError):
        methods.get(method, **settings)


def test_bad_settings_at_make_time_raise():
    problem = planted()
    with pytest.raises(PinnddError, match="pool_size"):
        methods.get("rad", warmup_steps=0, pool_size=16).make(problem, 32)
    with pytest.raises(PinnddError, match="rounds"):
        methods.get("rard", warmup_steps=0, pool_size=256, rounds=5, add_fraction=0.1).make(problem, 32)
    with pytest.raises(PinnddError, match="hard"):
        methods.get("rad", warmup_steps=0, warmup_hard=True).make(problem, 32)
