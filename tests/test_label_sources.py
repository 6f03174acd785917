"""Out-of-distribution label sources, named and charged, and held-out shift values.

- ``per_shift`` charges every value the full cost of the teacher made for it (never shared);
  ``once`` spreads one teacher's cost over the values a run scores (the values' charges add up
  to that cost); ``none`` charges nothing; ``reference`` is named and charged nothing;
- every declared shift family gives train values and held-out values that are disjoint;
- a task-aware set records the values it was made on (among its family's train values), and the
  evaluator refuses to score it there unless told to, marking those rows ``held_out: False``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import equations
import pinndd
from pinndd import PinnddError, TrainConfig, methods
from pinndd.eval import ood
from pinndd.methods.labelled.teacher import label, reference_teacher, train_teacher
from pinndd.parametric import train_parametric

torch.set_num_threads(1)

TINY = TrainConfig(width=8, depth=1, adam_steps=10, lr=1e-2, progress=False, log_every=10)
LX = dict(teacher_dense=64, teacher_protocol="smoke", dense=256, dense_batch=64, student_fraction=1.0, progress=False)


@pytest.fixture(scope="module")
def sobol_set(heat):
    return methods.get("sobol").make(heat, 16, seed=0)


@pytest.fixture(scope="module")
def dense_labelled(heat, sobol_set):
    """A set labelled by a tiny dense PINN teacher (its settings in the labels metadata)."""
    return label(sobol_set, train_teacher(heat, 32, TINY, seed=0), target_weight=5.0)


def _priced_reference(costs):
    """A teacher factory: the shifted reference, priced ``costs[value]`` seconds."""
    def factory(shifted):
        return replace(reference_teacher(shifted), cost_seconds=costs[shifted.params["TL"]])
    return factory


def _by_value(rows, key):
    out = {}
    for r in rows:
        out.setdefault(r["value"], set()).add(r[key])
    return out


# ---------------------------------------------------------------------------------------------
# Label sources
# ---------------------------------------------------------------------------------------------
def test_per_shift_charges_each_value_its_own_teachers_full_cost(heat, dense_labelled):
    values = [-0.5, 0.5]
    for name in ("per_shift", "relabel"):  # the old name is an alias
        rows = ood.retrain_ood(heat, dense_labelled, "TL", values, TINY, seeds=(0, 1), labels=name)
        teachers = {v: ood.teacher_like(heat.with_params(TL=v), dense_labelled) for v in values}
        assert all(t.cost_seconds > 0 for t in teachers.values())
        for r in rows:  # each seed's row at a value carries that value's teacher in full
            assert r["label_seconds"] == teachers[r["value"]].cost_seconds
            assert r["label_source"] == "per_shift" and r["label_diagnostic"] is True
            assert r["labels"] == "relabelled:dense-pinn"
    # the teachers are cached in the process now; the charge is still each teacher's full cost
    again = ood.retrain_ood(heat, dense_labelled, "TL", values, TINY, seeds=(0,), labels="per_shift")
    assert [r["label_seconds"] for r in again] == [teachers[v].cost_seconds for v in values]
    # a factory of new teachers is per_shift too: each value charged exactly its own teacher's price
    costs = {-0.5: 3.0, 0.5: 7.0, 0.7: 11.0}
    rows = ood.retrain_ood(heat, dense_labelled, "TL", list(costs), TINY, seeds=(0,), labels=_priced_reference(costs))
    assert {r["value"]: r["label_seconds"] for r in rows} == costs
    assert {r["label_source"] for r in rows} == {"per_shift"}


def test_once_spreads_one_cost_over_the_values(heat, dense_labelled):
    values = [-0.6, -0.3, 0.3, 0.6]
    factory = _priced_reference(dict.fromkeys(values, 0.0))
    rows = ood.retrain_ood(heat, dense_labelled, "TL", values, TINY, seeds=(0,), labels=ood.once(factory, 12.0))
    assert sum(r["label_seconds"] for r in rows) == pytest.approx(12.0, rel=1e-12)
    assert [r["label_seconds"] for r in rows] == [3.0] * 4
    assert {r["label_source"] for r in rows} == {"once"} and not any(r["label_diagnostic"] for r in rows)
    # two seeds share each value's labels: the per-value charge, not per row, adds up to the cost
    rows = ood.retrain_ood(heat, dense_labelled, "TL", values, TINY, seeds=(0, 1), labels=ood.once(factory, 12.0))
    per_value = _by_value(rows, "label_seconds")
    assert all(len(s) == 1 for s in per_value.values()) and sum(s.pop() for s in per_value.values()) == pytest.approx(12.0)


def test_once_with_the_parametric_teacher(heat, dense_labelled):
    """A teacher made once for the family (it carries its cost) is 'once'; the nominal value keeps
    the set's own labels but still bears its share (the teacher was made for the whole run)."""
    teacher = train_parametric(heat, "TL", (-0.2, 0.2), budget=32, config=TINY, seed=0).teacher()
    assert teacher.cost_seconds > 0
    values = [-0.5, 0.0, 0.5]
    rows = ood.retrain_ood(heat, dense_labelled, "TL", values, TINY, seeds=(0,), labels=teacher)
    assert [r["label_source"] for r in rows] == ["once", "own", "once"]
    assert [r["labels"] for r in rows] == ["relabelled:parametric-pinn", "kept", "relabelled:parametric-pinn"]
    assert sum(r["label_seconds"] for r in rows) == pytest.approx(teacher.cost_seconds, rel=1e-12)
    with pytest.raises(PinnddError, match="needs the family's teacher"):
        ood.retrain_ood(heat, dense_labelled, "TL", values, TINY, seeds=(0,), labels="once")


