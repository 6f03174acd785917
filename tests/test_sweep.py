"""The sweep engine (pinndd.sweep): serial and Ray runs give the same rows; resuming, failures."""

import json
import sys

import pytest
import torch

import equations
from pinndd import PinnddError, TrainConfig, evaluate, methods, train
from pinndd.rows import read_table
from pinndd.sweep import KEY, cell_key, run_cells

CONFIG = TrainConfig(width=6, depth=2, adam_steps=30, lr=1e-2, log_every=10, progress=False).to_dict()
CALLS: list[dict] = []


def one_cell(cell: dict) -> dict:
    """A tiny training: its row depends on every setting of the cell, and on torch's thread count
    only through rounding (so equal rows also check the engine set the threads)."""
    CALLS.append(cell)
    problem = equations.get(cell["pde"])
    ps = methods.get(cell["method"]).make(problem, cell["budget"], seed=cell["seed"])
    res = train(problem, ps, TrainConfig(**{**cell["config"], "seed": cell["seed"]}))
    return {"pde": cell["pde"], "method": cell["method"], "seed": cell["seed"], **evaluate(problem, res.model),
            "final_loss": res.final(), "threads": torch.get_num_threads(), "train_seconds": res.wall_time}


def cells(seeds=(0, 1, 2, 3), method="sobol"):
    return [{"pde": "heat", "method": method, "budget": 16, "seed": s, "config": CONFIG} for s in seeds]


def strip(rows):
    return [{k: v for k, v in r.items() if k != "train_seconds"} for r in rows]


def test_ray_sweep_equals_serial(tmp_path):
    """Four cells and one failing cell through Ray on 2 local CPUs: the same rows, bit for bit and
    in cell order, as the serial run; the failure is reported and left out of both tables."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'pinndd[ray]')")
    todo = cells() + cells(seeds=(0,), method="no_such_method")
    serial = run_cells(todo, one_cell, tmp_path / "serial", serial=True)
    ray_run = run_cells(todo, one_cell, tmp_path / "ray", workers=2, threads=1)
    assert len(serial.rows) == 4 and [r["seed"] for r in serial.rows] == [0, 1, 2, 3]
    assert strip(ray_run.rows) == strip(serial.rows)
    assert all(r["threads"] == 1 for r in ray_run.rows)
    for run, folder in ((serial, "serial"), (ray_run, "ray")):
        assert len(run.failures) == 1 and "no_such_method" in run.failures[0]["error"]
        assert run.failures[0]["cell"]["method"] == "no_such_method"
        assert strip(read_table(tmp_path / folder)) == strip(serial.rows)
        assert json.loads((tmp_path / folder / "rows_failures.json").read_text())[0][KEY] == run.failures[0][KEY]
    assert (tmp_path / "ray" / "rows.csv").read_text().splitlines()[0].startswith("pde,method,seed,l2re")


def test_resume_skips_done_cells_by_full_settings(tmp_path):
    CALLS.clear()
    first = run_cells(cells(seeds=(0, 1)), one_cell, tmp_path, serial=True)
    assert first.ran == 2 and len(CALLS) == 2
    # one new seed, and seed 0 again with one training setting changed: both run, the rest is kept
    changed = {**cells(seeds=(0,))[0], "config": {**CONFIG, "lr": 5e-3}}
    again = run_cells(cells(seeds=(0, 1, 2)) + [changed], one_cell, tmp_path, serial=True)
    assert again.skipped == 2 and again.ran == 2 and len(CALLS) == 4
    assert [c["seed"] for c in CALLS[2:]] == [2, 0] and CALLS[3]["config"]["lr"] == 5e-3
    assert strip(again.rows[:2]) == strip(first.rows)
    assert [r[KEY] for r in read_table(tmp_path)] == [cell_key(c) for c in cells(seeds=(0, 1, 2)) + [changed]]
    fresh = run_cells(cells(seeds=(1,)), one_cell, tmp_path, serial=True, resume=False)
    assert fresh.ran == 1 and len(read_table(tmp_path)) == 1


def test_cell_key_and_arguments():
    a = cells(seeds=(0,))[0]
    assert cell_key(a) == cell_key(dict(reversed(list(a.items()))))
    assert cell_key(a) != cell_key({**a, "config": {**CONFIG, "width": 7}})
    with pytest.raises(PinnddError, match="JSON-serialisable"):
        cell_key({"config": TrainConfig()})
    with pytest.raises(PinnddError, match="threads"):
        run_cells(cells(), one_cell, serial=True, threads=0)
    bad = run_cells(cells(seeds=(0,)), lambda c: 3.0, serial=True)
    assert bad.rows == [] and "must return" in bad.failures[0]["error"]


def test_ray_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(PinnddError, match=r"pinndd\[ray\].*serial"):
        run_cells(cells(seeds=(0,)), one_cell)


def test_script_functions_reach_workers_by_file(tmp_path, monkeypatch):
    """A cell function of the running script is imported from the script's file in a worker (its
    __main__ block does not run); a functools.partial of it carries its bound arguments."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'pinndd[ray]')")
    import functools
    import types

    from pinndd import sweep

    script = tmp_path / "my_sweep.py"
    script.write_text("import functools\n\n@functools.cache\ndef scale():\n    return 3\n\n"
                      "def cell(c, offset=0):\n    return {'y': c['x'] * scale() + offset}\n\n"
                      "if __name__ == '__main__':\n    raise SystemExit('the command line ran')\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    exec(compile(script.read_text().split("if __name__")[0], str(script), "exec"), main.__dict__)
    monkeypatch.setitem(sys.modules, "__main__", main)
    main.cell.__module__ = "__main__"
    payload = sweep._payload(main.cell)
    assert payload == ("script", str(script), "cell")
    assert sweep._load(payload)({"x": 2}) == {"y": 6}
    bound = sweep._payload(functools.partial(main.cell, offset=1))
    assert bound[0] == "partial" and sweep._load(bound)({"x": 2}) == {"y": 7}
