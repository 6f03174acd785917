"""Checks of a method's settings, with messages that name the method and the setting."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import PinnddError


def _int_or_raise(method: str, name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise PinnddError(f"{method}: {name} must be an integer >= {low}; got {value!r}")


def check_number(method: str, name: str, value: Any, low: float, *, strict: bool = False, high: float | None = None) -> float:
    """``value`` as a float, or a :class:`PinnddError` naming the method and setting when it is
    not finite, below ``low`` (or equal, with ``strict``), or above ``high``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise PinnddError(f"{method}: {name} must be a number; got {value!r}") from None
    bad = not np.isfinite(v) or v < low or (strict and v == low) or (high is not None and v > high)
    if bad:
        rng = f"{'>' if strict else '>='} {low}" + (f" and <= {high}" if high is not None else "")
        raise PinnddError(f"{method}: {name} must be finite and {rng}; got {value!r}")
    return v


def check_int(method: str, name: str, value: Any, low: int) -> int:
    """``value`` as an int, or a :class:`PinnddError` when it is not an integer ``>= low``."""
    _int_or_raise(method, name, value, low)
    return int(value)