def test_none_and_reference_charge_nothing(heat, dense_labelled, sobol_set):
    for name in ("none", "drop"):
        rows = ood.retrain_ood(heat, dense_labelled, "TL", [-0.5, 0.5], TINY, seeds=(0,), labels=name)
        assert [(r["labels"], r["label_source"], r["label_seconds"]) for r in rows] == [("dropped", "none", 0.0)] * 2
    rows = ood.retrain_ood(heat, dense_labelled, "TL", [0.5], TINY, seeds=(0,), labels="reference")
    assert [(r["label_source"], r["label_seconds"], r["label_diagnostic"]) for r in rows] == [("reference", 0.0, True)]
    # an unlabelled set uses no labels, whatever the source costs
    rows = ood.retrain_ood(heat, sobol_set, "TL", [0.5], TINY, seeds=(0,), labels=ood.once(lambda p: None, 9.0))
    assert [(r["labels"], r["label_source"], r["label_seconds"]) for r in rows] == [("none", "none", 0.0)]
    with pytest.raises(PinnddError, match="labels must be one of"):
        ood.label_source("parametric")
    with pytest.raises(PinnddError, match="cost_seconds"):
        ood.once(lambda p: None)


# ---------------------------------------------------------------------------------------------
# Train and held-out values
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_in, n_out", [(3, 1), (2, 0), (4, 2)])
def test_train_and_held_out_values_are_disjoint(pde_name, n_in, n_out):
    problem = equations.get(pde_name)
    assert problem.shifts, f"{pde_name} declares no shift family"
    for fam in problem.shifts:
        nominal = problem.params[fam.param]
        train = fam.train_values(n_in, n_out, nominal=nominal)
        held = fam.held_out_values(n_in, n_out, nominal=nominal)
        assert train == tuple(sorted(set(train))) and held == tuple(sorted(set(held)))
        gap = min(np.diff(sorted(train + held)))
        assert gap > 1e-6 * (fam.out_range[1] - fam.out_range[0]), (fam.param, train, held)  # disjoint, not just unequal
        assert nominal in train and set(fam.in_range) <= set(train)
        (c, d) = fam.out_range
        assert all(c <= v <= d for v in train + held)
        assert c in held and d in held  # the farthest declared shifts stay held out
        assert any(fam.is_in_distribution(v) for v in held) and any(not fam.is_in_distribution(v) for v in held)
        for v in train + held:  # every value is one the problem supports
            problem.with_params(**{fam.param: v})
        assert fam.train_values(n_in, n_out, nominal=nominal) == train  # deterministic


def test_held_out_values_of_burgers_amplitude():
    fam = equations.get("burgers").shift("a")
    assert fam.train_values(nominal=1.0) == (0.65, 0.8, 1.0, 1.2, 1.35)
    assert fam.held_out_values(nominal=1.0) == (0.5, 0.725, 0.9, 1.1, 1.275, 1.5)
    with pytest.raises(PinnddError, match="n_in"):
        fam.train_values(0)


# ---------------------------------------------------------------------------------------------
# Made-on values and the evaluator
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def task_set(heat):
    return methods.get("task_exchange", **LX, outer_steps=2, n_in=2, n_out=1).make(heat, 24, seed=0)


