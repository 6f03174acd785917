"""Distillers: synthetic-set geometry, experts on file, and for every distiller the outer objective
decreasing, the points staying valid, exact meta-gradients (float64 finite differences) and
resume from a checkpoint equal to an uninterrupted run."""

import numpy as np
import pytest
import torch
from fd import mean_objective, meta_gradient_vs_fd

import equations
from pinndd import BudgetRule, PinnddError, methods
from pinndd.engine.experts import ExpertSet, train_experts
from pinndd.engine.losses import TensorPoints
from pinndd.methods.distill.context import step_generator
from pinndd.methods.distill.synthetic import SyntheticSet

#: Unlabelled distillers: an outer loop with checkpoints, no teacher.
DISTILLERS = methods.names(checkpoints=True, needs_teacher=False)
BUDGET = 12
#: A tiny problem and net: heat equation, MLP 2 x 6, 64 dense points, one short expert.
TINY = dict(width=6, depth=2, dense=64, n_experts=1, expert_steps=20, expert_every=5, progress=False)
#: Per-distiller settings that make the tests short and the objectives well conditioned.
EXTRA = {
    "gradient_matching": dict(states_per_step=2),
    "trajectory_matching": dict(syn_steps=3, expert_epochs=2),
    "kernel_matching": dict(states_per_step=1),
}


def distiller(name, **kw):
    return methods.get(name, **{**TINY, **EXTRA.get(name, {}), **kw})



def counts(problem):
    return BudgetRule().split(problem, BUDGET)


def test_all_three_registered():
    assert {"gradient_matching", "trajectory_matching", "kernel_matching"} <= set(DISTILLERS)


def test_synthetic_set_starts_at_its_init_and_stays_on_faces(heat):
    init = methods.get("sobol").make(heat, BUDGET, seed=3)
    w = np.linspace(1.0, 3.0, init.n_interior)
    init = type(init)(init.interior, w, init.conditions, metadata=init.metadata)
    syn = SyntheticSet(heat, init, learn_weights=True, dtype=torch.float64)
    back = syn.to_pointset()
    np.testing.assert_allclose(back.interior, init.interior, atol=1e-12)
    np.testing.assert_allclose(back.interior_weights, w * len(w) / w.sum(), rtol=1e-12)
    for name, (pts, _) in init.conditions.items():
        np.testing.assert_allclose(back.conditions[name][0], pts, atol=1e-12)
    # wild raw values still give points inside the box and on the faces, and positive weights
    with torch.no_grad():
        for t in syn.raw().values():
            t.copy_(torch.randn(t.shape, dtype=t.dtype) * 50)
    ps = syn.to_pointset().validate(heat)
    for name, (pts, w) in ps.conditions.items():
        face = heat.condition(name).face
        assert np.all(pts[:, face.axis] == face.value)
        assert np.all(w > 0) and abs(w.mean() - 1) < 1e-9
    tp = syn.tensor_points()
    assert all(t.requires_grad for t in (tp.interior, tp.interior_w))
    with pytest.raises(PinnddError, match="labels"):
        SyntheticSet(heat, type(init)(init.interior, None, init.conditions, targets=np.zeros(BUDGET)))


def test_expert_file_round_trip(heat, tmp_path):
    dense = TensorPoints.from_pointset(methods.get("sobol").make(heat, 32), torch.float64, "cpu")
    ex = train_experts(heat, dense, n_experts=2, steps=6, every=3, width=4, depth=1, dtype="float64")
    assert ex.params.shape == (2, 3, 4 * 2 + 4 + 4 + 1) and list(ex.steps) == [0, 3, 6]
    assert np.all(ex.exp_avg[:, 0] == 0) and np.all(ex.exp_avg_sq[:, 1:] > 0)
    back = ExpertSet.load(ex.save(tmp_path / "experts"))
    for k in ("params", "exp_avg", "exp_avg_sq", "steps"):
        np.testing.assert_array_equal(getattr(back, k), getattr(ex, k))
    assert back.layout == ex.layout and back.metadata["lr"] == ex.metadata["lr"]
    with np.load(tmp_path / "experts.npz", allow_pickle=False) as f:
        assert f["params"].dtype == np.float64



@pytest.mark.parametrize("name", DISTILLERS)
def test_outer_objective_decreases(name):
    """The objective averaged over four fixed draws (states, start records) falls after a few
    outer steps: a check that the outer gradient is a descent direction. Poisson, whose source
    makes the interior residual matter at every state (on the heat equation the shared condition
    points dominate and gradient matching starts at a cosine distance of ~0.002)."""
    poisson = equations.get("poisson")
    before = distiller(name, outer_steps=0, learn_weights=True).run(poisson, counts(poisson), 0)
    d = distiller(name, outer_steps=12, outer_lr=0.03, learn_weights=True)
    after = d.run(poisson, counts(poisson), 0)
    assert len(after.outer_log) == 12 and all(np.isfinite(after.outer_log))
    assert mean_objective(d, after) < 0.9 * mean_objective(d, before)


