"""Shared plumbing for experiment scripts: machine description, tidy tables, summaries."""

from __future__ import annotations

import csv
import json
import os
import platform
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

import pinndd
from pinndd import methods
from pinndd.protocols import method_settings  # noqa: F401 (re-exported for the sweep scripts)


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
    """Write ``rows`` as ``stem.csv`` and ``stem.json``."""
    out.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(out / f"{stem}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    (out / f"{stem}.json").write_text(json.dumps(rows, indent=1))


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
