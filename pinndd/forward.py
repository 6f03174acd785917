"""Forward derivative propagation through an MLP (the ``"forward"`` engine of :mod:`pinndd.derivatives`).

Value, first and second derivatives w.r.t. the input coordinates are pushed through the
network layer by layer (forward-Laplacian style) instead of differentiating the output
repeatedly with autograd. With ``z = W h + b`` and ``h' = s(z)``::

    z_a  = W h_a                 (no bias)        h'_a  = s'(z) z_a
    z_ab = W h_ab                                 h'_ab = s''(z) z_a z_b + s'(z) z_ab

The input rescaling ``x -> x * in_scale + in_shift`` is diagonal, so after the first linear
layer ``z_a = in_scale[a] W[:, a]`` (one vector per axis, no matmul) and ``z_ab = 0``. Only
the axes and pairs the requested partials need are propagated: Burgers' ``u, u_t, u_x, u_xx``
carries two first-derivative directions (``x``, ``t``) and one second (``xx``). Everything is
plain differentiable torch, so backward gives gradients w.r.t. the parameters *and* the
points, and parameters substituted with :func:`torch.func.functional_call` are used (they are
read through ordinary attribute access, ``layer.weight``). The derivatives are partial
derivatives at fixed parameters by construction, as the autograd engine's.

Measured on a 2-core AMD EPYC VM shared with other jobs (load average about 1 during the
run), ``torch.set_num_threads(1)``, torch 2.13 CPU: Burgers partials ``u, u_t, u_x, u_xx`` on
2-D inputs, MLP 3x32 tanh float32, one training step = partials + residual
``u_t + u u_x - 0.01 u_xx`` + mean square + backward. Variants interleaved, 7 rounds; min /
median ms per step. "forward" is the algorithm below; the two stacked variants were
prototypes measured alongside it::

    points   autograd       forward        stacked first    stacked first+second
                            (per direction) derivatives      (one mm per layer, cat)
    256      1.36 / 1.41    1.05 / 1.06    1.21 / 1.23      1.30 / 1.33
    2048     5.13 / 5.63    4.16 / 4.44    5.50 / 5.65      5.61 / 6.34
    8192     19.0 / 24.6    16.0 / 17.0    21.2 / 21.7      22.3 / 29.6

Under heavier load (load average 2-3) :func:`_benchmark` gave autograd / forward minima of
1.6 / 1.3, 6.5 / 5.1 and 22.8 / 19.1 ms: the same ordering, noisier. So the forward engine is
about 1.2-1.3x faster per step here, not more: on this CPU ``tanh`` (about 2.5 ns per element)
and the 32x32 matmuls dominate both engines, and both do the value pass plus about three
derivative passes. Stacking the first-derivative directions along a leading dimension (one
``(k n, w) @ W^T`` per layer, no ``cat`` needed since ``s'(z)[None] * Z`` keeps the stack) was
*slower* at every size; one (3n, 32) matmul took the same time as three (n, 32) ones at
n = 8192 (the matmul is flop-bound), so stacking saves little, while the broadcast product
adds a reduction over the stack in backward and the larger blocks leave L2 (likely causes,
not separately measured). Stacking first and second derivatives together with ``cat`` was
slower still. So one matmul per direction is kept. Not measured on a GPU, where fewer,
larger kernels may change the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from .domain import Box
from .errors import PinnddError
from .nn import ACTIVATIONS, MLP, PINN
from .problem import parse_partial

#: ``log(sqrt(2 pi))``, for the standard normal density in ``gelu``.
_LOG_SQRT_2PI = 0.9189385332046727
#: torch's ``softplus`` (beta 1) is the identity above this input, with derivative exactly 1.
_SOFTPLUS_THRESHOLD = 20.0

# An activation rule maps z to (s, s1, q, c, via_h) with s = s(z), s1 = s'(z), and s''(z)
# given so that the second-order term is cheap:
#     s''(z) z_a z_b = c * q * (h_a * z_b)   if via_h   (s'' = c q s', h_a = s' z_a)
#                    = c * q * (z_a * z_b)   otherwise  (s'' = c q)
# q is None when no second derivatives are wanted.
_Rule = Callable[[torch.Tensor, bool], tuple]


def _tanh(z, second):
    t = torch.tanh(z)
    s1 = 1 - t * t  # tanh' = 1 - t^2, tanh'' = -2 t tanh'
    return t, s1, (t if second else None), -2.0, True


def _sin(z, second):
    s = torch.sin(z)
    return s, torch.cos(z), (s if second else None), -1.0, False  # sin'' = -sin


def _sigmoid(z, second):
    g = torch.sigmoid(z)
    om = 1 - g
    s1 = g * om  # sigmoid' = g (1 - g), sigmoid'' = (1 - 2 g) sigmoid'
    return g, s1, ((om - g) if second else None), 1.0, True


def _silu(z, second):
    g = torch.sigmoid(z)
    s = z * g
    om = 1 - g
    s1 = torch.addcmul(g, s, om)  # silu' = g (1 + z (1 - g))
    s2 = None
    if second:  # silu'' = g (1 - g) (2 + z (1 - 2 g))
        s2 = (g * om) * (2 + z * (om - g))
    return s, s1, s2, 1.0, False


def _softplus(z, second):
    # match torch's softplus (beta=1, threshold=20): the identity above the threshold
    s = F.softplus(z)
    s1 = torch.where(z > _SOFTPLUS_THRESHOLD, 1.0, torch.sigmoid(z))
    return s, s1, ((1 - s1) if second else None), 1.0, True  # softplus'' = s' (1 - s')


def _gelu(z, second):
    # exact (erf) gelu: s = z Phi(z), s' = Phi + z phi, s'' = phi (2 - z^2)
    cdf = torch.special.ndtr(z)
    zz = z * z
    pdf = torch.exp(zz * -0.5 - _LOG_SQRT_2PI)
    s1 = torch.addcmul(cdf, z, pdf)
    return z * cdf, s1, ((pdf * (2 - zz)) if second else None), 1.0, False


RULES: dict[str, _Rule] = {
    "tanh": _tanh,
    "sin": _sin,
    "sigmoid": _sigmoid,
    "silu": _silu,
    "softplus": _softplus,
    "gelu": _gelu,
}


def _mlp_of(model: torch.nn.Module) -> MLP | None:
    """The MLP computing ``model``'s output unchanged, or ``None``."""
    if isinstance(model, PINN):
        if model.hard or type(model).forward is not PINN.forward:
            return None
        model = model.net
    if not isinstance(model, MLP) or type(model).forward is not MLP.forward:
        return None
    if model.activation not in RULES or model.act is not ACTIVATIONS.get(model.activation):
        return None
    if len(model.layers) < 2 or not all(type(layer) is torch.nn.Linear for layer in model.layers):
        return None
    return model


