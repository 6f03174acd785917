"""How good can a dense teacher get for its cost? Protocol-length dense PINNs over seeds, their
ensemble mean, and longer or wider training of seed 0.

    python experiments/teacher_length.py --pde burgers heat poisson advection --out experiments/out/teacher_length

A labelled student is held to its teacher's error (experiments/RESULTS.md), so the teacher is
where a labelled set's accuracy comes from. Per PDE: the dense Sobol set of the protocol trained
with seeds ``0 .. seeds-1`` (``1x``), the running ensemble mean of those networks (``ens<k>``),
and seed 0 trained with 3x the Adam and L-BFGS steps (``3x``, the ``teacher_scale=3`` teacher),
3x the L-BFGS iterations only (``lbfgs3x``) and twice the width (``w64``). Each training is one
cell of :func:`pinndd.sweep.run_cells` (Ray tasks on this machine's cores by default;
``--serial``, ``--address``, ``--workers``, ``--resume``); the ensemble means are formed from the
cells' predictions afterwards. Writes rows.csv/json and table.md (L2RE on the reference grid and
wall seconds).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import add_engine_args, engine_protocol, machine, start, sweep, write_rows  # noqa: E402

import equations  # noqa: E402
from pinndd import TrainConfig, methods, train  # noqa: E402
from pinndd.engine.evaluation import errors, predict  # noqa: E402
from pinndd.sweep import cell_key  # noqa: E402


@functools.cache
def _grid(pde: str):
    problem = equations.get(pde)
    pts = problem.evaluation_points()
    return problem, pts, problem.reference(pts)


def run_cell(cell: dict, preds: Path) -> dict:
    """One dense training; its prediction on the reference grid goes to ``preds/<cell_key>.npy``
    (for the ensemble means; read without pickle)."""
    problem, pts, ref = _grid(cell["pde"])
    t0 = time.perf_counter()
    ps = methods.get("sobol").make(problem, cell["dense"], seed=cell["seed"])
    pred = predict(train(problem, ps, TrainConfig(**cell["config"])).model, pts)
    preds.mkdir(parents=True, exist_ok=True)
    tmp = preds / f".{cell_key(cell)}.{os.getpid()}.tmp.npy"
    with open(tmp, "wb") as f:
        np.save(f, pred)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, preds / f"{cell_key(cell)}.npy")
    return {"pde": cell["pde"], "variant": cell["variant"], "seed": cell["seed"], "l2re": errors(pred, ref)["l2re"],
            "seconds": time.perf_counter() - t0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pde", nargs="+", default=["burgers", "heat", "poisson", "advection"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--protocol", default="quick")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="experiments/out/teacher_length")
    add_engine_args(ap)
    args = ap.parse_args(argv)
    proto = engine_protocol(start(args), args)
    base = replace(proto.train, progress=False)
    variants = {"3x": replace(base, adam_steps=3 * base.adam_steps, lbfgs_steps=3 * base.lbfgs_steps),
                "lbfgs3x": replace(base, lbfgs_steps=3 * base.lbfgs_steps),
                "w64": replace(base, width=2 * base.width)}
    out = Path(args.out)
    cell = lambda pde, tag, config, seed: {"pde": pde, "variant": tag, "seed": seed, "dense": proto.dense,  # noqa: E731
                                           "config": replace(config, seed=seed).to_dict()}
    cells = [cell(pde, tag, config, seed) for pde in args.pde
             for tag, config, seed in [("1x", base, s) for s in range(args.seeds)] + [(t, c, 0) for t, c in variants.items()]]
    runs = sweep(cells, functools.partial(run_cell, preds=out / "preds"), args, out, stem="runs", desc="teacher length").rows
    rows = []
    for pde in args.pde:
        ref = _grid(pde)[2]
        preds = []
        for r in runs:
            if r["pde"] != pde:
                continue
            rows.append({k: v for k, v in r.items() if k != "cell_key"})
            if r["variant"] != "1x":
                continue
            preds.append(np.load(out / "preds" / f"{r['cell_key']}.npy", allow_pickle=False))
            if len(preds) > 1:
                rows.append({"pde": pde, "variant": f"ens{len(preds)}", "seed": -1,
                             "l2re": errors(np.mean(preds, axis=0), ref)["l2re"], "seconds": 0.0})
    write_rows(rows, out, "rows")
    lines = [f"Command: `python experiments/teacher_length.py {' '.join(sys.argv[1:])}`", "", f"Machine: {machine()}", "",
             "| pde | variant | seed | L2RE | seconds |", "|---|---|---|---|---|"]
    lines += [f"| {r['pde']} | {r['variant']} | {r['seed'] if r['seed'] >= 0 else 'mean of seeds'} | {r['l2re']:.3g} | "
              f"{r['seconds']:.0f} |" for r in rows]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
