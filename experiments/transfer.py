"""Transfer: does a point set chosen under one training setup stay good under another?

    python experiments/transfer.py --pde burgers --method kmeans_coreset --protocol quick --out experiments/out/transfer

A method makes its set (``--budget`` interior points, one set per seed, at the nominal
parameters) exactly as in the budget sweep; then fresh PINNs train on it under *other*
settings than the protocol's:

- ``base``: the protocol's own settings (the reference row);
- ``width``: twice the width; ``depth``: two more hidden layers; ``activation``: ``sin``
  (``tanh`` when the protocol already uses ``sin``);
- ``adam_only``: the protocol's Adam steps without L-BFGS; ``lbfgs_only``: L-BFGS alone
  (``max(lbfgs_steps, adam_steps / 4)`` iterations); ``sgd``: SGD with momentum 0.9 and
  10x the protocol's learning rate (``--sgd-lr``) for the same number of steps, then the protocol's L-BFGS
  (``TrainConfig(optimizer="sgd")``);
- ``longer2x``, ``longer5x``: 2x and 5x the Adam steps (and L-BFGS iterations);
- ``mixed``: the set united with as many i.i.d. uniform interior points (seeded), weights of
  the new points the mean weight of the set; labelled sets get the new points labelled by
  the same teacher (:func:`pinndd.eval.ood.teacher_like`, cached in the process).

Every variant is compared with the same variant on: a Sobol set of the same budget (and
mixed the same way), the dense Sobol set (``protocol.dense`` points), and the dense set
*early-stopped* at the same number of point-steps as the budget's run
(``steps * budget / dense``, at least 100, no L-BFGS; for ``lbfgs_only`` the L-BFGS
iterations are scaled instead). Writes ``rows.csv``/``rows.json`` and ``table.md`` (mean ± std
L2RE per variant and the ratio of the method to dense under the same variant).

Each (PDE, seed, variant) is one cell of :func:`pinndd.sweep.run_cells` (Ray tasks on this
machine's cores by default; ``--serial``, ``--address``, ``--workers``; ``--resume`` skips cells
already in the table). A process makes each seed's sets once and shares dense runs with equal
settings between variants, so under Ray a set is made at most once per worker.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import logging
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    add_engine_args,
    default_budget,
    engine_protocol,
    machine,
    method_settings,
    start,
    summarise,
    sweep,
    write_rows,
)

import equations  # noqa: E402
from pinndd import PointSet, TrainConfig, evaluate, methods, residual_mse, train  # noqa: E402
from pinndd.errors import PinnddError, TrainingDiverged  # noqa: E402
from pinndd.eval.ood import held_out_points, teacher_like  # noqa: E402
from pinndd.methods.labelled.teacher import label  # noqa: E402

log = logging.getLogger("transfer")

VARIANTS = ("base", "width", "depth", "activation", "adam_only", "lbfgs_only", "sgd", "longer2x", "longer5x", "mixed")
SGD_MOMENTUM = 0.9
SGD_LR_FACTOR = 10.0


@dataclasses.dataclass(frozen=True)
class Variant:
    """A training setup: the TrainConfig (its optimiser included), whether the set is mixed
    with uniform points, and a description for the table."""

    name: str
    config: TrainConfig
    mixed: bool = False
    note: str = ""


def variants(base: TrainConfig, names, sgd_lr: float | None = None) -> list[Variant]:
    sgd_lr = sgd_lr or base.lr * SGD_LR_FACTOR
    alt = "tanh" if base.activation == "sin" else "sin"
    lb_only = max(base.lbfgs_steps, base.adam_steps // 4, 1)
    table = {
        "base": Variant("base", base, note="protocol settings"),
        "width": Variant("width", replace(base, width=2 * base.width), note=f"width {2 * base.width}"),
        "depth": Variant("depth", replace(base, depth=base.depth + 2), note=f"depth {base.depth + 2}"),
        "activation": Variant("activation", replace(base, activation=alt), note=f"activation {alt}"),
        "adam_only": Variant("adam_only", replace(base, lbfgs_steps=0), note=f"Adam {base.adam_steps}, no L-BFGS"),
        "lbfgs_only": Variant("lbfgs_only", replace(base, adam_steps=0, lbfgs_steps=lb_only), note=f"L-BFGS {lb_only} only"),
        "sgd": Variant("sgd", replace(base, lr=sgd_lr, optimizer="sgd", momentum=SGD_MOMENTUM),
                       note=f"SGD lr {sgd_lr:g} momentum {SGD_MOMENTUM} x {base.adam_steps}, "
                            f"then L-BFGS {base.lbfgs_steps}"),
        "longer2x": Variant("longer2x", replace(base, adam_steps=2 * base.adam_steps, lbfgs_steps=2 * base.lbfgs_steps),
                            note="2x Adam and L-BFGS"),
        "longer5x": Variant("longer5x", replace(base, adam_steps=5 * base.adam_steps, lbfgs_steps=5 * base.lbfgs_steps),
                            note="5x Adam and L-BFGS"),
        "mixed": Variant("mixed", base, mixed=True, note="set + as many uniform points"),
    }
    unknown = [n for n in names if n not in table]
    if unknown:
        raise PinnddError(f"unknown variants {unknown}; known: {list(table)}")
    return [table[n] for n in names]


def mix_uniform(problem, ps: PointSet, seed: int) -> PointSet:
    """``ps`` united with ``ps.n_interior`` i.i.d. uniform interior points (weight = the set's
    mean weight); a labelled set's new points are labelled by the same kind of teacher."""
    extra = problem.domain.from_unit(np.random.default_rng([seed, 7]).random((ps.n_interior, problem.domain.dim)))
    interior = np.vstack([ps.interior, extra])
    weights = np.concatenate([ps.interior_weights, np.full(len(extra), ps.interior_weights.mean())])
    meta = {**ps.metadata, "mixed_uniform": len(extra)}
    mixed = PointSet(interior, weights, ps.conditions, None, 1.0, {**meta, "labels": None})
    if ps.labelled:
        mixed = label(mixed, teacher_like(problem, ps), ps.target_weight)
    return mixed


