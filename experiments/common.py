"""Shared plumbing for experiment scripts: machine description, tidy tables, summaries."""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

import pinndd
from pinndd import methods
from pinndd.methods.base import method_settings  # noqa: F401 (re-exported for the sweep scripts)
from pinndd.rows import write_table
from pinndd.sweep import run_cells


def machine() -> dict:
    """What ran the experiment (recorded next to every number)."""
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "pinndd": pinndd.__version__,
        "python": platform.python_version(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def write_rows(rows: list[dict], out: Path, stem: str) -> None:
    """Write ``rows`` as ``stem.csv`` and ``stem.json`` (atomically, :func:`pinndd.sweep.write_table`)."""
    write_table(rows, out, stem)


def add_engine_args(ap, resume: bool = True) -> None:
    """The sweep engine's flags (:mod:`pinndd.sweep`): ``--serial``, ``--address``, ``--workers``,
    ``--gpus`` and (``resume``) ``--resume``."""
    ap.add_argument("--serial", action="store_true", help="run the cells in this process, one after another (no Ray)")
    ap.add_argument("--address", default=None, help="Ray cluster to join (default $RAY_ADDRESS, else Ray on this machine)")
    ap.add_argument("--workers", type=int, default=None, help="cells at once (default: cores / --threads)")
    ap.add_argument("--gpus", type=float, default=0.0, help="GPUs per cell (a fraction shares one device)")
    ap.add_argument("--device", default="cpu", help="where the cells train (cuda needs --gpus under Ray)")
    if resume:
        ap.add_argument("--resume", action="store_true",
                        help="keep the cells already in OUT/rows.json (matched by all their settings) and run the rest")


def sweep(cells: list[dict], fn, args, out: Path, stem: str = "rows", desc: str = "cells"):
    """Run ``cells`` through :func:`pinndd.sweep.run_cells` with the script's engine flags; its
    :class:`pinndd.sweep.SweepResult` (``.rows``; failed cells logged, in ``.failures``).

    Under Ray, dense teachers are shared between the workers through the on-disk teacher cache:
    ``$PINNDD_TEACHER_CACHE``, or ``OUT/teacher_cache`` when it is not set (each key trained once)."""
    from pinndd.methods.labelled.teacher_cache import CACHE_ENV

    if not args.serial and not os.environ.get(CACHE_ENV):
        os.environ[CACHE_ENV] = str(Path(out) / "teacher_cache")
        logging.getLogger(__name__).info("teacher cache shared by the workers: %s", os.environ[CACHE_ENV])
    return run_cells(cells, fn, out, stem=stem, resume=getattr(args, "resume", False), serial=args.serial,
                     address=args.address, workers=args.workers, threads=args.threads, gpus=args.gpus, desc=desc)


def engine_protocol(proto, args):
    """``proto`` with its training on ``args.device``; refuses CUDA cells without a GPU share."""
    from dataclasses import replace

    device = getattr(args, "device", "cpu")
    if device.startswith("cuda") and not args.serial and not args.gpus:
        raise SystemExit("--device cuda under Ray needs --gpus (GPUs per cell, e.g. 0.25 for four cells per GPU)")
    return replace(proto, train=replace(proto.train, device=device)) if device != proto.train.device else proto


def summarise(rows: list[dict], keys: tuple[str, ...], metric: str = "l2re") -> dict[tuple, dict]:
    """Mean, std, median, min, max and count of ``metric`` grouped by ``keys``."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for r in rows:
        groups[tuple(r[k] for k in keys)].append(float(r[metric]))
    out = {}
    for g, v in groups.items():
        a = np.asarray(v)
        out[g] = {"mean": a.mean(), "std": a.std(ddof=1) if len(a) > 1 else 0.0, "median": float(np.median(a)),
                  "min": a.min(), "max": a.max(), "n": len(a)}
    return out


def fmt(s: dict) -> str:
    return f"{s['mean']:.3g} ± {s['std']:.2g} (med {s['median']:.3g}, n={s['n']})"


def start(args):
    """The start every sweep script shares: INFO logging with times, ``args.threads`` torch
    threads, and the protocol named by ``args.protocol`` (returned)."""
    import logging

    from pinndd import protocols

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    return protocols.get(args.protocol)


def default_budget(proto, budget: int | None) -> int:
    """``budget`` or the protocol's 256-point budget (its largest when it has none)."""
    return budget or (256 if 256 in proto.budgets else max(proto.budgets))


def parse_variant(spec: str) -> tuple[str, tuple[str, dict]]:
    """``"LABEL=METHOD:key=value,key=value"`` -> ``(LABEL, (METHOD, settings))``; values are read as
    JSON where they parse (numbers, booleans), else kept as strings."""
    label, _, rest = spec.partition("=")
    method, _, opts = rest.partition(":")
    if not label or not method:
        raise SystemExit(f"--variant needs LABEL=METHOD[:key=value,...]; got {spec!r}")
    settings = {}
    for item in filter(None, opts.split(",")):
        k, _, v = item.partition("=")
        try:
            settings[k] = json.loads(v)
        except json.JSONDecodeError:
            settings[k] = v
    methods.get(method, **settings)  # fail early on unknown methods or settings
    return label, (method, settings)
