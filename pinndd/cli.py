"""Command line: one verb per job.

``pinndd distil`` (a point set), ``train`` (a model), ``eval`` (a saved model against the
reference), ``ood`` (a set across a shift family), ``plot``, ``show``, ``list`` and ``run`` (the
main job: dense training against one method). Every verb takes a registered PDE or a user's own
(``--pde path/to/file.py:attr`` or ``module:attr``), ``--param name=value``, method settings
``--set key=value`` and a TOML config file (``--config``) whose keys the flags override.

Arguments are checked before anything trains: a bad one prints one line on stderr and exits
with status 2; Ctrl-C exits with 130. torch is imported only once a verb runs, so ``--help``
and argument errors are quick.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("pinndd")

PROTOCOLS_HELP = (
    "quick = MLP 3x32 tanh, 4000 Adam steps (lr 1e-3) + up to 1000 L-BFGS, dense set 4096 points; fits a 2-core CPU "
    "(about a minute per dense training with 1 thread). "
    "full = MLP 5x100 tanh, 20000 Adam steps, dense 8192 points; PINNacle-like, for a GPU. "
    "smoke = MLP 2x8, 40 Adam steps (lr 1e-2), dense 128 points; seconds, checks a pipeline end to end, its numbers "
    "mean nothing. Methods that train (teachers, warm-ups) follow the protocol unless --set says otherwise"
)
#: Built-in values of every option a config file may set (flags override the file, the file these).
DEFAULTS: dict[str, Any] = {
    "pde": "burgers", "method": "sobol", "budget": 256, "protocol": "quick", "seed": 0, "device": "auto",
    "threads": None, "adam_steps": None, "lbfgs_steps": None, "compile": False, "dense": None, "out": None,
    "seeds": None, "family": None, "family_check": True, "values": None, "labels": "drop", "params": {}, "settings": {},
}
#: Memory an estimate may claim before a budget counts as absurd (fraction of the device's).
MEMORY_FRACTION = 0.5


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block) and exit status 2."""

    def error(self, message: str):  # noqa: D401 (argparse API)
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


class _Help(argparse.RawDescriptionHelpFormatter):
    """Examples in epilogs keep their lines; defaults are written into each flag's help."""


class CliError(Exception):
    """A bad command-line argument (exit status 2)."""


