"""CUDA paths: the trainer, ensembles and compiled steps on a GPU give the CPU's results and do no
host synchronisation per step. They run only where CUDA exists; the CPU check of the GPU
throughput script runs everywhere."""

import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import equations
from pinndd import TrainConfig, evaluate, methods, train
from pinndd.engine.ensemble import EnsembleMLP, expand_points, train_ensemble
from pinndd.engine.losses import TensorPoints
from pinndd.engine.training import make_model, optimise, term_names

cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                          reason="needs a CUDA device: torch.cuda.is_available() is False on this machine, so the "
                                 "CUDA paths were not run here (their CPU paths are tested in the other files)")

CFG = TrainConfig(width=6, depth=2, adam_steps=20, lr=1e-2, log_every=10, dtype="float64", progress=False)


@cuda
@pytest.mark.parametrize("compile", [False, True], ids=["eager", "compiled"])
def test_trainer_and_ensemble_on_cuda_match_cpu(compile):
    """float64: the GPU's kernels sum in another order, so runs agree to round-off (amplified a
    little by 20 Adam steps), not bit for bit."""
    problem = equations.get("heat")
    ps = methods.get("sobol").make(problem, 32, seed=0)
    cfg = replace(CFG, compile=compile)
    cpu = train(problem, ps, cfg)
    gpu = train(problem, ps, replace(cfg, device="cuda"))
    assert next(gpu.model.parameters()).device.type == "cuda"
    np.testing.assert_allclose(gpu.history["loss"], cpu.history["loss"], rtol=1e-7)
    ens = train_ensemble(problem, ps, replace(cfg, device="cuda"), seeds=[0, 1])
    np.testing.assert_allclose(ens.results[0].history["loss"], cpu.history["loss"], rtol=1e-7)
    e_cpu, e_gpu = evaluate(problem, cpu.model), evaluate(problem, gpu.model)
    assert e_gpu["l2re"] == pytest.approx(e_cpu["l2re"], rel=1e-6)


@cuda
@pytest.mark.parametrize("members", [1, 8], ids=["single", "ensemble"])
@pytest.mark.parametrize("compile", [False, True], ids=["eager", "compiled"])
def test_no_host_sync_per_adam_step(members, compile):
    """Counted with torch.cuda.set_sync_debug_mode: 200 Adam steps read the loss history twice
    (log_every=100); one synchronisation per step would give >= 200."""
    problem = equations.get("burgers")
    ps = methods.get("sobol").make(problem, 256, seed=0)
    cfg = TrainConfig(width=16, depth=2, adam_steps=200, log_every=100, device="cuda", compile=compile, progress=False)
    tp = TensorPoints.from_pointset(ps, torch.float32, torch.device("cuda"))
    if members == 1:
        model = make_model(problem, cfg)
    else:
        model = EnsembleMLP([make_model(problem, replace(cfg, seed=s)).net for s in range(members)]).to("cuda")
        tp = expand_points(tp, members)
    names, skip = term_names(problem, ps, False)
    optimise(problem, model, tp, replace(cfg, adam_steps=10, log_every=10), names, skip)  # warm-up (compiles)
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            optimise(problem, model, tp, cfg, names, skip)
        finally:
            torch.cuda.set_sync_debug_mode(0)
    syncs = [str(w.message) for w in caught if "synchroniz" in str(w.message).lower()]
    assert len(syncs) < cfg.adam_steps // 10, f"{len(syncs)} host synchronisations in {cfg.adam_steps} steps: {syncs[:3]}"


def test_gpu_throughput_script_on_cpu(tmp_path, monkeypatch):
    """The GPU throughput script's CPU path: rows for K = 1 and 2, K = 1 its own baseline."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "experiments"))
    monkeypatch.setattr(sys, "argv", ["gpu_throughput.py"])
    import gpu_throughput

    argv = ["--device", "cpu", "--pde", "heat", "--ks", "1", "2", "--points", "32", "--steps", "3", "--modes", "eager"]
    assert gpu_throughput.main([*argv, "--out", str(tmp_path)]) == 0
    import json

    rows = json.loads((tmp_path / "rows.json").read_text())
    assert [r["members"] for r in rows] == [1, 2] and all(r["device"] == "cpu" for r in rows)
    assert rows[0]["speedup"] == 1.0 and rows[0]["wall_vs_one"] == 1.0
    assert rows[1]["member_steps_per_s"] == pytest.approx(2 / rows[1]["seconds_per_step"])
    assert "| 32 | eager | 2 |" in (tmp_path / "table.md").read_text()
