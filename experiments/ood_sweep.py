"""Out-of-distribution sweep: point sets made at the nominal conditions, retrained at shifted ones.

    python experiments/ood_sweep.py --pde burgers heat poisson --protocol quick --out experiments/out/ood

For each PDE and shift family (default: the first declared family that moves a boundary or
initial condition: burgers ``a``, heat ``TL``, poisson ``a``), every method makes one point set
of ``--budget`` interior points per set seed at the *nominal* parameters; at each shift value
(``family.values(n_in, n_out)``: in-distribution values and out-of-distribution ones on each
side, plus the nominal value where those miss it) fresh PINNs are trained on that set for the
shifted problem, one per network seed (all at once, :func:`pinndd.engine.ensemble.train_ensemble`),
and evaluated against the shifted reference
(:func:`pinndd.eval.ood.retrain_ood`). The dense baseline (``protocol.dense`` Sobol points) goes
through the same loop. Labelled sets get their labels at shifted values from a named label
source (``--labels``, :mod:`pinndd.eval.ood`), whose cost is charged to the values it serves:

- ``none`` (default; old name ``drop``): labels dropped, nothing charged;
- ``once`` (old name ``parametric``): one parametric PINN teacher over the in-distribution range
  (extrapolated outside it), trained once per PDE and family; its cost is spread over the values
  a set is scored at (cost / number of values, charged to every value);
- ``per_shift`` (old name ``relabel``): a new dense teacher of the set's own kind at every value,
  each charged in full to its value. A diagnostic (it needs a dense training or more per value),
  marked as such in the table, never a headline;
- ``reference``: the shifted reference as labels (an oracle; charged 0, a diagnostic).

Methods that are told the shift family (``task_aware``, ``task_exchange``: any method with a
``made_on(problem)``) record the values they were made on; they are scored only at the family's
held-out values (:meth:`pinndd.problem.ShiftFamily.held_out_values`), which become the default
values of the whole sweep (dense included, so ratios compare like with like) when such a method
is in it. ``--values`` names values explicitly; ``--allow-made-on`` scores made-on values too,
marked † in the table and left out of every ratio.

Each (PDE, family, method, set seed) is one cell of :func:`pinndd.sweep.run_cells` (Ray tasks on
this machine's cores by default; ``--serial``, ``--address``, ``--workers``; ``--resume`` skips
cells already in the table, matched by all their settings). Writes ``rows.csv``/``rows.json``
(one row per PDE, family, method, set seed, shift value and network seed), ``table.md`` (mean ±
std L2RE per shift value with the ratio to dense, the OOD/ID ratio, the worst ratio to dense and
the label cost per value, in seconds and in dense trainings at that value, per method) and
``ood_<pde>_<param>.png`` (error against shift, median and min-max over seeds, the
in-distribution range shaded).
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
import time
from collections import defaultdict
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    add_engine_args,
    default_budget,
    engine_protocol,
    machine,
    method_settings,
    parse_variant,
    start,
    sweep,
    write_rows,
)

import equations  # noqa: E402
from pinndd import TrainConfig, methods  # noqa: E402
from pinndd.cost import PARTS, Cost  # noqa: E402
from pinndd.errors import PinnddError  # noqa: E402
from pinndd.eval import ood  # noqa: E402
from pinndd.parametric import train_parametric  # noqa: E402
from pinndd.plotting import plot_error_curves  # noqa: E402

log = logging.getLogger("ood_sweep")

DEFAULT_METHODS = ("dense", "sobol", "rad", "kmeans_coreset", "teacher_labels", "teacher_density")
#: ``--labels`` choices: the label sources of :mod:`pinndd.eval.ood`, and the old names they replace.
LABELS = ("none", "once", "per_shift", "reference")
OLD_LABELS = {"drop": "none", "relabel": "per_shift", "parametric": "once"}
DEFAULT_PDES = ("burgers", "heat", "poisson")


def families_for(problem, spec: list[str] | None) -> list[str]:
    """``None``: the first family that moves a condition (else the first family); ``["all"]``:
    every family; ``["conditions"]``: every family that moves a condition; else the names given."""
    declared = [s.param for s in problem.shifts]
    if not declared:
        raise PinnddError(f"{problem.name!r} declares no shift families")
    moving = [p for p in declared if ood.shifts_conditions(problem, p)]
    if not spec:
        return moving[:1] or declared[:1]
    if spec == ["all"]:
        return declared
    if spec == ["conditions"]:
        return moving
    return [p for p in spec if p in declared]


@functools.cache
def held_out_for(pde: str):
    return ood.held_out_points(equations.get(pde))


def made_on_values(problem, method: str, settings: dict, param: str) -> list[float] | None:
    """The values of ``param`` a set of ``method`` (with ``settings``) is made on, where the
    method says (``made_on(problem)``); ``None`` for a method that is not told the family."""
    if method == "dense":
        return None
    m = methods.get(method, **settings)
    made = m.made_on(problem) if callable(getattr(m, "made_on", None)) else None
    if made is None or made.get("param") != param:
        return None
    if made.get("range"):
        lo, hi = made["range"]
        raise PinnddError(f"{method} draws {param} from the whole range [{lo:g}, {hi:g}]: no value in it is held "
                          "out; use its train_on='grid'")
    return [float(v) for v in made["values"]]


def evaluation_values(problem, fam, made: list[list[float]], n_in: int, n_out: int,
                      explicit: list[float] | None, allow_made_on: bool) -> list[tuple[float, bool]]:
    """``(value, in_distribution)`` pairs of one family: ``explicit`` when given; else, with any
    task-aware method in the sweep (``made``: their made-on values), the family's held-out values
    less any a method was made on; else ``family.values(n_in, n_out)`` plus the nominal value."""
    nominal = problem.params[fam.param]
    if explicit:
        pairs = ood.shift_values(fam, explicit)
    elif made:
        taken = {round(v, 12) for vals in made for v in vals}
        pairs = ood.shift_values(fam, [v for v in fam.held_out_values(nominal=nominal) if round(v, 12) not in taken])
    else:
        return ood.shift_values(fam, n_in=n_in, n_out=n_out, nominal=nominal)
    clash = sorted({v for v, _ in pairs for vals in made for m in vals if abs(v - m) <= 1e-12})
    if clash and not allow_made_on:
        raise PinnddError(f"{problem.name} {fam.param}: values {clash} are values a task-aware method was made on; "
                          "drop them from --values or pass --allow-made-on (rows marked, left out of ratios)")
    return pairs


def teacher_key(pde: str, param: str, set_seed: int) -> str:
    """The key of one pipeline's ``once`` teacher: each set seed trains its own family teacher."""
    return f"{pde}/{param}/{set_seed}"


