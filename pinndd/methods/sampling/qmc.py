"""Low-level samplers of the unit cube (scipy.stats.qmc does the quasi-random work).

``sample_unit(kind, n, dim, seed)`` returns exactly ``n`` points in ``[0, 1]^dim``:

- ``uniform``: i.i.d. uniform;
- ``grid``: a cell-centred grid of ``m = ceil(n^(1/dim))`` points per axis, thinned to ``n``
  by evenly spaced indices (exact when ``n = m^dim``), shifted by a seeded random offset of
  at most half a cell;
- ``lhs``: Latin hypercube (scipy.stats.qmc.LatinHypercube);
- ``sobol``: scrambled Sobol (scipy.stats.qmc.Sobol); best balanced at powers of two;
- ``halton``: scrambled Halton;
- ``hammersley``: first coordinate ``(i + 1/2) / n``, the others scrambled Halton (the
  Hammersley construction), randomly shifted along the first axis.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import qmc

from ...errors import PinnddError

KINDS = ("uniform", "grid", "lhs", "sobol", "halton", "hammersley")


def sample_unit(kind: str, n: int, dim: int, seed: int) -> np.ndarray:
    """``n`` points of kind ``kind`` in ``[0, 1]^dim`` (see the module docstring)."""
    if kind not in KINDS:
        raise PinnddError(f"sampler kind must be one of {KINDS}; got {kind!r}")
    if int(n) != n or n < 1:
        raise PinnddError(f"number of points must be a positive integer; got {n!r}")
    n = int(n)
    rng = np.random.default_rng(seed)
    if dim == 0:
        return np.zeros((n, 0))
    if kind == "uniform":
        return rng.random((n, dim))
    if kind == "grid":
        m = int(np.ceil(n ** (1.0 / dim) - 1e-9))
        axes = np.meshgrid(*[(np.arange(m) + 0.5) / m] * dim, indexing="ij")
        full = np.stack([a.ravel() for a in axes], axis=1)
        pick = np.unique(np.round(np.linspace(0, len(full) - 1, n)).astype(int))
        offset = (rng.random(dim) - 0.5) / m
        return np.clip(full[pick] + offset, 0.0, 1.0)
    if kind == "lhs":
        return qmc.LatinHypercube(d=dim, rng=rng).random(n)
    if kind == "sobol":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # balance warning for n not a power of 2
            return qmc.Sobol(d=dim, scramble=True, rng=rng).random(n)
    if kind == "halton":
        return qmc.Halton(d=dim, scramble=True, rng=rng).random(n)
    # hammersley
    first = ((np.arange(n) + 0.5) / n + rng.random() / n) % 1.0
    if dim == 1:
        return first[:, None]
    rest = qmc.Halton(d=dim - 1, scramble=True, rng=rng).random(n)
    return np.column_stack([first, rest])


def sample_face(face, kind: str, n: int, seed: int) -> np.ndarray:
    """``n`` points of kind ``kind`` on a face of a box."""
    return face.from_unit(sample_unit(kind, n, face.box.dim - 1, seed))
