"""Burgers references: Cole-Hopf against DeepXDE's data, the method of lines against Cole-Hopf."""

from pathlib import Path

import numpy as np
import pytest
import torch

import equations
from equations import burgers
from pinndd.errors import PinnddError
from pinndd.reference.cole_hopf import burgers_sine

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "Burgers.npz"


def test_cole_hopf_matches_deepxde_file():
    if not DATA.exists():
        pytest.skip(f"DeepXDE's Burgers.npz not found at {DATA}; copy it there to run this check")
    data = np.load(DATA)
    problem = equations.get("burgers")
    pts = problem.evaluation_points()
    grid_x = pts[:, 0].reshape(256, 100)[:, 0]
    grid_t = pts[:, 1].reshape(256, 100)[0, :]
    np.testing.assert_allclose(grid_x, data["x"].ravel(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(grid_t, data["t"].ravel(), rtol=0, atol=1e-12)
    u = problem.reference(pts).reshape(256, 100)
    rel = np.linalg.norm(u - data["usol"]) / np.linalg.norm(data["usol"])
    assert rel <= 1e-9, f"Cole-Hopf vs Burgers.npz: relative L2 {rel:.2e} (measured ~2.9e-12)"


def test_cole_hopf_quadrature_converged_and_exact_at_edges(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 2000)
    t = rng.uniform(0, 0.99, 2000)
    for a in (0.5, 1.0, 1.5, -1.0):
        u = burgers_sine(x, t, a, burgers.NU)
        with monkeypatch.context() as m:
            m.setattr("pinndd.reference.cole_hopf.SPACING_FRACTION", 0.05)
            fine = burgers_sine(x, t, a, burgers.NU)
        assert np.max(np.abs(u - fine)) <= 1e-12
    tt = np.linspace(0, 0.99, 50)
    assert np.max(np.abs(burgers_sine(np.ones(50), tt, 1.0, burgers.NU))) <= 1e-14
    assert np.max(np.abs(burgers_sine(-np.ones(50), tt, 1.0, burgers.NU))) <= 1e-14
    np.testing.assert_array_equal(burgers_sine(x, 0 * x, 1.2, burgers.NU), -1.2 * np.sin(np.pi * x))


def test_mol_agrees_with_cole_hopf():
    """The solver used for nonzero Dirichlet data, forced at gl = gr = 0 (measured ~2e-9)."""
    problem = equations.get("burgers")
    pts = problem.evaluation_points()
    exact = burgers_sine(pts[:, 0], pts[:, 1], 1.0, burgers.NU)
    mol = burgers.solve_mol(1.0, 0.0, 0.0)(pts)
    rel = np.linalg.norm(mol - exact) / np.linalg.norm(exact)
    assert rel <= 2e-8, f"MOL vs Cole-Hopf: relative L2 {rel:.2e}"
    # off the grids, in the shock (x ~ 0, t >= 0.4), where the spline is most stressed
    rng = np.random.default_rng(3)
    shock = np.column_stack([rng.uniform(-0.02, 0.02, 500), rng.uniform(0.4, 0.99, 500)])
    err = np.max(np.abs(burgers.solve_mol(1.0, 0.0, 0.0)(shock) - burgers_sine(shock[:, 0], shock[:, 1], 1.0, burgers.NU)))
    assert err <= 1e-6, f"MOL vs Cole-Hopf in the shock: max error {err:.2e}"


def test_verification_exercises_the_mol_solver():
    spec = equations.verification("burgers")
    assert any(s.get("gl", 0.0) != 0.0 or s.get("gr", 0.0) != 0.0 for s in spec.shifted)
    assert any(set(s) == {"a"} for s in spec.shifted)


def test_wrong_viscosity_fails_the_residual_check():
    """The registered FD check is sharp enough to see a 1% viscosity error."""
    from test_references import fd_check

    spec = equations.verification("burgers")
    problem = equations.get("burgers")
    d, r, scale = fd_check(problem, spec)
    wrong = r - 0.01 * burgers.NU * d["u_xx"].numpy()
    assert np.sqrt(np.mean(r**2)) / scale <= spec.rtol
    assert np.sqrt(np.mean(wrong**2)) / scale > spec.rtol


def test_hard_transform_meets_conditions():
    problem = equations.get("burgers", a=1.3, gl=0.2, gr=-0.1)
    rng = np.random.default_rng(0)
    for cond in problem.conditions:
        pts = torch.from_numpy(cond.face.from_unit(rng.random((20, 1))))
        u = problem.output(pts, torch.from_numpy(rng.normal(size=20)), hard=True)
        torch.testing.assert_close(u, cond.target(pts, problem.params), rtol=0, atol=1e-14)


def test_bad_input_raises():
    problem = equations.get("burgers")
    with pytest.raises(PinnddError):
        problem.reference(np.array([[0.0, 1.5]]))
    with pytest.raises(PinnddError):
        burgers_sine(np.zeros(2), -np.ones(2), 1.0, burgers.NU)
    with pytest.raises(PinnddError):
        burgers_sine(np.zeros(2), np.ones(2), 1.0, 0.0)
    with pytest.raises(PinnddError):
        burgers.solve_mol(3.0, 0.1, 0.0)