def network_seeds(set_seed: int, n: int) -> list[int]:
    """The ``n`` network seeds of set seed ``set_seed``: disjoint across set seeds, so every set
    seed is an independent pipeline (its points, its teacher and its networks)."""
    return list(range(set_seed * n, set_seed * n + n))


def is_labelled(method: str, settings: dict) -> bool:
    return method != "dense" and methods.get(method, **settings).capabilities.labelled


def run_cell(cell: dict, teachers: dict | None = None) -> list[dict]:
    """One cell: the method's set for one PDE, family and set seed, retrained at every shift
    value with every network seed (``teachers``: the ``once`` label sources by :func:`teacher_key`)."""
    problem = equations.get(cell["pde"])
    param, name, method, set_seed = cell["param"], cell["label"], cell["method"], cell["set_seed"]
    fam = problem.shift(param)
    values = [tuple(v) for v in cell["values"]]
    kind = OLD_LABELS.get(cell["labels"], cell["labels"])
    labels = ood.once(teachers[teacher_key(cell["pde"], param, set_seed)]) if kind == "once" else kind
    if method == "dense":
        ps = methods.get("dense").make(problem, cell["dense"], seed=set_seed)
    else:  # a method that fails is reported (failures.csv), not fatal: the engine keeps the cell out
        ps = methods.get(method, **cell["settings"]).make(problem, cell["budget"], seed=set_seed)
    made = Cost.of(ps.metadata)  # one-off: the set (its teachers, warm-up, distillation) made at the nominal values
    config = TrainConfig(**cell["config"])
    new = ood.retrain_ood(problem, ps, fam, values, config, cell["seeds"], labels, held_out=held_out_for(cell["pde"]),
                          method=name, allow_made_on=cell.get("allow_made_on", False))
    for r in new:
        r.update(**{f"set_{p}_seconds": getattr(made, p) for p in PARTS}, set_total_seconds=made.total,
                 family=ps.metadata.get("family", ""),
                 adam_steps=config.adam_steps, lbfgs_steps=config.lbfgs_steps)
    means = {v: np.mean([r["l2re"] for r in new if r["value"] == v]) for v, _ in values}
    log.info("%s %s %s set %d: %s", cell["pde"], param, name, set_seed, " ".join(f"{v:g}:{e:.3g}" for v, e in means.items()))
    return new


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pde", nargs="+", default=list(DEFAULT_PDES))
    ap.add_argument("--methods", nargs="+", default=None,
                    help=f"methods ('dense' = the protocol's dense Sobol set); default: those of {DEFAULT_METHODS} registered")
    ap.add_argument("--families", nargs="+", default=None,
                    help="shift parameters; 'all', 'conditions', or names (default: the first that moves a condition)")
    ap.add_argument("--budget", type=int, default=None, help="interior points (default 256, or the protocol's largest budget)")
    ap.add_argument("--seeds", type=int, default=3, help="network seeds per point set")
    ap.add_argument("--set-seeds", type=int, default=1, help="point sets per method (each retrained with every network seed)")
    ap.add_argument("--n-in", type=int, default=3, help="in-distribution shift values")
    ap.add_argument("--n-out", type=int, default=2, help="out-of-distribution shift values on each side")
    ap.add_argument("--labels", nargs="+", default=["none"], choices=[*LABELS, *OLD_LABELS],
                    help="label source(s) for labelled sets at shifted values: none | once (one parametric teacher "
                         "per set seed, its cost spread over the values) | per_shift (a dense teacher per value, a "
                         "diagnostic) | reference (oracle); old names drop, parametric, relabel accepted. With "
                         "several, each labelled set is scored under each (rows 'method [source]'); unlabelled "
                         "sets and dense once")
    ap.add_argument("--values", type=float, nargs="+", default=None,
                    help="shift values (default: the family's held-out values when a task-aware method is swept, "
                         "else --n-in/--n-out values and the nominal one)")
    ap.add_argument("--allow-made-on", action="store_true",
                    help="score task-aware sets also at values they were made on (marked, left out of ratios)")
    ap.add_argument("--protocol", default="quick")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL=METHOD[:key=value,...]",
                    help="an extra row label for a method with settings, e.g. "
                         "'label_exchange (teacher 3x)=label_exchange:teacher_scale=3'")
    ap.add_argument("--out", default="experiments/out/ood")
    add_engine_args(ap)
    args = ap.parse_args(argv)
    args.labels = list(dict.fromkeys(OLD_LABELS.get(s, s) for s in args.labels))
    proto = engine_protocol(start(args), args)
    budget = default_budget(proto, args.budget)
    registered = set(methods.names())
    variants = dict(parse_variant(v) for v in args.variant)
    names = args.methods if args.methods is not None else (
        [] if variants else [m for m in DEFAULT_METHODS if m == "dense" or m in registered])
    unknown = [m for m in names if m != "dense" and m not in registered]
    if unknown:
        raise PinnddError(f"unknown methods {unknown}; registered: {sorted(registered)} (and 'dense')")
    runs = {name: (name, {}) for name in names} | variants  # row label -> (method, its own settings)
    out = Path(args.out)
    teachers: list[dict] = []
    parametric: dict[str, object] = {}
    cells: list[dict] = []
    t_start = time.perf_counter()
    for pde in args.pde:
        problem = equations.get(pde)
        for param in families_for(problem, args.families):
            fam = problem.shift(param)
            made = [m for m in (made_on_values(problem, method, {} if method == "dense" else
                                               {**method_settings(method, proto), **settings}, param)
                                for method, settings in runs.values()) if m is not None]
            values = evaluation_values(problem, fam, made, args.n_in, args.n_out, args.values, args.allow_made_on)
            any_labelled = False
            for name, (method, settings) in runs.items():
                kw = {} if method == "dense" else {**method_settings(method, proto), **settings}
                labelled = is_labelled(method, kw)
                any_labelled |= labelled
                for source in args.labels if labelled else ["none"]:
                    label = f"{name} [{source}]" if labelled and len(args.labels) > 1 else name
                    for set_seed in range(args.set_seeds):
                        cells.append({"pde": pde, "param": param, "label": label, "method": method, "settings": kw,
                                      "set_seed": set_seed, "budget": budget, "dense": proto.dense,
                                      "values": [[float(v), bool(i)] for v, i in values],
                                      "seeds": network_seeds(set_seed, args.seeds), "labels": source,
                                      "allow_made_on": bool(args.allow_made_on), "config": proto.train.to_dict()})
            if "once" in args.labels and any_labelled:  # one family teacher per pipeline (set seed)
                for set_seed in range(args.set_seeds):
                    pres = train_parametric(problem, param, fam.in_range, budget=proto.dense, config=proto.train,
                                            seed=set_seed)
                    parametric[teacher_key(pde, param, set_seed)] = pres.teacher()
                    teachers += [{**r, "set_seed": set_seed, "cost_seconds": pres.cost_seconds}
                                 for r in pres.evaluate([v for v, _ in values])]
                    log.info("%s %s set %d: parametric teacher in %.1f s", pde, param, set_seed, pres.cost_seconds)
    fn = functools.partial(run_cell, teachers=parametric) if parametric else run_cell
    res = sweep(cells, fn, args, out, desc="ood sweep")
    rows = res.rows
    failures = [{"pde": f["cell"]["pde"], "param": f["cell"]["param"], "method": f["cell"]["label"],
                 "set_seed": f["cell"]["set_seed"], "error": f["error"]} for f in res.failures]
    if teachers:
        write_rows(teachers, out, "parametric_teachers")
    if failures:
        write_rows(failures, out, "failures")
    report(rows, teachers, out, proto, args, budget, time.perf_counter() - t_start, failures)
    return 0


