import numpy as np
import pytest

import equations
from pinndd import PinnddError, PointSet, methods


def test_roundtrip_without_pickle(tmp_path, pde_name):
    problem = equations.get(pde_name)
    ps = methods.get("sobol").make(problem, 32, seed=3)
    n = ps.n_interior
    ps = PointSet(ps.interior, np.linspace(0.5, 2, n), ps.conditions, np.arange(n) * 0.1, 7.0, ps.metadata)
    path = ps.save(tmp_path / "set.npz")
    with np.load(path, allow_pickle=False) as f:  # readable without pickle
        assert all(f[k].dtype != object for k in f.files)
    back = PointSet.load(path, problem)
    np.testing.assert_array_equal(back.interior, ps.interior)
    np.testing.assert_array_equal(back.interior_weights, ps.interior_weights)
    np.testing.assert_array_equal(back.targets, ps.targets)
    assert back.target_weight == 7.0
    assert list(back.conditions) == list(ps.conditions)
    for k in ps.conditions:
        np.testing.assert_array_equal(back.conditions[k][0], ps.conditions[k][0])
        np.testing.assert_array_equal(back.conditions[k][1], ps.conditions[k][1])
    assert back.metadata == ps.metadata
    for key in ("problem", "params", "method", "config", "budget", "seed", "pinndd_version"):
        assert key in back.metadata


def test_metadata_describes_the_make(pde_name):
    problem = equations.get(pde_name)
    ps = methods.get("halton").make(problem, 20, seed=5)
    m = ps.metadata
    assert m["problem"] == pde_name and m["method"] == "halton" and m["budget"] == 20 and m["seed"] == 5
    assert m["params"] == dict(problem.params)


@pytest.mark.parametrize("bad, match", [
    (dict(interior=np.zeros((3, 2, 1))), "shape"),
    (dict(interior=np.array([[0.0, np.nan]])), "NaN"),
    (dict(interior=np.zeros((3, 2)), interior_weights=np.array([1.0, -1.0, 1.0])), "positive"),
    (dict(interior=np.zeros((3, 2)), interior_weights=np.ones(2)), "one weight per point"),
    (dict(interior=np.zeros((3, 2)), targets=np.ones(4)), "targets"),
    (dict(interior=np.zeros((3, 2)), metadata={"x": object()}), "JSON"),
])
def test_construction_errors(bad, match):
    with pytest.raises(PinnddError, match=match):
        PointSet(**bad)


def test_geometry_validation():
    problem = equations.get("burgers")
    good = methods.get("sobol").make(problem, 16, seed=0)
    outside = good.interior.copy()
    outside[0, 0] = 5.0
    with pytest.raises(PinnddError, match="outside the domain"):
        PointSet(outside, None, good.conditions).validate(problem)
    name = problem.conditions[0].name
    off = {**good.conditions, name: (good.conditions[name][0] * 0 + 0.1234, None)}
    with pytest.raises(PinnddError, match="not on its face"):
        PointSet(good.interior, None, off).validate(problem)
    with pytest.raises(PinnddError, match="no condition"):
        PointSet(good.interior, None, {"nonexistent": good.conditions[name]}).validate(problem)


def test_load_rejects_foreign_files(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    with pytest.raises(PinnddError, match="not a pinndd point set"):
        PointSet.load(tmp_path / "x.npz")
    (tmp_path / "y.npz").write_bytes(b"not a zip")
    with pytest.raises(PinnddError, match="cannot read"):
        PointSet.load(tmp_path / "y.npz")