def run(problem, ps: PointSet, variant: Variant, seed: int, held_out, config: TrainConfig | None = None) -> dict:
    cfg = replace(config or variant.config, seed=seed)
    try:
        res = train(problem, ps, cfg)
    except TrainingDiverged as e:
        log.warning("%s diverged: %s", variant.name, e)
        return {"l2re": float("nan"), "l1re": float("nan"), "max_abs": float("nan"), "residual_mse": float("nan"),
                "train_seconds": float("nan"), "diverged": True}
    m = evaluate(problem, res.model)
    diverged = not all(math.isfinite(x) for x in m.values())
    return {**m, "residual_mse": residual_mse(problem, res.model, held_out), "train_seconds": res.wall_time,
            "final_loss": float(res.history["loss"][-1]) if len(res.history["loss"]) else float("nan"),
            "diverged": diverged}


def early_stop_config(config: TrainConfig, budget: int, dense: int) -> TrainConfig:
    """The dense set trained for the point-steps of a ``budget``-point run: Adam steps scaled
    by ``budget / dense`` (at least 100), no L-BFGS; an L-BFGS-only run scales its iterations."""
    if config.adam_steps == 0:
        return replace(config, lbfgs_steps=max(10, round(config.lbfgs_steps * budget / dense)))
    return replace(config, adam_steps=max(100, round(config.adam_steps * budget / dense)), lbfgs_steps=0)


@functools.cache
def _problem(pde: str):
    return equations.get(pde)


@functools.cache
def _held_out(pde: str):
    return held_out_points(_problem(pde))


@functools.cache
def _make(pde: str, method: str, settings: str, budget: int, seed: int) -> PointSet:
    return methods.get(method, **json.loads(settings)).make(_problem(pde), budget, seed=seed)


_DENSE_RUNS: dict[tuple, dict] = {}


