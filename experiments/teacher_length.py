"""How good can a dense teacher get for its cost? Protocol-length dense PINNs over seeds, their
ensemble mean, and longer or wider training of seed 0.

    python experiments/teacher_length.py --pde burgers heat poisson advection --out experiments/out/teacher_length

A labelled student is held to its teacher's error (experiments/RESULTS.md), so the teacher is
where a labelled set's accuracy comes from. Per PDE: the dense Sobol set of the protocol trained
with seeds ``0 .. seeds-1`` (``1x``), the running ensemble mean of those networks (``ens<k>``),
and seed 0 trained with 3x the Adam and L-BFGS steps (``3x``, the ``teacher_scale=3`` teacher),
3x the L-BFGS iterations only (``lbfgs3x``) and twice the width (``w64``). Writes rows.csv/json
and table.md (L2RE on the reference grid and wall seconds).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, start, write_rows  # noqa: E402

import equations  # noqa: E402
from pinndd import methods, train  # noqa: E402
from pinndd.evaluation import errors, predict  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pde", nargs="+", default=["burgers", "heat", "poisson", "advection"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--protocol", default="quick")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="experiments/out/teacher_length")
    args = ap.parse_args(argv)
    proto = start(args)
    base = replace(proto.train, progress=False)
    variants = {"3x": replace(base, adam_steps=3 * base.adam_steps, lbfgs_steps=3 * base.lbfgs_steps),
                "lbfgs3x": replace(base, lbfgs_steps=3 * base.lbfgs_steps),
                "w64": replace(base, width=2 * base.width)}
    out, rows = Path(args.out), []
    for pde in args.pde:
        problem = equations.get(pde)
        pts = problem.evaluation_points()
        ref = problem.reference(pts)

        def run(tag, config, seed, problem=problem, pde=pde, pts=pts, ref=ref):
            t0 = time.perf_counter()
            ps = methods.get("sobol").make(problem, proto.dense, seed=seed)
            pred = predict(train(problem, ps, replace(config, seed=seed)).model, pts)
            rows.append({"pde": pde, "variant": tag, "seed": seed, "l2re": errors(pred, ref)["l2re"],
                         "seconds": time.perf_counter() - t0})
            write_rows(rows, out, "rows")
            return pred

        preds = []
        for seed in range(args.seeds):
            preds.append(run("1x", base, seed))
            if seed:
                rows.append({"pde": pde, "variant": f"ens{seed + 1}", "seed": -1,
                             "l2re": errors(np.mean(preds, axis=0), ref)["l2re"], "seconds": 0.0})
        for tag, config in variants.items():
            run(tag, config, 0)
    write_rows(rows, out, "rows")
    lines = [f"Command: `python experiments/teacher_length.py {' '.join(sys.argv[1:])}`", "", f"Machine: {machine()}", "",
             "| pde | variant | seed | L2RE | seconds |", "|---|---|---|---|---|"]
    lines += [f"| {r['pde']} | {r['variant']} | {r['seed'] if r['seed'] >= 0 else 'mean of seeds'} | {r['l2re']:.3g} | "
              f"{r['seconds']:.0f} |" for r in rows]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
