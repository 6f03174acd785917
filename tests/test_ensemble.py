import numpy as np
import torch

import equations
from pinndd import TrainConfig, methods, train
from pinndd.ensemble import train_ensemble


def test_ensemble_equals_separate_runs(pde_name):
    problem = equations.get(pde_name)
    ps = methods.get("sobol").make(problem, 24, seed=0)
    cfg = TrainConfig(width=6, depth=2, adam_steps=15, lr=1e-2, log_every=5, dtype="float64", progress=False)
    ens = train_ensemble(problem, ps, cfg, seeds=[3, 4, 5])
    pts = torch.as_tensor(problem.evaluation_points()[:200])
    for k, seed in enumerate([3, 4, 5]):
        single = train(problem, ps, TrainConfig(**{**cfg.to_dict(), "seed": seed}))
        np.testing.assert_allclose(ens.results[k].history["loss"], single.history["loss"], rtol=1e-9)
        with torch.no_grad():
            torch.testing.assert_close(ens.models[k](pts), single.model(pts), rtol=1e-8, atol=1e-10)


def test_ensemble_lbfgs_per_member():
    problem = equations.get("heat")
    ps = methods.get("sobol").make(problem, 24, seed=0)
    cfg = TrainConfig(width=6, depth=2, adam_steps=10, lbfgs_steps=5, log_every=5, dtype="float64", progress=False)
    ens = train_ensemble(problem, ps, cfg, seeds=[0, 1])
    single = train(problem, ps, TrainConfig(**{**cfg.to_dict(), "seed": 1}))
    np.testing.assert_allclose(ens.results[1].history["loss"], single.history["loss"], rtol=1e-7)
