"""Budget sweep: methods x budgets x seeds x PDEs against dense and early-stopped dense training.

    python experiments/budget_sweep.py --pde burgers --protocol quick --out experiments/out/sweep

For each PDE: one dense run per seed (``protocol.dense`` Sobol points), an *early-stopped*
dense run per budget and seed (the dense set trained for the same number of point-steps as a
``budget``-point run: ``steps * budget / dense`` Adam steps, no L-BFGS), then every method at
every budget and seed (the seed drives both the point set and the network). Every run is one
cell of :func:`pinndd.sweep.run_cells` (Ray tasks on this machine's cores by default;
``--serial``, ``--address``, ``--workers``; ``--resume`` skips cells already in the table, matched
by all their settings). Writes a tidy
``rows.csv``/``rows.json`` (pde, method, family, budget, seed, l2re, l1re, max_abs,
residual_mse, the cost record's warmup/teacher/distillation/training/total seconds, n_points),
``table.md`` (mean ± std and median of L2RE; the mean total cost of each method at each budget in
dense trainings, the median of the sweep's dense rows) and ``budget_<pde>.png`` (error against
budget). Labelled rows carry their teacher's own error (``teacher_l2re``); the fair comparison of
labelled sets with their teachers is experiments/fair_labelled.py.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    add_engine_args,
    engine_protocol,
    fmt,
    machine,
    method_settings,
    parse_variant,
    start,
    summarise,
    sweep,
    write_rows,
)

import equations  # noqa: E402
from pinndd import TrainConfig, evaluate, methods, residual_mse, train  # noqa: E402
from pinndd.cost import PARTS, Cost  # noqa: E402
from pinndd.plotting import plot_error_curves  # noqa: E402

log = logging.getLogger("budget_sweep")


def run_one(problem, method: str, budget: int, seed: int, config, held_out, label: str | None = None, **settings) -> dict:
    ps = methods.get(method, **settings).make(problem, budget, seed=seed)
    res = train(problem, ps, replace(config, seed=seed))
    m = evaluate(problem, res.model)
    cost = Cost.of(ps.metadata).with_training(res.wall_time)  # the typed record: cached teachers charged in full
    teacher = ps.labels.teacher if ps.labelled and ps.labels.teacher is not None else None
    return {"pde": problem.name, "method": label or method, "family": ps.metadata.get("family", ""), "budget": budget,
            "seed": seed, **m, "residual_mse": residual_mse(problem, res.model, held_out),
            **{f"{p}_seconds": getattr(cost, p) for p in PARTS}, "total_seconds": cost.total,
            "train_seconds": res.wall_time, "n_points": len(ps), "adam_steps": config.adam_steps,
            "lbfgs_steps": config.lbfgs_steps,
            "teacher_l2re": teacher.diagnostics.get("l2re", float("nan")) if teacher else float("nan")}


@functools.cache
def held_out_for(pde: str):
    return methods.interior_points(equations.get(pde), "uniform", 4096, seed=99_999)


def run_cell(cell: dict) -> dict:
    """One sweep cell: ``run_one`` for the cell's PDE, method, budget, seed and settings."""
    problem = equations.get(cell["pde"])
    r = run_one(problem, cell["method"], cell["budget"], cell["seed"], TrainConfig(**cell["config"]),
                held_out_for(cell["pde"]), label=cell["label"], **cell["settings"])
    log.info("%s %s %d seed %d: %.4f", cell["pde"], cell["label"], cell["row_budget"], cell["seed"], r["l2re"])
    return {**r, "budget": cell["row_budget"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pde", nargs="+", default=["burgers"])
    ap.add_argument("--methods", nargs="+", default=None, help="default: every registered method")
    ap.add_argument("--budgets", nargs="+", type=int, default=None)
    ap.add_argument("--seeds", type=int, default=None, help="seeds at every budget (default: protocol's)")
    ap.add_argument("--protocol", default="quick")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL=METHOD[:key=value,...]",
                    help="an extra row label for a method with settings, e.g. label_outcome_sobol=label_outcome:init=sobol")
    ap.add_argument("--no-dense", action="store_true")
    ap.add_argument("--dense-seeds", type=int, default=None, help="seeds of the dense runs (default: the most seeds used)")
    ap.add_argument("--out", default="experiments/out/sweep")
    add_engine_args(ap)
    args = ap.parse_args(argv)
    proto = engine_protocol(start(args), args)
    budgets = args.budgets or list(proto.budgets)
    variants = dict(parse_variant(v) for v in args.variant)
    names = args.methods if args.methods is not None else ([] if variants else methods.names())
    out = Path(args.out)
    cells: list[dict] = []

    def add(pde, method, budget, seed, config, label=None, row_budget=None, **settings):
        cells.append({"pde": pde, "method": method, "label": label or method, "budget": budget,
                      "row_budget": row_budget or budget, "seed": seed, "config": replace(config, seed=seed).to_dict(),
                      "settings": settings})

    for pde in args.pde:
        n_seeds = lambda b: args.seeds or proto.seeds(b)  # noqa: E731
        if not args.no_dense:
            for seed in range(args.dense_seeds or max(n_seeds(b) for b in budgets)):
                add(pde, "dense", proto.dense, seed, proto.train, label="dense")
            for b in budgets:
                steps = max(100, round(proto.train.adam_steps * b / proto.dense))
                es = replace(proto.train, adam_steps=steps, lbfgs_steps=0)
                for seed in range(n_seeds(b)):
                    add(pde, "dense", proto.dense, seed, es, label="dense_early_stop", row_budget=b)
        for method in names:
            for b in budgets:
                for seed in range(n_seeds(b)):
                    add(pde, method, b, seed, proto.train, **method_settings(method, proto))
        for label, (method, settings) in variants.items():
            for b in budgets:
                for seed in range(n_seeds(b)):
                    add(pde, method, b, seed, proto.train, label=label, **{**method_settings(method, proto), **settings})
    rows = sweep(cells, run_cell, args, out, desc="budget sweep").rows
    write_rows(rows, out, "rows")
    report(rows, out, proto, args, budgets)
    return 0


def report(rows, out: Path, proto, args, budgets) -> None:
    stats = summarise(rows, ("pde", "method", "budget"))
    budgets = sorted({r["budget"] for r in rows if r["method"] != "dense"} | set(budgets))
    lines = [f"Command (last): `python experiments/budget_sweep.py {' '.join(sys.argv[1:])}`", "",
             f"Machine: {machine()}", "", f"Protocol {proto.name}: {proto.train.to_dict()}; dense = {proto.dense} Sobol points.",
             "L2RE mean ± std (median, seeds) on the reference grid; `dense` is trained on the dense set (its column is "
             "the same at every budget); `dense_early_stop` is the dense set trained for the same point-steps as the "
             "budget's runs. `cost` = mean total cost (making the set with its teachers and warm-ups, and training) "
             "in dense trainings (the median wall time of the sweep's dense rows).", ""]
    for pde in dict.fromkeys(r["pde"] for r in rows):
        lines += [f"### {pde}", "", "| method | " + " | ".join(str(b) for b in budgets) + " |",
                  "|---|" + "---|" * len(budgets)]
        dense = [s for (p, m, b), s in stats.items() if p == pde and m == "dense"]
        if dense:
            lines.append("| dense | " + " | ".join(fmt(dense[0]) for _ in budgets) + " |")
        curves = {}
        unit = np.median([r["total_seconds"] for r in rows if r["pde"] == pde and r["method"] == "dense"
                          and "total_seconds" in r] or [np.nan])

        def cost(method, b, pde=pde, unit=unit):  # mean total cost (set, teachers, warm-up, training) in dense trainings
            tot = [r["total_seconds"] for r in rows if (r["pde"], r["method"], r["budget"]) == (pde, method, b)
                   and "total_seconds" in r]
            return f"; cost {np.mean(tot) / unit:.2f}" if tot and np.isfinite(unit) else ""

        for method in dict.fromkeys(r["method"] for r in rows if r["pde"] == pde and r["method"] != "dense"):
            cells = [fmt(stats[(pde, method, b)]) + cost(method, b) if (pde, method, b) in stats else "–" for b in budgets]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
            xs = [b for b in budgets if (pde, method, b) in stats]
            curves[method] = (xs, [[r["l2re"] for r in rows if r["pde"] == pde and r["method"] == method and r["budget"] == b]
                                   for b in xs])
        lines.append("")
        refs = {"dense": dense[0]["mean"]} if dense else {}
        plot_error_curves(curves, "interior points", out / f"budget_{pde}.png", title=f"{pde}: error against budget",
                          reference_lines=refs)
    (out / "table.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
