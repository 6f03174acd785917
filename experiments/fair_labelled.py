"""Labelled sets at their full cost, beside their own teachers and dense training (the fair table).

    python experiments/fair_labelled.py --pde burgers heat poisson klein_gordon helmholtz --seeds 5 --out experiments/out/fair

Every seed is an independent pipeline: seed ``s`` makes the dense run (points and network seed
``s``), and the labelled set of ``--method`` (default ``label_exchange`` with its default 3x
teacher) whose teacher is trained with seed ``s`` too, so the spread includes teacher failures.
Rows per PDE and seed:

- ``dense``: the protocol's dense set (the registered ``dense`` method) at the protocol length;
- ``teacher``: the set's own teacher, read from the set's label record (its reference error and
  the cost of training it); with one candidate it *is* dense trained as long as the teacher
  (``teacher_scale`` times the protocol's steps), so it also fills that column;
- ``dense (teacher length, k runs)``: only for best-of-k teachers (``teacher_candidates`` > 1):
  one dense run as long as all k candidates together (the same selection budget);
- the set: a student trained on it at the protocol length; its cost is the set's record (teacher,
  distillation) plus the student's training.

Costs are in seconds and in dense trainings: the median time of this PDE's ``dense`` rows in the
same run (same code, settings and machine). Each part's wall time is also kept scaled by the share
of a core the process had while doing it (``cpu_*`` columns, :func:`cpu_share`), which the table
uses, so cells run under different load compare. Writes ``rows.csv``/``rows.json`` and
``table.md`` (mean ± std (median) over seeds, cost in dense trainings, ratios to the teacher and
to dense) and ``fair_cost.png`` (error against full cost, one panel per PDE: every seed and the
mean of each row).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    add_engine_args,
    engine_protocol,
    machine,
    method_settings,
    parse_variant,
    start,
    sweep,
    write_rows,
)

import equations  # noqa: E402
from pinndd import TrainConfig, evaluate, methods, train  # noqa: E402
from pinndd.cost import PARTS, Cost  # noqa: E402

log = logging.getLogger("fair_labelled")


def _row(pde: str, seed: int, name: str, l2re: float, cost: Cost, cpu: Cost, **extra) -> dict:
    return {"pde": pde, "seed": seed, "row": name, "l2re": float(l2re), **{f"{p}_seconds": getattr(cost, p) for p in PARTS},
            "total_seconds": cost.total, **{f"cpu_{p}_seconds": getattr(cpu, p) for p in PARTS},
            "cpu_total_seconds": cpu.total, **extra}


def cpu_share(fn, *args, **kwargs):
    """``fn(...)`` and the share of one core this process had meanwhile (CPU seconds / wall
    seconds; 1 on an idle machine with one torch thread). Wall-time cost parts times this share
    are what the work would take alone: the cost columns stay comparable across cells run under
    different load (this sweep runs beside other jobs on two cores)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, min(1.0, (time.process_time() - c0) / max(time.perf_counter() - w0, 1e-9))


def run_cell(cell: dict) -> list[dict]:
    """One pipeline step for one PDE and seed: the dense run, or the set with its teacher and student."""
    problem = equations.get(cell["pde"])
    seed, config = cell["seed"], TrainConfig(**cell["config"])
    if cell["kind"] in ("dense", "dense_long"):
        name, cfg = "dense", config
        if cell["kind"] == "dense_long":  # one dense run as long as the k candidates of a best-of-k teacher
            k, scale = cell["candidates"], cell["scale"]
            name = f"dense (teacher length, {k} runs)"
            cfg = replace(config, adam_steps=round(config.adam_steps * scale * k),
                          lbfgs_steps=round(config.lbfgs_steps * scale * k))
        ps = methods.get("dense").make(problem, cell["dense"], seed=seed)
        res, share = cpu_share(train, problem, ps, cfg)
        cost = Cost.of(ps.metadata).with_training(res.wall_time)
        return [_row(problem.name, seed, name, evaluate(problem, res.model)["l2re"], cost, cost.scaled(share),
                     n_points=len(ps))]
    ps, make_share = cpu_share(methods.get(cell["method"], **cell["settings"]).make, problem, cell["budget"], seed=seed)
    res, train_share = cpu_share(train, problem, ps, config)
    made = Cost.of(ps.metadata)
    cost, cpu = made.with_training(res.wall_time), made.scaled(make_share).with_training(res.wall_time * train_share)
    teacher = ps.labels.teacher
    rows = [_row(problem.name, seed, cell["label"], evaluate(problem, res.model)["l2re"], cost, cpu,
                 n_points=len(ps), teacher_l2re=teacher.diagnostics.get("l2re", float("nan")))]
    k = int(teacher.settings.get("candidates", 1))
    t = Cost(teacher=teacher.cost_seconds)
    rows.append(_row(problem.name, seed, "teacher" if k == 1 else f"teacher (best of {k})",
                     teacher.diagnostics.get("l2re", float("nan")), t, t.scaled(make_share),
                     n_points=int(teacher.settings.get("dense", 0)), adam_steps=teacher.settings["config"]["adam_steps"]))
    return rows


def cells_for(args, proto) -> list[dict]:
    label, (method, settings) = parse_variant(args.method)
    settings = {**method_settings(method, proto), **settings}
    m = methods.get(method, **settings)
    cells = []
    for pde in args.pde:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            base = {"pde": pde, "seed": seed, "dense": proto.dense, "config": replace(proto.train, seed=seed).to_dict()}
            cells.append({**base, "kind": "dense"})
            cells.append({**base, "kind": "set", "label": label, "method": method, "settings": settings,
                          "budget": args.budget})
            if m.teacher_candidates > 1:
                cells.append({**base, "kind": "dense_long", "candidates": m.teacher_candidates, "scale": m.teacher_scale})
    return cells