# ---------------------------------------------------------------------------------------------
# Options: flags over the config file over the defaults, then checked together
# ---------------------------------------------------------------------------------------------
def _number(flag: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise CliError(f"{flag}: {value!r} is not a number") from None
    if not math.isfinite(v):
        raise CliError(f"{flag}: {value!r} is not finite")
    return v


def _read_config(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    import tomllib

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise CliError(f"--config {path!r}: no such file") from None
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise CliError(f"--config {path!r}: {e}") from None
    data = {k.replace("-", "_"): v for k, v in data.items()}
    unknown = set(data) - set(DEFAULTS)
    if unknown:
        raise CliError(f"--config {path!r}: unknown keys {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    for table in ("params", "settings"):
        if not isinstance(data.get(table, {}), dict):
            raise CliError(f"--config {path!r}: [{table}] must be a table of key = value")
    return data


def resolve_options(args: argparse.Namespace) -> dict[str, Any]:
    """Every option's value: the flag when given, else the config file's, else :data:`DEFAULTS`.
    ``params`` and ``settings`` merge the file's tables with ``--param``/``--set`` (flags win);
    their values are checked by :mod:`pinndd.validate` in :func:`prepare`."""
    from . import validate

    config = _read_config(getattr(args, "config", None))
    opts = {}
    for key, default in DEFAULTS.items():
        flag = getattr(args, key, None) if key not in ("params", "settings") else None
        opts[key] = flag if flag is not None else config.get(key, default)
    params = [f"{k}={v}" for k, v in config.get("params", {}).items()] + list(getattr(args, "param", None) or [])
    opts["params"] = _checked("--param", validate.settings, params)  # name=value pairs, numbers read as JSON
    opts["settings"] = {**config.get("settings", {}), **_checked("--set", validate.settings, getattr(args, "set", None))}
    if opts["threads"] is None:
        opts["threads"] = os.environ.get("PINNDD_THREADS", "1")
    return opts


def _checked(flag: str, check, *values):
    """``check(*values)`` (a :mod:`pinndd.validate` function) with ``flag`` named in its error."""
    from .errors import PinnddError

    try:
        return check(*values)
    except PinnddError as e:
        raise CliError(f"{flag}: {e}") from None


@dataclass
class Job:
    """The checked inputs of one verb."""

    opts: dict[str, Any]
    problem: Any = None
    spec: str = ""
    proto: Any = None
    config: Any = None
    device: str = "cpu"
    out: Path | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def _device(name: str) -> str:
    from . import validate

    if name == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return _checked("--device", validate.device, name)


def _memory_bytes(device: str) -> int:
    import torch

    if device.startswith("cuda"):
        return int(torch.cuda.get_device_properties(torch.device(device)).total_memory)
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 16 << 30


def training_memory_estimate(n_points: int, config, problem) -> int:
    """Bytes a full-batch training step on ``n_points`` needs, roughly: per point and layer,
    one activation per declared partial and the value, kept for the backward pass (x4 for
    the backward graph and optimiser temporaries)."""
    itemsize = 8 if config.dtype == "float64" else 4
    per_point = config.width * (config.depth + 1) * (len(problem.partials) + 2) * itemsize * 4
    return int(n_points) * per_point


def _check_memory(job: Job, n_points: int, flag: str) -> None:
    need = training_memory_estimate(n_points, job.config, job.problem)
    have = _memory_bytes(job.device)
    if need > MEMORY_FRACTION * have:
        raise CliError(f"{flag} {n_points} needs about {need / 2**30:.3g} GiB to train (estimate) and the {job.device} "
                       f"has {have / 2**30:.3g} GiB; choose a smaller {flag}")


def _check_file(path: str, what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise CliError(f"{what} {path!r}: no such file")
    return p


def prepare(args: argparse.Namespace, *, train: bool = True, method: bool = False, out_default: str | None = None,
            spec: str | None = None) -> Job:
    """Resolve and check every option a verb uses (:mod:`pinndd.validate` for each value, the
    memory estimate here); nothing trains before this returns."""
    from . import methods, validate
    from .specs import canonical_spec, resolve_problem

    job = Job(resolve_options(args))
    o = job.opts
    job.proto = _checked("--protocol", validate.protocol, o["protocol"])
    o["threads"] = _checked("--threads", validate.threads, o["threads"])
    o["seed"] = _checked("--seed", validate.seed, o["seed"])
    job.device = _device(o["device"])
    job.spec = canonical_spec(spec or o["pde"])
    job.problem = _checked("--param", validate.params, resolve_problem(job.spec), o["params"])
    if train:
        t = job.proto.train
        adam, lbfgs = (t.adam_steps if o["adam_steps"] is None else o["adam_steps"],
                       t.lbfgs_steps if o["lbfgs_steps"] is None else o["lbfgs_steps"])
        adam, lbfgs = _checked("--adam-steps/--lbfgs-steps", validate.steps, adam, lbfgs)
        job.config = job.proto.config(device=job.device, seed=o["seed"], compile=bool(o["compile"]), adam_steps=adam,
                                      lbfgs_steps=lbfgs)
        if o["dense"] is not None:
            o["dense"] = _checked("--dense", validate.budget, o["dense"])
        _check_memory(job, o["dense"] or job.proto.dense, "--dense")
    if method:
        if o["method"] not in methods.names():
            raise CliError(f"--method {o['method']!r} is unknown; registered: {', '.join(methods.names())}")
        o["budget"] = _checked("--budget", validate.budget, o["budget"])
        if job.config is not None:
            _check_memory(job, o["budget"], "--budget")
        _checked("--set", validate.method, o["method"], method_settings(job))  # unknown or bad settings fail here
    if out_default is not None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        prefix = "" if out_default == "run" else f"{out_default}-"  # pinndd run: runs/<pde>-<time>
        job.out = _checked("--out", validate.output_dir, o["out"] or f"runs/{prefix}{job.problem.name}-{stamp}")
    import torch

    torch.set_num_threads(o["threads"])
    return job


def method_settings(job: Job) -> dict[str, Any]:
    """The method's settings: tied to the protocol (:func:`pinndd.protocols.method_settings`),
    then the config file's ``[settings]``, then ``--set``."""
    from .protocols import method_settings as tied

    return {**tied(job.opts["method"], job.proto, job.device if job.device != "cpu" else None), **job.opts["settings"]}


# ---------------------------------------------------------------------------------------------
# Shared steps
# ---------------------------------------------------------------------------------------------
def set_costs(meta: dict[str, Any]) -> dict[str, float]:
    """What making a point set cost: ``make_seconds`` (wall time of ``make``), the teacher's
    training (``teacher_seconds``; charged in full also when it came from the teacher cache)
    and warm-ups (``warmup_seconds``)."""
    out = {"make_seconds": float(meta.get("cost_seconds", 0.0))}
    for key in ("teacher_seconds", "warmup_seconds"):
        if meta.get(key):
            out[key] = float(meta[key])
    return out


def total_cost(costs: dict[str, float]) -> float:
    """Seconds a trained model cost in all: making its set (wall time, or the teacher's full
    training cost where that is larger, e.g. a teacher loaded from the cache) plus training.
    Warm-ups and teachers run inside ``make``, so they are not added again."""
    return costs.get("train_seconds", 0.0) + max(costs.get("make_seconds", 0.0), costs.get("teacher_seconds", 0.0))


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
    from . import methods
    from .pointset import PointSet

    name = method or job.opts["method"]
    settings = method_settings(job) if name == job.opts["method"] else {}
    ps = methods.get(name, **settings).make(job.problem, budget or job.opts["budget"],
                                            seed=job.opts["seed"] if seed is None else seed)
    return PointSet(ps.interior, ps.interior_weights, ps.conditions, ps.targets, ps.target_weight,
                    {**ps.metadata, "pde_spec": job.spec}, ps.label_record)


def load_set(job: Job, path: Path):
    from .pointset import PointSet

    return PointSet.load(path, job.problem)


def train_and_measure(job: Job, ps, label: str, folder=None, title: str = "") -> dict[str, Any]:
    """Train on ``ps``, evaluate, and (with a run folder) save the set, the model and a figure.
    Returns the metrics row with costs."""
    from .evaluation import evaluate, residual_mse
    from .model_io import save_model
    from .ood import held_out_points
    from .training import train

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
            from .plotting import plot_solution

            plot_solution(job.problem, res.model, ps, folder.record(f"solution_{label}.png"),
                          title=title + (", labelled" if ps.labelled else ""), cost_seconds=total_cost(row["costs_seconds"]))
    row["_model"] = res.model
    return row


def _line(label: str, row: dict[str, Any]) -> str:
    err = (f"L2RE {row['l2re']:.4g}  L1RE {row['l1re']:.4g}  max {row['max_abs']:.3g}  " if "l2re" in row else "")
    return (f"{label:>6}: {row['method']} {row['budget']:>5} interior points{' (labelled)' if row['labelled'] else ''}  "
            f"{err}residual {row['residual_mse']:.2e}  ({_cost_text(row['costs_seconds'])})")


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def _folder(job: Job, argv: list[str] | None):
    from .manifest import RunFolder

    o = job.opts
    config = {**{k: v for k, v in o.items()}, "pde": job.spec, "device": job.device,
              "train_config": job.config.to_dict() if job.config is not None else None}
    folder = RunFolder(job.out, ["pinndd", *(argv if argv is not None else sys.argv[1:])], config)
    folder.extra.update(seeds={"network": o["seed"], "set": o["seed"]}, device=job.device, threads=o["threads"],
                        problem=job.problem.describe())
    return folder


# ---------------------------------------------------------------------------------------------
# Verbs
# ---------------------------------------------------------------------------------------------
def _run(args: argparse.Namespace) -> int:
    """Dense Sobol training against one method's small set, each trained once; a run folder.

    The stages are a list, so another comparison is one more entry."""
    job = prepare(args, method=True, out_default="run")
    folder = _folder(job, args.argv)
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
        with folder.stage(f"{label}_train"):
            row = train_and_measure(job, ps, label, folder, title=f"{job.problem.name}: {what} interior points")
        runs[label] = row
        print(_line(label, row), flush=True)
    dense_train = runs["dense"]["costs_seconds"]["train_seconds"]
    family = _family_stage(job, folder, runs["dense"], dense_set) if job.opts["family_check"] else None
    for label, row in runs.items():
        total = total_cost(row["costs_seconds"])
        row["total_seconds"] = total
        row["dense_trainings"] = total / dense_train if dense_train > 0 else None
        folder.costs[label] = total
    folder.write_json("metrics.json", {"problem": job.problem.describe(), "protocol": job.proto.name,
                                       "config": job.config.to_dict(), "threads": job.opts["threads"],
                                       "runs": {k: _public(v) for k, v in runs.items()},
                                       **({"family": family} if family is not None else {})})
    folder.finish()
    extra = ", kit/, family.png" if family is not None else ""
    print(f"wrote {folder.path}/ (manifest.json, metrics.json, points_*.npz, model_*.npz, solution_*.png{extra})")
    return 0


def _family_stage(job: Job, folder, dense_row: dict[str, Any], dense_set) -> dict[str, Any] | None:
    """The family check: a kit from the dense run (the nominal PINN), then at three held-out
    shift values the kit's solve beside fine-tunes on the dense set and on Sobol points."""
    from .family_eval import quick_check
    from .plotting import plot_error_curves

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


def _distil(args: argparse.Namespace) -> int:
    job = prepare(args, train=False, method=True, out_default="distil")
    folder = _folder(job, args.argv)
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
    from .model_io import read_model
    from .pointset import PointSet

    if kind == "model":
        meta, _ = read_model(path)
        return meta.get("problem", {}).get("spec")
    ps = PointSet.load(path)
    return ps.metadata.get("pde_spec") or ps.metadata.get("problem")


def _stored_params(path: str | None, kind: str) -> dict[str, float]:
    from .model_io import read_model
    from .pointset import PointSet

    if path is None:
        return {}
    if kind == "model":
        return dict(read_model(path)[0].get("problem", {}).get("params", {}))
    return dict(PointSet.load(path).metadata.get("params", {}))


def _problem_spec(args, path: str | None, kind: str) -> str | None:
    """``--pde`` when given, else the one stored in the file (so a user's problem is found again).
    Without ``--pde``, the parameters stored in the file are the defaults that ``--param`` overrides."""
    if getattr(args, "pde", None):
        return args.pde
    if path is not None:
        args.param = [f"{k}={v}" for k, v in _stored_params(path, kind).items()] + list(args.param or [])
    return _spec_from_file(path, kind)


def _train(args: argparse.Namespace) -> int:
    if args.points:
        _check_file(args.points, "--points")
    job = prepare(args, method=not args.points, out_default="train", spec=_problem_spec(args, args.points, "set"))
    folder = _folder(job, args.argv)
    with folder.stage("set"):
        ps = load_set(job, Path(args.points)) if args.points else make_set(job)
    with folder.stage("train"):
        row = train_and_measure(job, ps, "trained", folder,
                                title=f"{job.problem.name}: {ps.metadata.get('method')} {ps.n_interior} interior points")
    folder.costs.update(row["costs_seconds"])
    folder.write_json("metrics.json", _public(row))
    folder.finish()
    print(_line("train", row))
    print(f"wrote {folder.path}/ (model_trained.npz, points_trained.npz, metrics.json, manifest.json)")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from .evaluation import evaluate, residual_mse
    from .model_io import load_model
    from .ood import held_out_points

    _check_file(args.model, "model file")
    spec = _problem_spec(args, args.model, "model")  # at the parameters it was trained for unless --param
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
        from .manifest import write_json

        write_json(args.json, row)
    return 0


def _ood(args: argparse.Namespace) -> int:
    from .budget import as_integer
    from .errors import PinnddError
    from .ood import error_curves, ratio_to_dense, resolve_family, retrain_ood, scoring_values, shift_values
    from .plotting import plot_error_curves
    from .sweep import write_table

    if args.points:
        _check_file(args.points, "--points")
    job = prepare(args, method=not args.points, out_default="ood", spec=_problem_spec(args, args.points, "set"))
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
        values = [_number("--values", str(v)) for v in raw]
    n_seeds = as_integer(o["seeds"] or 2, f"--seeds must be a whole number of network seeds; got {o['seeds']!r}")
    if n_seeds < 1:
        raise CliError(f"--seeds must be >= 1; got {n_seeds}")
    seeds = list(range(o["seed"], o["seed"] + n_seeds))
    folder = _folder(job, args.argv)
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


def _plot(args: argparse.Namespace) -> int:
    from .plotting import plot_point_sets, plot_results, plot_solution

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
    _check_file(args.model, "--model")
    for p in args.points or []:
        _check_file(p, "--points")
    from .model_io import load_model, read_model

    spec = _problem_spec(args, args.model, "model")
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


def _show(args: argparse.Namespace) -> int:
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
        from .pointset import PointSet

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
    from .model_io import read_model

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


def _list(args: argparse.Namespace) -> int:
    import equations

    from . import methods, protocols

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


# ---------------------------------------------------------------------------------------------
# The parser (no torch import here)
# ---------------------------------------------------------------------------------------------
def _problem_args(p: argparse.ArgumentParser, pde_default: str | None = DEFAULTS["pde"]) -> None:
    g = p.add_argument_group("problem")
    g.add_argument("--pde", default=None, metavar="NAME|FILE.py:ATTR|MODULE:ATTR",
                   help="a registered PDE (`pinndd list`) or your own Problem: path/to/file.py:attr or module:attr "
                        f"(attr: a Problem or a function returning one) [default: {pde_default}]")
    g.add_argument("--param", action="append", default=None, metavar="NAME=VALUE",
                   help="set a parameter of the problem, e.g. --param a=1.3 (repeatable)")
    g.add_argument("--config", default=None, metavar="FILE.toml",
                   help="TOML file of option values (keys as the flags, with _ for -; tables [params] and [settings]); "
                        "flags override it")


def _train_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--protocol", default=None, choices=None, metavar="quick|full|smoke",
                   help=f"training settings and dense size [default: quick]. {PROTOCOLS_HELP}")
    g.add_argument("--adam-steps", type=int, default=None, help="Adam steps [default: the protocol's]")
    g.add_argument("--lbfgs-steps", type=int, default=None, help="L-BFGS iterations after Adam [default: the protocol's]")
    g.add_argument("--dense", type=int, default=None, help="interior points of the dense Sobol set [default: the protocol's]")
    g.add_argument("--seed", type=int, default=None, help="seed of the point set and the network [default: 0]")
    g.add_argument("--compile", action="store_const", const=True, default=None,
                   help="compile each training step with torch.compile (2.4-4.5x faster per step on one CPU thread "
                        "than double autograd, measured; 10-40 s to compile once per shape)")
    _machine_args(g)


def _machine_args(g) -> None:
    g.add_argument("--device", default=None, metavar="auto|cpu|cuda|cuda:N",
                   help="where to train; auto = cuda when torch sees one [default: auto]")
    g.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads; 1 is fastest for small nets on small machines [default: $PINNDD_THREADS or 1]")


def _method_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("point set")
    g.add_argument("--method", default=None, help="registered method choosing the points (`pinndd list`) [default: sobol]")
    g.add_argument("--budget", type=int, default=None, help="interior points of the set; condition points follow the "
                   "budget rule, the same for every method [default: 256]")
    g.add_argument("--set", action="append", default=None, metavar="KEY=VALUE",
                   help="a method setting, e.g. --set teacher_scale=1 (JSON values; repeatable); unset ones follow the protocol")


def _job_args(p: argparse.ArgumentParser) -> None:
    """The groups of a verb that makes a set and trains on it."""
    _problem_args(p)
    _method_args(p)
    _train_args(p)


def _out_arg(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--out", default=None, metavar="FOLDER", help=f"{what} [default: runs/<verb>-<pde>-<time>]")


EXAMPLES = {
    "run": "pinndd run                                    # Burgers, dense 4096 vs Sobol 256, quick protocol\n"
           "  pinndd run --protocol smoke --method label_exchange --budget 32",
    "distil": "pinndd distil --method teacher_density --budget 256 --out runs/td\n"
              "  pinndd distil --pde my_rod.py:cooling --param amp=1.2 --method sobol --budget 128",
    "train": "pinndd train --points runs/td/points.npz --out runs/td_train\n"
             "  pinndd train --method rad --budget 256 --protocol smoke",
    "eval": "pinndd eval runs/td_train/model_trained.npz\n  pinndd eval runs/td_train/model_trained.npz --param a=1.2",
    "ood": "pinndd ood --points runs/td/points.npz --values 0.5,0.8,1.2,1.5 --seeds 3\n"
           "  pinndd ood --method sobol --budget 256 --family a",
    "plot": "pinndd plot --model runs/td_train/model_trained.npz --points runs/td/points.npz --out fig.png\n"
            "  pinndd plot --results runs/ood-burgers-20261201-120000",
    "show": "pinndd show runs/td/points.npz\n  pinndd show runs/td_train/model_trained.npz\n  pinndd show runs/td_train",
    "list": "pinndd list",
}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="pinndd", formatter_class=_Help,
                     description="Distil the points a PINN needs: make point sets, train on them, evaluate them in and "
                                 "out of distribution, plot them.",
                     epilog="Protocols: " + PROTOCOLS_HELP + ".\nEvery verb has its own --help with examples.")
    parser.add_argument("--version", action="version", version=f"pinndd {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="VERB")

    def verb(name, helptext, func, aliases=()):
        p = sub.add_parser(name, help=helptext, description=helptext, aliases=list(aliases), formatter_class=_Help,
                           epilog="example:\n  " + EXAMPLES[name])
        p.set_defaults(func=func)
        return p

    run = verb("run", "the main job: train on a dense Sobol set and on a small set of --method, compare errors and "
               "costs, write a run folder (manifest, metrics, point sets, models, figures)", _run)
    _job_args(run)
    run.add_argument("--out", default=None, metavar="FOLDER", help="run folder [default: runs/<pde>-<time>]")
    run.add_argument("--no-family", dest="family_check", action="store_false", default=None,
                     help="skip the family check (a kit from the dense run solving three held-out shift values, beside "
                          "fine-tunes on the dense set and on Sobol points)")

    dis = verb("distil", "make a point set with any registered method; writes points.npz and manifest.json",
               _distil, aliases=("distill",))
    _problem_args(dis)
    _method_args(dis)
    g = dis.add_argument_group("protocol")
    g.add_argument("--protocol", default=None, metavar="quick|full|smoke",
                   help="ties methods' own training (teachers, warm-ups) to a protocol [default: quick]. " + PROTOCOLS_HELP)
    g.add_argument("--seed", type=int, default=None, help="seed of the point set [default: 0]")
    _machine_args(g)
    _out_arg(dis, "run folder")

    tr = verb("train", "train a PINN on a set file (--points) or on a new set of --method; writes the model, "
              "metrics and a figure", _train)
    tr.add_argument("--points", default=None, metavar="FILE.npz", help="a point set file (from `pinndd distil`)")
    _job_args(tr)
    _out_arg(tr, "run folder")

    ev = verb("eval", "a saved model against the reference (L2/L1 relative, max error) and its PDE residual",
              _eval, aliases=("evaluate",))
    ev.add_argument("model", metavar="MODEL.npz", help="a model file (from `pinndd train` or `pinndd run`)")
    _problem_args(ev, pde_default="the model's")
    g = ev.add_argument_group("machine")
    _machine_args(g)
    ev.add_argument("--json", default=None, metavar="FILE", help="also write the metrics to this JSON file")

    ood = verb("ood", "retrain on a set across a shift family (held-out values in and out of range) beside dense and "
               "Sobol at the same budget; writes a table and the error-against-shift figure", _ood)
    ood.add_argument("--points", default=None, metavar="FILE.npz", help="a point set file; default: a new set of --method")
    _job_args(ood)
    g = ood.add_argument_group("shifts")
    g.add_argument("--family", default=None, metavar="PARAM", help="the shifted parameter [default: the problem's first "
                   "declared shift family]")
    g.add_argument("--values", default=None, metavar="V1,V2,...", help="shift values [default: 3 in range, 2 beyond each end]")
    g.add_argument("--seeds", type=int, default=None, help="network seeds per value, from --seed on [default: 2]")
    g.add_argument("--labels", default=None, choices=["drop", "relabel", "reference"],
                   help="a labelled set's labels at shifted values: drop them, relabel with a teacher trained at each "
                        "value (costly), or use the reference (a diagnostic) [default: drop]")
    _out_arg(ood, "run folder")

    pl = verb("plot", "figures: a model's solution, reference and error with its points; several sets over the model's "
              "error map; error against budget or shift from a results folder", _plot)
    pl.add_argument("--model", default=None, metavar="MODEL.npz", help="a model file")
    pl.add_argument("--points", nargs="+", default=None, metavar="FILE.npz", help="point set file(s) to overlay")
    pl.add_argument("--results", default=None, metavar="FOLDER", help="a folder with ood.json (pinndd ood) or rows.json "
                    "(experiments/budget_sweep.py)")
    _problem_args(pl, pde_default="the model's")
    pl.add_argument("--out", default=None, metavar="FILE.png|FOLDER", help="where to write [default: beside the input]")

    sh = verb("show", "a set's, model's or run folder's metadata, costs and label provenance", _show)
    sh.add_argument("file", metavar="FILE|FOLDER", help="a point set, a model file or a run folder")

    verb("list", "registered PDEs (with parameters and shift families), methods and protocols", _list)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pinndd``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    try:
        from .errors import PinnddError

        return args.func(args)
    except CliError as e:
        print(f"pinndd {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        detail = str(e) or "files already written are complete; the run folder has no manifest.json"
        print(f"pinndd {args.command}: interrupted ({detail})", file=sys.stderr)
        return 130
    except PinnddError as e:
        print(f"pinndd {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"pinndd {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
