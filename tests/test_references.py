"""Every registered reference satisfies its PDE and conditions, nominal and shifted.

The check is independent of how each reference was computed: finite differences of the
reference (central, step ``h``) are plugged into the problem's own residual function.
"""

import numpy as np
import torch
from fd import fd_partial, one_sided

import equations
from pinndd.problem import coords, parse_partial


def fd_partials(problem, pts, h):
    """Central finite differences of the reference for every declared partial."""
    box = problem.domain
    return {name: torch.from_numpy(fd_partial(problem.reference, pts, parse_partial(name, box), h * box.extent))
            for name in problem.partials}


def problems_to_check(name):
    spec = equations.verification(name)
    nominal = equations.get(name)
    assert spec.shifted, f"{name}: the verification must name at least one shifted parameter value"
    return [nominal] + [nominal.with_params(**s) for s in spec.shifted]


def test_registry_has_required_pdes():
    assert len(equations.names()) >= 8


def fd_check(problem, spec, seed=0):
    """FD partials ``d``, the residual ``r`` and the scale (largest rms partial) at the
    verification's check points, kept ``margin`` away from the faces."""
    box = problem.domain
    lo = np.asarray(box.lower) + (spec.margin + 2 * spec.h) * box.extent
    hi = np.asarray(box.upper) - (spec.margin + 2 * spec.h) * box.extent
    pts = lo + np.random.default_rng(seed).random((spec.n_points, box.dim)) * (hi - lo)
    d = fd_partials(problem, pts, spec.h)
    r = problem.residual(d, coords(torch.from_numpy(pts), box), problem.params).numpy()
    scale = max(np.sqrt(np.mean(v.numpy() ** 2)) for v in d.values())
    return d, r, scale


def test_reference_satisfies_pde(pde_name):
    spec = equations.verification(pde_name)
    for i, problem in enumerate(problems_to_check(pde_name)):
        _, r, scale = fd_check(problem, spec, seed=i)
        rel = np.sqrt(np.mean(r**2)) / scale
        assert rel <= spec.rtol, f"{pde_name} {dict(problem.params)}: rms residual / scale = {rel:.2e} > {spec.rtol:.1e}"


def condition_residual_fd(problem, cond, pts, h):
    box = problem.domain
    ref = problem.reference
    g = cond.target(torch.from_numpy(pts), problem.params).numpy()
    if cond.kind in ("dirichlet", "initial"):
        return ref(pts) - g
    if cond.kind == "periodic":
        partner = pts.copy()
        partner[:, cond.face.axis] = cond.face.opposite().value
        return ref(pts) - ref(partner)
    # one-sided second-order derivative along the face normal, stepping inward
    ax = cond.face.axis
    du = one_sided(ref, pts, ax, h * box.extent[ax] * (1.0 if cond.face.side == "lower" else -1.0))
    if cond.kind == "neumann":
        du = du * cond.face.normal_sign
    return du - g


def test_reference_satisfies_conditions(pde_name):
    spec = equations.verification(pde_name)
    rng = np.random.default_rng(1)
    for problem in problems_to_check(pde_name):
        u_scale = np.max(np.abs(problem.reference(problem.evaluation_points())))
        for cond in problem.conditions:
            pts = cond.face.from_unit(rng.random((64, problem.domain.dim - 1)))
            r = condition_residual_fd(problem, cond, pts, spec.h)
            rel = np.max(np.abs(r)) / u_scale
            tol = spec.ctol if cond.kind in ("dirichlet", "initial", "periodic") else spec.dtol
            assert rel <= tol, f"{pde_name} {dict(problem.params)} condition {cond.name}: max residual / max|u| = {rel:.2e}"


def test_reference_is_cached_and_deterministic(pde_name):
    problem = equations.get(pde_name)
    pts = problem.evaluation_points()[:50]
    a = problem.reference(pts)
    b = problem.reference(pts)
    np.testing.assert_array_equal(a, b)
    assert np.all(np.isfinite(a))
