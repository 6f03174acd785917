"""Coresets (kmeans_coreset, sensitivity): weighted sets that estimate the dense physics loss."""

import json

import numpy as np
import pytest

import equations
from pinndd import Box, BudgetRule, PinnddError, Problem, dirichlet, methods
from pinndd.methods.adaptive.coreset import (
    kmeans,
    kmeans_select,
    residual_features,
    sensitivities,
    sensitivity_select,
)
from pinndd.methods.adaptive.warmup import inclusion_probabilities, residual_abs, warmup

#: A cheap warm-up: a small net, a few steps, a small pool.
CHEAP = {"warmup_steps": 20, "warmup_width": 16, "warmup_depth": 2, "pool_size": 1024}
N_POOL, BUDGET, SEEDS = 1024, 32, range(6)


def planted() -> Problem:
    """``r = u - f`` with ``f = 100`` on ``[0, 1/4]^2`` (a sixteenth of the square), 0 elsewhere."""
    box = Box(names=("x", "y"), lower=(0.0, 0.0), upper=(1.0, 1.0))

    def residual(d, x, p):
        return d["u"] - 100.0 * ((x["x"] < 0.25) & (x["y"] < 0.25)).to(d["u"].dtype)

    return Problem(name="planted", domain=box, partials=("u",), residual=residual,
                   conditions=(dirichlet("left", box.face("x", "lower"), 0.0),))


def dense_loss_errors(problem, method: str, seeds=SEEDS, **settings) -> tuple[float, float]:
    """Mean over seeds of ``|estimate - dense| / dense`` for the method's set and for uniform
    subsets of the pool of the same size, both for the method's own (fixed) warm-up network.

    The method's estimate is the Horvitz-Thompson one, ``(1/n) sum_i w_i r_i^2`` (for
    ``kmeans_coreset`` the weights sum to ``n``, so it is also the trainer's weighted mean)."""
    ours, uniform = [], []
    for seed in seeds:
        counts = BudgetRule().split(problem, BUDGET)
        cfg = {**CHEAP, **settings}
        warm = warmup(problem, counts, seed, steps=cfg["warmup_steps"], width=cfg["warmup_width"],
                      depth=cfg["warmup_depth"], pool_size=N_POOL)  # the method's own warm-up
        dense = np.mean(warm.residuals**2)
        ps = methods.get(method, **cfg).make(problem, BUDGET, seed=seed)
        r2 = residual_abs(problem, warm.model, ps.interior) ** 2
        ours.append(abs(np.sum(ps.interior_weights * r2) / BUDGET - dense) / dense)
        rng = np.random.default_rng(100 + seed)
        subsets = [rng.choice(N_POOL, BUDGET, replace=False) for _ in range(100)]
        uniform.append(np.mean([abs(np.mean(warm.residuals[s] ** 2) - dense) / dense for s in subsets]))
    return float(np.mean(ours)), float(np.mean(uniform))


@pytest.mark.parametrize("pde", ["heat", "burgers"])
def test_kmeans_coreset_estimates_the_dense_loss_better_than_uniform(pde):
    ours, uniform = dense_loss_errors(equations.get(pde), "kmeans_coreset")
    assert ours < 0.5 * uniform, (ours, uniform)  # measured about 0.1x on seeds 0-17


@pytest.mark.parametrize("method, settings, bound", [
    ("sensitivity", {}, 0.6),  # 8 of the 9 units of sensitivity are the cluster term: ~0.4x measured
    ("sensitivity", {"clusters": 1}, 0.5),  # ~0.2x measured
    ("residual_is", {}, 0.5),  # ~0.1x measured
])
def test_importance_sets_estimate_a_peaked_dense_loss_better_than_uniform(method, settings, bound):
    # r^2 ~ 1e4 on a sixteenth of the square and ~0.1 elsewhere: a uniform subset of 32 often
    # misses the peak or overweights it; importance sampling with exact weights does not
    ours, uniform = dense_loss_errors(planted(), method, seeds=range(12), warmup_steps=0, **settings)
    assert ours < bound * uniform, (ours, uniform)


def test_kmeans_coreset_weights_are_cluster_sizes():
    rng = np.random.default_rng(0)
    unit = rng.random((500, 2))
    feats = residual_features(unit, np.exp(rng.standard_normal(500)), 1.0)
    assert feats.shape == (500, 3) and feats[:, 2].std() == pytest.approx(1 / np.sqrt(12))
    idx, w = kmeans_select(feats, 40, np.random.default_rng(1))
    assert len(np.unique(idx)) == 40 and np.all(w > 0)
    assert w.sum() == pytest.approx(40)  # mean weight 1: sizes sum to the pool
    np.testing.assert_allclose(np.sort(w * 500 / 40) % 1, 0, atol=1e-9)  # integer cluster sizes
    np.testing.assert_array_equal(residual_features(unit, np.ones(500), 0.0), unit)


