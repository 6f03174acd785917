"""Nested (anytime) sets: prefixes are the sets for smaller budgets, and every prefix covers."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

import equations
from pinndd import BudgetRule, PinnddError, PointSet, methods
from pinndd.methods.adaptive.nested import anytime_order, order_pointset, prefix
from pinndd.methods.sampling.qmc import sample_unit


def covering_radius(points: np.ndarray, probe: np.ndarray) -> float:
    return float(cKDTree(points).query(probe)[0].max())


def test_one_make_serves_every_budget():
    heat = equations.get("heat")
    method = methods.get("nested", max_budget=96, warmup_steps=30)
    small, large = method.make(heat, 40, seed=3), method.make(heat, 96, seed=3)
    np.testing.assert_array_equal(small.interior, large.interior[:40])
    counts = BudgetRule().split(heat, 40)
    for name, (pts, _) in small.conditions.items():  # the shared Sobol condition points are nested too
        assert len(pts) == counts[name]
        np.testing.assert_array_equal(pts, large.conditions[name][0][: len(pts)])
    assert small.metadata["ordered"] == 96
    # without max_budget the order is made at the budget itself (another warm-up: another set)
    assert not np.array_equal(methods.get("nested", warmup_steps=30).make(heat, 40, seed=3).interior, small.interior)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_every_prefix_covers_within_twice_the_best(dim):
    """Greedy farthest-point order (constant density): the covering radius of every prefix is at
    most twice the best possible (Gonzalez 1985), and the best is at most that of any other set
    of the same size, e.g. a Sobol set: so r(prefix_k) <= 2 r(Sobol_k) must hold at every k."""
    pool = sample_unit("sobol", 2048, dim, seed=1)
    order = anytime_order(pool)
    assert sorted(order.tolist()) == list(range(len(pool)))
    for k in (8, 32, 64, 128):
        mine = covering_radius(pool[order[:k]], pool)
        sobol = covering_radius(sample_unit("sobol", k, dim, seed=2), pool)
        assert mine <= 2 * sobol + 1e-12, (k, mine, sobol)


def test_density_puts_prefixes_where_it_is_high():
    """With density 16 on the left half and 1 on the right, every prefix (beyond the first few
    points) holds more points on the left; a max-min packing with spacing ~ p^(-1/d) puts a
    share p_L / (p_L + p_R) = 16/17 on the left in the limit."""
    pool = sample_unit("sobol", 4096, 2, seed=0)
    density = np.where(pool[:, 0] < 0.5, 16.0, 1.0)
    order = anytime_order(pool, density)
    for k in (32, 128, 512):
        left = np.mean(pool[order[:k], 0] < 0.5)
        assert left > 0.75, (k, left)


def test_order_pointset_keeps_weights_with_points_and_prefix_cuts():
    heat = equations.get("heat")
    ps = methods.get("sobol").make(heat, 64, seed=0)
    w = np.linspace(0.5, 2.0, 64)
    weighted = PointSet(ps.interior, w, ps.conditions, None, 1.0, ps.metadata)
    ordered = order_pointset(heat, weighted)
    lookup = {tuple(p): wi for p, wi in zip(ps.interior, w)}
    assert all(lookup[tuple(p)] == wi for p, wi in zip(ordered.interior, ordered.interior_weights))
    cut = prefix(heat, ordered, 20, seed=0)
    assert cut.n_interior == 20 and cut.metadata["prefix_of"] == 64
    cut.validate(heat)
    with pytest.raises(PinnddError, match="prefix size"):
        prefix(heat, ordered, 65)


def test_bad_settings_raise():
    with pytest.raises(PinnddError):
        methods.get("nested", max_budget=-1)
    with pytest.raises(PinnddError, match="positive"):
        anytime_order(np.zeros((3, 2)), np.array([1.0, 0.0, 1.0]))
