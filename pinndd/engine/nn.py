"""Networks: the MLP, the PINN wrapper that turns a network output into the field ``u``, and
:class:`EnsembleMLP` (K MLPs with stacked weights, trained at once by :mod:`pinndd.engine.ensemble`)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..domain import Box
from ..errors import PinnddError

#: Activations by name. Smooth ones only where second derivatives are needed.
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tanh": torch.tanh,
    "sin": torch.sin,
    "sigmoid": torch.sigmoid,
    "silu": torch.nn.functional.silu,
    "gelu": torch.nn.functional.gelu,
    "softplus": torch.nn.functional.softplus,
}

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return DTYPES[dtype]
    except KeyError:
        raise PinnddError(f"dtype must be one of {list(DTYPES)}; got {dtype!r}") from None


class MLP(nn.Module):
    """Fully connected network ``R^d -> R`` with inputs rescaled from ``box`` to ``[-1, 1]^d``.

    ``depth`` hidden layers of ``width`` units, Glorot-normal weights and zero biases (as
    DeepXDE). The input rescaling ``z = 2 (x - lower) / (upper - lower) - 1`` is a fixed
    affine map (buffers, not parameters).
    """

    def __init__(
        self,
        box: Box,
        width: int = 32,
        depth: int = 3,
        activation: str = "tanh",
        dtype: str | torch.dtype = "float32",
        device: str | torch.device = "cpu",
    ):
        super().__init__()
        if width < 1 or depth < 1:
            raise PinnddError(f"MLP needs width >= 1 and depth >= 1; got width={width}, depth={depth}")
        if activation not in ACTIVATIONS:
            raise PinnddError(f"activation must be one of {list(ACTIVATIONS)}; got {activation!r}")
        dt = resolve_dtype(dtype)
        self.activation = activation
        self.act = ACTIVATIONS[activation]
        sizes = [box.dim] + [width] * depth + [1]
        self.layers = nn.ModuleList(nn.Linear(a, b, dtype=dt, device=device) for a, b in zip(sizes[:-1], sizes[1:]))
        for layer in self.layers:
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
        lo = torch.tensor(box.lower, dtype=dt, device=device)
        hi = torch.tensor(box.upper, dtype=dt, device=device)
        self.register_buffer("in_scale", 2.0 / (hi - lo))
        self.register_buffer("in_shift", -1.0 - 2.0 * lo / (hi - lo))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x * self.in_scale + self.in_shift
        for layer in self.layers[:-1]:
            h = self.act(layer(h))
        return self.layers[-1](h).squeeze(-1)


class PINN(nn.Module):
    """The field ``u(x) = net(x)``, or ``hard(x, net(x), p)`` when trained with hard constraints.

    ``problem`` supplies the transform and its parameters; ``hard=False`` ignores both.
    """

    def __init__(self, net: nn.Module, problem=None, hard: bool = False):
        super().__init__()
        if hard and (problem is None or problem.hard_transform is None):
            raise PinnddError("hard=True needs a problem with a hard_transform")
        self.net = net
        self.problem = problem
        self.hard = hard

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return self.problem.output(x, out, True) if self.hard else out


class EnsembleMLP(nn.Module):
    """K MLPs with stacked parameters: points ``(K, n, d)`` -> values ``(K, n)``."""

    def __init__(self, members: Sequence[MLP]):
        super().__init__()
        if not members:
            raise PinnddError("an ensemble needs at least one member")
        first = members[0]
        shapes = [tuple(layer.weight.shape) for layer in first.layers]
        for m in members:
            if [tuple(layer.weight.shape) for layer in m.layers] != shapes or m.activation != first.activation:
                raise PinnddError("ensemble members must share one architecture and activation")
        self.activation = first.activation
        self.act = ACTIVATIONS[first.activation]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([m.layers[i].weight.detach().T for m in members]).contiguous()) for i in range(len(shapes))
        )
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([m.layers[i].bias.detach()[None, :] for m in members]).contiguous())
            for i in range(len(shapes))
        )
        self.register_buffer("in_scale", first.in_scale.clone())
        self.register_buffer("in_shift", first.in_shift.clone())
        # kept outside the module tree: its parameters are not the ensemble's
        object.__setattr__(self, "_template", first)

    @property
    def size(self) -> int:
        return self.weights[0].shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x * self.in_scale + self.in_shift
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = self.act(h)
        return h.squeeze(-1)

    def member(self, k: int) -> MLP:
        """A standalone copy of member ``k``."""
        m = copy.deepcopy(self._template).to(self.weights[0].device)
        with torch.no_grad():
            m.in_scale.copy_(self.in_scale)
            m.in_shift.copy_(self.in_shift)
            for i, layer in enumerate(m.layers):
                layer.weight.copy_(self.weights[i][k].T)
                layer.bias.copy_(self.biases[i][k, 0])
        return m