@pytest.mark.parametrize("name", DISTILLERS)
def test_points_stay_in_domain_and_on_faces(name, heat):
    ps = distiller(name, outer_steps=3, outer_lr=0.5, learn_weights=True).make(heat, BUDGET, seed=1)
    ps.validate(heat)
    for cname, (pts, w) in ps.conditions.items():
        face = heat.condition(cname).face
        assert np.all(pts[:, face.axis] == face.value)
        assert np.all(w > 0)
    meta = ps.metadata
    assert meta["family"] == "distiller" and len(meta["outer_log"]) == 3
    assert meta["cost_seconds_outer"] > 0 and meta["cost_seconds_experts"] > 0 and meta["dense_training_seconds"] > 0


#: Default settings of every distiller, plus the variants whose states or students differ:
#: expert states only (gradient matching then compares Adam update directions), Adam replay.
FD_CASES = [(n, {}) for n in DISTILLERS] + [
    ("gradient_matching", {"fresh_fraction": 0.0}),
    ("gradient_matching", {"fresh_fraction": 0.0, "match": "gradient"}),
    ("trajectory_matching", {"student_optimizer": "adam"}),
    ("kernel_matching", {"fresh_fraction": 0.0}),
]


@pytest.mark.parametrize("name, extra", FD_CASES)
def test_meta_gradient_matches_finite_differences(name, extra, heat):
    """float64 central differences on a handful of raw coordinates, weights and (MTT) log_lr."""
    d = distiller(name, outer_steps=0, learn_weights=True, dtype="float64", **extra)
    run = d.run(heat, counts(heat), 0)
    syn, ctx = run.synthetic, run.context

    def objective():
        return d.objective(ctx, 1, syn, step_generator(0, 1))

    tensors = {**syn.raw(), **ctx.learnable}
    picks = [("z:interior", (0, 0)), ("z:interior", (5, 1)), ("a:interior", (3,)), ("z:initial", (2, 0)),
             ("z:left", (1, 0)), ("a:right", (0,))] + [(k, ()) for k in ctx.learnable]
    checked = meta_gradient_vs_fd(objective, tensors, picks)
    nonzero = any(abs(fd) > 1e-7 for *_, fd in checked)
    assert nonzero  # the check is not vacuous


@pytest.mark.parametrize("name", DISTILLERS)
def test_resume_equals_uninterrupted_run(name, heat, tmp_path):
    kw = dict(learn_weights=True, checkpoint_every=2)
    full = distiller(name, outer_steps=4, checkpoint_dir=str(tmp_path / "a"), **kw).make(heat, BUDGET, seed=2)
    distiller(name, outer_steps=2, checkpoint_dir=str(tmp_path / "b"), **kw).make(heat, BUDGET, seed=2)  # "interrupted"
    resumed = distiller(name, outer_steps=4, checkpoint_dir=str(tmp_path / "b"), **kw).make(heat, BUDGET, seed=2)
    assert resumed.metadata["resumed_from_step"] == 2 and full.metadata["resumed_from_step"] == 0
    np.testing.assert_array_equal(resumed.interior, full.interior)
    np.testing.assert_array_equal(resumed.interior_weights, full.interior_weights)
    for k in full.conditions:
        np.testing.assert_array_equal(resumed.conditions[k][0], full.conditions[k][0])
        np.testing.assert_array_equal(resumed.conditions[k][1], full.conditions[k][1])
    assert resumed.metadata["outer_log"] == full.metadata["outer_log"]
    # a longer run resumes from the latest checkpoint at or before its own length
    assert sorted(p.name[-15:] for p in (tmp_path / "a").iterdir()) == ["step0000002.npz", "step0000004.npz"]
    with np.load(next((tmp_path / "a").iterdir()), allow_pickle=False) as f:
        assert "step" in f.files


def test_bad_settings(heat):
    with pytest.raises(PinnddError, match="nothing to learn"):
        methods.get("gradient_matching", learn_points=False, learn_conditions=False)
    with pytest.raises(PinnddError, match="expert_every"):
        methods.get("trajectory_matching", expert_steps=10, expert_every=3)
    with pytest.raises(PinnddError, match="labelled"):
        distiller("kernel_matching", init="teacher_labels", outer_steps=0).make(heat, BUDGET)
    if not torch.cuda.is_available():
        with pytest.raises(PinnddError, match="CUDA"):
            distiller("kernel_matching", device="cuda", outer_steps=0).make(heat, BUDGET)


def test_nonfinite_outer_objective_raises_a_clear_error(heat, monkeypatch):
    """An outer objective that turns NaN stops the distiller with the step and the remedy,
    instead of writing a set of NaN points."""
    m = distiller("gradient_matching", outer_steps=3)

    def nan_objective(self, ctx, step, syn, rng):
        first = next(iter(syn.learnable()))
        return first.sum() * float("nan") if step == 1 else first.sum() * 0.0

    monkeypatch.setattr(type(m), "objective", nan_objective)
    with pytest.raises(PinnddError, match=r"became nan at outer step 1; use dtype='float64'"):
        m.make(heat, BUDGET, seed=0)
