"""The family task (pinndd.family), the family distillers (pinndd.methods.family_kit) and the
family benchmark's evaluator (pinndd.eval.family): held-out values kept apart from made-on
values, fine-tunes that leave the warm start alone, many values as one ensemble equal to
separate fine-tunes, kits that round-trip through files, and costs that add up."""

import json
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

import equations
from pinndd import PinnddError, TrainConfig, methods
from pinndd.engine.evaluation import predict, residuals
from pinndd.engine.training import make_model
from pinndd.eval.family import SeedRun, summarise
from pinndd.family import FamilyTask, fine_tune, fine_tune_many
from pinndd.kits import Kit

TINY = TrainConfig(width=6, depth=2, adam_steps=12, lr=1e-2, dtype="float64", progress=False)
SMOKE = dict(protocol="smoke", warm_dense=48, pool_size=256, progress=False)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():  # values beyond a declared range warn by design
        warnings.simplefilter("ignore", UserWarning)
        yield


def test_default_burgers_task_is_the_benchmark_protocol():
    task = FamilyTask.default(equations.get("burgers"), "a")
    assert task.value_range == (0.5, 1.5)
    assert task.held_out == (0.55, 0.65, 0.9, 1.1, 1.35, 1.45, 0.4, 1.6)
    assert task.made_on == (0.5, 0.75, 1.0, 1.25, 1.5)
    assert [task.in_range(v) for v in (0.4, 0.5, 1.5, 1.6)] == [False, True, True, False]


def test_task_refuses_overlap_and_unknown_names():
    p = equations.get("burgers")
    with pytest.raises(PinnddError, match="also made-on"):
        FamilyTask(p, "a", (0.5, 1.5), (0.5, 1.0), (1.0, 1.2))
    with pytest.raises(PinnddError, match="no shift family"):
        FamilyTask.default(p, "nosuch")
    with pytest.raises(PinnddError, match="not a parameter"):
        FamilyTask(p, "b", (0.5, 1.5), (0.5,), (1.2,))


@pytest.mark.parametrize("pde", equations.names())
def test_every_pde_has_a_default_task_with_disjoint_values(pde):
    task = FamilyTask.default(equations.get(pde))
    assert not set(task.made_on) & set(task.held_out)
    assert sum(task.in_range(v) for v in task.held_out) == 6


def test_fine_tune_leaves_the_warm_start_alone():
    p = equations.get("burgers")
    warm = make_model(p, TINY)
    before = {k: v.clone() for k, v in warm.state_dict().items()}
    ps = methods.get("sobol").make(p, 32, seed=0)
    res = fine_tune(p.with_params(a=1.3), warm, ps, TINY)
    assert all(torch.equal(before[k], v) for k, v in warm.state_dict().items())
    moved = [not torch.equal(before[k], v) for k, v in res.model.state_dict().items() if k in before]
    assert any(moved)


@pytest.mark.parametrize("pde", equations.names())
def test_many_values_as_one_ensemble_equal_separate_fine_tunes(pde):
    p = equations.get(pde)
    task = FamilyTask.default(p)
    warm = make_model(p, TINY)
    ps = methods.get("sobol").make(p, 24, seed=1)
    values = task.held_out[:2]
    models, wall = fine_tune_many(task, warm, ps, TINY, values)
    x = methods.interior_points(p, "uniform", 64, seed=3)
    for model, v in zip(models, values):
        single = fine_tune(task.at(v), warm, ps, TINY).model
        a, b = predict(model, x), predict(single, x)
        # float64, 12 Adam steps: only summation order differs, a few ulps per operation; Adam's
        # normalised steps can amplify that by its 1/eps-scaled denominators, so allow 1e7 ulps
        assert np.max(np.abs(a - b)) <= 1e7 * np.finfo(np.float64).eps * max(1.0, np.max(np.abs(b)))
    assert wall > 0


def test_family_rad_puts_points_where_the_family_residual_is_large():
    p = equations.get("burgers")
    method = methods.get("family_rad", c=0.0, **SMOKE)
    task = FamilyTask.default(p, "a")
    warm, _ = method.warm_start(p, 0)
    pts = method.rad_points(task, warm, 64, 0)
    pool = method._pool(p, 64, 0)
    score = method.family_residual(task, warm, pool)  # averages 1 over the pool
    chosen = np.array([np.flatnonzero((pool == q).all(axis=1))[0] for q in pts])
    # draws with probability proportional to the score (c = 0) have mean score E[s^2] / E[s]
    # (> 1 = the pool's mean when the residual varies), within four standard errors
    p_draw = score / score.sum()
    expected = float(np.sum(p_draw * score))
    stderr = float(np.sqrt(np.sum(p_draw * (score - expected) ** 2) / len(chosen)))
    assert expected > 1.1 * score.mean()
    assert abs(score[chosen].mean() - expected) < 4 * stderr


