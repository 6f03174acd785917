"""Many PINNs at once: ensembles of K members against K separate runs, eager and compiled.

    python experiments/gpu_throughput.py --device cuda --out experiments/out/gpu_throughput
    python experiments/gpu_throughput.py --device cpu --ks 1 4 --points 256 --steps 50   # a CPU check

Burgers, MLP 3x32 tanh, float32, the forward derivative engine; for every number of interior
points (``--points``, default 256 and 4096, plus the budget rule's condition points) and mode
(``eager``; ``compiled`` = ``TrainConfig(compile=True)``, the whole Adam step one graph), full-batch
Adam steps are timed (:func:`throughput.time_pinndd`: 10 warm-up steps first, so a compilation is
reported as ``compile_s`` and left out of the step time) for one network and for ensembles of K
members (``--ks``, default 1, 16, 64, 256: stacked weights, one batched matrix product per layer,
the same points for every member, :mod:`pinndd.engine.ensemble`).

- ``member_steps_per_s``: K x steps / wall time of the ensemble;
- ``separate_member_steps_per_s``: the same K member-steps as K separate runs one after another,
  i.e. the measured single network's steps per second (each separate run costs what one run
  costs);
- ``speedup``: their ratio (target on a GPU: >= 10 for the family benchmark's K fine-tunes);
- ``wall_vs_one``: the ensemble's step time over one network's (target on a GPU: <= 2 for 64
  members at 256 points).

``--rounds R`` repeats every measurement R times and keeps the fastest (shared machines are
noisy). Writes ``rows.csv``/``rows.json`` and ``table.md`` with the device named.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, write_rows  # noqa: E402
from throughput import time_pinndd  # noqa: E402

import equations  # noqa: E402
from pinndd import TrainConfig, methods  # noqa: E402

log = logging.getLogger("gpu_throughput")


def measure(problem, ps, config: TrainConfig, steps: int, members: int, rounds: int) -> tuple[float, float | None]:
    """Fastest seconds per step over ``rounds`` and the first compilation's seconds (if any)."""
    best, compile_s = float("inf"), None
    for _ in range(rounds):
        per_step, c = time_pinndd(problem, ps, config, steps, members)
        best, compile_s = min(best, per_step), compile_s if compile_s is not None else c
    return best, compile_s


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--pde", default="burgers")
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 16, 64, 256], help="ensemble sizes")
    ap.add_argument("--points", type=int, nargs="+", default=[256, 4096], help="interior points")
    ap.add_argument("--modes", nargs="+", default=["eager", "compiled"], choices=["eager", "compiled"])
    ap.add_argument("--steps", type=int, default=200, help="timed Adam steps per measurement")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--out", default="experiments/out/gpu_throughput")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here (torch.cuda.is_available() is False); use --device cpu")
    problem = equations.get(args.pde)
    out, rows = Path(args.out), []
    t_start = time.perf_counter()
    for n in args.points:
        ps = methods.get("sobol").make(problem, n, seed=0)
        for mode in args.modes:
            config = TrainConfig(width=args.width, depth=args.depth, lr=1e-3, device=args.device,
                                 compile=mode == "compiled", progress=False)
            one, one_compile = measure(problem, ps, config, args.steps, 1, args.rounds)
            for k in args.ks:
                row = {"device": args.device, "pde": args.pde, "points": n, "n_train": len(ps), "mode": mode, "members": k,
                       "steps": args.steps}
                try:
                    per_step, compile_s = (one, one_compile) if k == 1 else measure(problem, ps, config, args.steps, k,
                                                                                    args.rounds)
                except (RuntimeError, MemoryError) as e:  # out of device memory at the largest K: reported, not fatal
                    log.warning("%d points %s K=%d failed: %s", n, mode, k, str(e).splitlines()[0])
                    rows.append({**row, "error": str(e).splitlines()[0]})
                    if args.device.startswith("cuda"):
                        torch.cuda.empty_cache()
                    continue
                row.update(seconds_per_step=per_step, compile_s=compile_s, member_steps_per_s=k / per_step,
                           separate_member_steps_per_s=1 / one, speedup=one * k / per_step, wall_vs_one=per_step / one)
                rows.append(row)
                log.info("%d points %s K=%d: %.3g ms/step, %.0f member-steps/s (%.1fx K separate runs, %.2fx one "
                         "member's wall)", n, mode, k, 1e3 * per_step, row["member_steps_per_s"], row["speedup"],
                         row["wall_vs_one"])
                write_rows(rows, out, "rows")
    write_rows(rows, out, "rows")
    report(rows, out, args, time.perf_counter() - t_start)
    return 0


def report(rows: list[dict], out: Path, args, wall: float) -> None:
    info = machine()
    lines = [f"Command: `python experiments/gpu_throughput.py {' '.join(sys.argv[1:])}`", "",
             f"Machine: {info}; device {args.device}"
             + (f" ({torch.cuda.get_device_name(0)})" if args.device.startswith("cuda") else "") + f"; wall {wall:.0f} s",
             "", f"{args.pde}, MLP {args.depth}x{args.width} tanh, float32, forward engine; {args.steps} timed Adam steps "
             f"after 10 warm-up steps, fastest of {args.rounds}. K separate runs = K x one network's time.", "",
             "| points | mode | K | ms/step | member-steps/s | K separate: member-steps/s | speed-up | wall / one member "
             "| compile s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['points']} | {r['mode']} | {r['members']} | failed: {r['error']} | | | | | |")
            continue
        c = f"{r['compile_s']:.0f}" if r["compile_s"] is not None else "–"
        lines.append(f"| {r['points']} | {r['mode']} | {r['members']} | {1e3 * r['seconds_per_step']:.3g} | "
                     f"{r['member_steps_per_s']:.0f} | {r['separate_member_steps_per_s']:.0f} | {r['speedup']:.1f} | "
                     f"{r['wall_vs_one']:.2f} | {c} |")
    (out / "table.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
