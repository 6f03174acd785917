"""The registered PDE problems, one per module.

>>> import equations
>>> equations.names()            # doctest: +SKIP
['advection', 'allen_cahn', 'burgers', ...]
>>> burgers = equations.get("burgers")
>>> shifted = burgers.with_params(a=1.3)

Each module registers a factory with :func:`register`, together with how its reference is
verified (:class:`Verification`): the test suite checks, for every registered problem at its
nominal parameters and at a shifted value, that the reference satisfies the PDE (finite
differences of the reference plugged into the problem's own residual) and its conditions.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pinndd.errors import PinnddError
from pinndd.problem import Problem


@dataclass(frozen=True)
class Verification:
    """How the test suite checks a problem's reference.

    Parameters
    ----------
    shifted:
        Parameter values of at least one shifted problem to check besides the nominal one.
    h:
        Finite-difference step, as a fraction of each coordinate's extent.
    rtol:
        Bound on ``rms(residual) / scale`` where ``scale`` is the largest rms among the
        declared partials at the check points. For shock or interface problems that is
        ``rms(u_xx)``, far larger than the PDE's terms, so such problems need small ``rtol``
        to catch a wrong coefficient (each equation's ``notes`` say what its bound catches).
    ctol:
        Bound on ``max |condition residual| / max |u|`` for value conditions (Dirichlet,
        initial value, periodic).
    dtol:
        The same bound for derivative conditions (Neumann, initial velocity), whose check uses
        one-sided second-order differences.
    margin:
        Check points keep this fraction of each extent away from the faces.
    """

    shifted: tuple[Mapping[str, float], ...]
    h: float = 1e-3
    rtol: float = 1e-3
    ctol: float = 1e-5
    dtol: float = 1e-3
    margin: float = 0.02
    n_points: int = 400
    notes: str = ""


@dataclass(frozen=True)
class _Entry:
    factory: Callable[[], Problem]
    verification: Verification
    reference_method: str = field(default="")


_REGISTRY: dict[str, _Entry] = {}
_MODULES = ("burgers", "allen_cahn", "heat", "advection", "wave", "poisson", "helmholtz", "klein_gordon")
_loaded = False


def register(name: str, verification: Verification, reference_method: str = ""):
    """Decorator registering ``factory() -> Problem`` under ``name``."""

    def deco(factory: Callable[[], Problem]) -> Callable[[], Problem]:
        _REGISTRY[name] = _Entry(factory, verification, reference_method)
        return factory

    return deco


def _load() -> None:
    global _loaded
    if not _loaded:
        for mod in _MODULES:
            importlib.import_module(f"{__name__}.{mod}")
        _loaded = True


def names() -> list[str]:
    """Names of all registered problems, sorted."""
    _load()
    return sorted(_REGISTRY)


def get(name: str, **params: float) -> Problem:
    """A fresh problem by name, optionally with shifted parameters."""
    _load()
    if name not in _REGISTRY:
        raise PinnddError(f"unknown problem {name!r}; registered: {names()}")
    problem = _REGISTRY[name].factory()
    return problem.with_params(**params) if params else problem


def verification(name: str) -> Verification:
    """How ``name``'s reference is verified (used by the test suite)."""
    _load()
    return _REGISTRY[name].verification


def reference_method(name: str) -> str:
    """One line on how ``name``'s reference is computed."""
    _load()
    return _REGISTRY[name].reference_method
