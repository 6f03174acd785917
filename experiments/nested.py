"""Report of the nested-set and influence-selection sweeps (rows written by budget_sweep.py).

    python experiments/nested.py --sweeps experiments/results/influence/sweep_burgers \\
        experiments/results/influence/sweep_heat --out experiments/results/influence

The rows come from runs such as::

    python experiments/budget_sweep.py --pde burgers --no-dense --budgets 64 128 256 --seeds 5 \\
        --methods sobol rad influence_select nested --variant "nested (prefix of 512)=nested:max_budget=512" \\
        --serial --resume --out experiments/results/influence/sweep_burgers

Writes ``nested.md`` (per PDE and budget: Sobol prefixes, ``nested`` made at each budget, the
prefixes of one ``nested`` order made for 512, with paired per-seed ratios and the cost of making
the sets), ``selection.md`` (every method at 256 points with its paired ratio to Sobol) and
``nested_<pde>.png`` (L2RE against budget, every seed shown).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from common import fmt, summarise  # noqa: E402

PREFIX = "nested (prefix of 512)"
LINES = (("sobol", "Sobol prefix"), ("nested", "nested, made at each budget"), (PREFIX, "prefix of one nested order (512)"))


def paired(rows: list[dict], a: str, b: str, pde: str, budget: int) -> str:
    """Geometric mean and range of the per-seed ratio L2RE(a) / L2RE(b) over the seeds both have."""
    va = {r["seed"]: r["l2re"] for r in rows if r["pde"] == pde and r["method"] == a and r["budget"] == budget}
    vb = {r["seed"]: r["l2re"] for r in rows if r["pde"] == pde and r["method"] == b and r["budget"] == budget}
    seeds = sorted(set(va) & set(vb))
    if not seeds:
        return "–"
    q = np.array([va[s] / vb[s] for s in seeds])
    return f"{np.exp(np.log(q).mean()):.2f} [{q.min():.2f}, {q.max():.2f}] (n={len(q)})"


def cost(rows: list[dict], method: str, pde: str, budget: int) -> float:
    v = [r["make_seconds"] for r in rows if r["pde"] == pde and r["method"] == method and r["budget"] == budget]
    return float(np.mean(v)) if v else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sweeps", nargs="+", required=True, help="folders with a budget_sweep rows.json")
    ap.add_argument("--out", default="experiments/results/influence")
    ap.add_argument("--selection-budget", type=int, default=256)
    args = ap.parse_args(argv)
    rows = [r for d in args.sweeps for r in json.loads((Path(d) / "rows.json").read_text())]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stats = summarise(rows, ("pde", "method", "budget"))
    nested, selection = [], []
    for pde in dict.fromkeys(r["pde"] for r in rows):
        budgets = sorted({r["budget"] for r in rows if r["pde"] == pde and r["method"] in dict(LINES)})
        nested += [f"### {pde}", "", "L2RE mean ± std (median, seeds); ratios are per-seed (same seed: same network "
                   "initialisation), geometric mean [min, max]; make = seconds to make one set (warm-up included).", "",
                   "| budget | " + " | ".join(lab for _, lab in LINES) + " | prefix / made at budget | prefix / Sobol "
                   "| made at budget / Sobol | make s (at budget / prefix) |", "|---|" + "---|" * (len(LINES) + 4)]
        for b in budgets:
            cells = [fmt(stats[(pde, m, b)]) if (pde, m, b) in stats else "–" for m, _ in LINES]
            nested.append(f"| {b} | " + " | ".join(cells) + f" | {paired(rows, PREFIX, 'nested', pde, b)} | "
                          f"{paired(rows, PREFIX, 'sobol', pde, b)} | {paired(rows, 'nested', 'sobol', pde, b)} | "
                          f"{cost(rows, 'nested', pde, b):.1f} / {cost(rows, PREFIX, pde, b):.1f} |")
        nested.append("")
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for i, (m, lab) in enumerate(LINES):
            xs = [b for b in budgets if (pde, m, b) in stats]
            if not xs:
                continue
            shift = (i - 1) * 0.04
            for b in xs:
                v = [r["l2re"] for r in rows if r["pde"] == pde and r["method"] == m and r["budget"] == b]
                ax.scatter([b * np.exp(shift)] * len(v), v, s=10, color=f"C{i}", alpha=0.5)
            ax.plot([b * np.exp(shift) for b in xs], [stats[(pde, m, b)]["median"] for b in xs], "-o", color=f"C{i}",
                    label=f"{lab} (median)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("interior points")
        ax.set_ylabel("L2RE")
        ax.set_title(f"{pde}: nested sets against sets made per budget and Sobol")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / f"nested_{pde}.png", dpi=130)
        plt.close(fig)
        b = args.selection_budget
        here = [m for m in dict.fromkeys(r["method"] for r in rows if r["pde"] == pde and r["budget"] == b)]
        if here:
            selection += [f"### {pde}, {b} interior points", "", "| method | L2RE | residual_mse (median) | / Sobol (paired) "
                          "| make s |", "|---|---|---|---|---|"]
            for m in here:
                res = [r["residual_mse"] for r in rows if r["pde"] == pde and r["method"] == m and r["budget"] == b]
                selection.append(f"| {m} | {fmt(stats[(pde, m, b)])} | {np.median(res):.3g} | "
                                 f"{paired(rows, m, 'sobol', pde, b)} | {cost(rows, m, pde, b):.1f} |")
            selection.append("")
    (out / "nested.md").write_text("\n".join(nested) + "\n")
    (out / "selection.md").write_text("\n".join(selection) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
