"""Options of the command line: flags over the config file over the defaults, checked together
into a :class:`Job` before anything trains."""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Built-in values of every option a config file may set (flags override the file, the file these).
DEFAULTS: dict[str, Any] = {
    "pde": "burgers", "method": "sobol", "budget": 256, "protocol": "quick", "seed": 0, "device": "auto",
    "threads": None, "adam_steps": None, "lbfgs_steps": None, "compile": False, "dense": None, "out": None,
    "seeds": None, "family": None, "family_check": True, "values": None, "labels": "drop", "params": {}, "settings": {},
}
#: Memory an estimate may claim before a budget counts as absurd (fraction of the device's).
MEMORY_FRACTION = 0.5


class CliError(Exception):
    """A bad command-line argument (exit status 2)."""


def number_option(flag: str, value: Any) -> float:
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
    from .. import validate

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
    from ..errors import PinnddError

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
    from .. import validate

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


def check_file(path: str, what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise CliError(f"{what} {path!r}: no such file")
    return p


def prepare(args: argparse.Namespace, *, train: bool = True, method: bool = False, out_default: str | None = None,
            spec: str | None = None) -> Job:
    """Resolve and check every option a verb uses (:mod:`pinndd.validate` for each value, the
    memory estimate here); nothing trains before this returns."""
    from .. import methods, validate
    from ..specs import canonical_spec, resolve_problem

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
    """The method's settings: tied to the protocol (:func:`pinndd.methods.base.method_settings`),
    then the config file's ``[settings]``, then ``--set``."""
    from ..methods.base import method_settings as tied

    return {**tied(job.opts["method"], job.proto, job.device if job.device != "cpu" else None), **job.opts["settings"]}


