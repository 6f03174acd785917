"""Box domains with named coordinates; time is an ordinary coordinate.

A :class:`Box` is ``[lower_1, upper_1] x ... x [lower_d, upper_d]`` with one name per axis
(e.g. ``("x", "t")``). A :class:`Face` is the set where one coordinate sits at its lower or
upper bound; condition points live on faces and move only along them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import PinnddError

#: Absolute tolerance (relative to the box extent) for "on the face" and "inside" checks.
#: float32 round-off of coordinates of order one is ~1e-7; this leaves headroom.
GEOMETRY_TOL = 1e-6


@dataclass(frozen=True)
class Box:
    """An axis-aligned box with named coordinates.

    Parameters
    ----------
    names:
        One single-letter name per coordinate, e.g. ``("x", "t")``. Single letters make the
        partial-derivative names (``u_xx``, ``u_xt``) unambiguous.
    lower, upper:
        Bounds per coordinate, ``lower < upper``.
    """

    names: tuple[str, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "lower", tuple(float(v) for v in self.lower))
        object.__setattr__(self, "upper", tuple(float(v) for v in self.upper))
        if not (len(self.names) == len(self.lower) == len(self.upper) >= 1):
            raise PinnddError(
                f"Box needs one name, lower and upper bound per coordinate; got "
                f"{len(self.names)} names, {len(self.lower)} lower, {len(self.upper)} upper"
            )
        for n in self.names:
            if len(n) != 1 or not n.isalpha() or n == "u":
                raise PinnddError(f"coordinate names must be single letters other than 'u'; got {n!r}")
        if len(set(self.names)) != len(self.names):
            raise PinnddError(f"coordinate names must be distinct; got {self.names}")
        for n, lo, hi in zip(self.names, self.lower, self.upper):
            if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
                raise PinnddError(f"coordinate {n!r} needs finite bounds lower < upper; got [{lo}, {hi}]")

    @property
    def dim(self) -> int:
        return len(self.names)

    @property
    def extent(self) -> np.ndarray:
        return np.asarray(self.upper) - np.asarray(self.lower)

    def index(self, name: str) -> int:
        """Position of coordinate ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise PinnddError(f"no coordinate {name!r}; this box has {self.names}") from None

    def face(self, name: str, side: str) -> Face:
        """The face where coordinate ``name`` is at its ``"lower"`` or ``"upper"`` bound."""
        if side not in ("lower", "upper"):
            raise PinnddError(f"side must be 'lower' or 'upper'; got {side!r}")
        return Face(self, self.index(name), side)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map points of the unit cube ``[0, 1]^d`` affinely onto the box."""
        u = np.asarray(u, dtype=np.float64)
        return np.asarray(self.lower) + u * self.extent

    def to_unit(self, x: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`from_unit`."""
        return (np.asarray(x, dtype=np.float64) - np.asarray(self.lower)) / self.extent

    def contains(self, points: np.ndarray, tol: float = GEOMETRY_TOL) -> np.ndarray:
        """Boolean mask of the rows of ``points`` (shape ``(n, d)``) inside the closed box."""
        p = np.asarray(points, dtype=np.float64)
        slack = tol * self.extent
        return np.all((p >= np.asarray(self.lower) - slack) & (p <= np.asarray(self.upper) + slack), axis=1)

    def grid(self, counts: tuple[int, ...] | int) -> np.ndarray:
        """Tensor-product grid including the bounds, rows ordered with the first coordinate slowest."""
        if isinstance(counts, int):
            counts = (counts,) * self.dim
        axes = [np.linspace(lo, hi, c) for lo, hi, c in zip(self.lower, self.upper, counts)]
        mesh = np.meshgrid(*axes, indexing="ij")
        return np.stack([m.ravel() for m in mesh], axis=1)


@dataclass(frozen=True)
class Face:
    """The face ``{x in box : x[axis] = bound}`` of a :class:`Box`."""

    box: Box
    axis: int
    side: str

    @property
    def coordinate(self) -> str:
        return self.box.names[self.axis]

    @property
    def value(self) -> float:
        return self.box.lower[self.axis] if self.side == "lower" else self.box.upper[self.axis]

    @property
    def normal_sign(self) -> float:
        """Sign of the outward normal along :attr:`axis` (-1 on the lower face, +1 on the upper)."""
        return -1.0 if self.side == "lower" else 1.0

    @property
    def free_axes(self) -> tuple[int, ...]:
        return tuple(i for i in range(self.box.dim) if i != self.axis)

    @property
    def label(self) -> str:
        return f"{self.coordinate}={self.value:g}"

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map points of ``[0, 1]^(d-1)`` onto the face (shape ``(n, d-1)`` -> ``(n, d)``)."""
        u = np.asarray(u, dtype=np.float64).reshape(len(u), -1)
        if u.shape[1] != self.box.dim - 1:
            raise PinnddError(f"face of a {self.box.dim}-d box needs {self.box.dim - 1} unit coordinates; got {u.shape[1]}")
        out = np.empty((len(u), self.box.dim))
        out[:, self.axis] = self.value
        for j, ax in enumerate(self.free_axes):
            out[:, ax] = self.box.lower[ax] + u[:, j] * self.box.extent[ax]
        return out

    def contains(self, points: np.ndarray, tol: float = GEOMETRY_TOL) -> np.ndarray:
        """Boolean mask of the rows of ``points`` lying on this face (within ``tol`` of the extent)."""
        p = np.asarray(points, dtype=np.float64)
        on = np.abs(p[:, self.axis] - self.value) <= tol * self.box.extent[self.axis]
        return on & self.box.contains(p, tol)

    def opposite(self) -> Face:
        return Face(self.box, self.axis, "upper" if self.side == "lower" else "lower")
