"""Figures: solution fidelity with the training points, and errors against budget or shift."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .errors import PinnddError  # noqa: E402
from .evaluation import predict  # noqa: E402

_COND_COLORS = ("tab:red", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink")


def _grid_axes(problem, points: np.ndarray):
    box = problem.domain
    if box.dim != 2:
        raise PinnddError(f"solution plots need a 2-d domain; {problem.name!r} is {box.dim}-d")
    a0, a1 = np.unique(points[:, 0]), np.unique(points[:, 1])
    if len(a0) * len(a1) != len(points):
        raise PinnddError("solution plots need the problem's evaluation points to form a tensor grid")
    return a0, a1


def _finish(fig, path: str | Path | None):
    """Save ``fig`` to ``path`` (and close it) when a path is given; return the figure."""
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig


def _on_grid(problem, values_fn):
    """Coordinate axes and ``values_fn(points)`` reshaped to the evaluation tensor grid."""
    pts = problem.evaluation_points()
    a0, a1 = _grid_axes(problem, pts)
    order = np.lexsort((pts[:, 1], pts[:, 0]))
    return a0, a1, values_fn(pts)[order].reshape(len(a0), len(a1))


def overlay_points(ax, pointset, max_size: float = 30.0) -> None:
    """Scatter a point set on ``ax``: interior points white with a dark edge (visible on dark
    and light maps), marker area proportional to weight; each condition in its own colour."""
    w = pointset.interior_weights / pointset.interior_weights.mean()
    ax.scatter(pointset.interior[:, 0], pointset.interior[:, 1], s=np.clip(w, 0.1, 10) * max_size / 3,
               c="white", edgecolors="black", linewidths=0.4, alpha=0.85, label=f"interior ({pointset.n_interior})")
    for (name, (pts, _)), color in zip(pointset.conditions.items(), _COND_COLORS * 4):
        ax.scatter(pts[:, 0], pts[:, 1], s=max_size / 3, c=color, marker="s", linewidths=0, label=f"{name} ({len(pts)})",
                   clip_on=False)


def plot_solution(problem, model, pointset=None, path: str | Path | None = None, title: str = ""):
    """Prediction, reference and absolute error on the evaluation grid, points overlaid on the
    error panel. Returns the figure; saves it when ``path`` is given."""
    a0, a1, u = _on_grid(problem, lambda p: predict(model, p))
    _, _, ref = _on_grid(problem, problem.reference)
    err = np.abs(u - ref)
    names = problem.domain.names
    fig, axes = plt.subplots(1, 3, figsize=(16.5, 4.2), constrained_layout=True)
    vmin, vmax = ref.min(), ref.max()
    panels = [(u, "prediction", "RdBu_r", (vmin, vmax)), (ref, "reference", "RdBu_r", (vmin, vmax)),
              (err, "|error|", "magma", (0, err.max()))]
    for ax, (z, label, cmap, (lo, hi)) in zip(axes, panels):
        m = ax.pcolormesh(a0, a1, z.T, cmap=cmap, vmin=lo, vmax=hi, shading="auto")
        fig.colorbar(m, ax=ax)
        ax.set_title(label)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
    if pointset is not None:
        overlay_points(axes[2], pointset)
        axes[2].legend(loc="upper left", bbox_to_anchor=(1.25, 1.0), fontsize=7, framealpha=0.9)
    l2 = np.linalg.norm(u - ref) / np.linalg.norm(ref)
    fig.suptitle(f"{title or problem.name}   L2RE = {l2:.3g}")
    return _finish(fig, path)


def plot_point_sets(problem, model, sets: Mapping[str, object], path: str | Path | None = None, title: str = ""):
    """Point sets side by side over one map: ``|model - reference|`` on the evaluation grid
    (e.g. a dense-trained PINN's error, showing where the hard regions are). Marker area is
    proportional to each interior point's weight. Returns the figure."""
    a0, a1, err = _on_grid(problem, lambda p: np.abs(predict(model, p) - problem.reference(p)))
    fig, axes = plt.subplots(1, len(sets), figsize=(4.6 * len(sets) + 1, 4.2), constrained_layout=True, squeeze=False)
    for ax, (label, ps) in zip(axes[0], sets.items()):
        m = ax.pcolormesh(a0, a1, err.T, cmap="magma", shading="auto")
        overlay_points(ax, ps)
        ax.set_title(label)
        ax.set_xlabel(problem.domain.names[0])
        ax.set_ylabel(problem.domain.names[1])
    fig.colorbar(m, ax=axes[0].tolist(), label="|dense PINN - reference|")
    axes[0][0].legend(loc="lower left", fontsize=7, framealpha=0.9)
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def plot_error_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[Sequence[float]]]],
    xlabel: str,
    path: str | Path | None = None,
    title: str = "",
    reference_lines: Mapping[str, float] | None = None,
):
    """Error against budget or shift, one line per method: ``curves[method] = (xs, errors)``
    where ``errors[i]`` holds the per-seed errors at ``xs[i]``. Draws the median with the
    min-max band over seeds, log scale; ``reference_lines`` adds horizontal lines (e.g. dense)."""
    fig, ax = plt.subplots(figsize=(7.5, 5), constrained_layout=True)
    colors = plt.cm.tab20(np.linspace(0, 1, 20))[[0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19]]
    markers = "osD^vP*Xh<>p"
    for i, (method, (xs, errs)) in enumerate(curves.items()):
        xs = np.asarray(xs, dtype=float)
        med = np.array([np.median(e) for e in errs])
        lo = np.array([np.min(e) for e in errs])
        hi = np.array([np.max(e) for e in errs])
        (line,) = ax.plot(xs, med, marker=markers[i % len(markers)], color=colors[i % 20], label=method)
        ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.15)
    for label, value in (reference_lines or {}).items():
        ax.axhline(value, ls="--", c="k", lw=1)
        ax.annotate(label, (ax.get_xlim()[0], value), fontsize=8, va="bottom")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("L2 relative error (median, min-max over seeds)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2 if len(curves) > 8 else 1)
    if title:
        ax.set_title(title)
    return _finish(fig, path)
