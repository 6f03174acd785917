"""Steps shared by the verbs: make or load a set, train and measure it, cost lines, run folders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..cost import Cost
from ._options import Job, method_settings


def set_costs(meta: dict[str, Any]) -> dict[str, float]:
    """What making a point set cost, from its typed record (:mod:`pinndd.cost`):
    ``make_seconds`` (everything: teachers and warm-ups charged in full, also from a cache, plus
    distillation), and the teacher and warm-up parts where there are any."""
    cost = Cost.of(meta)
    out = {"make_seconds": cost.making}
    if cost.teacher:
        out["teacher_seconds"] = cost.teacher
    if cost.warmup:
        out["warmup_seconds"] = cost.warmup
    return out


def total_cost(costs: dict[str, float]) -> float:
    """Seconds a trained model cost in all: making its set (its parts included) plus training."""
    return costs.get("train_seconds", 0.0) + costs.get("make_seconds", 0.0)


def _cost_text(costs: dict[str, float]) -> str:
    parts = [f"set {costs.get('make_seconds', 0):.1f} s"]
    if "teacher_seconds" in costs:
        parts.append(f"teacher {costs['teacher_seconds']:.1f} s")
    if "warmup_seconds" in costs:
        parts.append(f"warm-up {costs['warmup_seconds']:.1f} s")
    return ", ".join(parts) + f"; train {costs.get('train_seconds', 0):.1f} s"


def make_set(job: Job, budget: int | None = None, method: str | None = None, seed: int | None = None):
    """The point set of ``method`` (default the job's) with protocol-tied settings, the
    problem's spec added to its metadata (so later verbs find a user's problem again)."""
    from .. import methods
    from ..pointset import PointSet

    name = method or job.opts["method"]
    settings = method_settings(job) if name == job.opts["method"] else {}
    ps = methods.get(name, **settings).make(job.problem, budget or job.opts["budget"],
                                            seed=job.opts["seed"] if seed is None else seed)
    return PointSet(ps.interior, ps.interior_weights, ps.conditions, ps.targets, ps.target_weight,
                    {**ps.metadata, "pde_spec": job.spec}, ps.label_record)


def load_set(job: Job, path: Path):
    from ..pointset import PointSet

    return PointSet.load(path, job.problem)


def train_and_measure(job: Job, ps, label: str, folder=None, title: str = "") -> dict[str, Any]:
    """Train on ``ps``, evaluate, and (with a run folder) save the set, the model and a figure.
    Returns the metrics row with costs."""
    from ..engine.evaluation import evaluate, residual_mse
    from ..engine.training import train
    from ..eval.ood import held_out_points
    from ..model_io import save_model

    res = train(job.problem, ps, job.config)
    row: dict[str, Any] = {"method": ps.metadata.get("method"), "budget": ps.metadata.get("budget", ps.n_interior),
                           "n_points": len(ps), "labelled": ps.labelled, "seed": job.config.seed,
                           "final_loss": res.final()}
    if job.problem.has_reference:
        row.update(evaluate(job.problem, res.model))
    row["residual_mse"] = residual_mse(job.problem, res.model, held_out_points(job.problem))
    row["costs_seconds"] = {**set_costs(ps.metadata), "train_seconds": res.wall_time}
    row["method_config"] = ps.metadata.get("config", {})
    if folder is not None:
        ps.save(folder.record(f"points_{label}.npz"))
        save_model(folder.record(f"model_{label}.npz"), res.model, job.config, job.problem, job.spec,
                   {"metrics": row, "pointset": ps.metadata})
        if job.problem.has_reference and job.problem.domain.dim == 2:
            from ..plotting import plot_solution

            plot_solution(job.problem, res.model, ps, folder.record(f"solution_{label}.png"),
                          title=title + (", labelled" if ps.labelled else ""), cost_seconds=total_cost(row["costs_seconds"]))
    row["_model"] = res.model
    return row


def row_line(label: str, row: dict[str, Any]) -> str:
    err = (f"L2RE {row['l2re']:.4g}  L1RE {row['l1re']:.4g}  max {row['max_abs']:.3g}  " if "l2re" in row else "")
    return (f"{label:>6}: {row['method']} {row['budget']:>5} interior points{' (labelled)' if row['labelled'] else ''}  "
            f"{err}residual {row['residual_mse']:.2e}  ({_cost_text(row['costs_seconds'])})")


def public_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def run_folder(job: Job, argv: list[str] | None):
    from ..manifest import RunFolder

    o = job.opts
    config = {**{k: v for k, v in o.items()}, "pde": job.spec, "device": job.device,
              "train_config": job.config.to_dict() if job.config is not None else None}
    folder = RunFolder(job.out, ["pinndd", *(argv if argv is not None else sys.argv[1:])], config)
    folder.extra.update(seeds={"network": o["seed"], "set": o["seed"]}, device=job.device, threads=o["threads"],
                        problem=job.problem.describe())
    return folder


