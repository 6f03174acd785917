"""The verbs that report: ``ood`` (a set across a shift family), ``plot``, ``show``, ``list``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._options import CliError, check_file, number_option, prepare
from ._steps import load_set, make_set, run_folder, set_costs, total_cost
from ._verbs import problem_spec


def ood_verb(args: argparse.Namespace) -> int:
    from ..budget import as_integer
    from ..errors import PinnddError
    from ..eval.ood import error_curves, ratio_to_dense, retrain_ood, scoring_values
    from ..plotting import plot_error_curves
    from ..rows import write_table
    from ..shifts import resolve_family, shift_values

    if args.points:
        check_file(args.points, "--points")
    job = prepare(args, method=not args.points, out_default="ood", spec=problem_spec(args, args.points, "set"))
    o = job.opts
    if not job.problem.shifts and o["family"] is None:
        raise CliError(f"problem {job.problem.name!r} declares no shift family; give --family PARAM and --values")
    try:
        family = resolve_family(job.problem, o["family"] or job.problem.shifts[0].param)
    except Exception as e:
        raise CliError(f"--family: {e}") from None
    values = None
    if o["values"] is not None:
        raw = o["values"] if isinstance(o["values"], list) else str(o["values"]).split(",")
        values = [number_option("--values", str(v)) for v in raw]
    n_seeds = as_integer(o["seeds"] or 2, f"--seeds must be a whole number of network seeds; got {o['seeds']!r}")
    if n_seeds < 1:
        raise CliError(f"--seeds must be >= 1; got {n_seeds}")
    seeds = list(range(o["seed"], o["seed"] + n_seeds))
    folder = run_folder(job, args.argv)
    with folder.stage("set"):
        ps = load_set(job, Path(args.points)) if args.points else make_set(job)
    ps.save(folder.record("points.npz"))
    try:  # a set that records the values it was made on is scored (with its baselines) at held-out ones
        pairs = shift_values(family, values if values is not None else scoring_values(job.problem, family, ps.metadata))
    except PinnddError as e:
        raise CliError(f"--values: {e}") from None
    sets = [("dense", lambda: make_set(job, o["dense"] or job.proto.dense, "sobol")),
            ("sobol", lambda: make_set(job, ps.n_interior, "sobol"))]
    rows = []
    label = ps.metadata.get("method", "set") if ps.metadata.get("method") != "sobol" else "sobol (given)"
    for name, make in [*sets, (label, lambda: ps)]:
        with folder.stage(f"ood_{name}"):
            s = make()
            got = retrain_ood(job.problem, s, family, pairs, job.config, seeds, labels=o["labels"], method=name)
        rows += got
    write_table(rows, folder.path, stem="ood")  # ood.csv and ood.json, written atomically
    for name in ("ood.csv", "ood.json"):
        folder.record(name)
    ratios = ratio_to_dense(rows)
    folder.write_json("ratio_to_dense.json", ratios)
    plot_error_curves(error_curves(rows), f"{family.param} (shift value)", folder.record("ood.png"),
                      title=f"{job.problem.name}: error across {family.param}, {len(seeds)} seeds, "
                            f"{ps.n_interior}-point sets vs dense {o['dense'] or job.proto.dense}",
                      in_range=family.in_range, nominal=job.problem.nominal.get(family.param))
    folder.costs.update(set_costs(ps.metadata))
    folder.finish()
    print(_ood_table(rows))
    print(f"wrote {folder.path}/ (ood.csv, ood.json, ratio_to_dense.json, ood.png, points.npz, manifest.json)")
    return 0


def _ood_table(rows: list[dict[str, Any]]) -> str:
    from collections import defaultdict

    acc: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    flags = {}
    for r in rows:
        acc[r["method"]][r["value"]].append(r["l2re"])
        flags[r["value"]] = r["in_distribution"]
    values = sorted(flags)
    head = f"{'mean L2RE':>16} " + " ".join(f"{v:>8.3g}{'' if flags[v] else '*'}" for v in values)
    lines = [head] + [f"{m:>16} " + " ".join(f"{sum(by[v]) / len(by[v]):>9.4f}" if v in by else f"{'-':>9}" for v in values)
                      for m, by in acc.items()]
    return "\n".join(lines) + "\n(* out of distribution)"


def plot_verb(args: argparse.Namespace) -> int:
    from ..plotting import plot_point_sets, plot_results, plot_solution

    if args.results:
        folder = Path(args.results)
        if not folder.is_dir():
            raise CliError(f"--results {args.results!r}: no such folder")
        written = plot_results(folder, Path(args.out) if args.out else folder)
        if not written:
            raise CliError(f"--results {args.results!r}: found no ood.json or budget rows (rows.json) to plot")
        for p in written:
            print(f"wrote {p}")
        return 0
    if not args.model:
        raise CliError("plot needs --model FILE (with optional --points FILE ...) or --results FOLDER")
    check_file(args.model, "--model")
    for p in args.points or []:
        check_file(p, "--points")
    from ..model_io import load_model, read_model

    spec = problem_spec(args, args.model, "model")
    job = prepare(args, train=False, spec=spec)
    model = load_model(args.model, job.problem)
    meta = read_model(args.model)[0].get("metadata", {})
    if not job.problem.has_reference:
        raise CliError(f"problem {job.problem.name!r} has no reference solution to plot against")
    sets = {Path(p).stem: load_set(job, Path(p)) for p in args.points or []}
    out = Path(args.out or Path(args.model).with_suffix(".png"))
    if out.exists() and out.is_dir():
        out = out / (Path(args.model).stem + ".png")
    if len(sets) > 1:
        plot_point_sets(job.problem, model, sets, out, title=f"{job.problem.name}: point sets over the model's error")
    else:
        ps = next(iter(sets.values()), None)
        metrics = meta.get("metrics", {})
        cost = total_cost(metrics["costs_seconds"]) if "costs_seconds" in metrics else None
        plot_solution(job.problem, model, ps, out, title=f"{job.problem.name}: {metrics.get('method', 'model')} "
                      f"{metrics.get('budget', '')} interior points".strip(), cost_seconds=cost)
    print(f"wrote {out}")
    return 0


def show_verb(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise CliError(f"{args.file!r}: no such file or run folder")
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise CliError(f"{str(path)!r} is not JSON ({e})") from None
        print(json.dumps(data, indent=2))
        return 0
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as f:
            keys = set(f.files)
    except (OSError, ValueError) as e:
        raise CliError(f"{str(path)!r} is neither a point set, a model nor a run folder ({e})") from None
    if "interior" in keys:
        from ..pointset import PointSet

        ps = PointSet.load(path)
        meta = ps.metadata
        print(repr(ps))
        print(f"problem: {meta.get('pde_spec') or meta.get('problem')}  params {meta.get('params')}")
        print(f"method: {meta.get('method')} ({meta.get('family')})  budget {meta.get('budget')}  seed {meta.get('seed')}")
        print("costs: " + ", ".join(f"{k} {v:.1f} s" for k, v in set_costs(meta).items()))
        w = ps.interior_weights
        print(f"weights: min {w.min():.3g}  max {w.max():.3g}  mean {w.mean():.3g}")
        if ps.labelled:
            print(f"labels: weight {ps.target_weight:g}, made for {meta.get('labels_params')}, from "
                  f"{json.dumps(meta.get('labels'))}")
        print("settings: " + json.dumps(meta.get("config", {})))
        return 0
    from ..model_io import read_model

    meta, arrays = read_model(path)
    cfg = meta["config"]
    print(f"model: MLP {cfg['depth']}x{cfg['width']} {cfg['activation']} {cfg['dtype']}, "
          f"{sum(a.size for a in arrays.values())} numbers, trained {cfg['adam_steps']} Adam + {cfg['lbfgs_steps']} L-BFGS, "
          f"seed {cfg['seed']}")
    print(f"problem: {meta['problem'].get('spec')}  params {meta['problem'].get('params')}")
    m = meta.get("metadata", {}).get("metrics", {})
    if m:
        print("metrics: " + ", ".join(f"{k} {m[k]:.4g}" for k in ("l2re", "l1re", "max_abs", "residual_mse") if k in m))
        print("costs: " + ", ".join(f"{k} {v:.1f} s" for k, v in m.get("costs_seconds", {}).items()))
    ps = meta.get("metadata", {}).get("pointset", {})
    if ps:
        print(f"trained on: {ps.get('method')} budget {ps.get('budget')} seed {ps.get('seed')}"
              + (f", labels from {json.dumps(ps.get('labels'))}" if ps.get("labels") else ""))
    return 0


def list_verb(args: argparse.Namespace) -> int:
    import equations

    from .. import methods, protocols

    print("PDEs (--pde NAME, or path/to/file.py:attr for your own):")
    for name in equations.names():
        p = equations.get(name)
        shifts = ", ".join(f"{s.param} in {s.in_range} (OOD {s.out_range})" for s in p.shifts)
        print(f"  {name:<14} params {dict(p.params)}" + (f"; shifts {shifts}" if shifts else ""))
    print("methods (--method NAME, settings with --set key=value):")
    for fam in sorted({methods.get(n).family for n in methods.names()}):
        print(f"  {fam:<10} " + ", ".join(methods.names(fam)))
    print("protocols (--protocol NAME):")
    for name, p in protocols.PROTOCOLS.items():
        t = p.train
        print(f"  {name:<6} MLP {t.depth}x{t.width}, {t.adam_steps} Adam (lr {t.lr:g}) + {t.lbfgs_steps} L-BFGS, "
              f"dense {p.dense}, budgets {list(p.budgets)}")
    return 0


