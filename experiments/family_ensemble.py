"""K fine-tunes of a family as one stacked ensemble against K separate fine-tunes.

    python experiments/family_ensemble.py --ks 1 4 8 16 --points 256 --steps 300 --rounds 3 --device cpu

Member-steps per second (K x Adam steps / wall time) of ``pinndd.family.fine_tune_many`` (one
ensemble whose member k is trained for its own parameter value) and of K separate
``pinndd.family.fine_tune`` calls, on the same points, from the same warm start (a fresh
protocol-architecture network: timing does not depend on the weights), Adam only. Minimum over
``rounds`` interleaved repetitions; the device, threads and machine are printed with the table.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pde", default="burgers")
    p.add_argument("--ks", type=int, nargs="+", default=[1, 4, 8, 16])
    p.add_argument("--points", type=int, default=256)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None)
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="cpu: this process's CPU seconds (one thread, CPU device), which other jobs on the machine "
                        "do not inflate; wall: elapsed seconds")
    a = p.parse_args(argv)
    if a.clock == "cpu" and (a.device != "cpu" or a.threads != 1):
        p.error("--clock cpu measures one CPU thread: use it with --device cpu --threads 1")
    clock = time.process_time if a.clock == "cpu" else time.perf_counter

    import torch

    import equations
    from pinndd import methods, protocols
    from pinndd.engine.training import make_model
    from pinndd.family import FamilyTask, fine_tune, fine_tune_many

    warnings.simplefilter("ignore", UserWarning)
    torch.set_num_threads(a.threads)
    problem = equations.get(a.pde)
    task = FamilyTask.default(problem)
    cfg = replace(protocols.get("quick").train, adam_steps=a.steps, lbfgs_steps=0, device=a.device, progress=False)
    warm = make_model(problem, cfg)
    ps = methods.get("sobol").make(problem, a.points, seed=0)
    values_all = list(task.held_out) * (max(a.ks) // len(task.held_out) + 1)

    def sync():
        if a.device.startswith("cuda"):
            torch.cuda.synchronize()

    fine_tune_many(task, warm, ps, replace(cfg, adam_steps=5), values_all[:2])  # first-call set-up, not timed
    fine_tune(task.at(values_all[0]), warm, ps, replace(cfg, adam_steps=5))
    rows = []
    for k in a.ks:
        values = values_all[:k]
        best = {"ensemble": float("inf"), "separate": float("inf")}
        for _ in range(a.rounds):
            sync()
            t0 = clock()
            fine_tune_many(task, warm, ps, cfg, values)
            sync()
            best["ensemble"] = min(best["ensemble"], clock() - t0)
            t0 = clock()
            for v in values:
                fine_tune(task.at(v), warm, ps, cfg)
            sync()
            best["separate"] = min(best["separate"], clock() - t0)
        row = {"k": k, "points": a.points, "steps": a.steps,
               "ensemble_member_steps_per_s": k * a.steps / best["ensemble"],
               "separate_member_steps_per_s": k * a.steps / best["separate"]}
        row["speedup"] = row["ensemble_member_steps_per_s"] / row["separate_member_steps_per_s"]
        rows.append(row)
        print(f"K={k:>3}  ensemble {row['ensemble_member_steps_per_s']:8.0f}  separate "
              f"{row['separate_member_steps_per_s']:8.0f} member-steps/s  ({row['speedup']:.2f}x)", flush=True)
    info = {"device": a.device, "threads": a.threads, "clock": a.clock, "machine": platform.processor() or platform.machine(),
            "torch": torch.__version__, "rows": rows}
    if a.device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name()
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
