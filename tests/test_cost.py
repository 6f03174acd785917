"""The typed cost record (pinndd/cost.py): arithmetic, refusals, and how charges add up."""

from __future__ import annotations

import time

import pytest

from pinndd import PinnddError
from pinndd.cost import PARTS, Cost, charge, measure


def test_parts_total_and_units():
    c = Cost(warmup=1.0, teacher=6.0, distillation=2.0, training=1.0)
    assert c.total == 10.0 and c.making == 9.0
    assert c.units(2.0) == {"warmup": 0.5, "teacher": 3.0, "distillation": 1.0, "training": 0.5, "total": 5.0}
    assert (c + Cost(training=3.0)).training == 4.0
    assert c.scaled(0.5).total == 5.0 and c.with_training(2.0).training == 3.0
    assert Cost.from_dict(c.to_dict()) == c
    assert Cost.of({}) == Cost()


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "3"])
def test_bad_parts_refused(bad):
    with pytest.raises(PinnddError):
        Cost(teacher=bad)


def test_record_whose_total_is_not_its_parts_refused():
    with pytest.raises(PinnddError, match="sum of its parts"):
        Cost.from_dict({"teacher": 1.0, "training": 1.0, "total": 3.0})
    with pytest.raises(PinnddError, match="unknown cost part"):
        Cost.from_dict({"teachers": 1.0})
    with pytest.raises(PinnddError):
        Cost(1.0).units(0.0)


def test_cached_work_charged_in_full_and_not_twice():
    with measure() as m:
        charge("teacher", 100.0, spent=0.0, key="t")  # a cache hit: charged in full, nothing spent
        charge("teacher", 100.0, spent=0.0, key="t")  # the same teacher again in the same set: once
        time.sleep(0.02)
    assert m.cost.teacher == 100.0
    assert 0.02 <= m.cost.distillation < 1.0


def test_work_done_inside_is_not_counted_in_two_parts():
    with measure() as m:
        t0 = time.perf_counter()
        time.sleep(0.03)
        charge("warmup", time.perf_counter() - t0)  # spent = seconds
    assert m.cost.warmup >= 0.03 and m.cost.distillation < 0.01


def test_nested_sets_hand_their_record_to_the_outer_one():
    with measure() as outer:
        with measure() as inner:
            charge("teacher", 50.0, spent=0.0, key="t")
            time.sleep(0.01)
        charge("teacher", 50.0, spent=0.0, key="t")  # the outer step reuses the inner set's teacher
        time.sleep(0.01)
    assert inner.cost.teacher == 50.0 and outer.cost.teacher == 50.0
    assert outer.cost.distillation >= inner.cost.distillation + 0.01
    assert outer.cost.total == pytest.approx(sum(outer.cost.to_dict()[p] for p in PARTS))


def test_charge_outside_measure_is_a_no_op_and_parts_are_checked():
    charge("teacher", 5.0)
    with pytest.raises(PinnddError, match="unknown cost part"):
        charge("teachers", 1.0)


def test_a_trained_result_carries_its_sets_cost_plus_training(heat):
    import torch

    from pinndd import TrainConfig, methods, train
    from pinndd.engine.ensemble import train_ensemble

    torch.set_num_threads(1)
    ps = methods.get("rad", warmup_steps=5, warmup_width=4, warmup_depth=1, pool_size=64).make(heat, 16, seed=0)
    cfg = TrainConfig(width=4, depth=1, adam_steps=3, lbfgs_steps=0, progress=False)
    res = train(heat, ps, cfg)
    made = Cost.of(ps.metadata)
    assert made.warmup > 0 and res.cost.training == res.wall_time > 0
    assert res.cost == made.with_training(res.wall_time)
    for r in train_ensemble(heat, ps, cfg, [0, 1]).results:
        assert r.cost == made.with_training(r.wall_time)


def test_a_teacher_read_from_the_disk_cache_leaves_the_sets_own_time_as_distillation(heat, monkeypatch):
    """A disk-cache hit returns a run with its recorded training seconds at almost no wall time:
    the teacher is charged those seconds, and the rest of the set's wall time stays distillation
    (it was once swallowed by the recorded seconds, leaving distillation at 0)."""
    from pinndd import TrainConfig, clear_caches
    from pinndd.engine.training import make_model
    from pinndd.methods.labelled import teacher as teacher_mod

    recorded = 1000.0  # the cached run's training seconds, far above this set's wall time
    monkeypatch.setattr(teacher_mod, "dense_run",
                        lambda problem, dense, config, seed=0, method="sobol": (make_model(problem, config), recorded))
    clear_caches()
    try:
        with measure() as m:
            teacher_mod.train_teacher(heat, dense=32, config=TrainConfig(width=8, depth=2, adam_steps=5), seed=11)
            time.sleep(0.05)  # the set's own work after its teacher
    finally:
        clear_caches()
    assert recorded <= m.cost.teacher < recorded + 1.0
    assert 0.05 <= m.cost.distillation <= m.wall


def test_spent_is_capped_at_the_charge_so_the_total_covers_the_wall_time():
    with measure() as m:
        t0 = time.perf_counter()
        time.sleep(0.05)  # set-up around a run whose own cost is only part of this time
        charge("teacher", 0.01, spent=time.perf_counter() - t0)
    assert m.cost.teacher == 0.01
    assert m.cost.total >= m.wall and m.cost.distillation >= 0.03
