r"""The one Adam update, ``torch.optim.Adam``'s rule and defaults, for every place that steps by
hand: compiled training steps, expert replays, differentiable unrolls and update directions.

With gradient :math:`g`, moments :math:`m, v` and step count :math:`t \ge 1` after this update:

.. math::

    m \leftarrow \beta_1 m + (1 - \beta_1) g, \qquad v \leftarrow \beta_2 v + (1 - \beta_2) g^2,
    \qquad \theta \leftarrow \theta - \eta\, \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon}.

:func:`moments` and :func:`direction` are functional (out of place, differentiable: unrolls
differentiate through them); :func:`update_` is the same rule in place, written as
``torch.optim.Adam`` evaluates it (``sqrt(v) / sqrt(1 - beta2^t)``), for compiled steps that
must match the eager trainer's ``torch.optim.Adam``. The eager trainer and the expert runs use
``torch.optim.Adam`` itself with :data:`BETAS` and :data:`EPS`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

#: ``torch.optim.Adam``'s defaults, used everywhere pinndd runs Adam.
BETAS: tuple[float, float] = (0.9, 0.999)
EPS = 1e-8


def moments(g: torch.Tensor, m: torch.Tensor, v: torch.Tensor,
            betas: tuple[float, float] = BETAS) -> tuple[torch.Tensor, torch.Tensor]:
    """The moments after gradient ``g``: ``(b1 m + (1 - b1) g, b2 v + (1 - b2) g^2)``."""
    b1, b2 = betas
    return b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g


def _corrected(m: torch.Tensor, v: torch.Tensor, count: int, betas: tuple[float, float],
               eps: float, tiny: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(m_hat, sqrt(v_hat) + eps)`` after ``count`` updates."""
    b1, b2 = betas
    mhat = m / (1 - b1**count)
    vhat = v / (1 - b2**count)
    if tiny > 0:
        vhat = vhat.clamp_min(tiny)
    return mhat, vhat.sqrt() + eps


def direction(m: torch.Tensor, v: torch.Tensor, count: int, betas: tuple[float, float] = BETAS, eps: float = EPS,
              tiny: float = 0.0) -> torch.Tensor:
    """``m_hat / (sqrt(v_hat) + eps)`` for moments after ``count`` updates (``count >= 1``), with
    ``v_hat`` clamped below by ``tiny`` when it is positive, so the square root stays
    differentiable where a gradient entry is exactly zero."""
    mhat, denom = _corrected(m, v, count, betas, eps, tiny)
    return mhat / denom


def step(theta: torch.Tensor, g: torch.Tensor, m: torch.Tensor, v: torch.Tensor, count: int, lr,
         betas: tuple[float, float] = BETAS, eps: float = EPS,
         tiny: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One functional Adam step (``count`` counts this one): ``(theta', m', v')`` with
    ``theta' = theta - lr * m_hat / (sqrt(v_hat) + eps)``."""
    m, v = moments(g, m, v, betas)
    mhat, denom = _corrected(m, v, count, betas, eps, tiny)
    return theta - lr * mhat / denom, m, v


def update_(params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor], exp_avg: Sequence[torch.Tensor],
            exp_avg_sq: Sequence[torch.Tensor], count: torch.Tensor, lr: torch.Tensor,
            betas: tuple[float, float] = BETAS, eps: float = EPS) -> None:
    """One Adam step on ``params`` and the moments, in place, as ``torch.optim.Adam`` computes
    it; ``count`` (this step's number) and ``lr`` are float64 0-d tensors, since
    ``1 - b2**count`` loses digits in float32."""
    b1, b2 = betas
    dtype = params[0].dtype
    step_size = (lr / (1 - b1**count)).to(dtype)
    bc2_sqrt = (1 - b2**count).sqrt().to(dtype)
    for p, g, m, v in zip(params, grads, exp_avg, exp_avg_sq):
        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        p.sub_(step_size * m / (v.sqrt() / bc2_sqrt + eps))
