import numpy as np
import pytest
import torch

import equations
from pinndd import Box, PinnddError, ShiftFamily
from pinndd.problem import canonical_partial, parse_partial


def test_box_validation():
    with pytest.raises(PinnddError, match="single letters"):
        Box(("xx",), (0,), (1,))
    with pytest.raises(PinnddError, match="lower < upper"):
        Box(("x",), (1,), (0,))
    with pytest.raises(PinnddError, match="distinct"):
        Box(("x", "x"), (0, 0), (1, 1))


def test_face_mapping_and_membership(rng):
    box = Box(("x", "y", "t"), (-1, 0, 0), (1, 2, 3))
    face = box.face("y", "upper")
    pts = face.from_unit(rng.random((50, 2)))
    assert np.all(pts[:, 1] == 2.0)
    assert face.contains(pts).all() and box.contains(pts).all()
    assert not box.face("y", "lower").contains(pts).any()
    assert face.normal_sign == 1.0 and box.face("x", "lower").normal_sign == -1.0


def test_unit_roundtrip(rng):
    box = Box(("x", "t"), (-1, 0), (1, 0.99))
    u = rng.random((20, 2))
    np.testing.assert_allclose(box.to_unit(box.from_unit(u)), u, atol=1e-15)


def test_partial_names():
    box = Box(("x", "t"), (0, 0), (1, 1))
    assert parse_partial("u_tx", box) == (0, 1)
    assert canonical_partial("u_tx", box) == "u_xt"
    with pytest.raises(PinnddError, match="not a coordinate"):
        parse_partial("u_y", box)
    with pytest.raises(PinnddError):
        parse_partial("v_x", box)


def test_with_params_and_shift_families(pde_name):
    problem = equations.get(pde_name)
    assert problem.is_nominal
    assert problem.shifts, f"{pde_name} declares no shift family"
    fam = problem.shifts[0]
    assert fam.is_in_distribution(problem.params[fam.param])
    value = fam.out_range[1]
    shifted = problem.with_params(**{fam.param: value})
    assert shifted.params[fam.param] == value and not shifted.is_nominal
    assert problem.params[fam.param] != value  # the original is untouched
    with pytest.raises(PinnddError, match="no parameter"):
        problem.with_params(not_a_parameter=1.0)


def test_declared_shift_ranges_pass_the_parameter_check(pde_name):
    """Every value a declared family reaches (out-of-distribution ends included) is one the
    problem accepts, so the OOD evaluator never asks for an unsupported reference."""
    problem = equations.get(pde_name)
    for fam in problem.shifts:
        for value in (*fam.out_range, *fam.in_range):
            problem.with_params(**{fam.param: value})


@pytest.mark.parametrize(("pde_name", "params", "match"), [
    ("burgers", {"a": 2.5}, "resolved for"), ("burgers", {"gl": -3.0}, "resolved for"),
    ("allen_cahn", {"D": -1e-3}, "D > 0"), ("allen_cahn", {"D": 1e-7}, "interfaces of width"),
    ("heat", {"alpha": 0.0}, "alpha > 0"),
])
def test_with_params_refuses_unsupported_values(pde_name, params, match):
    problem = equations.get(pde_name)
    with pytest.raises(PinnddError, match=match):
        problem.with_params(**params)
    assert problem.with_params(**{k: problem.params[k] for k in params}).is_nominal


def test_shift_family_values():
    fam = ShiftFamily("a", (0.8, 1.2), (0.5, 1.5))
    vals = fam.values(3, 2)
    assert [v for v, ind in vals if ind] == pytest.approx([0.8, 1.0, 1.2])
    assert all(not fam.is_in_distribution(v) for v, ind in vals if not ind)
    with pytest.raises(PinnddError):
        ShiftFamily("a", (0.5, 1.5), (0.8, 1.2))


def test_condition_targets_are_torch(pde_name):
    problem = equations.get(pde_name)
    for cond in problem.conditions:
        pts = torch.as_tensor(cond.face.from_unit(np.full((4, problem.domain.dim - 1), 0.3)))
        g = cond.target(pts, problem.params)
        assert isinstance(g, torch.Tensor) and g.shape == (4,)


def test_evaluation_points_inside(pde_name):
    problem = equations.get(pde_name)
    pts = problem.evaluation_points()
    assert pts.shape[1] == problem.domain.dim and len(pts) >= 1000
    assert problem.domain.contains(pts).all()