def test_task_exchange_records_its_made_on_values(heat, task_set):
    made = task_set.metadata["made_on"]
    fam = heat.shift("TL")
    assert made["param"] == "TL" and made["values"] == task_set.metadata["task"]["values"]
    assert set(made["values"]) <= set(fam.train_values(2, 1, nominal=0.0))
    assert made["values"] == [-0.6, -0.2, 0.0, 0.2, 0.6]
    assert set(task_set.metadata["task"]["round_values"]) <= set(made["values"])
    assert not set(made["values"]) & set(fam.held_out_values(2, 1, nominal=0.0))
    loaded = ood.made_on(task_set.metadata)
    assert loaded.param == "TL" and loaded.contains(0.6) and not loaded.contains(0.4)


def test_task_aware_records_its_made_on_values(heat):
    kw = dict(outer_steps=1, shift_family="TL", width=4, depth=1, dense=64, dense_batch=16, inner_steps=2, progress=False)
    ps = methods.get("task_aware", **kw).make(heat, 16, seed=0)
    assert ps.metadata["made_on"] == {"param": "TL", "values": list(heat.shift("TL").train_values(nominal=0.0))}
    ps = methods.get("task_aware", **kw, train_on="range").make(heat, 16, seed=0)
    assert ps.metadata["made_on"] == {"param": "TL", "values": [], "range": [-1.0, 1.0]}
    with pytest.raises(PinnddError, match="was made on TL = 0.5"):
        ood.retrain_ood(heat, ps, "TL", [0.5], TINY, seeds=(0,))
    with pytest.raises(PinnddError, match="made on every held-out value"):
        ood.retrain_ood(heat, ps, "TL", config=TINY, seeds=(0,))


def test_evaluator_refuses_a_task_aware_set_at_its_own_values(heat, task_set):
    with pytest.raises(PinnddError, match=r"made on TL = 0\.2.*held-out values.*allow_made_on=True"):
        ood.retrain_ood(heat, task_set, "TL", [0.2, 0.4], TINY, seeds=(0,))
    rows = ood.retrain_ood(heat, task_set, "TL", [0.2, 0.4], TINY, seeds=(0,), allow_made_on=True, labels="per_shift")
    assert [(r["value"], r["held_out"]) for r in rows] == [(0.2, False), (0.4, True)]
    # by default it is scored at the family's held-out values, all marked held out
    rows = ood.retrain_ood(heat, task_set, "TL", config=TINY, seeds=(0,))
    assert [r["value"] for r in rows] == [v for v in heat.shift("TL").held_out_values(nominal=0.0)
                                          if v not in (-0.6, -0.2, 0.0, 0.2, 0.6)]
    assert all(r["held_out"] for r in rows)
    # a set of another method is held out everywhere
    plain = methods.get("sobol").make(heat, 16, seed=0)
    assert all(r["held_out"] for r in ood.retrain_ood(heat, plain, "TL", [0.0, 0.2], TINY, seeds=(0,)))


def test_one_check_serves_kits_and_other_parameters(heat, sobol_set):
    """The family kits' shape (a list under ``made_on`` and the parameter under ``param``) is
    refused the same way; a set made on ``TL`` values is made on the nominal problem, which a
    ``TR`` shift to its nominal value is."""
    kit_like = replace(sobol_set, metadata={**sobol_set.metadata, "made_on": [-0.2, 0.0, 0.2], "param": "TL"})
    with pytest.raises(PinnddError, match="made on TL = -0.2"):
        ood.retrain_ood(heat, kit_like, "TL", [-0.2], TINY, seeds=(0,))
    with pytest.raises(PinnddError, match=r"made on TR = 1 \(the nominal problem\)"):
        ood.retrain_ood(heat, kit_like, "TR", [1.0, 1.5], TINY, seeds=(0,))
    rows = ood.retrain_ood(heat, kit_like, "TR", [1.0, 1.5], TINY, seeds=(0,), allow_made_on=True)
    assert [(r["value"], r["held_out"]) for r in rows] == [(1.0, False), (1.5, True)]
    broken = replace(sobol_set, metadata={**sobol_set.metadata, "made_on": {"param": "TL", "values": ["x"]}})
    with pytest.raises(PinnddError, match="non-numeric"):
        ood.retrain_ood(heat, broken, "TL", [0.5], TINY, seeds=(0,))
    assert pinndd.eval.ood.made_on(sobol_set.metadata) is None


# ---------------------------------------------------------------------------------------------
# The OOD sweep's values and label-cost column
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def ood_sweep(monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "experiments"))
    import ood_sweep

    return ood_sweep


