"""The family benchmark (BENCHMARKS.md, "The family protocol"): many values of a shift family.

    python experiments/family.py --pde burgers --param a --seeds 5 --workers 2 --out experiments/out/family_burgers

Rows (one per strategy, seed and held-out value; pinndd.eval.family) are appended to
``rows.jsonl`` as they finish, so an interrupted run resumes where it stopped (``--resume``,
the default); the nominal PINN of each seed is kept in ``nominal_<seed>.npz`` (weights, no
pickle) with its cost, so later strategies reuse it. Writes ``table.md`` and ``pareto.png``.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: Jobs (one strategy, one seed, every held-out value) run strategy by strategy, each over all
#: seeds, in this order: a run stopped early leaves whole strategies over every seed.
ORDER = ("ft_dense", "ft_sobol", "kit:family_rad", "kit:family_bank", "kit:family_interp", "dense", "kit:family_exchange",
         "ft_rad", "sobol", "parametric", "ft_parametric", "rad")


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a kill: that cell runs again
            continue
    return rows


def _append(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def run_job(args_dict: dict) -> tuple[str, int]:
    import torch

    import equations
    from pinndd import protocols
    from pinndd.eval import family as family_eval
    from pinndd.family import FamilyTask

    torch.set_num_threads(1)
    a = argparse.Namespace(**args_dict)
    out = Path(a.out)
    problem = equations.get(a.pde)
    task = FamilyTask.default(problem, a.param)
    proto = protocols.get(a.protocol)
    run = family_eval.SeedRun(task, a.seed, proto.train, a.dense or proto.dense, a.budget,
                              json.loads(a.settings or "{}"), a.protocol)
    nominal = out / f"nominal_{a.seed}.npz"
    if nominal.exists():
        with np.load(nominal, allow_pickle=False) as f:
            state = {k: f[k] for k in f.files if k != "__seconds__"}
            seconds = float(f["__seconds__"])
        run.use_nominal(state, seconds)
    done = {(r["strategy"], r["seed"], r["value"]) for r in read_rows(out / "rows.jsonl")}
    for strategy in [a.strategy]:
        for value in task.held_out:
            if (strategy, a.seed, float(value)) in done:
                continue
            try:
                row = run.row(strategy, value)
            except Exception as e:  # one failing cell is logged, not fatal
                logging.exception("cell %s seed %d value %g failed", strategy, a.seed, value)
                _append(out / "failures.jsonl", {"strategy": strategy, "seed": a.seed, "value": value, "error": repr(e)})
                continue
            _append(out / "rows.jsonl", row)
            print(f"seed {a.seed} {strategy:>20} {task.param}={value:<6g} L2RE {row['l2re']:.4g} "
                  f"once {row['once_seconds']:.0f}s per value {row['value_seconds']:.1f}s", flush=True)
            if strategy.startswith(("ft_", "kit:")) and not nominal.exists():
                model, seconds = run.nominal()
                arrays = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
                tmp = nominal.with_suffix(".tmp.npz")
                np.savez(tmp, __seconds__=np.array(seconds), **arrays)
                os.replace(tmp, nominal)
    return a.strategy, a.seed


def run_calibration(args_dict: dict) -> dict:
    import torch

    import equations
    from pinndd import protocols
    from pinndd.eval import family as family_eval
    from pinndd.family import FamilyTask

    torch.set_num_threads(1)
    a = argparse.Namespace(**args_dict)
    task = FamilyTask.default(equations.get(a.pde), a.param)
    proto = protocols.get(a.protocol)
    run = family_eval.SeedRun(task, a.first_seed, proto.train, a.dense or proto.dense, a.budget,
                              json.loads(a.settings or "{}"), a.protocol)
    return family_eval.calibrate(run, a.part)


def merge_calibration(path: Path, found: dict) -> dict:
    """``found`` merged into the calibration already in ``path``. A partial calibration that timed
    ``dense`` again (always include it) is put in the old file's units: its seconds times old dense
    / new dense, so strategies timed under different load still compare in dense trainings; the
    old dense timing is kept and the rescaling recorded under ``_rescaled``."""
    old = json.loads(path.read_text()) if path.exists() else {}
    if not old or "dense" not in old:
        return found
    if "dense" not in found:
        raise SystemExit("a partial --calibrate must include the dense strategy (--strategies dense ...): its time is "
                         "the unit the new timings are converted with")
    scale = old["dense"]["value_seconds"] / found["dense"]["value_seconds"]
    merged = dict(old)
    for s, v in found.items():
        if s != "dense":
            merged[s] = {k: x * scale for k, x in v.items()}
    merged["_rescaled"] = {**old.get("_rescaled", {}), **{s: scale for s in found if s != "dense"}}
    return merged


def write_report(out: Path, title: str) -> None:
    from pinndd.eval.family import summarise

    rows = read_rows(out / "rows.jsonl")
    if not rows:
        return
    calib = out / "calibration.json"
    costs = json.loads(calib.read_text()) if calib.exists() else None
    lines = summarise(rows, costs=costs)
    values = sorted({r["value"] for r in rows})
    head = ["strategy", "seeds"] + [f"{v:g}" for v in values] + ["worst ×dense (in range)", "mean ×dense (in range)",
                                                                "×ft_dense", "one-off", "per value", "total K", "break-even K"]
    md = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for ln in lines:
        cells = [ln["strategy"], str(ln["seeds"])]
        cells += [f"{ln['l2re'][v]:.3g} ± {ln['l2re_std'][v]:.2g} [{ln['l2re_median'][v]:.3g}] ({ln['ratio_dense'][v]:.2f}×)"
                  for v in values]
        cells += [f"{ln['worst_in_range']:.2f}", f"{ln['mean_in_range']:.2f}", f"{ln['vs_ft_dense']:.2f}",
                  f"{ln['once_units']:.2f}", f"{ln['value_units']:.3f}", f"{ln['total_units']:.2f}",
                  f"{ln['breakeven_vs_ft_dense']:.1f}"]
        md.append("| " + " | ".join(cells) + " |")
    source = ("the calibration run (calibration.json: one cell per strategy on an otherwise idle machine)" if costs
              else "the rows' own wall times")
    md += ["", "Cells: L2RE mean ± std [median] over seeds (ratio of means to dense from scratch at that value). "
           "Costs in units of one dense "
           f"training from scratch, from {source}; total K = one-off + K × per value for the "
           f"K = {len(values)} held-out values; break-even K: values after which the strategy costs less in total "
           "than fine-tuning the nominal PINN on the dense set."]
    (out / "table.md").write_text("\n".join(md) + "\n")
    (out / "summary.json").write_text(json.dumps(lines, indent=1, default=float))
    plot_pareto(lines, out / "pareto.png", title)
    print("\n".join(md))


def plot_pareto(lines: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3), sharex=True)
    for ax, key, label in ((axes[0], "worst_in_range", "worst in-range error / dense from scratch"),
                           (axes[1], "mean_in_range", "mean in-range error / dense from scratch")):
        for ln in lines:
            marker = "*" if ln["strategy"].startswith("kit:") else "o"
            ax.scatter(ln["total_units"], ln[key], s=90 if marker == "*" else 40, marker=marker)
            ax.annotate(ln["strategy"], (ln["total_units"], ln[key]), fontsize=7, xytext=(4, 3), textcoords="offset points")
        ax.axhline(1.0, color="0.6", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):  # plain numbers, not 4 x 10^0
            axis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            axis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.set_xlabel("total cost for all held-out values (dense trainings)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pde", default="burgers")
    p.add_argument("--param", default=None, help="shift parameter (default: the problem's first family)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--budget", type=int, default=256)
    p.add_argument("--dense", type=int, default=None)
    p.add_argument("--protocol", default="quick")
    p.add_argument("--strategies", nargs="+", default=list(ORDER))
    p.add_argument("--settings", default=None, help='JSON: {"family_exchange": {"outer_steps": 8}}')
    p.add_argument("--workers", type=int, default=1, help="seed pipelines run in parallel (one torch thread each)")
    p.add_argument("--out", default=None)
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--calibrate", action="store_true",
                   help="time one cell per strategy (seed --first-seed) into calibration.json; run it on an idle machine")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    out = Path(a.out or f"experiments/out/family_{a.pde}")
    out.mkdir(parents=True, exist_ok=True)
    title = f"{a.pde}: family {a.param or '(first)'}, {a.budget} points, protocol {a.protocol}"
    if a.calibrate:
        ordered = [s for s in ORDER if s in a.strategies]
        parts = [ordered[i::max(1, a.workers)] for i in range(max(1, a.workers))]
        jobs = [dict(vars(a), part=part) for part in parts if part]
        with mp.get_context("spawn").Pool(len(jobs)) as pool:
            found = {k: v for d in pool.map(run_calibration, jobs) for k, v in d.items()}
        (out / "calibration.json").write_text(json.dumps(merge_calibration(out / "calibration.json", found), indent=1))
    elif not a.report_only:
        seeds = range(a.first_seed, a.first_seed + a.seeds)
        if any(s not in ORDER for s in a.strategies):
            p.error(f"unknown strategy; known: {ORDER}")
        # the nominal PINN of each seed first, so that jobs of one seed never train it twice
        ordered = [s for s in ORDER if s in a.strategies]
        first = [dict(vars(a), strategy=ordered[0], seed=s, out=str(out)) for s in seeds]
        rest = [dict(vars(a), strategy=st, seed=s, out=str(out)) for st in ordered[1:] for s in seeds]
        if a.workers > 1:
            with mp.get_context("spawn").Pool(a.workers) as pool:
                for batch in (first, rest):
                    for st, s in pool.imap(run_job, batch):
                        print(f"{st} seed {s} done", flush=True)
        else:
            for j in first + rest:
                run_job(j)
    write_report(out, title)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