def run_cell(cell: dict) -> list[dict]:
    """One PDE, seed and variant: the method's set, the Sobol control, dense and dense early-stopped."""
    pde, seed, budget, dense = cell["pde"], cell["seed"], cell["budget"], cell["dense"]
    problem, held_out = _problem(pde), _held_out(pde)
    (v,) = variants(TrainConfig(**cell["config"]), [cell["variant"]], cell["sgd_lr"])
    keys = {"method": (pde, cell["method"], json.dumps(cell["settings"], sort_keys=True), budget, seed),
            "sobol": (pde, "sobol", "{}", budget, seed), "dense": (pde, "sobol", "{}", dense, seed)}
    jobs = [("method", cell["method"], keys["method"], None)]
    if cell["controls"]:
        jobs.append(("sobol", "sobol", keys["sobol"], None))
    jobs += [("dense", "dense", keys["dense"], None),
             ("dense_early_stop", "dense_early_stop", keys["dense"], early_stop_config(v.config, budget, dense))]
    rows = []
    for role, label_, ps_key, cfg in jobs:
        ps = _make(*ps_key)
        if v.mixed and role in ("method", "sobol"):
            ps = mix_uniform(problem, ps, seed)
        if role.startswith("dense"):  # dense runs with equal settings are shared by the variants a process runs
            key = (pde, role, repr(cfg or v.config), seed)
            if key not in _DENSE_RUNS:
                _DENSE_RUNS[key] = run(problem, ps, v, seed, held_out, cfg)
            res = _DENSE_RUNS[key]
        else:
            res = run(problem, ps, v, seed, held_out, cfg)
        rows.append({"pde": pde, "variant": v.name, "note": v.note, "role": role, "method": label_,
                     "budget": budget, "seed": seed, "n_points": len(ps), **res})
    log.info("%s %s seed %d: %s", pde, v.name, seed, " ".join(f"{r['role']}={r['l2re']:.3g}" for r in rows))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pde", nargs="+", default=["burgers"])
    ap.add_argument("--method", default=None, help="the method whose set transfers (default kmeans_coreset, else sobol)")
    ap.add_argument("--budget", type=int, default=None, help="interior points (default 256, or the protocol's largest budget)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), help=f"subset of {VARIANTS}")
    ap.add_argument("--no-controls", action="store_true", help="skip the Sobol control at the same budget")
    ap.add_argument("--sgd-lr", type=float, default=None,
                    help=f"SGD learning rate (default {SGD_LR_FACTOR:g}x the protocol's Adam rate)")
    ap.add_argument("--protocol", default="quick")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="experiments/out/transfer")
    add_engine_args(ap)
    args = ap.parse_args(argv)
    proto = engine_protocol(start(args), args)
    budget = default_budget(proto, args.budget)
    method = args.method or ("kmeans_coreset" if "kmeans_coreset" in methods.names() else "sobol")
    settings = method_settings(method, proto)
    variants(proto.train, args.variants, args.sgd_lr)  # unknown variants fail here, before any cell
    out = Path(args.out)
    t_start = time.perf_counter()
    cells = [{"pde": pde, "seed": seed, "variant": name, "method": method, "settings": settings, "budget": budget,
              "dense": proto.dense, "controls": not args.no_controls, "sgd_lr": args.sgd_lr,
              "config": proto.train.to_dict()}
             for pde in args.pde for name in args.variants for seed in range(args.seeds)]
    rows = sweep(cells, run_cell, args, out, desc="transfer").rows
    write_rows(rows, out, "rows")
    report(rows, out, proto, args, method, budget, time.perf_counter() - t_start)
    return 0


def report(rows, out: Path, proto, args, method: str, budget: int, wall: float) -> None:
    ok = [r for r in rows if not r.get("diverged")]
    stats = summarise(ok, ("pde", "variant", "role"))
    div = summarise([{**r, "d": float(r.get("diverged", False))} for r in rows], ("pde", "variant", "role"), "d")
    roles = ["method", "sobol", "dense", "dense_early_stop"]
    lines = [f"Command: `python experiments/transfer.py {' '.join(sys.argv[1:])}`", "",
             f"Machine: {machine()}; wall {wall:.0f} s", "",
             f"Protocol {proto.name}: {proto.train.to_dict()}. Set: `{method}` at {budget} interior points "
             f"(one set per seed, seeds 0..{args.seeds - 1}); sobol = Sobol at the same budget; dense = {proto.dense} "
             "Sobol points; dense_early_stop = the dense set at the budget run's point-steps. Every column is trained "
             "under the row's variant.", "",
             "Cells: L2RE mean ± std (n). `method/dense` = ratio of the means.", ""]
    for pde in dict.fromkeys(r["pde"] for r in rows):
        lines += [f"### {pde}", "", f"| variant | settings | {method} | sobol | dense | dense early-stop | {method}/dense |",
                  "|---|---|---|---|---|---|---|"]
        for v in dict.fromkeys(r["variant"] for r in rows if r["pde"] == pde):
            note = next(r["note"] for r in rows if r["pde"] == pde and r["variant"] == v)
            cells = []
            for role in roles:
                s = stats.get((pde, v, role))
                d = div.get((pde, v, role))
                nd = int(round(d["mean"] * d["n"])) if d else 0
                cell = f"{s['mean']:.3g} ± {s['std']:.2g} ({s['n']})" if s else "–"
                cells.append(cell + (f", {nd} diverged" if nd else ""))
            m, d = stats.get((pde, v, "method")), stats.get((pde, v, "dense"))
            ratio = f"{m['mean'] / d['mean']:.2f}" if m and d and d["mean"] > 0 else "–"
            lines.append(f"| {v} | {note} | " + " | ".join(cells) + f" | {ratio} |")
        lines.append("")
    (out / "table.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
