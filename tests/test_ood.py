"""The out-of-distribution evaluator on the heat equation, whose analytic family makes the expected
numbers known: shifting the end temperature ``TL`` by ``d`` moves the solution by exactly
``d (1 - x)`` (``TR``: ``d x``), since ``u = TL (1 - x) + TR x + decaying sine modes``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import pinndd
from pinndd import PinnddError, ShiftFamily, TrainConfig, methods
from pinndd.eval import ood
from pinndd.methods.labelled.teacher import Teacher, label, labels_teacher, reference_teacher

TINY = TrainConfig(width=8, depth=1, adam_steps=20, lr=1e-2, progress=False, log_every=10)


class HeatReference(nn.Module):
    """The heat reference at fixed parameters, as a float64 torch model (a dummy float64
    parameter makes :func:`pinndd.engine.evaluation.predict` keep float64)."""

    def __init__(self, params):
        super().__init__()
        self.p = dict(params)
        self.dummy = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x):
        xx, t = x[..., 0], x[..., 1]
        p = self.p
        u = p["TL"] + (p["TR"] - p["TL"]) * xx + 0 * self.dummy
        for m, a in ((1, 1.0), (2, 0.5)):
            u = u + a * torch.exp(-p["alpha"] * (m * math.pi) ** 2 * t) * torch.sin(m * math.pi * xx)
        return u



@pytest.fixture(scope="module")
def sobol_set(heat):
    return pinndd.methods.get("sobol").make(heat, 16, seed=0)


@pytest.mark.parametrize("param, lift", [("TL", lambda x: 1.0 - x), ("TR", lambda x: x)])
def test_fixed_model_error_is_the_known_shift(heat, param, lift):
    model = HeatReference(heat.params)
    rows = ood.evaluate_shifts(heat, model, param)
    fam = heat.shift(param)
    assert [(r["value"], r["in_distribution"]) for r in rows] == fam.values(3, 2)
    grid = heat.evaluation_points()
    nominal = heat.params[param]
    for r in rows:
        d = r["value"] - nominal
        # analytic: u_shift - u_model = d * lift(x) exactly
        ref = heat.with_params(**{param: r["value"]}).reference(grid)
        expected = abs(d) * np.linalg.norm(lift(grid[:, 0])) / np.linalg.norm(ref)
        assert r["l2re"] == pytest.approx(expected, rel=1e-9, abs=1e-13)
        assert r["max_abs"] == pytest.approx(abs(d), rel=1e-9, abs=1e-13)  # max of |d lift| on the grid is |d|
        assert r["nominal"] == (r["value"] == nominal)
    assert [r["l2re"] for r in rows if r["nominal"]] == [pytest.approx(0.0, abs=1e-14)]
    # error grows with |shift| on each side of the nominal value
    for side in (-1, 1):
        errs = [r["l2re"] for r in sorted(rows, key=lambda r: abs(r["value"] - nominal)) if side * (r["value"] - nominal) >= 0]
        assert errs == sorted(errs) and errs[-1] > 0.1


def test_shift_values_can_add_the_nominal_value(heat):
    fam = heat.shift("alpha")  # in [0.05, 0.2]: evenly spread values miss the nominal 0.1
    assert 0.1 not in [v for v, _ in ood.shift_values(fam)]
    vals = ood.shift_values(fam, nominal=0.1)
    assert (0.1, True) in vals and len(vals) == 8 and vals == sorted(vals)
    assert ood.shift_values(heat.shift("TL"), nominal=0.0) == heat.shift("TL").values(3, 2)
    with pytest.raises(PinnddError, match="pairs"):
        ood.shift_values(fam, [(0.1, True, 3)])


def test_fixed_model_explicit_values_and_flags(heat):
    model = HeatReference(heat.params)
    rows = ood.evaluate_shifts(heat, model, "TL", values=[0.1, 0.9, (0.5, True)], held_out=ood.held_out_points(heat, 64))
    assert [(r["value"], r["in_distribution"]) for r in rows] == [(0.1, True), (0.9, False), (0.5, True)]
    # the reference solves the PDE at every shift: the residual of a shifted-in-the-data model stays tiny
    assert all(r["residual_mse"] < 1e-20 for r in rows)


def test_retrain_rows_for_every_value_and_seed(heat, sobol_set):
    rows = ood.retrain_ood(heat, sobol_set, "TL", config=TINY, seeds=(0, 1), held_out=ood.held_out_points(heat, 256))
    pairs = heat.shift("TL").values(3, 2)
    assert len(rows) == len(pairs) * 2
    assert [(r["value"], r["in_distribution"], r["seed"]) for r in rows] == [(v, f, s) for v, f in pairs for s in (0, 1)]
    for r in rows:
        assert r["method"] == "sobol" and r["budget"] == 16 and r["param"] == "TL" and r["labels"] == "none"
        assert (r["held_out"], r["label_source"], r["label_seconds"]) == (True, "none", 0.0)
        assert r["in_distribution"] == (-0.2 <= r["value"] <= 0.2)
        assert all(np.isfinite(r[k]) and r[k] >= 0 for k in ("l2re", "l1re", "max_abs", "residual_mse"))
    assert sum(r["nominal"] for r in rows) == 2


def test_retrain_evaluates_against_the_shifted_reference(heat, sobol_set):
    # the ensemble path and the one-by-one path (hard transform) both report the error of the
    # model they trained against the *shifted* reference: recompute it from the trained model
    fam = ShiftFamily("TR", (0.9, 1.1), (0.5, 1.5))
    rows = ood.retrain_ood(heat, sobol_set, fam, values=[1.5], config=TrainConfig(**{**TINY.to_dict(), "hard": True}),
                           seeds=(3,), method="mine")
    (r,) = rows
    assert r["method"] == "mine" and r["in_distribution"] is False and r["value"] == 1.5
    shifted = heat.with_params(TR=1.5)
    res = pinndd.train(shifted, sobol_set, TrainConfig(**{**TINY.to_dict(), "hard": True, "seed": 3}))
    assert r["l2re"] == pytest.approx(pinndd.evaluate(shifted, res.model)["l2re"], rel=1e-6)


@pytest.fixture(scope="module")
def labelled_set(heat, sobol_set):
    return label(sobol_set, reference_teacher(heat), target_weight=5.0)


def test_labelled_set_is_dropped_explicitly(heat, labelled_set):
    rows = ood.retrain_ood(heat, labelled_set, "TL", values=[0.0, 0.5], config=TINY, seeds=(0,))
    assert [r["labels"] for r in rows] == ["kept", "dropped"]
    rows = ood.retrain_ood(heat, labelled_set, "TL", values=[0.0, 0.5], config=TINY, seeds=(0,), keep_valid_labels=False)
    assert [r["labels"] for r in rows] == ["dropped", "dropped"]
    # the trainer itself refuses stale labels: the evaluator must not pass them through
    with pytest.raises(PinnddError, match="labelled point set was made for"):
        pinndd.train(heat.with_params(TL=0.5), labelled_set, TINY)


def test_labelled_set_is_relabelled_for_the_shift(heat, labelled_set):
    seen = []

    def factory(shifted):
        seen.append(dict(shifted.params))
        return reference_teacher(shifted)

    rows = ood.retrain_ood(heat, labelled_set, "TL", values=[0.0, -0.5, 0.7], config=TINY, seeds=(0,), labels=factory)
    assert [r["labels"] for r in rows] == ["kept", "relabelled:reference", "relabelled:reference"]
    assert seen == [{**heat.params, "TL": -0.5}, {**heat.params, "TL": 0.7}]
    shifted = heat.with_params(TL=0.7)
    ps, outcome = ood.shifted_pointset(labelled_set, shifted, "reference")
    assert outcome == "relabelled:reference"
    np.testing.assert_allclose(ps.targets, shifted.reference(ps.interior), rtol=0, atol=1e-15)
    assert ps.target_weight == 5.0 and ps.metadata["labels_params"] == dict(shifted.params)
    np.testing.assert_array_equal(ps.interior, labelled_set.interior)
    # "relabel" rebuilds a teacher of the kind that made the labels (here: the reference)
    ps2, outcome2 = ood.shifted_pointset(labelled_set, shifted, "relabel")
    assert outcome2 == "relabelled:reference"
    np.testing.assert_array_equal(ps2.targets, ps.targets)


@pytest.mark.parametrize("name", ["kip_labels", "label_outcome"])
def test_learned_labels_are_relabelled_by_their_teacher(heat, name):
    """A label distiller's learned labels hold at the nominal problem only; "relabel" rebuilds
    the teacher they started from for the shifted one."""
    m = methods.get(name, outer_steps=1, width=4, depth=1, dense=32, dense_batch=16, teacher_dense=64,
                    teacher_protocol="smoke", progress=False)
    ps = m.make(heat, 16, seed=0)
    assert labels_teacher(ps.metadata)["l2re"] == m.teacher(heat).info["l2re"]
    shifted = heat.with_params(TL=0.5)
    out, outcome = ood.shifted_pointset(ps, shifted, "relabel")
    assert outcome == "relabelled:dense-pinn" and out.metadata["labels_params"] == dict(shifted.params)
    np.testing.assert_allclose(out.targets, m.teacher(shifted).predict(ps.interior), rtol=1e-12)


def test_bad_label_modes_raise(heat, labelled_set, sobol_set):
    with pytest.raises(PinnddError, match="labels must be one of"):
        ood.retrain_ood(heat, labelled_set, "TL", values=[0.5], config=TINY, seeds=(0,), labels="keep")
    wrong = lambda shifted: reference_teacher(heat)  # noqa: E731  (made for the nominal parameters)
    with pytest.raises(PinnddError, match="teacher was made for"):
        ood.shifted_pointset(labelled_set, heat.with_params(TL=0.5), wrong)
    model_labelled = label(sobol_set, Teacher(lambda x: x[:, 0], "heat", dict(heat.params), "model"))
    with pytest.raises(PinnddError, match="cannot rebuild"):
        ood.shifted_pointset(model_labelled, heat.with_params(TL=0.5), "relabel")
    with pytest.raises(PinnddError, match="no shift family"):
        ood.retrain_ood(heat, sobol_set, "kappa", config=TINY, seeds=(0,))
    with pytest.raises(PinnddError, match="seeds"):
        ood.retrain_ood(heat, sobol_set, "TL", config=TINY, seeds=())


def _row(method, value, ind, seed, l2re, param="TL"):
    return {"pde": "heat", "method": method, "budget": 16, "param": param, "value": value, "in_distribution": ind,
            "seed": seed, "l2re": l2re}


def test_ratios():
    rows = [_row("a", 0.0, True, 0, 0.1), _row("a", 0.0, True, 1, 0.3), _row("a", 0.2, True, 0, 0.4),
            _row("a", 1.0, False, 0, 0.6), _row("a", -1.0, False, 0, 1.0), _row("a", -1.0, False, 1, 1.2)]
    dense = [{**_row("dense", v, ind, 0, e), "budget": 4096} for v, ind, e in
             ((0.0, True, 0.05), (0.2, True, 0.1), (1.0, False, 0.2), (-1.0, False, 0.55))]
    (r,) = ood.ood_id_ratio(rows)
    # ID: mean over values of the seed means: (0.2 + 0.4) / 2 = 0.3; OOD: (0.6 + 1.1) / 2 = 0.85
    assert r["id_mean"] == pytest.approx(0.3) and r["ood_mean"] == pytest.approx(0.85)
    assert r["ood_id_ratio"] == pytest.approx(0.85 / 0.3) and (r["n_id"], r["n_ood"]) == (2, 2)
    ratios = ood.ratio_to_dense(rows + dense)
    by_v = {x["value"]: x["ratio"] for x in ratios}
    assert by_v == pytest.approx({0.0: 4.0, 0.2: 4.0, 1.0: 3.0, -1.0: 2.0})
    assert ood.ratio_to_dense(rows, dense) == ratios
    (w,) = ood.worst_ratio_to_dense(ratios)
    assert w["worst_ratio"] == pytest.approx(4.0) and w["at_value"] in (0.0, 0.2)
    only_id = [r for r in rows if r["in_distribution"]]
    assert math.isnan(ood.ood_id_ratio(only_id)[0]["ood_id_ratio"])
    with pytest.raises(PinnddError, match="no dense rows"):
        ood.ratio_to_dense(rows)
    curves = ood.error_curves(rows)
    assert curves["a"][0] == [-1.0, 0.0, 0.2, 1.0] and curves["a"][1][0] == [1.0, 1.2]


def test_which_families_shift_conditions(heat):
    assert ood.shifts_conditions(heat, "TL") == ("left", "initial")
    assert ood.shifts_conditions(heat, "TR") == ("right", "initial")
    assert ood.shifts_conditions(heat, "alpha") == ()  # a PDE coefficient only
