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


def meta_gradient_vs_fd(objective, tensors: dict, picks: list, h: float = 1e-5) -> list:
    """Compare ``d objective / d tensors[key][idx]`` by autograd with float64 central
    differences for each ``(key, idx)`` in ``picks``; returns ``[(key, idx, analytic, fd)]``
    after asserting agreement (``analytic`` is ``None`` where the tensor is unused)."""
    import pytest
    import torch

    grads = torch.autograd.grad(objective(), [tensors[k] for k, _ in picks], allow_unused=True)

    def at(t, idx, value):
        with torch.no_grad():
            t[idx] = value
        return objective().item()

    out = []
    for (key, idx), g in zip(picks, grads, strict=True):
        t = tensors[key]
        old = t[idx].item()
        up, down = at(t, idx, old + h), at(t, idx, old - h)
        at(t, idx, old)
        fd = (up - down) / (2 * h)
        analytic = None if g is None else float(g[idx])
        assert (0.0 if analytic is None else analytic) == pytest.approx(fd, rel=1e-5, abs=1e-10), (key, idx)
        out.append((key, idx, analytic, fd))
    return out


def mean_objective(distiller, run, steps=range(4)) -> float:
    """A distiller's outer objective at ``run``'s state, averaged over the fixed draws of outer
    steps ``steps`` (so "the objective decreased" compares like with like)."""
    from pinndd.methods.distill import step_generator

    return float(np.mean([distiller.objective(run.context, s, run.synthetic, step_generator(0, s)).item() for s in steps]))