def _cell(errs: list[float], ratio: float | None) -> str:
    a = np.asarray(errs)
    s = f"{a.mean():.3g} ± {a.std(ddof=1) if len(a) > 1 else 0.0:.2g}"
    return s + (f" ({ratio:.2f}×)" if ratio is not None and np.isfinite(ratio) else "")


def label_cost(rows: list[dict], method: str) -> tuple[float, float]:
    """The label cost of ``method``'s rows: the mean over shift values of the seconds charged to
    each value for its labels (``label_seconds``), and the mean over values of that charge in
    units of the dense rows' mean training seconds at the same value (NaN without dense rows)."""
    charged: dict[float, list[float]] = defaultdict(list)
    dense: dict[float, list[float]] = defaultdict(list)
    for r in rows:
        if r["method"] == method:
            charged[r["value"]].append(float(r.get("label_seconds", 0.0)))
        if r["method"] == "dense":
            dense[r["value"]].append(float(r["train_seconds"]))
    if not charged:
        return float("nan"), float("nan")
    per_value = {v: float(np.mean(c)) for v, c in charged.items()}
    units = [c / np.mean(dense[v]) for v, c in per_value.items() if dense.get(v) and np.mean(dense[v]) > 0]
    return float(np.mean(list(per_value.values()))), float(np.mean(units)) if units else float("nan")


