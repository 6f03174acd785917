"""The verbs that make and train: ``run`` (dense against one method), ``distil``, ``train``, ``eval``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._options import Job, check_file, prepare
from ._steps import load_set, make_set, public_row, row_line, run_folder, set_costs, total_cost, train_and_measure


def run_verb(args: argparse.Namespace) -> int:
    """Dense Sobol training against one method's small set, each trained once; a run folder.

    The stages are a list, so another comparison is one more entry."""
    job = prepare(args, method=True, out_default="run")
    folder = run_folder(job, args.argv)
    dense_n = job.opts["dense"] or job.proto.dense
    dense_set = None

    def make_dense():
        nonlocal dense_set
        dense_set = make_set(job, dense_n, "sobol")
        return dense_set

    stages = [("dense", make_dense, f"dense Sobol {dense_n}"),
              ("small", lambda: make_set(job), f"{job.opts['method']} {job.opts['budget']}")]
    runs: dict[str, dict[str, Any]] = {}
    for label, make, what in stages:
        with folder.stage(f"{label}_set"):
            ps = make()
        with folder.stage(f"{label}train_verb"):
            row = train_and_measure(job, ps, label, folder, title=f"{job.problem.name}: {what} interior points")
        runs[label] = row
        print(row_line(label, row), flush=True)
    dense_train = runs["dense"]["costs_seconds"]["train_seconds"]
    family = _family_stage(job, folder, runs["dense"], dense_set) if job.opts["family_check"] else None
    for label, row in runs.items():
        total = total_cost(row["costs_seconds"])
        row["total_seconds"] = total
        row["dense_trainings"] = total / dense_train if dense_train > 0 else None
        folder.costs[label] = total
    folder.write_json("metrics.json", {"problem": job.problem.describe(), "protocol": job.proto.name,
                                       "config": job.config.to_dict(), "threads": job.opts["threads"],
                                       "runs": {k: public_row(v) for k, v in runs.items()},
                                       **({"family": family} if family is not None else {})})
    folder.finish()
    extra = ", kit/, family.png" if family is not None else ""
    print(f"wrote {folder.path}/ (manifest.json, metrics.json, points_*.npz, model_*.npz, solution_*.png{extra})")
    return 0


def _family_stage(job: Job, folder, dense_row: dict[str, Any], dense_set) -> dict[str, Any] | None:
    """The family check: a kit from the dense run (the nominal PINN), then at three held-out
    shift values the kit's solve beside fine-tunes on the dense set and on Sobol points."""
    from ..eval.family import quick_check
    from ..plotting import plot_error_curves

    if not job.problem.shifts:
        print("family: the problem declares no shift family; skipped")
        return None
    with folder.stage("family"):
        rows, kit = quick_check(job.problem, dense_row["_model"], dense_row["costs_seconds"]["train_seconds"], dense_set,
                                job.opts["budget"], job.opts["seed"], job.config, job.proto.name)
        kit.save(folder.path / "kit")
        folder.record("kit")
    once = sum(kit.cost.values())
    dense_train = dense_row["costs_seconds"]["train_seconds"]
    print(f"family {kit.param}: kit made once in {once:.0f} s ({once / dense_train:.1f} dense trainings, the dense run "
          f"included); at values the kit was not made on:")
    by = {}
    for r in rows:
        by.setdefault(r["strategy"], []).append(r)
        print(f"  {kit.param} = {r['value']:<5g} {r['strategy']:>18}: L2RE {r['l2re']:.4g}  ({r['value_seconds']:.1f} s)")
    curves = {s: ([r["value"] for r in rs], [[r["l2re"]] for r in rs]) for s, rs in by.items()}
    plot_error_curves(curves, kit.param, folder.record("family.png"), in_range=kit.value_range,
                      nominal=float(job.problem.params[kit.param]),
                      title=f"{job.problem.name}: fine-tunes of the dense run at new {kit.param} "
                            f"(kit: {kit.metadata.get('method')}, {job.opts['budget']} points, one seed)")
    return {"param": kit.param, "kit_cost_seconds": kit.cost, "kit_choice": kit.metadata.get("choice"),
            "rows": rows}


