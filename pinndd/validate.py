"""Checks of user input made before any work starts, for the command line and for scripts.

Each function takes a value as a user gives it (a command line gives strings), returns it
normalised, or raises :class:`pinndd.errors.PinnddError` with a one-line message saying what was
wrong and how to fix it. Call them all before training, so that a bad argument fails in
milliseconds rather than after a dense run::

    from pinndd import validate

    budget = validate.budget(args.budget)
    seed = validate.seed(args.seed)
    device = validate.device(args.device)
    problem = validate.params(validate.pde(args.pde), args.param)   # ["a=1.3", ...]
    method = validate.method(args.method, validate.settings(args.set))
    out = validate.output_dir(args.out)

The checks themselves live with what they check (:func:`pinndd.budget.check_budget`,
:func:`pinndd.methods.base.check_seed`, :func:`pinndd.engine.training.check_device`,
:meth:`pinndd.Problem.with_params`, ...); this module gathers them under one name.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import methods, protocols
from .budget import as_integer, check_budget
from .engine.training import check_device
from .errors import PinnddError
from .methods.base import check_seed

__all__ = ["budget", "device", "method", "method_names", "output_dir", "params", "pde", "protocol", "seed",
           "settings", "steps", "threads"]


def budget(value: Any) -> int:
    """A budget of interior points: an integer in ``1 .. pinndd.budget.MAX_BUDGET``."""
    return check_budget(value)


def seed(value: Any) -> int:
    """A seed: an integer in ``0 .. 2**32 - 1``."""
    return check_seed(value)


def device(value: Any) -> str:
    """``"cpu"`` or a CUDA device that exists on this machine; returned as a string."""
    return str(check_device(value))


def threads(value: Any) -> int:
    """A number of torch threads: an integer >= 1."""
    n = _integer("threads", value)
    if n < 1:
        raise PinnddError(f"threads must be an integer >= 1; got {value!r}")
    return n


def steps(adam_steps: Any, lbfgs_steps: Any) -> tuple[int, int]:
    """Adam and L-BFGS step counts: integers >= 0, not both zero."""
    a, b = _integer("adam_steps", adam_steps), _integer("lbfgs_steps", lbfgs_steps)
    if a < 0 or b < 0:
        raise PinnddError(f"adam_steps and lbfgs_steps must be >= 0; got {a}, {b}")
    if a == 0 and b == 0:
        raise PinnddError("adam_steps and lbfgs_steps are both 0: nothing would be trained; give one of them > 0")
    return a, b


def pde(name: Any):
    """The registered problem ``name`` (see ``equations.names()``), at its nominal parameters."""
    import equations  # noqa: PLC0415 (equations imports pinndd; import at call time)

    if not isinstance(name, str):
        raise PinnddError(f"a PDE is named by a string; got {name!r}; registered: {equations.names()}")
    return equations.get(name)


def method_names() -> list[str]:
    """The registered method names."""
    return methods.names()


def method(name: Any, config: Mapping[str, Any] | None = None):
    """The registered method ``name`` with settings ``config`` (an unknown name or setting, or a
    setting of the wrong type, is a :class:`PinnddError`)."""
    if not isinstance(name, str):
        raise PinnddError(f"a method is named by a string; got {name!r}; registered: {methods.names()}")
    return methods.get(name, **dict(config or {}))


def protocol(name: Any):
    """The benchmark protocol ``name`` (``quick``, ``full``, ``smoke``)."""
    if not isinstance(name, str):
        raise PinnddError(f"a protocol is named by a string; got {name!r}; known: {list(protocols.PROTOCOLS)}")
    return protocols.get(name)


def _parse_pairs(what: str, items: Iterable[str] | Mapping[str, Any] | None) -> dict[str, str | Any]:
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return dict(items)
    if isinstance(items, str):
        items = [items]
    out = {}
    for item in items:
        if not isinstance(item, str) or "=" not in item:
            raise PinnddError(f"{what} are given as name=value (e.g. a=1.3); got {item!r}")
        key, _, value = item.partition("=")
        key = key.strip()
        if not key.isidentifier():
            raise PinnddError(f"{what}: {key!r} is not a name; give name=value (e.g. a=1.3)")
        out[key] = value.strip()
    return out


def params(problem, values: Iterable[str] | Mapping[str, Any] | None):
    """``problem`` with parameters set from ``["a=1.3", ...]`` or a mapping: unknown names,
    values that are not finite numbers and values the problem does not support are refused."""
    parsed = {}
    for key, value in _parse_pairs("parameters", values).items():
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise PinnddError(f"parameter {key!r} must be a finite number; got {value!r}") from None
        parsed[key] = value
    return problem.with_params(**parsed) if parsed else problem


def settings(values: Iterable[str] | Mapping[str, Any] | None) -> dict[str, Any]:
    """Method settings from ``["outer_steps=20", "init=rad", ...]``: each value is read as JSON
    (numbers, ``true``/``false``, ``null``, lists) and otherwise kept as a string."""
    out = {}
    for key, value in _parse_pairs("method settings", values).items():
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass
        out[key] = value
    return out


def output_dir(path: Any) -> Path:
    """A folder that exists (or is created) and can be written: refuses an existing file and a
    read-only or unreachable place, by writing and removing a probe file."""
    if not isinstance(path, str | os.PathLike):
        raise PinnddError(f"an output folder is a path; got {path!r}")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise PinnddError(f"output folder {p} is an existing file; give a folder (it is created when missing)")
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".pinndd-write-check-", dir=p)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise PinnddError(f"cannot write to output folder {p}: {e.strerror or e}; choose a writable folder") from None
    return p


def _integer(name: str, value: Any) -> int:
    return as_integer(value, f"{name} must be an integer; got {value!r}")
