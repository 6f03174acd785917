"""pinndd against a stock DeepXDE model on the same point sets, the same loss and the same initial
network (:func:`pinndd.interop.deepxde.cross_check`).

    python experiments/deepxde_cross_check.py --pde burgers --methods sobol --budget 256 --seeds 0 1 2

Writes ``cross_check.csv``/``.json`` (pde, method, budget, seed, both errors and wall times, their
ratio) under ``--out`` and prints one line per run.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, start, write_rows  # noqa: E402

from pinndd import methods  # noqa: E402
from pinndd.interop.deepxde import cross_check  # noqa: E402
from pinndd.methods.base import method_settings  # noqa: E402
from pinndd.specs import resolve_problem  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pde", default="burgers", help="registered name or path/to/file.py:attr")
    ap.add_argument("--methods", nargs="+", default=["sobol"])
    ap.add_argument("--budget", type=int, default=256)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--protocol", default="quick")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="experiments/out/deepxde_cross_check")
    args = ap.parse_args(argv)
    proto = start(args)
    problem = resolve_problem(args.pde)
    rows = []
    for method in args.methods:
        for seed in args.seeds:
            ps = methods.get(method, **method_settings(method, proto)).make(problem, args.budget, seed=seed)
            out = cross_check(problem, ps, replace(proto.train, seed=seed))
            a, b = out["pinndd"], out["deepxde"]
            rows.append({"pde": problem.name, "method": method, "budget": args.budget, "seed": seed,
                         "pinndd_l2re": a["l2re"], "deepxde_l2re": b["l2re"], "ratio": out["l2re_ratio"],
                         "pinndd_seconds": a["seconds"], "deepxde_seconds": b["seconds"], "threads": args.threads})
            print(f"{problem.name} {method} {args.budget} seed {seed}: pinndd {a['l2re']:.4f} ({a['seconds']:.0f} s)  "
                  f"DeepXDE {b['l2re']:.4f} ({b['seconds']:.0f} s)  ratio {out['l2re_ratio']:.3f}", flush=True)
    write_rows(rows, Path(args.out), "cross_check")
    (Path(args.out) / "machine.txt").write_text(str(machine()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