def test_family_exchange_keeps_only_improving_moves_and_sees_only_made_on_values(monkeypatch):
    p = equations.get("burgers")
    seen = []
    real_at = FamilyTask.at
    monkeypatch.setattr(FamilyTask, "at", lambda self, v: seen.append(float(v)) or real_at(self, v))
    kit = methods.get("family_exchange", outer_steps=3, validation=64, **SMOKE).make_kit(p, 24, seed=0)
    meta = kit.pointset.metadata
    for j, jp, acc in zip(meta["outer_log"], meta["proposal_log"], meta["accepted"]):
        assert acc == (jp < j)
    task = FamilyTask.default(p, "a")
    assert set(seen) <= set(task.made_on) and not set(seen) & set(task.held_out)
    assert set(kit.cost) == {"warm_start", "targets", "distillation"} and all(v >= 0 for v in kit.cost.values())


def test_kit_round_trip_and_refusals(tmp_path):
    p = equations.get("burgers")
    kit = methods.get("family_rad", **SMOKE).make_kit(p, 24, seed=0)
    kit = replace(kit, config=replace(kit.config, adam_steps=5))
    path = kit.save(tmp_path / "kit")
    back = Kit.load(path, p)
    shifted = p.with_params(a=1.3)
    x = methods.interior_points(p, "uniform", 32, seed=5)
    np.testing.assert_array_equal(predict(kit.solve(shifted).model, x), predict(back.solve(shifted).model, x))
    kit.save(path)  # overwriting an existing kit keeps a readable kit
    Kit.load(path, p)
    with pytest.raises(PinnddError, match="made for"):
        Kit.load(path, equations.get("heat"))
    meta = json.loads((path / "kit.json").read_text())
    (path / "kit.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(PinnddError, match="not a pinndd kit"):
        Kit.load(path)
    (path / "kit.json").write_text("{truncated")
    with pytest.raises(PinnddError, match="cannot read kit"):
        Kit.load(path)


def test_benchmark_rows_costs_and_refusal_on_made_on_values():
    from pinndd import protocols

    p = equations.get("burgers")
    task = FamilyTask.default(p, "a")
    run = SeedRun(task, 0, protocols.get("smoke").train, dense=48, budget=16,
                  method_settings={"family_rad": {"warm_dense": 48, "pool_size": 256}}, protocol_name="smoke")
    rows = [run.row(s, v) for s in ("dense", "ft_dense", "ft_sobol", "kit:family_rad") for v in task.held_out[:2]]
    nominal_seconds = run.nominal()[1]
    for r in rows:
        assert np.isfinite(r["l2re"]) and r["value_seconds"] > 0 and not r["made_on"]
        if r["strategy"].startswith("ft_"):
            assert r["once_seconds"] == nominal_seconds
        if r["strategy"].startswith("kit:"):
            assert r["once_seconds"] == pytest.approx(sum(r["kit_cost"].values()))
            assert r["kit_cost"]["warm_start"] == nominal_seconds  # the shared nominal PINN, charged once
    with pytest.raises(PinnddError, match="made on"):
        run.row("kit:family_rad", task.made_on[1])
    table = {ln["strategy"]: ln for ln in summarise(rows)}
    assert table["dense"]["worst_in_range"] == pytest.approx(1.0)
    assert table["dense"]["value_units"] == pytest.approx(1.0)
    assert table["ft_dense"]["vs_ft_dense"] == pytest.approx(1.0)
    # calibrated costs replace the rows' seconds: units and totals follow from them alone
    costs = {"dense": {"once_seconds": 0.0, "value_seconds": 10.0},
             "ft_dense": {"once_seconds": 10.0, "value_seconds": 2.0},
             "ft_sobol": {"once_seconds": 10.0, "value_seconds": 0.5},
             "kit:family_rad": {"once_seconds": 13.0, "value_seconds": 0.5}}
    cal = {ln["strategy"]: ln for ln in summarise(rows, costs=costs)}
    assert cal["ft_dense"]["once_units"] == pytest.approx(1.0) and cal["ft_dense"]["value_units"] == pytest.approx(0.2)
    assert cal["kit:family_rad"]["total_units"] == pytest.approx((13.0 + 2 * 0.5) / 10.0)
    assert cal["kit:family_rad"]["breakeven_vs_ft_dense"] == pytest.approx(3.0 / 1.5)
    assert cal["kit:family_rad"]["worst_in_range"] == table["kit:family_rad"]["worst_in_range"]


def test_family_rad_residual_matches_the_evaluator():
    p = equations.get("heat")
    method = methods.get("family_rad", k=2.0, **SMOKE)
    task = FamilyTask.default(p)
    warm = make_model(p, TINY)
    pool = methods.interior_points(p, "sobol", 32, 0)
    expected = np.mean([residuals(task.at(v), warm, pool) ** 2 / np.mean(residuals(task.at(v), warm, pool) ** 2)
                        for v in task.made_on], axis=0)
    np.testing.assert_allclose(method.family_residual(task, warm, pool), expected, rtol=1e-12)


def test_family_bank_starts_each_solve_from_the_nearest_made_on_fine_tune(tmp_path):
    p = equations.get("burgers")
    kit = methods.get("family_bank", **SMOKE).make_kit(p, 24, seed=0)
    task = FamilyTask.default(p, "a")
    assert sorted(kit.bank) == [v for v in task.made_on if v != 1.0]
    assert kit.cost["bank"] > 0
    for value, nearest in ((0.55, 0.5), (0.65, 0.75), (0.9, None), (1.1, None), (1.45, 1.5), (1.6, 1.5)):
        start = kit.start_for(value)
        expected = kit.warm_state if nearest is None else kit.bank[nearest]
        assert all(np.array_equal(start[k], expected[k]) for k in expected)
    back = Kit.load(kit.save(tmp_path / "bank"), p)
    assert sorted(back.bank) == sorted(kit.bank)
    assert all(np.array_equal(back.bank[v][k], kit.bank[v][k]) for v in kit.bank for k in kit.bank[v])


def test_start_from_interpolates_between_bracketing_members_and_clamps_outside():
    from pinndd.kits import start_from

    members = {0.5: {"w": np.array([0.0, 2.0])}, 1.0: {"w": np.array([1.0, 4.0])}, 1.5: {"w": np.array([3.0, 0.0])}}
    np.testing.assert_allclose(start_from(members, 0.75, True)["w"], [0.5, 3.0])
    np.testing.assert_allclose(start_from(members, 1.125, True)["w"], [1.5, 3.0])
    np.testing.assert_array_equal(start_from(members, 1.0, True)["w"], [1.0, 4.0])
    np.testing.assert_array_equal(start_from(members, 0.4, True)["w"], [0.0, 2.0])  # beyond the span: nearest
    np.testing.assert_array_equal(start_from(members, 1.6, True)["w"], [3.0, 0.0])
    np.testing.assert_array_equal(start_from(members, 0.8, False)["w"], [1.0, 4.0])  # nearest when not interpolating


def test_family_interp_chooses_on_made_on_values_only_and_solves(monkeypatch, tmp_path):
    p = equations.get("burgers")
    seen = []
    real_at = FamilyTask.at
    monkeypatch.setattr(FamilyTask, "at", lambda self, v: seen.append(float(v)) or real_at(self, v))
    kit = methods.get("family_interp", validation=64, **SMOKE).make_kit(p, 24, seed=0)
    task = FamilyTask.default(p, "a")
    assert set(seen) <= set(task.made_on)
    assert kit.interpolate and kit.metadata["left_out"] == [0.75, 1.25]
    assert kit.metadata["choice"] in kit.metadata["loo_scores"]
    assert min(kit.metadata["loo_scores"].values()) == kit.metadata["loo_scores"][kit.metadata["choice"]]
    assert set(kit.cost) == {"warm_start", "bank", "selection", "distillation"}
    monkeypatch.setattr(FamilyTask, "at", real_at)
    shifted = p.with_params(a=0.9)
    back = Kit.load(kit.save(tmp_path / "interp"), p)
    x = methods.interior_points(p, "uniform", 16, seed=2)
    np.testing.assert_array_equal(predict(kit.solve(shifted).model, x), predict(back.solve(shifted).model, x))


def test_parametric_strategies_evaluate_a_fixed_parameter_slice():
    from pinndd import protocols

    p = equations.get("burgers")
    run = SeedRun(FamilyTask.default(p, "a"), 0, protocols.get("smoke").train, dense=48, budget=16, protocol_name="smoke")
    for strategy in ("parametric", "ft_parametric"):
        row = run.row(strategy, 0.65)
        assert np.isfinite(row["l2re"]) and row["once_seconds"] > 0
