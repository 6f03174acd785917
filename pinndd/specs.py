"""Naming a problem from the command line or a file: a registered name, ``path/to/file.py:attr``
or ``package.module:attr``.

``attr`` is a :class:`~pinndd.problem.Problem` or a function of no arguments returning one, so a
user's own PDE (defined as in the README) runs through every CLI verb without registering it::

    pinndd distil --pde my_rod.py:cooling --method sobol --budget 128

The spec is stored in point-set, model and run metadata, so ``pinndd eval`` and ``pinndd show``
find the problem again (a file path is stored absolute).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path

from .errors import PinnddError
from .problem import Problem


def canonical_spec(spec: str) -> str:
    """``spec`` with a file path made absolute (so it still resolves from another folder)."""
    target, sep, attr = spec.rpartition(":")
    if sep and target.endswith(".py"):
        return f"{Path(target).expanduser().resolve()}:{attr}"
    return spec


def _load_module_from_file(path: Path):
    if not path.is_file():
        raise PinnddError(f"--pde file {str(path)!r} does not exist; give path/to/file.py:attribute")
    name = f"pinndd_user_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PinnddError(f"cannot import {str(path)!r} as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except PinnddError:
        sys.modules.pop(name, None)
        raise
    except Exception as e:
        sys.modules.pop(name, None)
        raise PinnddError(f"importing {str(path)!r} failed: {type(e).__name__}: {e}") from None
    return module


def resolve_problem(spec: str, params: Mapping[str, float] | None = None) -> Problem:
    """The problem named by ``spec``, with ``params`` applied (``problem.with_params``).

    Parameters
    ----------
    spec:
        A registered name (``pinndd list``), ``path/to/file.py:attr`` or ``module:attr``; ``attr``
        is a :class:`Problem` or a function of no arguments returning one.
    params:
        Parameter values to set, e.g. ``{"a": 1.3}``.

    Raises
    ------
    PinnddError
        Unknown name, missing file or attribute, or an attribute that is not a problem.
    """
    if not isinstance(spec, str) or not spec:
        raise PinnddError("--pde needs a registered name (pinndd list) or path/to/file.py:attribute or module:attribute")
    target, sep, attr = spec.rpartition(":")
    if not sep or (len(target) == 1 and target.isalpha()):  # no colon (or only a Windows drive letter)
        import equations

        problem = equations.get(spec)
    else:
        if not attr.isidentifier():
            raise PinnddError(f"--pde {spec!r}: {attr!r} is not an attribute name; use path/to/file.py:attribute")
        if target.endswith(".py") or "/" in target or "\\" in target:
            module = _load_module_from_file(Path(target).expanduser())
        else:
            try:
                module = importlib.import_module(target)
            except ImportError as e:
                raise PinnddError(f"--pde {spec!r}: cannot import module {target!r} ({e})") from None
        if not hasattr(module, attr):
            raise PinnddError(f"--pde {spec!r}: {target!r} has no attribute {attr!r}")
        obj = getattr(module, attr)
        if callable(obj) and not isinstance(obj, Problem):
            try:
                obj = obj()
            except TypeError as e:
                raise PinnddError(f"--pde {spec!r}: {attr!r} must be a Problem or take no arguments ({e})") from None
        if not isinstance(obj, Problem):
            raise PinnddError(f"--pde {spec!r}: {attr!r} is a {type(obj).__name__}, not a pinndd Problem")
        problem = obj
    return problem.with_params(**dict(params)) if params else problem
