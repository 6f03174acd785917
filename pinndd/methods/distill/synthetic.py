"""A learnable point set: coordinates kept in the domain (or on their face) by construction.

A :class:`SyntheticSet` holds *raw* tensors and maps them to points and weights:

- interior point ``i``: ``x_i = lower + extent * sigmoid(z_i)`` with ``z_i in R^d``, so every
  point lies inside the box whatever the optimiser does;
- a point of condition ``c`` on the face ``{x_k = v}``: ``x_k = v`` exactly and, for every free
  axis ``a != k``, ``x_a = lower_a + extent_a * sigmoid(z_a)``, so it moves only along its face;
- weights (optional): ``w = n * softmax(a)`` per interior set and per condition, positive with
  mean one (the loss is ``(1/n) sum_i w_i r_i^2``, so softmax weights keep its scale).

The raw tensors start from any registered method's point set: ``z = logit(u)`` of the unit
coordinates ``u = (x - lower) / extent`` clipped to ``[eps, 1 - eps]`` (the sigmoid map never
reaches the bounds exactly), ``a = log w``. :meth:`SyntheticSet.tensor_points` gives the
:class:`pinndd.engine.losses.TensorPoints` a loss is computed on, with the graph back to the raw
tensors; :meth:`SyntheticSet.to_pointset` freezes the set.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from ...engine.losses import TensorPoints
from ...errors import PinnddError
from ...pointset import PointSet

#: Unit coordinates are clipped to ``[UNIT_EPS, 1 - UNIT_EPS]`` before the logit.
UNIT_EPS = 1e-4


def _logit(u: np.ndarray, eps: float) -> np.ndarray:
    u = np.clip(u, eps, 1.0 - eps)
    return np.log(u) - np.log1p(-u)


class SyntheticSet:
    """Learnable interior and condition points (and optionally weights) for one problem.

    Parameters
    ----------
    problem:
        The problem whose domain and condition faces constrain the points.
    pointset:
        Initial points (any unlabelled :class:`PointSet` valid for ``problem``); its weights
        initialise the weight logits (``a = log w``).
    learn_points:
        Whether the interior coordinates are learnable.
    learn_conditions:
        Whether the condition points move along their faces.
    learn_weights:
        Whether the weights (interior and per condition) are learnable.
    dtype, device:
        Of every raw tensor and of the points made from them.
    eps:
        Clipping of the unit coordinates before the logit.

    Notes
    -----
    A plain holder of leaf tensors (not a :class:`torch.nn.Module`): build it on the device and
    dtype it is used with. Raw tensors are named ``"z:interior"``, ``"a:interior"``, ``"z:<condition>"``,
    ``"a:<condition>"`` in :meth:`raw`; all of them exist whether learnable or not (the frozen ones
    have ``requires_grad=False``), so checkpoints always hold the full state.
    """

    def __init__(
        self,
        problem,
        pointset: PointSet,
        learn_points: bool = True,
        learn_conditions: bool = True,
        learn_weights: bool = False,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
        eps: float = UNIT_EPS,
    ):
        if pointset.labelled:
            raise PinnddError("a synthetic set moves its points, which invalidates labels; start from an unlabelled set "
                              "(pointset.without_labels() or an unlabelled init method)")
        pointset.validate(problem)
        box = problem.domain
        self.problem = problem
        self.dtype, self.device = dtype, torch.device(device)
        self._lower = torch.as_tensor(box.lower, dtype=dtype, device=device)
        self._extent = torch.as_tensor(box.extent, dtype=dtype, device=device)
        self.condition_names = tuple(pointset.conditions)
        self._faces = {name: problem.condition(name).face for name in self.condition_names}
        self._raw: OrderedDict[str, torch.Tensor] = OrderedDict()

        def add(key: str, value: np.ndarray, learn: bool) -> None:
            t = torch.as_tensor(value, dtype=dtype, device=device).clone()
            self._raw[key] = t.requires_grad_(learn)

        add("z:interior", _logit(box.to_unit(pointset.interior), eps), learn_points)
        add("a:interior", np.log(pointset.interior_weights), learn_weights)
        for name, (pts, w) in pointset.conditions.items():
            face = self._faces[name]
            unit = box.to_unit(pts)[:, list(face.free_axes)]
            add(f"z:{name}", _logit(unit, eps), learn_conditions)
            add(f"a:{name}", np.log(w), learn_weights)

    # -- raw state -------------------------------------------------------------------------------
    def raw(self) -> OrderedDict[str, torch.Tensor]:
        """Every raw tensor by name (learnable or not)."""
        return self._raw

    def learnable(self) -> list[torch.Tensor]:
        """The raw tensors that require gradients, in :meth:`raw` order."""
        return [t for t in self._raw.values() if t.requires_grad]

    def load_raw(self, arrays: dict[str, np.ndarray]) -> None:
        """Overwrite the raw tensors in place from numpy arrays of the same names and shapes."""
        for key, t in self._raw.items():
            if key not in arrays:
                raise PinnddError(f"synthetic state lacks {key!r}; it has {sorted(arrays)}")
            a = np.asarray(arrays[key])
            if a.shape != tuple(t.shape):
                raise PinnddError(f"synthetic state {key!r} has shape {a.shape}, expected {tuple(t.shape)}")
            with torch.no_grad():
                t.copy_(torch.as_tensor(a, dtype=t.dtype, device=t.device))

    # -- the map raw -> points -----------------------------------------------------------------
    def interior(self) -> torch.Tensor:
        """Interior points ``lower + extent * sigmoid(z)``, shape ``(n, d)``."""
        return self._lower + self._extent * torch.sigmoid(self._raw["z:interior"])

    def condition(self, name: str) -> torch.Tensor:
        """Points of condition ``name``: face coordinate fixed, free axes through the sigmoid."""
        face = self._faces[name]
        z = self._raw[f"z:{name}"]
        cols = []
        j = 0
        for ax in range(self._lower.shape[0]):
            if ax == face.axis:
                cols.append(torch.full((z.shape[0],), face.value, dtype=self.dtype, device=self.device))
            else:
                cols.append(self._lower[ax] + self._extent[ax] * torch.sigmoid(z[:, j]))
                j += 1
        return torch.stack(cols, dim=1)

    def weights(self, key: str) -> torch.Tensor:
        """Weights ``n * softmax(a)`` of ``"interior"`` or a condition name (mean one)."""
        a = self._raw[f"a:{key}"]
        return a.shape[0] * torch.softmax(a, dim=0)

    def tensor_points(self) -> TensorPoints:
        """The set as :class:`TensorPoints` (weights divided by n, i.e. ``softmax(a)``), differentiable
        w.r.t. the raw tensors."""
        conds = {name: (self.condition(name), torch.softmax(self._raw[f"a:{name}"], dim=0)) for name in self.condition_names}
        return TensorPoints(self.interior(), torch.softmax(self._raw["a:interior"], dim=0), conds, None, 1.0)

    def to_pointset(self, metadata: dict[str, Any] | None = None) -> PointSet:
        """A frozen :class:`PointSet` (float64) of the current points and weights."""
        with torch.no_grad():
            def np_(t: torch.Tensor) -> np.ndarray:
                return t.detach().to("cpu", torch.float64).numpy()

            box = self.problem.domain
            interior = np.clip(np_(self.interior()), box.lower, box.upper)
            conds = {}
            for name in self.condition_names:
                pts = np.clip(np_(self.condition(name)), box.lower, box.upper)
                pts[:, self._faces[name].axis] = self._faces[name].value
                conds[name] = (pts, np_(self.weights(name)))
            return PointSet(interior, np_(self.weights("interior")), conds, metadata=dict(metadata or {}))

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}{tuple(t.shape)}{'*' if t.requires_grad else ''}" for k, t in self._raw.items())
        return f"SyntheticSet({shapes})"