def test_sweep_scores_task_aware_methods_at_held_out_values(heat, ood_sweep):
    fam = heat.shift("TL")
    made = ood_sweep.made_on_values(heat, "task_exchange", dict(LX, n_in=2, n_out=1), "TL")
    assert made == list(fam.train_values(2, 1, nominal=0.0))
    assert ood_sweep.made_on_values(heat, "sobol", {}, "TL") is None and ood_sweep.made_on_values(heat, "dense", {}, "TL") is None
    pairs = ood_sweep.evaluation_values(heat, fam, [made], 3, 2, None, False)
    assert [v for v, _ in pairs] == list(fam.held_out_values(nominal=0.0))
    assert [f for _, f in pairs] == [fam.is_in_distribution(v) for v, _ in pairs]
    assert ood_sweep.evaluation_values(heat, fam, [], 3, 2, None, False) == ood.shift_values(fam, nominal=0.0)
    with pytest.raises(PinnddError, match=r"\[0\.2\].*--allow-made-on"):
        ood_sweep.evaluation_values(heat, fam, [made], 3, 2, [0.2, 0.4], False)
    assert ood_sweep.evaluation_values(heat, fam, [made], 3, 2, [0.2, 0.4], True) == [(0.2, True), (0.4, False)]


def test_sweep_label_cost_in_dense_trainings(ood_sweep):
    rows = [{"method": "m", "value": 0.1, "label_seconds": 2.0}, {"method": "m", "value": 0.1, "label_seconds": 2.0},
            {"method": "m", "value": 0.4, "label_seconds": 4.0},
            {"method": "dense", "value": 0.1, "train_seconds": 0.5}, {"method": "dense", "value": 0.1, "train_seconds": 1.5},
            {"method": "dense", "value": 0.4, "train_seconds": 2.0}]
    secs, units = ood_sweep.label_cost(rows, "m")
    assert secs == pytest.approx(3.0) and units == pytest.approx((2.0 / 1.0 + 4.0 / 2.0) / 2)
    assert np.isnan(ood_sweep.label_cost([r for r in rows if r["method"] == "m"], "m")[1])


def test_summaries_leave_out_made_on_rows():
    row = lambda method, value, ind, e, held=True: {"pde": "heat", "method": method, "budget": 16, "param": "TL",  # noqa: E731
                                                    "value": value, "in_distribution": ind, "l2re": e, "held_out": held}
    rows = [row("t", 0.0, True, 0.1, held=False), row("t", 0.1, True, 0.2), row("t", 0.6, False, 0.5, held=False),
            row("t", 0.4, False, 0.8)]
    dense = [row("dense", v, ind, 0.1) for v, ind in ((0.0, True), (0.1, True), (0.4, False), (0.6, False))]
    assert {r["value"]: r["ratio"] for r in ood.ratio_to_dense(rows + dense)} == pytest.approx({0.1: 2.0, 0.4: 8.0})
    (r,) = ood.ood_id_ratio(rows)
    assert (r["id_mean"], r["ood_mean"], r["n_id"], r["n_ood"]) == pytest.approx((0.2, 0.8, 1, 1))


def test_sweep_pipelines_are_independent_and_costed_in_full(ood_sweep):
    # every set seed trains networks of its own: no network seed is shared between pipelines
    seeds = [ood_sweep.network_seeds(s, 3) for s in range(4)]
    assert seeds[0] == [0, 1, 2] and seeds[2] == [6, 7, 8]
    assert len({n for ss in seeds for n in ss}) == 12
    assert ood_sweep.teacher_key("burgers", "a", 0) != ood_sweep.teacher_key("burgers", "a", 1)
    # labelled sets (and only they) are scored under every label source
    assert ood_sweep.is_labelled("label_exchange", {}) and not ood_sweep.is_labelled("sobol", {})
    assert not ood_sweep.is_labelled("dense", {})
    # the set's one-off cost is counted once per set seed; per value: labels + training
    rows = [{"method": "dense", "value": 0.1, "train_seconds": 2.0}, {"method": "dense", "value": 0.4, "train_seconds": 4.0},
            {"method": "m", "value": 0.1, "set_seed": 0, "set_total_seconds": 6.0, "label_seconds": 1.0, "train_seconds": 2.0},
            {"method": "m", "value": 0.4, "set_seed": 0, "set_total_seconds": 6.0, "label_seconds": 1.0, "train_seconds": 2.0},
            {"method": "m", "value": 0.1, "set_seed": 1, "set_total_seconds": 12.0, "label_seconds": 3.0, "train_seconds": 4.0}]
    one_off, per_value = ood_sweep.model_cost(rows, "m")
    assert one_off == pytest.approx(9.0 / 3.0) and per_value == pytest.approx((3.0 + 3.0 + 7.0) / 3 / 3.0)
    assert ood_sweep.model_cost(rows, "dense") == pytest.approx((0.0, 1.0))
    assert all(np.isnan(ood_sweep.model_cost([r for r in rows if r["method"] == "m"], "m")))