def distil_verb(args: argparse.Namespace) -> int:
    job = prepare(args, train=False, method=True, out_default="distil")
    folder = run_folder(job, args.argv)
    with folder.stage("make_set"):
        ps = make_set(job)
    path = ps.save(folder.record("points.npz"))
    folder.costs.update(set_costs(ps.metadata))
    folder.finish(pointset={k: v for k, v in ps.metadata.items() if k != "config"}, method_config=ps.metadata.get("config"))
    costs = set_costs(ps.metadata)
    extra = "".join(f", {k.replace('_seconds', '')} {v:.1f} s" for k, v in costs.items() if k != "make_seconds")
    print(f"{ps!r} made in {costs['make_seconds']:.1f} s{extra}")
    print(f"wrote {path} (and {folder.path}/manifest.json)")
    return 0


def _spec_from_file(path: str | None, kind: str) -> str | None:
    """The ``--pde`` spec stored in a set's or model's metadata (None when it has none)."""
    if path is None:
        return None
    from ..model_io import read_model
    from ..pointset import PointSet

    if kind == "model":
        meta, _ = read_model(path)
        return meta.get("problem", {}).get("spec")
    ps = PointSet.load(path)
    return ps.metadata.get("pde_spec") or ps.metadata.get("problem")


def _stored_params(path: str | None, kind: str) -> dict[str, float]:
    from ..model_io import read_model
    from ..pointset import PointSet

    if path is None:
        return {}
    if kind == "model":
        return dict(read_model(path)[0].get("problem", {}).get("params", {}))
    return dict(PointSet.load(path).metadata.get("params", {}))


def problem_spec(args, path: str | None, kind: str) -> str | None:
    """``--pde`` when given, else the one stored in the file (so a user's problem is found again).
    Without ``--pde``, the parameters stored in the file are the defaults that ``--param`` overrides."""
    if getattr(args, "pde", None):
        return args.pde
    if path is not None:
        args.param = [f"{k}={v}" for k, v in _stored_params(path, kind).items()] + list(args.param or [])
    return _spec_from_file(path, kind)


def train_verb(args: argparse.Namespace) -> int:
    if args.points:
        check_file(args.points, "--points")
    job = prepare(args, method=not args.points, out_default="train", spec=problem_spec(args, args.points, "set"))
    folder = run_folder(job, args.argv)
    with folder.stage("set"):
        ps = load_set(job, Path(args.points)) if args.points else make_set(job)
    with folder.stage("train"):
        row = train_and_measure(job, ps, "trained", folder,
                                title=f"{job.problem.name}: {ps.metadata.get('method')} {ps.n_interior} interior points")
    folder.costs.update(row["costs_seconds"])
    folder.write_json("metrics.json", public_row(row))
    folder.finish()
    print(row_line("train", row))
    print(f"wrote {folder.path}/ (model_trained.npz, points_trained.npz, metrics.json, manifest.json)")
    return 0


def eval_verb(args: argparse.Namespace) -> int:
    from ..engine.evaluation import evaluate, residual_mse
    from ..eval.ood import held_out_points
    from ..model_io import load_model

    check_file(args.model, "model file")
    spec = problem_spec(args, args.model, "model")  # at the parameters it was trained for unless --param
    job = prepare(args, train=False, spec=spec)
    model = load_model(args.model, job.problem, job.device)
    row = {"model": str(args.model), "problem": job.problem.describe()}
    if job.problem.has_reference:
        row.update(evaluate(job.problem, model))
    row["residual_mse"] = residual_mse(job.problem, model, held_out_points(job.problem))
    params = ", ".join(f"{k}={v:g}" for k, v in job.problem.params.items())
    err = f"L2RE {row['l2re']:.4g}  L1RE {row['l1re']:.4g}  max {row['max_abs']:.4g}  " if "l2re" in row else ""
    print(f"{job.problem.name} ({params}): {err}residual {row['residual_mse']:.3e}")
    if args.json:
        from ..manifest import write_json

        write_json(args.json, row)
    return 0


