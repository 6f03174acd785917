"""Which reference-free criterion picks the better of several dense teachers?

    PINNDD_TEACHER_CACHE=experiments/out/teacher_cache python experiments/teacher_selection.py \
        --pde burgers --candidates 3 --out experiments/out/teacher_selection

A labelled set is only as good as its teacher, and out of distribution there is no reference to
check a teacher against. ``teacher_candidates=k`` trains k teachers (candidate ``i``: point and
network seed ``i``) and keeps one. For every value of the PDE's first condition-shifting family
(the values :mod:`pinndd.methods.labelled.task_exchange` serves) this script trains the candidates with
``teacher_scale`` times the protocol's steps (:func:`pinndd.methods.labelled.teacher.dense_run`, so with
``$PINNDD_TEACHER_CACHE`` set a later sweep reuses them) and records, per candidate, criteria
computed without the reference on held-out uniform points (the held-out set of
:func:`pinndd.methods.labelled.teacher.train_teacher`):

- ``heldout_loss``: the PINN loss (residual + conditions), the criterion in use;
- ``residual_mse`` and ``residual_l1``: mean squared and mean absolute PDE residual;
- ``conditions``: ``heldout_loss - residual_mse`` (the weighted condition terms);
- ``disagreement``: mean relative L2 distance to the other candidates' predictions (the medoid
  has the lowest: failures differ from each other, good runs agree);

and the reference L2RE. Each shift value (its candidates together) is one cell of
:func:`pinndd.sweep.run_cells` (Ray tasks on this machine's cores by default; ``--serial``,
``--address``, ``--workers``, ``--resume``). ``summary.md`` gives, per criterion, the mean L2RE of the teacher it
picks from the first 2 and from all candidates, against the best (oracle) and candidate 0.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import add_engine_args, engine_protocol, machine, start, sweep  # noqa: E402

import equations  # noqa: E402
from pinndd import methods  # noqa: E402
from pinndd.engine.evaluation import evaluate, physics_loss, predict, residuals  # noqa: E402
from pinndd.eval.ood import shift_values  # noqa: E402
from pinndd.methods.distill.task_aware import resolve_task  # noqa: E402
from pinndd.methods.labelled.teacher import dense_run  # noqa: E402
from pinndd.methods.labelled.teacher_sets import TeacherSettings  # noqa: E402

CRITERIA = ("heldout_loss", "residual_mse", "residual_l1", "conditions", "disagreement")


def pick_table(rows: list[dict], k: int, param: str) -> list[str]:
    """Mean L2RE of the teacher each criterion keeps from candidates 0..k-1, over shift values."""
    by_value: dict[float, list[dict]] = {}
    for r in rows:
        if r["candidate"] < k:
            by_value.setdefault(r["value"], []).append(r)
    values = sorted(v for v, rs in by_value.items() if len(rs) == k)
    if not values:
        return []
    lines = [f"Picking from candidates 0..{k - 1} ({len(values)} shift values):", "",
             "| criterion | " + " | ".join(f"{param} = {v:g}" for v in values) + " | mean |", "|---" * (len(values) + 2) + "|"]
    choices = {"oracle (reference)": "l2re", "candidate 0": None, **{c: c for c in CRITERIA}}
    for name, crit in choices.items():
        picked = []
        for v in values:
            rs = by_value[v]
            if crit is None:
                picked.append(rs[0]["l2re"])
            else:
                crit_k = crit if crit != "disagreement" else f"disagreement_{k}"
                picked.append(min(rs, key=lambda r: r[crit_k])["l2re"])
        lines.append(f"| {name} | " + " | ".join(f"{p:.3g}" for p in picked) + f" | {np.mean(picked):.3g} |")
    return lines


def run_cell(cell: dict) -> list[dict]:
    """Every candidate teacher at one shift value, with its reference-free criteria."""
    problem, param, v = equations.get(cell["pde"]), cell["param"], cell["value"]
    settings = TeacherSettings(teacher_dense=cell["dense"], teacher_protocol=cell["protocol"],
                               teacher_scale=cell["teacher_scale"])
    config = replace(settings.teacher_config(), device=cell["device"])
    shifted = problem.with_params(**{param: v})
    held_out = methods.get("uniform").make(shifted, cell["dense"], seed=(settings.teacher_seed or 0) + 1_000_003)
    rows, preds = [], []
    for i in range(cell["candidates"]):
        model, cost = dense_run(shifted, cell["dense"], replace(config, seed=config.seed + i), (settings.teacher_seed or 0) + i,
                                "sobol")
        r = residuals(shifted, model, held_out.interior)
        loss = physics_loss(shifted, model, held_out)
        preds.append(predict(model, held_out.interior))
        rows.append({"pde": cell["pde"], "param": param, "value": v, "candidate": i, "cost_seconds": cost,
                     "heldout_loss": loss, "residual_mse": float(np.mean(r**2)), "residual_l1": float(np.mean(np.abs(r))),
                     "conditions": loss - float(np.mean(r**2)), "l2re": evaluate(shifted, model)["l2re"]})
        print(f"{param}={v:g} candidate {i}: " + ", ".join(f"{k} {rows[-1][k]:.3g}" for k in ("l2re", *CRITERIA[:4])),
              flush=True)
    for k in range(2, cell["candidates"] + 1):
        for i in range(k):
            others = [j for j in range(k) if j != i]
            rows[i][f"disagreement_{k}"] = float(np.mean(
                [np.linalg.norm(preds[i] - preds[j]) / np.linalg.norm(preds[j]) for j in others]))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pde", default="burgers")
    ap.add_argument("--candidates", type=int, default=3)
    ap.add_argument("--teacher-scale", type=float, default=3.0)
    ap.add_argument("--values", type=float, nargs="*", help="shift values (default: task_exchange's)")
    ap.add_argument("--protocol", default="quick")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="experiments/out/teacher_selection")
    add_engine_args(ap)
    args = ap.parse_args(argv)
    proto = engine_protocol(start(args), args)
    problem = equations.get(args.pde)
    fam = resolve_task(problem, None, False).family
    values = [v for v, _ in shift_values(fam, args.values or None, n_in=3, n_out=1, nominal=problem.params[fam.param])]
    out = Path(args.out)
    cells = [{"pde": args.pde, "param": fam.param, "value": float(v), "candidates": args.candidates,
              "teacher_scale": args.teacher_scale, "dense": proto.dense, "protocol": args.protocol,
              "device": proto.train.device} for v in values]
    rows = sweep(cells, run_cell, args, out, desc="teacher selection").rows
    lines = [f"# Teacher selection: {args.pde}, {args.candidates} candidates, teacher_scale {args.teacher_scale:g}", "",
             f"Machine: {machine()}", ""]
    for k in range(2, args.candidates + 1):
        lines += pick_table(rows, k, fam.param) + [""]
    lines += ["Pairs: how often each criterion keeps the better of two candidates (all pairs, all values):", ""]
    for crit in CRITERIA[:4]:
        hits = total = 0
        for v in values:
            rs = [r for r in rows if r["value"] == v]
            for a, b in itertools.combinations(rs, 2):
                total += 1
                hits += (a[crit] < b[crit]) == (a["l2re"] < b["l2re"])
        lines.append(f"- {crit}: {hits}/{total}")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
