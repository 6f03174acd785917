import numpy as np

import equations
from pinndd import TrainConfig, methods, train
from pinndd.plotting import plot_error_curves, plot_point_sets, plot_solution


def test_figures_are_written(tmp_path):
    problem = equations.get("heat")
    sets = {m: methods.get(m).make(problem, 16, seed=0) for m in ("sobol", "uniform")}
    model = train(problem, sets["sobol"], TrainConfig(width=4, depth=1, adam_steps=5, progress=False)).model
    plot_solution(problem, model, sets["sobol"], tmp_path / "s.png")
    plot_point_sets(problem, model, sets, tmp_path / "p.png")
    plot_error_curves({"a": ([1, 2], [[0.1, 0.2], [0.05, 0.07]])}, "budget", tmp_path / "c.png", reference_lines={"dense": 0.01})
    for f in ("s.png", "p.png", "c.png"):
        assert (tmp_path / f).stat().st_size > 5_000
    assert np.isfinite(model(__import__("torch").zeros(1, 2)).detach().numpy()).all()
