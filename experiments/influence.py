"""Influence maps: which training points carry the information of a trained PINN.

    python experiments/influence.py --pde burgers heat --budget 256 --seed 0 --out experiments/results/influence

For each PDE: train a PINN (quick protocol) on the Sobol set of ``--budget`` interior points,
then compute for every training point (interior and condition points) the predicted change of
(a) the reference L2 error and (b) the held-out physics loss when the point is removed
(:func:`pinndd.influence.point_influence`, damped Gauss-Newton + CG on a float64 copy), and the
gradient-alignment baseline. Writes ``influence_<pde>.csv`` (one row per point),
``regions_<pde>.md`` (influence per region: steep = top decile of the reference's gradient norm,
smooth = the other interior points, boundary = condition points) and ``influence_<pde>.png``
(points coloured by influence over the error map; the distribution per region).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from common import machine, start, write_rows  # noqa: E402
from matplotlib.colors import SymLogNorm  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

import equations  # noqa: E402
from pinndd import evaluate, methods, train  # noqa: E402
from pinndd.influence import point_influence, reference_grid_error  # noqa: E402

log = logging.getLogger("influence")


def gradient_norm(problem, points: np.ndarray) -> np.ndarray:
    """``|grad u*|`` of the reference by central differences (step 1e-4 of each extent)."""
    box = problem.domain
    out = np.zeros(len(points))
    for axis in range(box.dim):
        h = 1e-4 * box.extent[axis]
        lo, hi = points.copy(), points.copy()
        lo[:, axis] = np.maximum(lo[:, axis] - h, box.lower[axis])
        hi[:, axis] = np.minimum(hi[:, axis] + h, box.upper[axis])
        out += ((problem.reference(hi) - problem.reference(lo)) / (hi[:, axis] - lo[:, axis])) ** 2
    return np.sqrt(out)


def regions(problem, ps, steep_cut: float) -> np.ndarray:
    """Region label of every trained point, in the order of :meth:`Influence.flat`."""
    g = gradient_norm(problem, ps.interior)
    inner = np.where(g >= steep_cut, "steep", "smooth")
    return np.concatenate([inner, np.array(["boundary"] * ps.n_condition)])


def region_table(rows: list[dict], keys: list[str]) -> list[str]:
    lines = ["| region | points | " + " | ".join(f"{k}: mean (median), share of positive" for k in keys) + " |",
             "|---|---|" + "---|" * len(keys)]
    for reg in ("steep", "smooth", "boundary"):
        sel = [r for r in rows if r["region"] == reg]
        cells = []
        for k in keys:
            v = np.array([r[k] for r in sel])
            allpos = sum(max(r[k], 0.0) for r in rows)
            share = v[v > 0].sum() / allpos if allpos > 0 else float("nan")
            cells.append(f"{v.mean():.3g} ({np.median(v):.3g}), {share:.0%}" if len(v) else "–")
        lines.append(f"| {reg} | {len(sel)} | " + " | ".join(cells) + " |")
    return lines


def figure(problem, model, ps, infl: dict, labels: np.ndarray, path: Path, title: str) -> None:
    grid = problem.evaluation_points()
    err = reference_grid_error(problem, model, grid)
    pts = np.concatenate([ps.interior, *[p for p, _ in ps.conditions.values()]])
    names = problem.domain.names
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.6), gridspec_kw={"width_ratios": [1, 1, 0.8]})
    panels = ((axes[0], "reference", "influence on L2RE"), (axes[1], "physics", "influence on held-out physics loss"))
    for ax, key, label in panels:
        tc = ax.tripcolor(grid[:, 0], grid[:, 1], err, shading="gouraud", cmap="Greys")
        fig.colorbar(tc, ax=ax, label="|u - u_ref| (grey map)", location="bottom", pad=0.16, shrink=0.8, aspect=40)
        v = infl[key]
        lim = float(np.abs(v).max()) or 1.0
        norm = SymLogNorm(linthresh=lim * 1e-2, vmin=-lim, vmax=lim)
        inner = labels != "boundary"
        sc = ax.scatter(pts[inner, 0], pts[inner, 1], c=v[inner], cmap="coolwarm", norm=norm, s=16, edgecolors="k",
                        linewidths=0.2, label="interior")
        ax.scatter(pts[~inner, 0], pts[~inner, 1], c=v[~inner], cmap="coolwarm", norm=norm, s=30, marker="s",
                   edgecolors="k", linewidths=0.4, clip_on=False, label="condition")
        fig.colorbar(sc, ax=ax, label="influence (red: useful)", pad=0.03)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.set_title(label)
    ax = axes[2]
    regs = ["steep", "smooth", "boundary"]
    for i, key in enumerate(("reference", "physics")):
        v = infl[key] / (np.abs(infl[key]).max() or 1.0)
        data = [v[labels == r] for r in regs]
        pos = np.arange(len(regs)) * 3 + i
        ax.boxplot([d if len(d) else [np.nan] for d in data], positions=pos, widths=0.8, showfliers=True,
                   patch_artist=True, boxprops={"facecolor": ("tab:blue", "tab:orange")[i], "alpha": 0.5})
    ax.set_xticks(np.arange(len(regs)) * 3 + 0.5, [f"{r}\n(n={int((labels == r).sum())})" for r in regs])
    ax.axhline(0, color="k", lw=0.5)
    ax.set_yscale("symlog", linthresh=1e-2)
    ax.set_ylabel("influence / max |influence|")
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.5) for c in ("tab:blue", "tab:orange")],
              labels=["on L2RE", "on physics loss"], loc="lower right", fontsize=8)
    ax.set_title("influence per region")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def run(pde: str, args, proto, out: Path) -> list[str]:
    problem = equations.get(pde)
    ps = methods.get("sobol").make(problem, args.budget, seed=args.seed)
    cfg = replace(proto.train, seed=args.seed, progress=False)
    res = train(problem, ps, cfg)
    err = evaluate(problem, res.model)
    log.info("%s: trained on %d points, L2RE %.4f (%.0f s)", pde, len(ps), err["l2re"], res.wall_time)
    infl, info = {}, {}
    for key, method in (("reference", "influence"), ("physics", "influence"), ("reference_alignment", "alignment"),
                        ("physics_alignment", "alignment")):
        q = key.split("_")[0]
        t0 = time.perf_counter()
        r = point_influence(problem, res.model, ps, q, method=method, damping=args.damping, cg_maxiter=args.cg_maxiter,
                             renormalise=False)
        infl[key] = r.flat()
        info[key] = {"seconds": time.perf_counter() - t0, "cg_iterations": r.cg_iterations,
                     "cg_relative_residual": r.cg_relative_residual, "value": r.value, "damping": r.damping}
        log.info("%s %s: %d CG iterations, residual %.1e, %.1f s", pde, key, r.cg_iterations,
                 r.cg_relative_residual, info[key]["seconds"])
    grid = problem.evaluation_points()
    steep_cut = float(np.quantile(gradient_norm(problem, grid), 0.9))
    labels = regions(problem, ps, steep_cut)
    owners = r.owners()
    pts = np.concatenate([ps.interior, *[p for p, _ in ps.conditions.values()]])
    rows = [{"pde": pde, "owner": o, "region": str(lab), **{n: float(x) for n, x in zip(problem.domain.names, p)},
             **{k: float(v[i]) for k, v in infl.items()}} for i, (o, lab, p) in enumerate(zip(owners, labels, pts))]
    write_rows(rows, out, f"influence_{pde}")
    title = (f"{pde}: Sobol {args.budget} + {ps.n_condition} condition points, seed {args.seed}, {proto.name} protocol; "
             f"L2RE {err['l2re']:.3g}\ninfluence = predicted change when the point is removed "
             f"(the point's own loss term, other weights held; damped Gauss-Newton, damping {args.damping:g} of the mean "
             "curvature)")
    figure(problem, res.model, ps, infl, labels, out / f"influence_{pde}.png", title)
    rho = {
        "influence vs alignment (L2RE)": spearmanr(infl["reference"], infl["reference_alignment"])[0],
        "influence vs alignment (physics)": spearmanr(infl["physics"], infl["physics_alignment"])[0],
        "L2RE vs physics influence": spearmanr(infl["reference"], infl["physics"])[0],
    }
    lines = [f"### {pde}", "", f"Sobol {args.budget} interior + {ps.n_condition} condition points, seed {args.seed}, "
             f"L2RE {err['l2re']:.4g}; steep = |grad u_ref| >= {steep_cut:.3g} (top decile on the grid). "
             "Influence = predicted change of the quantity when the point's own loss term is removed, the other "
             "weights held (positive: useful); share = the region's part of all positive influence.", ""]
    lines += region_table(rows, ["reference", "physics"])
    lines += ["", "Rank correlations (Spearman, all points): " + "; ".join(f"{k} {v:.2f}" for k, v in rho.items()),
              "", "Cost: " + "; ".join(f"{k} {v['seconds']:.1f} s ({v['cg_iterations']} CG it., residual "
                                       f"{v['cg_relative_residual']:.1e})" for k, v in info.items()), ""]
    (out / f"regions_{pde}.md").write_text("\n".join(lines) + "\n")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pde", nargs="+", default=["burgers", "heat"])
    ap.add_argument("--budget", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--damping", type=float, default=1e-3)
    ap.add_argument("--cg-maxiter", type=int, default=300)
    ap.add_argument("--protocol", default="quick")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="experiments/results/influence")
    args = ap.parse_args(argv)
    proto = start(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"Command: `python experiments/influence.py {' '.join(sys.argv[1:])}`", "", f"Machine: {machine()}", ""]
    for pde in args.pde:
        lines += run(pde, args, proto, out)
    (out / "regions.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