def supports(model: torch.nn.Module, names: Sequence[str], box: Box) -> bool:
    """Whether :func:`partials` can compute ``names`` for ``model``.

    True for a :class:`~pinndd.nn.MLP` (or a :class:`~pinndd.nn.PINN` with ``hard=False``
    around one) with a supported activation, when every partial is of order at most two.
    Invalid partial names raise :class:`~pinndd.errors.PinnddError` (as with autograd).
    """
    net = _mlp_of(model)
    if net is None or net.layers[0].in_features != box.dim:
        return False
    return all(len(parse_partial(p, box)) <= 2 for p in names)


def partials(model: torch.nn.Module, points: torch.Tensor, names: Sequence[str], box: Box) -> dict[str, torch.Tensor]:
    """The named partials of ``model`` at ``points`` (``(n, d)``): ``{name: tensor (n,)}``.

    Names may be non-canonical (``"u_tx"``); the result has exactly the keys asked for.
    """
    net = _mlp_of(model)
    if net is None:
        raise PinnddError(
            "the forward engine needs a pinndd MLP (or a PINN with hard=False around one) with activation "
            f"in {sorted(RULES)}; use engine='autograd'"
        )
    wanted = {p: parse_partial(p, box) for p in names}
    if any(len(axes) > 2 for axes in wanted.values()):
        raise PinnddError(f"the forward engine computes partials up to second order; got {list(names)}; use engine='autograd'")
    if points.ndim != 2 or points.shape[1] != box.dim:
        raise PinnddError(f"points must have shape (n, {box.dim}); got {tuple(points.shape)}")
    axes1 = sorted({a for axes in wanted.values() for a in axes})
    pairs = sorted({axes for axes in wanted.values() if len(axes) == 2})
    u, d1, d2 = _propagate(net, points, axes1, pairs)
    out = {(): u, **{(a,): d1[a] for a in axes1}, **d2}
    return {p: out[axes] for p, axes in wanted.items()}


def _propagate(net: MLP, x: torch.Tensor, axes1: list[int], pairs: list[tuple[int, int]]):
    """Value ``(n,)``, first derivatives ``{axis: (n,)}`` along ``axes1`` and second ``{pair: (n,)}``.

    One tensor ``(n, width)`` per direction and one matmul per direction and layer (measured
    faster than stacking the directions; see the module docstring).
    """
    rule = RULES[net.activation]
    second = bool(pairs)
    layers = net.layers
    first = layers[0]
    w0 = first.weight  # (width, d)
    scale = net.in_scale

    # first linear layer: z_a = in_scale[a] W[:, a] (a vector), z_ab = 0
    z = F.linear(x * scale + net.in_shift, w0, first.bias)
    s, s1, q, c, via_h = rule(z, second)
    col = {a: w0[:, a] * scale[a] for a in axes1}
    h = s
    h1 = {a: s1 * col[a] for a in axes1}
    h2 = {}
    for a, b in pairs:
        h2[a, b] = q * (h1[a] * (c * col[b])) if via_h else q * (col[a] * (c * col[b]))

    for layer in layers[1:-1]:
        w = layer.weight
        z = F.linear(h, w, layer.bias)
        z1 = {a: F.linear(h1[a], w) for a in axes1}
        z2 = {ab: F.linear(h2[ab], w) for ab in pairs}
        s, s1, q, c, via_h = rule(z, second)
        h = s
        h1 = {a: s1 * z1[a] for a in axes1}
        h2 = {(a, b): torch.addcmul(s1 * z2[a, b], q, (h1[a] if via_h else z1[a]) * z1[b], value=c) for a, b in pairs}

    last = layers[-1]  # (1, width): the output is linear in h, its derivatives skip the bias
    w = last.weight[0]
    u = F.linear(h, last.weight, last.bias).squeeze(-1)
    return u, {a: h1[a] @ w for a in axes1}, {ab: h2[ab] @ w for ab in pairs}


def _benchmark(sizes: Sequence[int] = (256, 2048, 8192), rounds: int = 7) -> None:  # pragma: no cover
    """Print per-step times of both engines for Burgers partials (the numbers above)."""
    import time

    from . import derivatives

    torch.set_num_threads(1)
    torch.manual_seed(0)
    box = Box(("x", "t"), (-1.0, 0.0), (1.0, 1.0))
    net = MLP(box, width=32, depth=3, activation="tanh", dtype="float32")
    names = ("u", "u_t", "u_x", "u_xx")

    def step(engine, x):
        d = derivatives.partials(net, x, names, box, engine=engine)
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
    _benchmark()