def model_cost(rows: list[dict], method: str) -> tuple[float, float]:
    """The full cost of getting ``method``'s models, in dense trainings (the dense rows' mean
    training seconds over all values): the one-off cost of making its set at the nominal values
    (teachers, warm-up, distillation; mean over set seeds) and the cost per shift value (labels
    charged to the value plus the student's training; mean over rows). NaN without dense rows."""
    dense = [float(r["train_seconds"]) for r in rows if r["method"] == "dense"]
    mine = [r for r in rows if r["method"] == method]
    if not dense or not mine or np.mean(dense) <= 0:
        return float("nan"), float("nan")
    unit = float(np.mean(dense))
    per_set = {r.get("set_seed", 0): float(r.get("set_total_seconds", 0.0)) for r in mine}
    per_value = [float(r.get("label_seconds", 0.0)) + float(r["train_seconds"]) for r in mine]
    return float(np.mean(list(per_set.values()))) / unit, float(np.mean(per_value)) / unit


def report(rows: list[dict], teachers: list[dict], out: Path, proto, args, budget: int, wall: float,
           failures: list[dict] = ()) -> None:
    diagnostic = [s for s in args.labels if s in ood.DIAGNOSTIC_SOURCES]
    lines = [
        f"Command: `python experiments/ood_sweep.py {' '.join(sys.argv[1:])}`", "",
        f"Machine: {machine()}; wall {wall:.0f} s", "",
        f"Protocol {proto.name}: {proto.train.to_dict()}; budget {budget} interior points (dense: {proto.dense} Sobol); "
        f"{args.seeds} network seed(s) x {args.set_seeds} point set(s) per method, every set seed an independent "
        f"pipeline (its points, teachers and networks); label source(s) at shifted values: {', '.join(args.labels)}"
        + (f" ({', '.join(diagnostic)}: a diagnostic, not a headline)." if diagnostic else "."),
        "",
        "Each cell: L2RE mean ± std over seeds at that shift value (ratio to the dense set's mean at the same value). "
        "Values marked ID lie in the in-distribution range. † marks a value the set was made on (a task-aware "
        "method's own training value, scored only with --allow-made-on): no ratio, and left out of OOD/ID and worst. "
        "OOD/ID = mean OOD error / mean ID error; worst ×dense = the largest ratio to dense over all held-out shifts "
        "(target: <= 1.5). Labels s/value: the seconds charged to each value for its labels (mean over values; "
        "once: the family teacher's cost / values scored; per_shift: that value's own dense teacher in full); "
        "× dense: the same in units of the dense row's mean training seconds at that value. Cost, dense trainings: "
        "one-off = making the set at the nominal values (its teachers, warm-up and distillation; mean over set "
        "seeds), per value = its labels there plus training on it, both in units of the dense rows' mean training "
        "time (dense: 0 + 1).",
        "",
    ]
    # ratios leave out rows at values their set was made on (pinndd.eval.ood's summaries do)
    ratios = {(r["pde"], r["param"], r["method"], r["value"]): r["ratio"]
              for r in (ood.ratio_to_dense(rows) if any(r["method"] == "dense" for r in rows) else [])}
    ood_id = {(r["pde"], r["param"], r["method"]): r["ood_id_ratio"]
              for r in ood.ood_id_ratio(rows, by=("pde", "param", "method"))}
    worst = {}
    for (pde, param, method, _), ratio in ratios.items():
        worst[(pde, param, method)] = max(worst.get((pde, param, method), -np.inf), ratio)
    for pde, param in dict.fromkeys((r["pde"], r["param"]) for r in rows):
        sub = [r for r in rows if r["pde"] == pde and r["param"] == param]
        problem = equations.get(pde)
        fam = problem.shift(param)
        values = sorted({r["value"] for r in sub})
        flags = {r["value"]: r["in_distribution"] for r in sub}
        made = {(r["method"], r["value"]) for r in sub if not r.get("held_out", True)}
        head = [f"{v:g}" + (" ID" if flags[v] else "") for v in values]
        lines += [f"### {pde}: shift of `{param}` (nominal {problem.params[param]:g}, ID {list(fam.in_range)}, "
                  f"OOD {list(fam.out_range)}; moves {', '.join(ood.shifts_conditions(problem, param)) or 'no condition'})", "",
                  "| method | " + " | ".join(head) + " | OOD/ID | worst ×dense | labels s/value | × dense "
                  "| cost one-off | cost per value |",
                  "|---|" + "---|" * (len(values) + 6)]
        for method in dict.fromkeys(r["method"] for r in sub):
            cells = []
            for v in values:
                errs = [r["l2re"] for r in sub if r["method"] == method and r["value"] == v]
                if (method, v) in made:
                    cells.append(_cell(errs, None) + " †")
                    continue
                rt = None if method == "dense" else ratios.get((pde, param, method, v))
                cells.append(_cell(errs, rt) if errs else "–")
            w = worst.get((pde, param, method))
            secs, units = label_cost(sub, method)
            cost = "– | –" if method == "dense" else f"{secs:.3g} | " + (f"{units:.2f}" if np.isfinite(units) else "–")
            one_off, per_value = model_cost(sub, method)
            lines.append(f"| {method} | " + " | ".join(cells) + f" | {ood_id.get((pde, param, method), float('nan')):.2f} | "
                         + (f"{w:.2f}" if w is not None else "–") + f" | {cost} | {one_off:.2f} | {per_value:.2f} |")
        lab = sorted({r["labels"] for r in sub if r["labels"] not in ("none",)})
        if lab:
            lines.append(f"\nLabels of labelled sets: {', '.join(lab)}.")
        tsub = [t for t in teachers if t["pde"] == pde and t["param"] == param]
        if tsub:
            by_value = defaultdict(list)
            for t in tsub:
                by_value[t["value"]].append(t["l2re"])
            costs = {t.get("set_seed", 0): t["cost_seconds"] for t in tsub}
            lines += ["", f"Parametric teachers (the 'once' label source: one PINN over the ID range per set seed, "
                      f"extrapolated outside; {len(costs)} seed(s)): L2RE mean (max) "
                      + ", ".join(f"{v:g}: {np.mean(e):.3g} ({np.max(e):.3g})" for v, e in sorted(by_value.items()))
                      + f"; cost {np.mean(list(costs.values())):.0f} s each, spread over the {len(values)} values."]
        lines.append("")
        curves = ood.error_curves(sub)
        fig = plot_error_curves(curves, f"{param} (nominal {problem.params[param]:g})",
                                title=f"{pde}: error against the shift of {param} (budget {budget})")
        ax = fig.axes[0]
        ax.axvspan(*fam.in_range, color="0.85", alpha=0.5, zorder=0, label="in distribution")
        ax.axvline(problem.params[param], color="0.4", lw=0.8, ls=":")
        ax.legend(fontsize=8)
        fig.savefig(out / f"ood_{pde}_{param}.png", dpi=120)
        plt.close(fig)
    lines += [f"Failed to make a set: {f['pde']} {f['param']} {f['method']} (set {f['set_seed']}): {f['error']}"
              for f in failures]
    (out / "table.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
