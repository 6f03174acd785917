"""The in-process caches: bounded, keyed by what a problem computes, emptied by one call.

A sweep asks for the same teacher, the same expert trajectories, the same starting set or the
same compiled graph many times; pinndd keeps the last few of each in a :class:`Cache` (least
recently used first out). Every cache is registered here, so :func:`clear_caches` empties them
all (``pinndd.clear_caches()``).

Keys hold :func:`problem_fingerprint`, a hash of what the problem computes: its name,
parameters, domain, declared partials, conditions and the code of its residual, condition and
hard-constraint functions, with the constants they close over and the plain values they read
from their module. The reference solution is left out: of what is cached only a diagnostic (a
teacher's reference error) comes from it, and a reference that memoises its solve would change
its own fingerprint. A problem edited in the same process (a new residual under the same name,
another constant in a closure) therefore gets a new key and a new teacher, never the stale one.
The disk
cache of dense runs (:mod:`pinndd.methods.labelled.teacher_cache`) hashes source files instead,
since it must hold across processes.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import types
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from .errors import PinnddError

__all__ = ["Cache", "caches", "clear_caches", "function_fingerprint", "problem_fingerprint"]

_REGISTRY: dict[str, Cache] = {}


class Cache:
    """A bounded map from hashable keys to values, least recently used evicted first.

    Parameters
    ----------
    name:
        Registered under this name (:func:`caches`); one cache per name.
    max_items:
        The most values kept; the least recently used goes when a new one would exceed it.
    """

    def __init__(self, name: str, max_items: int):
        if not isinstance(max_items, int) or max_items < 1:
            raise PinnddError(f"a cache holds at least one item; got max_items={max_items!r}")
        if name in _REGISTRY:
            raise PinnddError(f"a cache named {name!r} exists already; use pinndd.cache.caches()[{name!r}]")
        self.name, self.max_items = name, max_items
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        _REGISTRY[name] = self

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The value under ``key`` (now the most recently used), or ``default``."""
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: Any) -> Any:
        """Keep ``value`` under ``key``, evicting the least recently used beyond ``max_items``."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return value

    def pop(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def keys(self) -> list[Hashable]:
        """The keys, least recently used first."""
        with self._lock:
            return list(self._items)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Cache({self.name!r}, {len(self)}/{self.max_items} items)"


def caches() -> dict[str, Cache]:
    """Every registered cache by name."""
    return dict(_REGISTRY)


def clear_caches() -> None:
    """Empty every in-process cache (teachers, experts, starting sets, compiled graphs).

    The disk cache of dense runs (``$PINNDD_TEACHER_CACHE``) is left alone: delete its folder."""
    for c in _REGISTRY.values():
        c.clear()


_PLAIN = (bool, int, float, complex, str, bytes, type(None))


def _value_bytes(value: Any, seen: set[int]) -> bytes:
    """Bytes standing for a value a function closes over or reads: plain values and arrays by
    content, functions by their fingerprint, anything else by identity (never stale, at worst a
    miss)."""
    if isinstance(value, _PLAIN):
        return repr(value).encode()
    if isinstance(value, tuple | list | frozenset | set):
        items = sorted(value, key=repr) if isinstance(value, frozenset | set) else value
        return b"(" + b",".join(_value_bytes(v, seen) for v in items) + b")"
    if isinstance(value, dict):
        return b"{" + b",".join(repr(k).encode() + b":" + _value_bytes(v, seen) for k, v in sorted(
            value.items(), key=lambda kv: repr(kv[0]))) + b"}"
    if isinstance(value, np.ndarray):
        return f"{value.dtype}{value.shape}".encode() + np.ascontiguousarray(value).tobytes()
    if type(value).__module__ == "torch" and type(value).__name__ in ("Tensor", "Parameter"):
        t = value.detach().cpu()
        return f"{t.dtype}{tuple(t.shape)}".encode() + t.contiguous().numpy().tobytes()
    if isinstance(value, types.ModuleType):
        return f"module:{value.__name__}".encode()
    if callable(value):
        return _function_bytes(value, seen)
    return f"object:{type(value).__qualname__}:{id(value)}".encode()


def _code_bytes(code: types.CodeType) -> bytes:
    parts = [code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()]
    for c in code.co_consts:
        parts.append(_code_bytes(c) if isinstance(c, types.CodeType) else repr(c).encode())
    return b"|".join(parts)


def _function_bytes(fn: Callable, seen: set[int]) -> bytes:
    if id(fn) in seen:
        return b"<recursion>"
    seen = seen | {id(fn)}
    if isinstance(fn, functools.partial):
        return (b"partial:" + _function_bytes(fn.func, seen) + _value_bytes(fn.args, seen)
                + _value_bytes(dict(fn.keywords), seen))
    if isinstance(fn, types.MethodType):
        return b"method:" + _function_bytes(fn.__func__, seen) + _value_bytes(fn.__self__, seen)
    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType):  # a builtin, or an object with __call__: by identity
        return f"callable:{getattr(fn, '__qualname__', type(fn).__qualname__)}:{id(fn)}".encode()
    parts = [_code_bytes(code), _value_bytes(fn.__defaults__ or (), seen)]
    parts += [_value_bytes(cell.cell_contents, seen) for cell in (fn.__closure__ or ())]
    glob = getattr(fn, "__globals__", {})
    for name in code.co_names:  # plain values and functions the code reads from its module
        if name in glob and not isinstance(glob[name], types.ModuleType | type):
            parts.append(name.encode() + b"=" + _value_bytes(glob[name], seen))
    return b"fn:" + b"|".join(parts)


def function_fingerprint(fn: Callable) -> str:
    """A hash of what ``fn`` computes: its code, defaults, the values it closes over and the
    plain values and functions it reads from its module."""
    return hashlib.sha256(_function_bytes(fn, set())).hexdigest()[:24]


def problem_fingerprint(problem) -> str:
    """A hash of what ``problem`` computes (see the module docstring)."""
    h = hashlib.sha256()
    h.update(repr([problem.name, sorted(problem.params.items()), repr(problem.domain), list(problem.partials),
                   list(getattr(problem, "hard_conditions", ()))]).encode())
    h.update(_function_bytes(problem.residual, set()))
    for c in problem.conditions:
        h.update(repr([c.name, c.kind, repr(c.face), c.weight]).encode())
        h.update(_function_bytes(c.value, set()))
    if getattr(problem, "hard_transform", None) is not None:
        h.update(_function_bytes(problem.hard_transform, set()))
    return h.hexdigest()[:24]
