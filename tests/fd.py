"""Central finite-difference stencils shared by the tests (an independent path to derivatives),
and the averaged outer objective the distiller tests compare."""

import numpy as np


def fd_partial(f, pts: np.ndarray, axes: tuple[int, ...], steps: np.ndarray) -> np.ndarray:
    """The partial of ``f`` (numpy ``(n, d) -> (n,)``) along sorted ``axes`` (order <= 2) at
    ``pts`` by second-order central differences with per-axis ``steps``."""
    def e(ax):
        v = np.zeros(pts.shape[1])
        v[ax] = steps[ax]
        return v

    if len(axes) == 0:
        return f(pts)
    if len(axes) == 1:
        (a,) = axes
        return (f(pts + e(a)) - f(pts - e(a))) / (2 * steps[a])
    if len(axes) == 2 and axes[0] == axes[1]:
        a = axes[0]
        return (f(pts + e(a)) - 2 * f(pts) + f(pts - e(a))) / steps[a] ** 2
    if len(axes) == 2:
        a, b = axes
        ea, eb = e(a), e(b)
        return (f(pts + ea + eb) - f(pts + ea - eb) - f(pts - ea + eb) + f(pts - ea - eb)) / (4 * steps[a] * steps[b])
    raise ValueError(f"no stencil for order {len(axes)}")


def one_sided(f, pts: np.ndarray, axis: int, step: float) -> np.ndarray:
    """Second-order one-sided first derivative along ``axis``, stepping by signed ``step``."""
    v = np.zeros(pts.shape[1])
    v[axis] = step
    return (-3 * f(pts) + 4 * f(pts + v) - f(pts + 2 * v)) / (2 * step)


def noise_level(f, x0: float, delta: float, points: int = 9) -> float:
    """Standard deviation of the rounding noise in ``f`` near ``x0``, estimated from the fourth
    differences of ``points`` evaluations spaced ``delta`` apart (Moré and Wild's ECnoise idea):
    for a smooth ``f`` and a tiny ``delta`` the smooth part of a fourth difference is
    ``O(delta^4)`` and what is left is noise, whose fourth difference has variance ``70 sigma^2``."""
    values = np.array([f(x0 + j * delta) for j in range(-(points // 2), points - points // 2)])
    d4 = np.diff(values, n=4)
    return float(np.sqrt(np.mean(d4**2) / 70.0))


def fd_tolerance(f0: float, d_h: float, d_2h: float, h: float, noise: float) -> float:
    """How far a correct derivative may lie from the Richardson difference of steps ``h``, ``2h``,
    estimated from the numbers themselves rather than tuned to one machine's rounding.

    Two error sources: truncation, bounded by that of the plain difference at ``h``,
    ``|d_h - d_2h| / 3`` (Richardson: ``d_2h - d_h = 3 C h^2``); and rounding, three standard
    deviations of the objective's measured ``noise`` carried through the differences
    (``~ noise / h``), with a floor of 16 float64 epsilons of ``|f0| / h`` for a function whose
    noise happened to measure zero. Four times their sum is the tolerance, a margin for the
    crudeness of both estimates; a gradient that is wrong by more than a few times the
    difference's own error fails (``tests/test_fd.py``)."""
    eps = float(np.finfo(np.float64).eps)
    truncation = abs(d_h - d_2h) / 3.0
    rounding = 3.0 * max(noise, 16.0 * eps * abs(f0)) / h
    return 4.0 * (truncation + rounding)


def meta_gradient_vs_fd(objective, tensors: dict, picks: list, h: float = 1e-5) -> list:
    """Compare ``d objective / d tensors[key][idx]`` by autograd with float64 central
    differences for each ``(key, idx)`` in ``picks``; returns ``[(key, idx, analytic, fd)]``
    after asserting agreement within :func:`fd_tolerance` (``analytic`` is ``None`` where the
    tensor is unused). ``fd`` is the Richardson-extrapolated difference of steps ``h``, ``2h``."""
    import torch

    f0_t = objective()
    f0 = f0_t.item()
    grads = torch.autograd.grad(f0_t, [tensors[k] for k, _ in picks], allow_unused=True)

    def at(t, idx, value):
        with torch.no_grad():
            t[idx] = value
        return objective().item()

    out = []
    for (key, idx), g in zip(picks, grads, strict=True):
        t = tensors[key]
        old = t[idx].item()
        d = {}
        for step in (h, 2 * h):
            up, down = at(t, idx, old + step), at(t, idx, old - step)
            d[step] = (up - down) / (2 * step)
        noise = noise_level(lambda v, t=t, idx=idx: at(t, idx, v), old, h / 8)
        at(t, idx, old)
        fd = (4 * d[h] - d[2 * h]) / 3
        analytic = None if g is None else float(g[idx])
        tol = fd_tolerance(f0, d[h], d[2 * h], h, noise)
        err = abs((0.0 if analytic is None else analytic) - fd)
        assert err <= tol, (
            f"{key}{idx}: autograd {analytic!r} vs finite differences {fd!r} (|diff| {err:.3g} > tolerance {tol:.3g})"
        )
        out.append((key, idx, analytic, fd))
    return out


def mean_objective(distiller, run, steps=range(4)) -> float:
    """A distiller's outer objective at ``run``'s state, averaged over the fixed draws of outer
    steps ``steps`` (so "the objective decreased" compares like with like)."""
    from pinndd.methods.distill.context import step_generator

    return float(np.mean([distiller.objective(run.context, s, run.synthetic, step_generator(0, s)).item() for s in steps]))
