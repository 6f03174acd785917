"""Figures: solution fidelity with the training points, and errors against budget or shift.

Every figure is meant to be read at a glance: colorbars name their quantity (``u``,
``|u - u_ref|``), a prediction beyond the reference's colour range shows extend arrows, dense
sets are thinned to at most :data:`MAX_MARKERS` drawn markers (the legend says how many are
shown), condition points sit inside a small margin around the domain instead of over the panel
edges, legends (labelled sets, weights by marker area) sit outside the panels, and the title says
method, budget, cost and error.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from .engine.evaluation import predict  # noqa: E402
from .errors import PinnddError  # noqa: E402

_COND_COLORS = ("tab:cyan", "tab:orange", "tab:green", "tab:purple", "tab:pink", "tab:olive")
#: Interior markers drawn at most per panel; larger sets are subsampled (evenly, reproducibly).
MAX_MARKERS = 600
#: Condition markers drawn at most per condition.
MAX_CONDITION_MARKERS = 80
#: Margin around the domain (fraction of each extent) so condition points on faces stay visible.
MARGIN = 0.03


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


def _thin(n: int, most: int) -> np.ndarray:
    """Indices of at most ``most`` of ``n`` items, evenly spread through the set's order (a
    random-looking but reproducible subsample of a space-filling set)."""
    if n <= most:
        return np.arange(n)
    return np.random.default_rng(0).choice(n, most, replace=False)


def _frame(ax, problem) -> None:
    box = problem.domain
    for setter, lo, hi in ((ax.set_xlim, box.lower[0], box.upper[0]), (ax.set_ylim, box.lower[1], box.upper[1])):
        pad = MARGIN * (hi - lo)
        setter(lo - pad, hi + pad)
    ax.set_xlabel(box.names[0])
    ax.set_ylabel(box.names[1])


def _extend(z: np.ndarray, lo: float, hi: float) -> str:
    tol = 1e-9 * max(abs(lo), abs(hi), 1.0)
    below, above = bool(z.min() < lo - tol), bool(z.max() > hi + tol)
    return {(False, False): "neither", (True, False): "min", (False, True): "max", (True, True): "both"}[(below, above)]


def overlay_points(ax, pointset, max_size: float = 30.0, max_markers: int = MAX_MARKERS) -> list:
    """Scatter a point set on ``ax`` and return legend handles.

    Interior points are hollow circles (the field under them stays visible), at most
    ``max_markers`` of them (a reproducible subsample of larger sets; the legend says so); when
    the weights differ, marker area is proportional to weight and the legend shows three sizes.
    A labelled set draws its points as diamonds. Each condition has its own colour.
    """
    handles = []
    n = pointset.n_interior
    idx = _thin(n, max_markers)
    w = pointset.interior_weights / pointset.interior_weights.mean()
    weighted = bool(np.ptp(w) > 1e-6)
    base = max_size / 3 if n <= 1000 else max_size / 6
    sizes = np.clip(w, 0.1, 10) * base if weighted else np.full(n, base)
    marker = "D" if pointset.labelled else "o"
    shown = f", {len(idx)} shown" if len(idx) < n else ""
    kind = "labelled interior" if pointset.labelled else "interior"
    ax.scatter(pointset.interior[idx, 0], pointset.interior[idx, 1], s=sizes[idx], marker=marker, facecolors="none",
               edgecolors="white", linewidths=0.6, alpha=0.9)
    ax.scatter(pointset.interior[idx, 0], pointset.interior[idx, 1], s=1.0, c="black", linewidths=0)
    handles.append(Line2D([], [], ls="", marker=marker, mfc="0.7", mec="black", label=f"{kind} ({n}{shown})"))
    if pointset.labelled:
        handles.append(Line2D([], [], ls="", marker="", label=f"targets: teacher labels, weight {pointset.target_weight:g}"))
    if weighted:
        for q in (0.5, 1.0, 2.0):
            handles.append(Line2D([], [], ls="", marker=marker, mfc="none", mec="0.3",
                                  ms=float(np.sqrt(q * base)), label=f"weight {q:g} x mean"))
    for (name, (pts, _)), color in zip(pointset.conditions.items(), _COND_COLORS * 4):
        j = _thin(len(pts), MAX_CONDITION_MARKERS)
        ax.scatter(pts[j, 0], pts[j, 1], s=10, c=color, marker="s", linewidths=0.3, edgecolors="black", clip_on=False,
                   zorder=3)
        sub = f", {len(j)} shown" if len(j) < len(pts) else ""
        handles.append(Line2D([], [], ls="", marker="s", mfc=color, mec="black", label=f"{name} ({len(pts)}{sub})"))
    return handles


def _set_title(pointset) -> str:
    if pointset is None:
        return ""
    m = pointset.metadata
    kind = "labelled set" if pointset.labelled else "unlabelled set"
    return f"{m.get('method', 'points')}, {pointset.n_interior} interior points ({kind})"


def plot_solution(problem, model, pointset=None, path: str | Path | None = None, title: str = "",
                  cost_seconds: float | None = None):
    """Prediction, reference and absolute error on the evaluation grid, points overlaid on the
    error panel.

    The title carries ``title`` (default: the problem and the set's method and size), the
    L2 relative error and, when given, ``cost_seconds`` (what the set and the training cost).
    Returns the figure; saves it when ``path`` is given.
    """
    a0, a1, u = _on_grid(problem, lambda p: predict(model, p))
    _, _, ref = _on_grid(problem, problem.reference)
    err = np.abs(u - ref)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), layout="constrained")
    vmin, vmax = float(ref.min()), float(ref.max())
    panels = [(u, "prediction u", "RdBu_r", (vmin, vmax), "u"),
              (ref, "reference u_ref", "RdBu_r", (vmin, vmax), "u_ref"),
              (err, "|u - u_ref| with the training points", "magma", (0.0, float(err.max())), "|u - u_ref|")]
    for ax, (z, label, cmap, (lo, hi), cbar) in zip(axes, panels):
        m = ax.pcolormesh(a0, a1, z.T, cmap=cmap, vmin=lo, vmax=hi, shading="auto")
        fig.colorbar(m, ax=ax, label=cbar, extend=_extend(z, lo, hi))
        ax.set_title(label, fontsize=10)
        _frame(ax, problem)
    if pointset is not None:
        handles = overlay_points(axes[2], pointset)
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 6), fontsize=8, frameon=False)
    l2 = np.linalg.norm(u - ref) / np.linalg.norm(ref)
    head = title or f"{problem.name}: {_set_title(pointset) or 'model'}"
    cost = f"   cost {cost_seconds:.1f} s" if cost_seconds is not None else ""
    fig.suptitle(f"{head}   L2RE {l2:.3g}{cost}")
    return _finish(fig, path)


def plot_point_sets(problem, model, sets: Mapping[str, object], path: str | Path | None = None, title: str = ""):
    """Point sets side by side over one map: ``|model - reference|`` on the evaluation grid
    (e.g. a dense-trained PINN's error, showing where the hard regions are). Marker area is
    proportional to each interior point's weight where weights differ. Returns the figure."""
    a0, a1, err = _on_grid(problem, lambda p: np.abs(predict(model, p) - problem.reference(p)))
    fig, axes = plt.subplots(1, len(sets), figsize=(4.6 * len(sets) + 1.2, 4.8), layout="constrained", squeeze=False)
    labels: dict[str, Line2D] = {}
    for ax, (label, ps) in zip(axes[0], sets.items()):
        m = ax.pcolormesh(a0, a1, err.T, cmap="magma", shading="auto")
        for h in overlay_points(ax, ps):
            labels.setdefault(f"{label}: {h.get_label()}" if h.get_label().startswith(("interior", "labelled")) else
                              h.get_label(), h)
        ax.set_title(f"{label}: {_set_title(ps)}", fontsize=9)
        _frame(ax, problem)
    fig.colorbar(m, ax=axes[0].tolist(), label="|u - u_ref| of the model")
    for text, h in labels.items():
        h.set_label(text)
    fig.legend(handles=list(labels.values()), loc="outside lower center", ncol=min(len(labels), 5), fontsize=8,
               frameon=False)
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def plot_error_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[Sequence[float]]]],
    xlabel: str,
    path: str | Path | None = None,
    title: str = "",
    reference_lines: Mapping[str, float] | None = None,
    in_range: tuple[float, float] | None = None,
    nominal: float | None = None,
):
    """Error against budget or shift, one line per method: ``curves[method] = (xs, errors)``
    where ``errors[i]`` holds the per-seed errors at ``xs[i]``. Draws the median with the
    min-max band over seeds, log scale; ``reference_lines`` adds horizontal lines (e.g. dense);
    ``in_range`` shades the in-distribution range of a shift and ``nominal`` marks the value a
    set was made at. The legend sits outside the axes."""
    fig, ax = plt.subplots(figsize=(9, 5), layout="constrained")
    colors = plt.cm.tab20(np.linspace(0, 1, 20))[[0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19]]
    markers = "osD^vP*Xh<>p"
    if in_range is not None:
        ax.axvspan(*in_range, color="0.92", zorder=0, label="in distribution")
    if nominal is not None:
        ax.axvline(nominal, color="0.5", ls=":", lw=1, label=f"nominal ({nominal:g})")
    for i, (method, (xs, errs)) in enumerate(curves.items()):
        xs = np.asarray(xs, dtype=float)
        med = np.array([np.median(e) for e in errs])
        lo = np.array([np.min(e) for e in errs])
        hi = np.array([np.max(e) for e in errs])
        n = max((len(e) for e in errs), default=0)
        (line,) = ax.plot(xs, med, marker=markers[i % len(markers)], color=colors[i % 20], label=f"{method} (n={n})")
        ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.15)
    for label, value in (reference_lines or {}).items():
        ax.axhline(value, ls="--", c="k", lw=1, label=f"{label} ({value:.3g})")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("L2 relative error\n(median, band = min-max over seeds)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              borderaxespad=0, ncol=2 if len(curves) > 12 else 1)
    if title:
        ax.set_title(title, fontsize=10)
    return _finish(fig, path)


def plot_results(folder: str | Path, out: str | Path | None = None) -> list[Path]:
    """Figures from a results folder: ``ood.json`` (rows of :func:`pinndd.eval.ood.retrain_ood`, as
    ``pinndd ood`` writes) gives error against shift per parameter; ``rows.json`` (rows with
    ``budget`` and ``l2re``, as ``experiments/budget_sweep.py`` writes) gives error against
    budget per PDE, with dense as a line. Returns the files written into ``out`` (default
    ``folder``)."""
    folder = Path(folder)
    out = Path(out) if out is not None else folder
    out.mkdir(parents=True, exist_ok=True)
    written = []
    ood = folder / "ood.json"
    if ood.is_file():
        rows = _rows(ood)
        groups = defaultdict(list)
        for r in rows:
            groups[(r.get("pde", ""), r["param"])].append(r)
        for (pde, param), rs in groups.items():
            acc: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
            for r in rs:
                acc[str(r["method"])][float(r["value"])].append(float(r["l2re"]))
            curves = {m: (sorted(v), [v[x] for x in sorted(v)]) for m, v in acc.items()}
            ins = [float(r["value"]) for r in rs if r.get("in_distribution")]
            path = out / f"ood_{pde}_{param}.png"
            plot_error_curves(curves, f"{param} (shift value)", path, title=f"{pde}: error across {param}",
                              in_range=(min(ins), max(ins)) if ins else None)
            written.append(path)
    sweep = folder / "rows.json"
    if sweep.is_file():
        rows = [r for r in _rows(sweep) if "budget" in r and "l2re" in r]
        for pde in dict.fromkeys(r.get("pde", "") for r in rows):
            rs = [r for r in rows if r.get("pde", "") == pde]
            dense = [float(r["l2re"]) for r in rs if r["method"] == "dense"]
            acc = defaultdict(lambda: defaultdict(list))
            for r in rs:
                if r["method"] != "dense":
                    acc[str(r["method"])][float(r["budget"])].append(float(r["l2re"]))
            curves = {m: (sorted(v), [v[x] for x in sorted(v)]) for m, v in acc.items()}
            path = out / f"budget_{pde}.png"
            plot_error_curves(curves, "interior points", path, title=f"{pde}: error against budget",
                              reference_lines={"dense (median)": float(np.median(dense))} if dense else None)
            written.append(path)
    return written


def _rows(path: Path) -> list[dict]:
    try:
        rows = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise PinnddError(f"{path} is not JSON ({e})") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise PinnddError(f"{path} should hold a list of rows (objects)")
    return rows