def _stat(v: list[float]) -> str:
    a = np.asarray(v, dtype=float)
    return f"{a.mean():.3g} ± {a.std(ddof=1) if len(a) > 1 else 0.0:.2g} ({np.median(a):.3g})"


def table(rows: list[dict], header: list[str]) -> str:
    """The fair table: per PDE and row, L2RE mean ± std (median) over seeds, its total cost in dense
    trainings (mean; CPU-share-corrected seconds where rows have them, :func:`cpu_share`) split
    into parts, and the ratios of means to the teacher's and to dense."""
    lines = header + ["| PDE | row | seeds | L2RE mean ± std (median) | cost, dense trainings (teacher + distillation + "
                      "training) | / teacher | / dense |", "|---|---|---|---|---|---|---|"]
    for pde in dict.fromkeys(r["pde"] for r in rows):
        mine = _units([r for r in rows if r["pde"] == pde])
        dense = [r for r in mine if r["row"] == "dense"]
        unit = float(np.median([r["total_seconds"] for r in dense])) if dense else float("nan")
        mean = {name: float(np.mean([r["l2re"] for r in mine if r["row"] == name])) for name in {r["row"] for r in mine}}
        teacher = next((v for k, v in mean.items() if k.startswith("teacher")), float("nan"))
        for name in sorted(mean, key=lambda n: (n != "dense", not n.startswith("dense"), not n.startswith("teacher"), n)):
            rs = [r for r in mine if r["row"] == name]
            c = {p: float(np.mean([r[f"{p}_seconds"] for r in rs])) / unit for p in ("teacher", "distillation", "training")}
            total = float(np.mean([r["total_seconds"] for r in rs])) / unit
            lines.append(f"| {pde} | {name} | {len(rs)} | {_stat([r['l2re'] for r in rs])} | {total:.2f} "
                         f"({c['teacher']:.2f} + {c['distillation']:.2f} + {c['training']:.2f}) | "
                         f"{mean[name] / teacher:.2f} | {mean[name] / mean['dense']:.2f} |" if dense else "")
        lines.append(f"| {pde} | (one dense training = {unit:.1f} s, median of its dense rows) | | | | | |")
    return "\n".join(lines) + "\n"


def _units(rows: list[dict]) -> list[dict]:
    """Rows of one PDE with the CPU-share-corrected parts in place of wall time and the total in
    dense trainings (``units``: the median total of the PDE's dense rows)."""
    mine = [{**r, **{k[4:]: v for k, v in r.items() if k.startswith("cpu_")}} for r in rows]
    dense = [r["total_seconds"] for r in mine if r["row"] == "dense"]
    unit = float(np.median(dense)) if dense else float("nan")
    return [{**r, "units": r["total_seconds"] / unit} for r in mine]


def figure(rows: list[dict], path: Path) -> None:
    """Error against the full cost of getting the model, one panel per PDE: every seed (small)
    and the mean over seeds (large, labelled) of each row; log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    pdes = list(dict.fromkeys(r["pde"] for r in rows))
    fig, axes = plt.subplots(1, len(pdes), figsize=(3.4 * len(pdes) + 0.6, 3.6), squeeze=False)
    for ax, pde in zip(axes[0], pdes, strict=True):
        mine = _units([r for r in rows if r["pde"] == pde])
        for i, name in enumerate(dict.fromkeys(r["row"] for r in mine)):
            rs = [r for r in mine if r["row"] == name]
            x, y = np.array([r["units"] for r in rs]), np.array([r["l2re"] for r in rs])
            color = f"C{i}"
            ax.scatter(x, y, s=14, color=color, alpha=0.5)
            ax.scatter(x.mean(), y.mean(), s=80, color=color, edgecolor="k", label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.set_title(pde, fontsize=10)
        ax.set_xlabel("full cost (dense trainings)")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("L2RE (reference grid)")
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.suptitle("Labelled sets beside their own teachers and dense training: error against full cost "
                 "(small: seeds, large: mean)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pde", nargs="+", default=["burgers"])
    ap.add_argument("--method", default="label_exchange=label_exchange",
                    help="LABEL=METHOD[:key=value,...] (a labelling method; default label_exchange, 3x teacher)")
    ap.add_argument("--budget", type=int, default=256)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--protocol", default="quick")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="experiments/out/fair")
    ap.add_argument("--report", nargs="+", default=None, metavar="DIR",
                    help="only write OUT/table.md from the rows.json of these folders (runs split over processes)")
    add_engine_args(ap)
    args = ap.parse_args(argv)
    proto = engine_protocol(start(args), args)
    t0 = time.perf_counter()
    if args.report:
        rows = [r for d in args.report for r in json.loads((Path(d) / "rows.json").read_text())]
        write_rows(rows, Path(args.out), "rows")
    else:
        rows = sweep(cells_for(args, proto), run_cell, args, Path(args.out), desc="fair table").rows
    header = [f"Command: `python experiments/fair_labelled.py {' '.join(sys.argv[1:])}`", "",
              f"Machine: {machine()}; wall {time.perf_counter() - t0:.0f} s; protocol {proto.name}, "
              f"budget {args.budget}; seeds are independent pipelines (the seed drives the teacher).", ""]
    (Path(args.out) / "table.md").write_text(table(rows, header))
    figure(rows, Path(args.out) / "fair_cost.png")
    print(table(rows, []))
    return 0


if __name__ == "__main__":
    sys.exit(main())
