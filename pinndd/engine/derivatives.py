"""The one place that computes the partial derivatives a problem declares.

Two engines give the same answers:

- ``"autograd"`` (reference and fallback): repeated :func:`torch.autograd.grad` on the
  network's input. Derivatives are taken w.r.t. a *clone* of the points, never the points
  themselves, so that when the points are learnable and the network's parameters already
  depend on them (unrolled distillation) the result is the partial derivative, not the total one.
- ``"forward"``: value and derivatives propagated layer by layer through an MLP, or through
  all members of an :class:`~pinndd.engine.ensemble.EnsembleMLP` at once with batched matrix
  products (:mod:`pinndd.engine.forward`), when that module is present and supports the model.

``"auto"`` picks the forward engine whenever it supports the model, else autograd.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ..conditions import parse_partial
from ..domain import Box
from ..errors import PinnddError
from . import forward
from .nn import MLP

ENGINES = ("auto", "autograd", "forward")


def autograd_partials(
    field: Callable[[torch.Tensor], torch.Tensor],
    points: torch.Tensor,
    partials: Sequence[str],
    box: Box,
    create_graph: bool = True,
) -> dict[str, torch.Tensor]:
    """Partials of ``field`` (``(n, d) -> (n,)``) at ``points`` by repeated autograd.

    Each distinct prefix of differentiation axes costs one ``autograd.grad`` call, which
    yields the derivative along every axis at once; ``u_x`` and ``u_t`` share one call,
    ``u_xx`` and ``u_xt`` another.
    """
    x_in = points.clone() if points.requires_grad else points.detach().requires_grad_(True)
    wanted = {p: parse_partial(p, box) for p in partials}
    values: dict[tuple[int, ...], torch.Tensor] = {(): field(x_in)}
    grads: dict[tuple[int, ...], torch.Tensor] = {}
    top = max((len(a) for a in wanted.values()), default=0)

    def get(axes: tuple[int, ...]) -> torch.Tensor:
        if axes in values:
            return values[axes]
        prefix = axes[:-1]
        if prefix not in grads:
            keep = create_graph or len(axes) < top  # intermediate orders must stay differentiable
            grads[prefix] = torch.autograd.grad(get(prefix).sum(), x_in, create_graph=keep)[0]
        values[axes] = grads[prefix][..., axes[-1]]
        return values[axes]

    # highest orders last so that lower-order gradients are reused
    out = {p: get(axes) for p, axes in sorted(wanted.items(), key=lambda kv: len(kv[1]))}
    return {p: out[p] for p in partials}


def partials(
    model: torch.nn.Module,
    points: torch.Tensor,
    names: Sequence[str],
    box: Box,
    engine: str = "auto",
    create_graph: bool = True,
) -> dict[str, torch.Tensor]:
    """The named partials of ``model`` at ``points``: ``{name: tensor (n,)}``.

    Parameters
    ----------
    model:
        Maps points ``(n, d)`` to ``u`` of shape ``(n,)`` (e.g. :class:`pinndd.engine.nn.PINN`), or
        ``(K, n, d)`` to ``(K, n)`` (an :class:`~pinndd.engine.ensemble.EnsembleMLP`; the partials
        then have shape ``(K, n)``).
    engine:
        ``"auto"``, ``"autograd"`` or ``"forward"`` (see the module docstring).
    create_graph:
        Keep the graph so the result can be differentiated again (training needs it).
    """
    if engine not in ENGINES:
        raise PinnddError(f"engine must be one of {ENGINES}; got {engine!r}")
    if engine != "autograd":
        if forward.supports(model, names, box):
            return forward.partials(model, points, names, box)
        if engine == "forward":
            raise PinnddError(
                "the forward engine does not support this model (it needs a pinndd MLP or EnsembleMLP with a supported "
                "activation, no hard-constraint transform and partials up to second order); use engine='autograd'"
            )
    return autograd_partials(model, points, names, box, create_graph=create_graph)


def forward_supported(model: torch.nn.Module, names: Sequence[str], box: Box) -> bool:
    """Whether the forward engine will handle ``model`` for these partials."""
    return forward.supports(model, names, box)


def benchmark(sizes: Sequence[int] = (256, 2048, 8192), rounds: int = 7) -> None:  # pragma: no cover
    """Print per-step times of both engines for Burgers partials (the numbers above)."""
    import time

    torch.set_num_threads(1)
    torch.manual_seed(0)
    box = Box(("x", "t"), (-1.0, 0.0), (1.0, 1.0))
    net = MLP(box, width=32, depth=3, activation="tanh", dtype="float32")
    names = ("u", "u_t", "u_x", "u_xx")

    def step(engine, x):
        d = partials(net, x, names, box, engine=engine)
        r = d["u_t"] + d["u"] * d["u_x"] - 0.01 * d["u_xx"]
        net.zero_grad(set_to_none=True)
        (r * r).mean().backward()

    for n in sizes:
        x = torch.from_numpy(box.from_unit(torch.rand(n, 2, dtype=torch.float64).numpy())).float()
        reps = max(2, 50_000 // n)
        times = {"autograd": [], "forward": []}
        for _ in range(rounds):
            for engine, ts in times.items():
                for _ in range(2):
                    step(engine, x)
                t0 = time.perf_counter()
                for _ in range(reps):
                    step(engine, x)
                ts.append((time.perf_counter() - t0) / reps * 1e3)
        line = "  ".join(f"{e} {min(ts):.3f} / {sorted(ts)[len(ts) // 2]:.3f} ms" for e, ts in times.items())
        print(f"n={n:5d}  {line}  (min / median)")


if __name__ == "__main__":  # pragma: no cover
    benchmark()
