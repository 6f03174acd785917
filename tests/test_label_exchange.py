"""label_exchange: a labelled set improved by exchange moves that trained students accept.

The proposal removes points where the student already fits and adds them where it does not;
a proposal is kept exactly when its student's validation error is lower; labels are the
teacher's at the final points; resume equals an uninterrupted run; bad settings are refused.
task_exchange: the same rounds serving the values of a shift family, each once per K rounds,
each with its own teacher."""

import numpy as np
import pytest

from pinndd import PinnddError, methods

TINY = dict(teacher_dense=64, teacher_protocol="smoke", dense=256, dense_batch=64, student_fraction=1.0, progress=False)


def lx(name="label_exchange", **kw):
    return methods.get(name, **{**TINY, **kw})



def test_proposal_moves_points_from_fitted_to_unfitted_regions(heat):
    """Planted errors: zero for x < 0.5, one for x > 0.5 (heat's x spans [0, 1])."""
    rng = np.random.default_rng(0)
    box = heat.domain
    interior = box.from_unit(rng.random((40, 2)))
    val, cand = box.from_unit(rng.random((400, 2))), box.from_unit(rng.random((400, 2)))
    err_val = (val[:, 0] > 0.5).astype(float)
    err_cand = (cand[:, 0] > 0.5).astype(float)
    m = lx(exchange_fraction=0.25, neighbours=4)
    new = m.propose(heat, interior, err_val, val, cand, err_cand, np.random.default_rng(1))
    assert new.shape == interior.shape
    added = new[len(interior) - 10:]
    assert np.all(added[:, 0] > 0.5)  # every added point where the student misfits
    assert np.sum(new[:, 0] > 0.5) > np.sum(interior[:, 0] > 0.5)


def test_accepts_exactly_the_better_proposals_and_labels_with_teacher(heat):
    m = lx(outer_steps=3)
    ps = m.make(heat, 24, seed=1)
    ps.validate(heat)
    meta = ps.metadata
    assert meta["family"] == "label_distiller" and len(meta["outer_log"]) == 3
    assert meta["accepted"] == [p < c for p, c in zip(meta["proposal_log"], meta["outer_log"], strict=True)]
    np.testing.assert_allclose(ps.targets, m.teacher(heat, 1).predict(ps.interior), rtol=1e-12)
    assert meta["labels_params"] == dict(heat.params) and ps.target_weight == 100.0
    assert meta["teacher_seconds"] > 0 and meta["cost_seconds_outer"] > 0
    init = methods.get("sobol").make(heat, 24, seed=1)
    moved = not np.allclose(np.sort(ps.interior, axis=0), np.sort(init.interior, axis=0))
    assert moved == any(meta["accepted"])


@pytest.mark.parametrize("name", ["label_exchange", "task_exchange"])
def test_resume_equals_uninterrupted_run(heat, tmp_path, name):
    full = lx(name, outer_steps=4, checkpoint_every=2, checkpoint_dir=str(tmp_path / "a")).make(heat, 24, seed=2)
    lx(name, outer_steps=2, checkpoint_every=2, checkpoint_dir=str(tmp_path / "b")).make(heat, 24, seed=2)
    resumed = lx(name, outer_steps=4, checkpoint_every=2, checkpoint_dir=str(tmp_path / "b")).make(heat, 24, seed=2)
    assert resumed.metadata["resumed_from_step"] == 2
    np.testing.assert_array_equal(resumed.interior, full.interior)
    np.testing.assert_array_equal(resumed.targets, full.targets)
    assert resumed.metadata["outer_log"] == full.metadata["outer_log"]
    assert resumed.metadata["accepted"] == full.metadata["accepted"]


def test_task_exchange_serves_every_value_with_its_own_teacher(heat):
    m = lx("task_exchange", outer_steps=6, n_in=2, n_out=0)  # heat TL: ID ends -0.2, 0.2 and the nominal 0
    ps = m.make(heat, 24, seed=3)
    task = ps.metadata["task"]
    assert task["param"] == "TL" and task["values"] == [-0.2, 0.0, 0.2]
    assert sorted(task["round_values"][:3]) == sorted(task["round_values"][3:]) == task["values"]
    teachers = [m.teacher(t, 3) for t in m.tasks(heat)]
    assert [t.params["TL"] for t in teachers] == task["values"]
    assert ps.metadata["teacher_seconds"] == pytest.approx(sum(t.cost_seconds for t in teachers))
    np.testing.assert_allclose(ps.targets, m.teacher(heat, 3).predict(ps.interior), rtol=1e-12)
    assert ps.metadata["labels_params"] == dict(heat.params)
    assert ps.metadata["accepted"] == [p < c for p, c in zip(ps.metadata["proposal_log"], ps.metadata["outer_log"],
                                                             strict=True)]


def test_bad_settings(heat):
    with pytest.raises(PinnddError, match="n_in"):
        methods.get("task_exchange", n_in=0)
    with pytest.raises(PinnddError, match="exchange_fraction"):
        methods.get("label_exchange", exchange_fraction=0.9)
    with pytest.raises(PinnddError, match="student_fraction"):
        methods.get("label_exchange", student_fraction=0.0)
    with pytest.raises(PinnddError, match="label distiller"):
        lx(init="label_outcome", outer_steps=1).make(heat, 24)
