"""The fair table's rows (experiments/fair_labelled.py) charge what they say: a labelled set its
teacher, distillation and student training; its teacher row exactly the teacher's own cost; dense
its training; seeds drive the teacher; best-of-k teachers bring a dense run as long as all k."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from pinndd import protocols
from pinndd.cost import PARTS


@pytest.fixture
def fair(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "experiments"))
    import fair_labelled

    torch.set_num_threads(1)
    return fair_labelled


def _cell(kind: str, seed: int, **kw) -> dict:
    proto = protocols.get("smoke")
    return {"pde": "heat", "seed": seed, "dense": 64, "config": replace(proto.train, seed=seed).to_dict(), "kind": kind,
            "label": "teacher_labels", "method": "teacher_labels",
            "settings": {"teacher_dense": 64, "teacher_protocol": "smoke", **kw}, "budget": 16}


def test_set_and_teacher_rows_are_charged_in_full(fair):
    set_row, teacher_row = fair.run_cell(_cell("set", 2))
    assert teacher_row["row"] == "teacher" and teacher_row["teacher_seconds"] > 0
    assert teacher_row["total_seconds"] == teacher_row["teacher_seconds"]  # nothing else in the teacher's row
    assert set_row["teacher_seconds"] == pytest.approx(teacher_row["teacher_seconds"], rel=1e-12)
    assert set_row["training_seconds"] > 0
    parts = sum(set_row[f"{p}_seconds"] for p in ("warmup", "teacher", "distillation", "training"))
    assert set_row["total_seconds"] == pytest.approx(parts, rel=1e-12)
    assert set_row["teacher_l2re"] == teacher_row["l2re"]
    for r in (set_row, teacher_row):  # the load-corrected columns: the same parts, each times a core share in (0, 1]
        assert 0 < r["cpu_total_seconds"] <= r["total_seconds"] * (1 + 1e-12)
        assert r["cpu_total_seconds"] == pytest.approx(sum(r[f"cpu_{p}_seconds"] for p in PARTS), rel=1e-12)
    again, _ = fair.run_cell(_cell("set", 2))  # its teacher now comes from the cache: charged in full all the same
    assert again["teacher_seconds"] == set_row["teacher_seconds"]
    other, _ = fair.run_cell(_cell("set", 3))
    assert other["teacher_l2re"] != set_row["teacher_l2re"]  # an independent pipeline: another teacher


def test_dense_row_costs_its_training(fair):
    (row,) = fair.run_cell(_cell("dense", 0))
    assert row["row"] == "dense" and row["teacher_seconds"] == 0 and row["training_seconds"] > 0
    assert row["total_seconds"] >= row["training_seconds"]


def test_best_of_k_brings_the_same_selection_budget(fair):
    cells = fair.cells_for(type("A", (), {"method": "lx=teacher_labels:teacher_candidates=3,teacher_scale=2",
                                          "pde": ["heat"], "seeds": 2, "first_seed": 0, "budget": 16})(),
                           protocols.get("smoke"))
    kinds = [c["kind"] for c in cells]
    assert kinds.count("dense") == kinds.count("set") == kinds.count("dense_long") == 2
    long = next(c for c in cells if c["kind"] == "dense_long")
    assert (long["candidates"], long["scale"]) == (3, 2)
    (row,) = fair.run_cell({**_cell("dense_long", 0), "candidates": 3, "scale": 2})
    assert row["row"] == "dense (teacher length, 3 runs)"


def test_table_and_figure_use_dense_trainings_of_each_pde(fair, tmp_path):
    row = lambda pde, name, seed, l2re, secs: {"pde": pde, "seed": seed, "row": name, "l2re": l2re,  # noqa: E731
                                               **{f"{p}_seconds": 0.0 for p in PARTS}, "total_seconds": secs,
                                               **{f"cpu_{p}_seconds": 0.0 for p in PARTS}, "cpu_total_seconds": secs / 2}
    rows = [row("heat", "dense", s, 0.09 + 0.01 * s, 10.0 + s) for s in range(3)]
    rows += [row("heat", "teacher", s, 0.04 + 0.01 * s, 33.0) for s in range(3)]
    rows += [row("poisson", "dense", 0, 0.2, 100.0), row("poisson", "teacher", 0, 0.4, 300.0)]
    units = {(r["pde"], r["row"]): r["units"] for r in fair._units([r for r in rows if r["pde"] == "heat"])}
    assert units[("heat", "teacher")] == pytest.approx(33.0 / 11.0)  # the CPU-corrected total over its dense median
    text = fair.table(rows, [])
    assert "| heat | teacher | 3 | 0.05 ± 0.01 (0.05) | 3.00 " in text
    assert "| poisson | teacher | 1 | 0.4 ± 0 (0.4) | 3.00 " in text
    # / teacher, / dense: heat's dense row 2x its teacher; heat's teacher 0.5x dense, Poisson's 2x
    assert "| heat | dense | 3 | 0.1 ± 0.01 (0.1) | 1.00 (0.00 + 0.00 + 0.00) | 2.00 | 1.00 |" in text
    assert "| 1.00 | 0.50 |" in text and "| 1.00 | 2.00 |" in text
    fair.figure(rows, tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 10_000