def test_kmeans_fills_every_cluster():
    x = np.random.default_rng(2).random((60, 2))
    for k in (1, 7, 55, 60):
        centres, labels = kmeans(x, k, np.random.default_rng(k), max_iter=5)
        assert centres.shape == (k, 2) and np.all(np.bincount(labels, minlength=k) >= 1)
    # a clear two-cluster set is split correctly
    y = np.concatenate([np.random.default_rng(3).random((30, 2)) * 0.1, 0.9 + np.random.default_rng(4).random((30, 2)) * 0.1])
    _, labels = kmeans(y, 2, np.random.default_rng(0))
    assert len(set(labels[:30])) == 1 and len(set(labels[30:])) == 1 and labels[0] != labels[-1]


def test_sensitivities_bound_the_loss_share():
    rng = np.random.default_rng(5)
    r = np.abs(rng.standard_normal(300))
    labels = rng.integers(0, 6, 300)
    s = sensitivities(r, labels)
    assert s.sum() == pytest.approx(1 + 6)
    # the share of r^2 + g for cluster-wise constant g >= 0 never exceeds s
    for _ in range(20):
        f = rng.random() * r**2 + rng.random(6)[labels] * rng.integers(0, 2, 6)[labels]
        assert np.all(f / f.sum() <= s + 1e-12)


def test_sensitivity_sampling_is_spread_over_clusters():
    rng = np.random.default_rng(6)
    unit = rng.random((2000, 2))
    r = np.exp(3 * unit[:, 0])  # larger on the right
    idx, w, s, labels = sensitivity_select(unit, r, 64, 8, np.random.default_rng(7))
    pi = inclusion_probabilities(s, 64)
    np.testing.assert_allclose(w, 64 / (2000 * pi[idx]))
    for c in range(8):
        expected = pi[labels == c].sum()
        assert abs(np.sum(labels[idx] == c) - expected) < 2


def test_sensitivity_concentrates_on_a_planted_residual_and_weights_undo_it():
    problem = planted()
    ps = methods.get("sensitivity", clusters=1, warmup_steps=0, pool_size=2048).make(problem, 64, seed=0)
    inside = (ps.interior[:, 0] < 0.25) & (ps.interior[:, 1] < 0.25)
    assert inside.mean() > 0.35  # s = r^2 / sum r^2 + 1/N puts ~half the mass in the box (area 1/16)
    share = ps.interior_weights[inside].sum() / ps.interior_weights.sum()
    assert share < 0.15
    assert ps.metadata["total_sensitivity"] == pytest.approx(2.0)


@pytest.mark.parametrize("method", ["kmeans_coreset", "sensitivity"])
def test_seeded_positive_weights_and_metadata(method):
    problem = equations.get("heat")
    settings = {"warmup_steps": 0, "pool_size": 512}
    a = methods.get(method, **settings).make(problem, 24, seed=3)
    b = methods.get(method, **settings).make(problem, 24, seed=3)
    c = methods.get(method, **settings).make(problem, 24, seed=4)
    np.testing.assert_array_equal(a.interior, b.interior)
    np.testing.assert_array_equal(a.interior_weights, b.interior_weights)
    assert not np.array_equal(a.interior, c.interior)
    assert np.all(a.interior_weights > 0) and len(np.unique(a.interior, axis=0)) == 24
    assert a.metadata["family"] == "coreset" and "warmup_seconds" in a.metadata
    assert a.metadata["warmup"]["pool_size"] == 512
    json.dumps(a.metadata)


@pytest.mark.parametrize("method, settings", [
    ("kmeans_coreset", {"residual_weight": -1.0}),
    ("kmeans_coreset", {"kmeans_iter": 0}),
    ("kmeans_coreset", {"warmup_depth": 0}),
    ("sensitivity", {"clusters": 0}),
    ("sensitivity", {"clusters": 2.5}),
    ("sensitivity", {"warmup_lr": float("inf")}),
    ("sensitivity", {"k": 1.0}),
])
def test_bad_settings_raise(method, settings):
    with pytest.raises(PinnddError):
        methods.get(method, **settings)


def test_pool_smaller_than_budget_raises():
    with pytest.raises(PinnddError, match="pool_size"):
        methods.get("kmeans_coreset", warmup_steps=0, pool_size=8).make(equations.get("heat"), 16)
