"""Training-step throughput: derivative engines, ensembles and DeepXDE on the same net and points.

    python experiments/throughput.py --threads 1 --steps 200

For Burgers (u, u_t, u_x, u_xx), an MLP 3x32 tanh in float32 and {8192, 2048, 256} interior
points (plus the budget rule's condition points), times full-batch Adam steps of:

- ``autograd``: pinndd's trainer with the autograd derivative engine (double backward);
- ``forward``: the same with the forward derivative engine (when ``pinndd.engine.forward`` exists);
- ``compiled``: the forward engine with ``TrainConfig(compile=True)``; the one-off
  compilation (first step: tracing, inductor, C++ compiler, backward graph) is reported
  separately as ``compile_s`` and is not part of the per-step time;
- ``ensemble16`` / ``ensemble64``: 16 or 64 members trained at once (stacked weights, forward
  engine: batched matrix products), the time per step of the whole ensemble and per member;
  ``ensemble16_autograd`` the same with the autograd engine, ``ensemble16_compiled`` compiled;
- ``deepxde``: a stock DeepXDE model (pytorch backend) on the same loss through
  :mod:`pinndd.interop.deepxde` (interior points as anchors, one PointSetBC per condition, the
  network started from pinndd's initial weights) and Adam, when DeepXDE is installed. Earlier
  versions put condition points among the anchors (inside the PDE mean) and both x faces under
  one DirichletBC: a different loss, so their speed ratios were not like for like.

Machines shared with other jobs give noisy times: ``--rounds R`` runs every variant R times,
interleaved, and reports the minimum and median per step. Reports steps/s and points*steps/s;
on CUDA when present (``--device cuda``).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, write_rows  # noqa: E402

import equations  # noqa: E402
from pinndd import PinnddError, TrainConfig, methods
from pinndd.engine import training  # noqa: E402
from pinndd.engine.ensemble import EnsembleMLP, expand_points  # noqa: E402
from pinndd.engine.losses import TensorPoints  # noqa: E402
from pinndd.engine.training import make_model, optimise, term_names  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_pinndd(problem, ps, config, steps, members=1) -> tuple[float, float | None]:
    """Seconds per Adam step, and the compilation seconds when this call compiled."""
    device = torch.device(config.device)
    tp = TensorPoints.from_pointset(ps, torch.float32, device)
    names, skip = term_names(problem, ps, False)
    if members == 1:
        model = make_model(problem, config)
    else:
        model = EnsembleMLP([make_model(problem, replace(config, seed=s)).net for s in range(members)]).to(device)
        tp = expand_points(tp, members)
    compiled_before = len(training.COMPILE_LOG)
    warm = replace(config, adam_steps=10, lbfgs_steps=0, log_every=10)
    optimise(problem, model, tp, warm, names, skip)
    compile_s = training.COMPILE_LOG[-1]["seconds"] if len(training.COMPILE_LOG) > compiled_before else None
    _sync(device)
    t0 = time.perf_counter()
    optimise(problem, model, tp, replace(config, adam_steps=steps, lbfgs_steps=0, log_every=steps), names, skip)
    _sync(device)
    return (time.perf_counter() - t0) / steps, compile_s


def time_deepxde(problem, ps, config, steps) -> float | None:
    """Seconds per Adam step of a stock DeepXDE model on the same loss as pinndd's: the set
    exported by :mod:`pinndd.interop.deepxde` (interior points as anchors, one PointSetBC per
    condition, so condition points stay out of the PDE mean and each face keeps its weight) and
    the network started from pinndd's initial weights. ``None`` without DeepXDE."""
    try:
        from pinndd.interop.deepxde import build_model, export, train_model
    except ImportError:
        return None
    try:
        exported = export(problem, ps, config)
    except PinnddError as e:
        if "not installed" in str(e):
            return None
        raise
    model, _ = build_model(problem, exported, config)
    train_model(model, exported, replace(config, adam_steps=10, lbfgs_steps=0))  # warm-up
    return train_model(model, exported, replace(config, adam_steps=steps, lbfgs_steps=0)) / steps


def run_variant(variant, problem, ps, base, steps) -> tuple[float, int, float | None] | None:
    """``(seconds per step, members, compile seconds)`` or ``None`` when the variant cannot run."""
    if variant == "deepxde":
        if base.device != "cpu":
            return None
        per_step = time_deepxde(problem, ps, base, steps)
        return None if per_step is None else (per_step, 1, None)
    if variant.startswith("ensemble"):
        size, _, kind = variant[len("ensemble"):].partition("_")
        members = int(size)
        engine = "autograd" if kind == "autograd" else "auto"
        config = replace(base, engine=engine, compile=kind == "compiled")
        per_step, compile_s = time_pinndd(problem, ps, config, max(10, steps // 4), members)
        return per_step, members, compile_s
    config = replace(base, engine="auto", compile=True) if variant == "compiled" else replace(base, engine=variant)
    per_step, compile_s = time_pinndd(problem, ps, config, steps)
    return per_step, 1, compile_s


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=1, help="repeat every variant, interleaved; report min and median")
    ap.add_argument("--points", nargs="+", type=int, default=[8192, 2048, 256])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--variants", nargs="+", default=["autograd", "forward", "compiled", "ensemble16", "ensemble64",
                                                      "ensemble16_autograd", "deepxde"])
    ap.add_argument("--out", default="experiments/out/throughput")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    problem = equations.get("burgers")
    rows = []
    for n in args.points:
        ps = methods.get("sobol").make(problem, n, seed=0)
        base = TrainConfig(width=32, depth=3, device=args.device, progress=False)
        times: dict[str, list[float]] = {}
        info: dict[str, tuple[int, float | None]] = {}
        for _ in range(args.rounds):
            for variant in args.variants:
                try:
                    got = run_variant(variant, problem, ps, base, args.steps)
                except Exception as e:  # forward engine missing or unsupported
                    print(f"skip {variant}: {e}", file=sys.stderr)
                    continue
                if got is None:
                    continue
                per_step, members, compile_s = got
                times.setdefault(variant, []).append(per_step)
                if variant not in info or compile_s is not None:
                    info[variant] = (members, compile_s)
        for variant, ts in times.items():
            members, compile_s = info[variant]
            per_step, median = min(ts), float(np.median(ts))
            row = {"points": n, "total_points": len(ps), "variant": variant, "members": members,
                   "ms_per_step": 1e3 * per_step, "ms_per_step_median": 1e3 * median, "rounds": len(ts),
                   "steps_per_s": 1 / per_step, "member_steps_per_s": members / per_step,
                   "point_steps_per_s": members * len(ps) / per_step, "compile_s": compile_s,
                   "device": args.device, "threads": args.threads}
            rows.append(row)
            extra = f"  compile {compile_s:.1f} s" if compile_s is not None else ""
            print(f"{n:>6} {variant:>19}: {row['ms_per_step']:8.2f} ms/step (median {row['ms_per_step_median']:.2f})  "
                  f"{row['member_steps_per_s']:9.1f} member-steps/s  {row['point_steps_per_s']:.3g} point-steps/s{extra}",
                  flush=True)
    out = Path(args.out)
    write_rows(rows, out, f"throughput_{args.device}")
    (out / f"machine_{args.device}.txt").write_text(str(machine()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
