"""kip_labels: joint learning of coordinates, weights and labels by eNTK kernel regression.

The outer objective decreases, its meta-gradient w.r.t. labels, coordinates and weights agrees with
float64 central differences, points stay in the box, labels start at the teacher's values and
survive save/load and resume, and the set is refused for shifted parameters."""

import numpy as np
import pytest
from fd import mean_objective, meta_gradient_vs_fd

import equations
from pinndd import BudgetRule, PinnddError, PointSet, TrainConfig, methods, train
from pinndd.methods.distill.context import step_generator

BUDGET = 12
#: Tiny teacher (64 points, smoke protocol), tiny student (2 x 6), 64 dense points.
TINY = dict(teacher_dense=64, teacher_protocol="smoke", width=6, depth=2, dense=64, dense_batch=48, progress=False)


def kip(**kw):
    return methods.get("kip_labels", **{**TINY, **kw})



def counts(problem):
    return BudgetRule().split(problem, BUDGET)



@pytest.mark.parametrize("physics", [True, False])
def test_outer_objective_decreases(physics):
    """Averaged over four fixed draws (initialisations, dense subsets), the objective falls."""
    poisson = equations.get("poisson")
    kw = dict(physics=physics, learn_weights=True, outer_lr=0.05, label_lr=0.02)
    before = kip(outer_steps=0, **kw).run(poisson, counts(poisson), 0)
    d = kip(outer_steps=12, **kw)
    after = d.run(poisson, counts(poisson), 0)
    assert len(after.outer_log) == 12 and all(np.isfinite(after.outer_log))
    assert mean_objective(d, after) < 0.9 * mean_objective(d, before)
    # the labels moved away from the teacher's values
    y0 = before.context.learnable["labels"].detach()
    assert float((after.context.learnable["labels"].detach() - y0).abs().max()) > 1e-3


@pytest.mark.parametrize("physics", [True, False])
def test_meta_gradient_matches_finite_differences(physics, heat):
    d = kip(outer_steps=0, learn_weights=True, learn_conditions=True, physics=physics, dtype="float64")
    run = d.run(heat, counts(heat), 0)
    syn, ctx = run.synthetic, run.context

    def objective():
        return d.objective(ctx, 1, syn, step_generator(0, 1))

    tensors = {**syn.raw(), **ctx.learnable}
    picks = [("labels", (0,)), ("labels", (7,)), ("z:interior", (0, 0)), ("z:interior", (5, 1)), ("a:interior", (3,)),
             ("z:left", (1, 0)), ("a:initial", (2,))]
    for key, idx, g, fd in meta_gradient_vs_fd(objective, tensors, picks):
        if key in ("labels", "z:interior", "a:interior"):
            assert abs(fd) > 1e-8, (key, idx)  # not vacuous
        if key in ("z:left", "a:initial") and not physics:
            assert g is None  # conditions enter only through the physics rows


def test_labels_start_at_teacher_and_points_stay_in_domain(heat):
    d0 = kip(outer_steps=0)
    ps0 = d0.make(heat, BUDGET, seed=1)
    np.testing.assert_allclose(ps0.targets, d0.teacher(heat, 1).predict(ps0.interior), rtol=1e-5, atol=1e-6)  # float32 tensors
    init = methods.get("teacher_density", target_weight=100.0, teacher_dense=64, teacher_protocol="smoke").make(heat, BUDGET, 1)
    np.testing.assert_allclose(ps0.interior, init.interior, atol=1e-5)

    ps = kip(outer_steps=3, outer_lr=0.5, label_lr=0.1, learn_weights=True).make(heat, BUDGET, seed=1)
    ps.validate(heat)
    assert np.all(ps.interior_weights > 0) and ps.targets.shape == (BUDGET,)
    assert not np.allclose(ps.targets, ps0.targets)
    meta = ps.metadata
    assert meta["family"] == "label_distiller" and len(meta["outer_log"]) == 3 and "_targets" not in meta
    assert meta["labels"]["source"] == "learned" and meta["labels"]["teacher"]["source"] == "dense-pinn"
    assert meta["labels_params"] == dict(heat.params) and ps.target_weight == 100.0
    assert meta["teacher_seconds"] > 0 and meta["dense_training_seconds"] == meta["teacher_seconds"]
    assert meta["cost_seconds_outer"] > 0


def test_unlabelled_init_and_labels_only(heat):
    """Any registered placement can start it; with the points frozen only the labels move."""
    ps = kip(init="sobol", outer_steps=2, learn_points=False, learn_conditions=True, physics=False,
             label_lr=0.05).make(heat, BUDGET, seed=0)
    sob = methods.get("sobol").make(heat, BUDGET, seed=0)
    np.testing.assert_allclose(ps.interior, sob.interior, atol=1e-5)
    for name, (pts, _) in sob.conditions.items():
        np.testing.assert_allclose(ps.conditions[name][0], pts, atol=1e-5)
    assert ps.labelled


def test_labels_round_trip_and_shifted_problem_refused(heat, tmp_path):
    ps = kip(outer_steps=2, label_lr=0.05).make(heat, BUDGET, seed=0)
    back = PointSet.load(ps.save(tmp_path / "kip.npz"), heat)
    np.testing.assert_array_equal(back.targets, ps.targets)
    np.testing.assert_array_equal(back.interior, ps.interior)
    assert back.target_weight == ps.target_weight == 100.0
    assert back.metadata["labels"]["source"] == "learned" and back.metadata["labels_params"] == dict(heat.params)
    fam = heat.shifts[0]
    shifted = heat.with_params(**{fam.param: fam.out_range[1]})
    cfg = TrainConfig(width=6, depth=2, adam_steps=5, log_every=5, progress=False)
    with pytest.raises(PinnddError, match="drop the labels"):
        train(shifted, back, cfg)
    assert "data" in train(heat, back, cfg).history  # fine at the parameters it was made for


def test_resume_equals_uninterrupted_run(heat, tmp_path):
    kw = dict(learn_weights=True, checkpoint_every=2, label_lr=0.05)
    full = kip(outer_steps=4, checkpoint_dir=str(tmp_path / "a"), **kw).make(heat, BUDGET, seed=2)
    kip(outer_steps=2, checkpoint_dir=str(tmp_path / "b"), **kw).make(heat, BUDGET, seed=2)  # "interrupted"
    resumed = kip(outer_steps=4, checkpoint_dir=str(tmp_path / "b"), **kw).make(heat, BUDGET, seed=2)
    assert resumed.metadata["resumed_from_step"] == 2 and full.metadata["resumed_from_step"] == 0
    np.testing.assert_array_equal(resumed.targets, full.targets)
    np.testing.assert_array_equal(resumed.interior, full.interior)
    np.testing.assert_array_equal(resumed.interior_weights, full.interior_weights)
    assert resumed.metadata["outer_log"] == full.metadata["outer_log"]
    with np.load(sorted((tmp_path / "b").iterdir())[0], allow_pickle=False) as f:
        assert "obj/labels" in f.files


def test_bad_settings(heat):
    with pytest.raises(PinnddError, match="target_weight"):
        methods.get("kip_labels", target_weight=0.0)
    with pytest.raises(PinnddError, match="ridge"):
        methods.get("kip_labels", ridge=0.0)
    with pytest.raises(PinnddError, match="label distiller"):
        kip(init="kip_labels", outer_steps=0).make(heat, BUDGET)
