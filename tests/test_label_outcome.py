"""label_outcome: labelled sets distilled for the function-matching outcome of fresh students.

The outer objective decreases, its meta-gradient w.r.t. coordinates (through the student's loss
and the teacher-following labels), weights, label offsets and condition points agrees with
float64 central differences, points stay in the box and on their faces, labels equal the
teacher at the final points, resume equals an uninterrupted run, and the set is refused for
shifted parameters."""

import numpy as np
import pytest
from fd import mean_objective, meta_gradient_vs_fd

import equations
from pinndd import BudgetRule, PinnddError, PointSet, TrainConfig, methods, train
from pinndd.methods.distill.context import step_generator

BUDGET = 12
#: Tiny teacher (64 points, smoke protocol), tiny student (2 x 6), 64 dense points, short unrolls.
TINY = dict(teacher_dense=64, teacher_protocol="smoke", width=6, depth=2, dense=64, dense_batch=48, inner_steps=3,
            students=1, progress=False)


def lo(**kw):
    return methods.get("label_outcome", **{**TINY, **kw})



def counts(problem):
    return BudgetRule().split(problem, BUDGET)



def test_outer_objective_decreases():
    """Averaged over four fixed draws (initialisations, dense subsets), the objective falls."""
    poisson = equations.get("poisson")
    kw = dict(learn_weights=True, learn_labels=True, outer_lr=0.1, label_lr=0.02, init="sobol")
    before = lo(outer_steps=0, **kw).run(poisson, counts(poisson), 0)
    d = lo(outer_steps=12, **kw)
    after = d.run(poisson, counts(poisson), 0)
    assert len(after.outer_log) == 12 and all(np.isfinite(after.outer_log))
    assert mean_objective(d, after) < 0.9 * mean_objective(d, before)


@pytest.mark.parametrize("physics_weight", [0.0, 0.5])
def test_meta_gradient_matches_finite_differences(physics_weight, heat):
    d = lo(outer_steps=0, learn_weights=True, learn_conditions=True, learn_labels=True, physics_weight=physics_weight,
           repulsion=0.1, dtype="float64")
    run = d.run(heat, counts(heat), 0)
    syn, ctx = run.synthetic, run.context

    def objective():
        return d.objective(ctx, 1, syn, step_generator(0, 1))

    tensors = {**syn.raw(), **ctx.learnable}
    picks = [("label_offsets", (0,)), ("label_offsets", (7,)), ("z:interior", (0, 0)), ("z:interior", (5, 1)),
             ("a:interior", (3,)), ("z:left", (1, 0)), ("a:initial", (2,))]
    for key, idx, _, fd in meta_gradient_vs_fd(objective, tensors, picks):
        if key in ("label_offsets", "z:interior", "a:interior"):
            assert abs(fd) > 1e-8, (key, idx)  # not vacuous


def test_labels_follow_teacher_and_points_stay_in_domain(heat):
    d = lo(outer_steps=3, outer_lr=0.5, learn_weights=True, learn_conditions=True)
    ps = d.make(heat, BUDGET, seed=1)
    ps.validate(heat)  # inside the box, condition points on their faces
    init = methods.get("teacher_density", target_weight=100.0, teacher_dense=64, teacher_protocol="smoke").make(heat, BUDGET, 1)
    assert not np.allclose(ps.interior, init.interior, atol=1e-4)  # the points moved
    # offsets are fixed by default: the labels are the teacher's values at the *final* points
    np.testing.assert_allclose(ps.targets, d.teacher(heat, 1).predict(ps.interior), rtol=1e-4, atol=1e-5)
    meta = ps.metadata
    assert meta["family"] == "label_distiller" and len(meta["outer_log"]) == 3
    assert meta["labels"]["follow_teacher"] and meta["labels"]["source"] == "dense-pinn"
    assert meta["labels_params"] == dict(heat.params) and ps.target_weight == 100.0
    assert meta["teacher_seconds"] > 0 and meta["cost_seconds_outer"] > 0


def test_resume_equals_uninterrupted_run_and_shift_refused(heat, tmp_path):
    kw = dict(learn_weights=True, learn_labels=True, checkpoint_every=2, label_lr=0.05)
    full = lo(outer_steps=4, checkpoint_dir=str(tmp_path / "a"), **kw).make(heat, BUDGET, seed=2)
    lo(outer_steps=2, checkpoint_dir=str(tmp_path / "b"), **kw).make(heat, BUDGET, seed=2)  # "interrupted"
    resumed = lo(outer_steps=4, checkpoint_dir=str(tmp_path / "b"), **kw).make(heat, BUDGET, seed=2)
    assert resumed.metadata["resumed_from_step"] == 2 and full.metadata["resumed_from_step"] == 0
    np.testing.assert_array_equal(resumed.targets, full.targets)
    np.testing.assert_array_equal(resumed.interior, full.interior)
    assert resumed.metadata["outer_log"] == full.metadata["outer_log"]
    back = PointSet.load(full.save(tmp_path / "lo.npz"), heat)
    np.testing.assert_array_equal(back.targets, full.targets)
    fam = heat.shifts[0]
    shifted = heat.with_params(**{fam.param: fam.out_range[1]})
    with pytest.raises(PinnddError, match="drop the labels"):
        train(shifted, back, TrainConfig(width=6, depth=2, adam_steps=5, log_every=5, progress=False))


def test_bad_settings():
    with pytest.raises(PinnddError, match="physics_weight"):
        methods.get("label_outcome", physics_weight=-1.0)
    with pytest.raises(PinnddError, match="inner"):
        methods.get("label_outcome", inner_steps=0)
