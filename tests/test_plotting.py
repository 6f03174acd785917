import json

import numpy as np
import torch

import equations
from pinndd import PointSet, TrainConfig, methods, train
from pinndd.plotting import MAX_MARKERS, plot_error_curves, plot_point_sets, plot_results, plot_solution


def _model(problem, ps):
    torch.set_num_threads(1)
    return train(problem, ps, TrainConfig(width=4, depth=1, adam_steps=5, progress=False)).model


def test_figures_are_written(tmp_path):
    problem = equations.get("heat")
    sets = {m: methods.get(m).make(problem, 16, seed=0) for m in ("sobol", "uniform")}
    model = _model(problem, sets["sobol"])
    plot_solution(problem, model, sets["sobol"], tmp_path / "s.png")
    plot_point_sets(problem, model, sets, tmp_path / "p.png")
    plot_error_curves({"a": ([1, 2], [[0.1, 0.2], [0.05, 0.07]])}, "budget", tmp_path / "c.png", reference_lines={"dense": 0.01},
                      in_range=(1.2, 1.8), nominal=1.5)
    for f in ("s.png", "p.png", "c.png"):
        assert (tmp_path / f).stat().st_size > 5_000


def test_solution_figure_reads_at_a_glance():
    problem = equations.get("heat")
    dense = methods.get("sobol").make(problem, 4096, seed=0)
    weighted = PointSet(dense.interior[:64], np.linspace(0.5, 2.0, 64), dense.conditions,
                        problem.reference(dense.interior[:64]), 10.0, {"method": "test"})
    model = _model(problem, dense)
    fig = plot_solution(problem, model, dense, cost_seconds=12.5)
    labels = {ax.get_ylabel() for ax in fig.axes}
    assert {"u", "u_ref", "|u - u_ref|"} <= labels  # every colorbar says what it shows
    error_panel = fig.axes[2]
    drawn = sum(len(c.get_offsets()) for c in error_panel.collections[1:2])
    assert drawn == MAX_MARKERS  # 4096 points thinned
    legend_text = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(f"4096, {MAX_MARKERS} shown" in t for t in legend_text)
    assert "L2RE" in fig._suptitle.get_text() and "cost 12.5 s" in fig._suptitle.get_text()
    # the legend is outside every panel
    fig.canvas.draw()
    box = fig.legends[0].get_window_extent()
    assert all(not box.overlaps(ax.get_window_extent()) for ax in fig.axes)
    fig = plot_solution(problem, model, weighted)
    text = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "labelled" in text and "weight 2 x mean" in text


def test_prediction_beyond_the_reference_range_gets_extend_arrows():
    problem = equations.get("heat")
    ps = methods.get("sobol").make(problem, 16, seed=0)
    model = _model(problem, ps)
    with torch.no_grad():
        model.net.layers[-1].bias.add_(100.0)  # far above the reference everywhere
    fig = plot_solution(problem, model, ps)
    cbar = [ax for ax in fig.axes if ax.get_ylabel() == "u"][0]
    assert cbar._colorbar.extend in ("max", "both")


def test_results_folder_figures(tmp_path):
    rows = [{"pde": "heat", "method": m, "param": "TL", "value": v, "in_distribution": abs(v) < 1, "l2re": e, "seed": s}
            for m, e in (("dense", 0.01), ("sobol", 0.05)) for v in (-1.5, 0.0, 0.5, 1.5) for s in (0, 1)]
    (tmp_path / "ood.json").write_text(json.dumps(rows))
    sweep = [{"pde": "heat", "method": m, "budget": b, "l2re": 0.1 / b, "seed": 0} for m in ("dense", "sobol") for b in (16, 32)]
    (tmp_path / "rows.json").write_text(json.dumps(sweep))
    written = plot_results(tmp_path)
    assert {p.name for p in written} == {"ood_heat_TL.png", "budget_heat.png"}
    assert all(p.stat().st_size > 5_000 for p in written)
