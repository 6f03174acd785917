"""Training-step throughput: derivative engines, ensembles and DeepXDE on the same net and points.

    python experiments/throughput.py --threads 1 --steps 200

For Burgers (u, u_t, u_x, u_xx), an MLP 3x32 tanh in float32 and {8192, 2048, 256} interior
points (plus the budget rule's condition points), times full-batch Adam steps of:

- ``autograd``: pinndd's trainer with the autograd derivative engine (double backward);
- ``forward``: the same with the forward derivative engine (when ``pinndd.forward`` exists);
- ``ensemble16`` / ``ensemble64``: 16 or 64 members trained at once (stacked weights), the
  time per step of the whole ensemble and per member;
- ``deepxde``: DeepXDE (pytorch backend) with the same network size, points as anchors and
  Adam, when DeepXDE is installed.

Reports steps/s and points*steps/s; on CUDA when present (``--device cuda``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, write_rows  # noqa: E402

import equations  # noqa: E402
from pinndd import TrainConfig, methods  # noqa: E402
from pinndd.ensemble import EnsembleMLP, expand_points  # noqa: E402
from pinndd.losses import TensorPoints  # noqa: E402
from pinndd.training import make_model, optimise, term_names  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_pinndd(problem, ps, config, steps, members=1) -> float:
    device = torch.device(config.device)
    tp = TensorPoints.from_pointset(ps, torch.float32, device)
    names, skip = term_names(problem, ps, False)
    if members == 1:
        model = make_model(problem, config)
    else:
        model = EnsembleMLP([make_model(problem, replace(config, seed=s)).net for s in range(members)]).to(device)
        tp = expand_points(tp, members)
    warm = replace(config, adam_steps=10, lbfgs_steps=0, log_every=10)
    optimise(problem, model, tp, warm, names, skip)
    _sync(device)
    t0 = time.perf_counter()
    optimise(problem, model, tp, replace(config, adam_steps=steps, lbfgs_steps=0, log_every=steps), names, skip)
    _sync(device)
    return (time.perf_counter() - t0) / steps


def time_deepxde(problem, ps, steps) -> float | None:
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    try:
        import deepxde as dde
    except ImportError:
        return None
    nu = problem.params.get("nu", 0.01 / np.pi)
    geom = dde.geometry.Interval(-1, 1)
    timedomain = dde.geometry.TimeDomain(0, 0.99)
    geomtime = dde.geometry.GeometryXTime(geom, timedomain)

    def pde(x, y):
        dy_x = dde.grad.jacobian(y, x, i=0, j=0)
        dy_t = dde.grad.jacobian(y, x, i=0, j=1)
        dy_xx = dde.grad.hessian(y, x, i=0, j=0)
        return dy_t + y * dy_x - nu * dy_xx

    bc = dde.icbc.DirichletBC(geomtime, lambda x: 0, lambda _, on_b: on_b)
    ic = dde.icbc.IC(geomtime, lambda x: -np.sin(np.pi * x[:, 0:1]), lambda _, on_i: on_i)
    cond = np.vstack([p for p, _ in ps.conditions.values()]).astype(np.float32)
    anchors = np.vstack([ps.interior.astype(np.float32), cond])
    data = dde.data.TimePDE(geomtime, pde, [bc, ic], num_domain=0, num_boundary=0, num_initial=0, anchors=anchors)
    net = dde.nn.FNN([2] + [32] * 3 + [1], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    model.compile("adam", lr=1e-3)
    model.train(iterations=10, display_every=10_000, verbose=0)
    t0 = time.perf_counter()
    model.train(iterations=steps, display_every=10_000, verbose=0)
    return (time.perf_counter() - t0) / steps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--points", nargs="+", type=int, default=[8192, 2048, 256])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--variants", nargs="+", default=["autograd", "forward", "ensemble16", "ensemble64", "deepxde"])
    ap.add_argument("--out", default="experiments/out/throughput")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    problem = equations.get("burgers")
    rows = []
    for n in args.points:
        ps = methods.get("sobol").make(problem, n, seed=0)
        base = TrainConfig(width=32, depth=3, device=args.device, progress=False)
        for variant in args.variants:
            if variant == "deepxde":
                if args.device != "cpu":
                    continue
                per_step = time_deepxde(problem, ps, args.steps)
                if per_step is None:
                    continue
                members = 1
            elif variant.startswith("ensemble"):
                members = int(variant[len("ensemble"):])
                per_step = time_pinndd(problem, ps, replace(base, engine="auto"), max(10, args.steps // 4), members)
            else:
                members = 1
                try:
                    per_step = time_pinndd(problem, ps, replace(base, engine=variant), args.steps)
                except Exception as e:  # forward engine missing or unsupported
                    print(f"skip {variant}: {e}", file=sys.stderr)
                    continue
            row = {"points": n, "total_points": len(ps), "variant": variant, "members": members,
                   "ms_per_step": 1e3 * per_step, "steps_per_s": 1 / per_step,
                   "member_steps_per_s": members / per_step, "point_steps_per_s": members * len(ps) / per_step,
                   "device": args.device, "threads": args.threads}
            rows.append(row)
            print(f"{n:>6} {variant:>11}: {row['ms_per_step']:8.2f} ms/step  {row['member_steps_per_s']:9.1f} member-steps/s  "
                  f"{row['point_steps_per_s']:.3g} point-steps/s", flush=True)
    out = Path(args.out)
    write_rows(rows, out, f"throughput_{args.device}")
    (out / f"machine_{args.device}.txt").write_text(str(machine()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
