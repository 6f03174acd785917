"""Forward derivative propagation through an MLP (the ``"forward"`` engine of :mod:`pinndd.engine.derivatives`).

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

An :class:`~pinndd.engine.ensemble.EnsembleMLP` (weights ``(K, fan_in, fan_out)``, points
``(K, n, d)``) runs the same recurrences for all K members at once: ``torch.baddbmm`` /
``torch.bmm`` in place of ``F.linear``, first-layer columns ``(K, 1, width)``. Both kinds of
network are read through a :class:`NetView` (the tensors only), which is also what the
compiled training step (:mod:`pinndd.engine.compiled`) passes into its graph. Only one backward
pass is then needed per training step, so :func:`torch.compile` (whose inductor backend
cannot compile a double backward) can compile the whole step; step times of every path are in
experiments/RESULTS.md §6 (``experiments/throughput.py``).

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

Under heavier load (load average 2-3) :func:`pinndd.engine.derivatives.benchmark` gave autograd / forward minima of
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
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ..conditions import parse_partial
from ..domain import Box
from ..errors import PinnddError
from .nn import ACTIVATIONS, MLP, PINN, EnsembleMLP

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


class NetView(NamedTuple):
    """The tensors of an MLP or an ensemble of MLPs, as the forward engine reads them.

    :func:`view` builds one from a module (reading ``layer.weight`` and friends by attribute,
    so parameters substituted by :func:`torch.func.functional_call` are seen); a view built
    directly from tensors is itself a valid ``model`` for :func:`supports`, :func:`partials`
    and :func:`pinndd.engine.derivatives.partials`, which is how the compiled training step
    (:mod:`pinndd.engine.compiled`) passes parameters into a graph that no module object is part of.

    ``weights[i]`` is ``(out, in)`` and ``biases[i]`` ``(out,)`` (``nn.Linear`` layout) when
    ``batched`` is false; ``(K, in, out)`` and ``(K, 1, out)`` (:class:`~pinndd.engine.ensemble.EnsembleMLP`
    layout, points ``(K, n, d)``) when it is true.
    """

    activation: str
    batched: bool
    weights: tuple[torch.Tensor, ...]
    biases: tuple[torch.Tensor, ...]
    in_scale: torch.Tensor
    in_shift: torch.Tensor


def view(model) -> NetView | None:
    """The :class:`NetView` computing ``model``'s output unchanged, or ``None`` when the
    forward engine cannot run ``model``.

    Supported: a :class:`~pinndd.engine.nn.MLP` or :class:`~pinndd.engine.ensemble.EnsembleMLP` (or a
    :class:`~pinndd.engine.nn.PINN` with ``hard=False`` around either) with an activation in
    :data:`RULES` and at least one hidden layer, or a :class:`NetView`.
    """

    if isinstance(model, NetView):
        return model if model.activation in RULES and len(model.weights) >= 2 else None
    if isinstance(model, PINN):
        if model.hard or type(model).forward is not PINN.forward:
            return None
        model = model.net
    if type(model) is EnsembleMLP:
        if model.activation not in RULES or model.act is not ACTIVATIONS.get(model.activation) or len(model.weights) < 2:
            return None
        return NetView(model.activation, True, tuple(model.weights), tuple(model.biases), model.in_scale, model.in_shift)
    if not isinstance(model, MLP) or type(model).forward is not MLP.forward:
        return None
    if model.activation not in RULES or model.act is not ACTIVATIONS.get(model.activation):
        return None
    if len(model.layers) < 2 or not all(type(layer) is torch.nn.Linear for layer in model.layers):
        return None
    layers = model.layers
    return NetView(model.activation, False, tuple(la.weight for la in layers), tuple(la.bias for la in layers),
                   model.in_scale, model.in_shift)


def supports(model, names: Sequence[str], box: Box) -> bool:
    """Whether :func:`partials` can compute ``names`` for ``model``.

    True for the models :func:`view` accepts (an MLP or an EnsembleMLP, possibly inside a
    PINN with ``hard=False``, with a supported activation) on ``box``'s dimension, when every
    partial is of order at most two. Invalid partial names raise
    :class:`~pinndd.errors.PinnddError` (as with autograd).
    """
    net = view(model)
    if net is None or net.weights[0].shape[1] != box.dim:  # (out, in) and (K, in, out) alike
        return False
    return all(len(parse_partial(p, box)) <= 2 for p in names)


def partials(model, points: torch.Tensor, names: Sequence[str], box: Box) -> dict[str, torch.Tensor]:
    """The named partials of ``model`` at ``points``: ``{name: tensor (n,)}`` for an MLP and
    points ``(n, d)``, ``{name: tensor (K, n)}`` for a K-member ensemble and points ``(K, n, d)``.

    Names may be non-canonical (``"u_tx"``); the result has exactly the keys asked for.
    """
    net = view(model)
    if net is None:
        raise PinnddError(
            "the forward engine needs a pinndd MLP or EnsembleMLP (or a PINN with hard=False around one) with "
            f"activation in {sorted(RULES)}; use engine='autograd'"
        )
    wanted = {p: parse_partial(p, box) for p in names}
    if any(len(axes) > 2 for axes in wanted.values()):
        raise PinnddError(f"the forward engine computes partials up to second order; got {list(names)}; use engine='autograd'")
    if not net.batched:
        if points.ndim != 2 or points.shape[1] != box.dim:
            raise PinnddError(f"points must have shape (n, {box.dim}); got {tuple(points.shape)}")
    elif points.ndim != 3 or points.shape[0] != net.weights[0].shape[0] or points.shape[2] != box.dim:
        raise PinnddError(f"ensemble points must have shape ({net.weights[0].shape[0]}, n, {box.dim}); "
                          f"got {tuple(points.shape)}")
    axes1 = sorted({a for axes in wanted.values() for a in axes})
    pairs = sorted({axes for axes in wanted.values() if len(axes) == 2})
    u, d1, d2 = _propagate(net, points, axes1, pairs)
    out = {(): u, **{(a,): d1[a] for a in axes1}, **d2}
    return {p: out[axes] for p, axes in wanted.items()}


def _layer_ops(net: NetView):
    """``(affine, matmul, column, last)``: the layer operations of an MLP or an ensemble.

    ``affine(h, i)`` and ``matmul(h, i)`` apply layer ``i`` with and without its bias;
    ``column(a)`` is the first layer's weight column of input ``a`` shaped to broadcast
    against a hidden tensor (``(width,)`` for an MLP, ``(K, 1, width)`` for an ensemble);
    ``last(h)`` contracts a hidden tensor with the output weights, without bias.
    """
    ws, bs = net.weights, net.biases
    if not net.batched:
        return (
            lambda h, i: F.linear(h, ws[i], bs[i]),
            lambda h, i: F.linear(h, ws[i]),
            lambda a: ws[0][:, a],
            lambda h: h @ ws[-1][0],
        )
    return (
        lambda h, i: torch.baddbmm(bs[i], h, ws[i]),
        lambda h, i: torch.bmm(h, ws[i]),
        lambda a: ws[0][:, a : a + 1, :],
        lambda h: torch.bmm(h, ws[-1]).squeeze(-1),
    )


def _propagate(net: NetView, x: torch.Tensor, axes1: list[int], pairs: list[tuple[int, int]]):
    """Value, first derivatives ``{axis: ...}`` along ``axes1`` and second ``{pair: ...}``,
    each of shape ``(n,)`` (an MLP) or ``(K, n)`` (an ensemble: batched matrix products).

    One tensor ``(..., n, width)`` per direction and one matmul per direction and layer
    (measured faster than stacking the directions; see the module docstring).
    """
    rule = RULES[net.activation]
    second = bool(pairs)
    affine, matmul, column, last = _layer_ops(net)
    depth = len(net.weights)
    scale = net.in_scale

    # first linear layer: z_a = in_scale[a] W[:, a] (a vector), z_ab = 0
    z = affine(x * scale + net.in_shift, 0)
    s, s1, q, c, via_h = rule(z, second)
    col = {a: column(a) * scale[a] for a in axes1}
    h = s
    h1 = {a: s1 * col[a] for a in axes1}
    h2 = {}
    for a, b in pairs:
        h2[a, b] = q * (h1[a] * (c * col[b])) if via_h else q * (col[a] * (c * col[b]))

    for i in range(1, depth - 1):
        z = affine(h, i)
        z1 = {a: matmul(h1[a], i) for a in axes1}
        z2 = {ab: matmul(h2[ab], i) for ab in pairs}
        s, s1, q, c, via_h = rule(z, second)
        h = s
        h1 = {a: s1 * z1[a] for a in axes1}
        h2 = {(a, b): torch.addcmul(s1 * z2[a, b], q, (h1[a] if via_h else z1[a]) * z1[b], value=c) for a, b in pairs}

    # the output is linear in h; its derivatives skip the bias
    u = affine(h, depth - 1).squeeze(-1)
    return u, {a: last(h1[a]) for a in axes1}, {ab: last(h2[ab]) for ab in pairs}
