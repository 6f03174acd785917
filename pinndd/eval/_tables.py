r"""Summary tables of out-of-distribution rows (:func:`pinndd.eval.ood.retrain_ood`), grouped by
method (and PDE, budget, parameter), with :math:`\bar e(\mu)` the mean error over seeds at
shift :math:`\mu`:

.. math::

    \mathrm{OOD/ID} = \frac{\operatorname{mean}_{\mu \in O \setminus I} \bar e(\mu)}
                           {\operatorname{mean}_{\mu \in I} \bar e(\mu)}, \qquad
    \rho(\mu) = \frac{\bar e_{\text{method}}(\mu)}{\bar e_{\text{dense}}(\mu)} .
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import PinnddError

#: Row keys that identify a group in the summaries (those present in the rows are used).
GROUP_KEYS = ("pde", "method", "budget", "param")


def _keys(rows: Sequence[Mapping[str, Any]], by: Sequence[str] | None) -> tuple[str, ...]:
    if by is not None:
        return tuple(by)
    return tuple(k for k in GROUP_KEYS if all(k in r for r in rows))


def _mean_by_value(rows: Sequence[Mapping[str, Any]], keys: tuple[str, ...], metric: str):
    """``{group: {value: (mean, in_distribution, n)}}`` over the held-out rows (rows marked
    ``held_out: False``, at values their set was made on, are left out)."""
    acc: dict[tuple, dict[float, list]] = defaultdict(lambda: defaultdict(list))
    flags: dict[tuple, dict[float, bool]] = defaultdict(dict)
    for r in rows:
        if r.get("held_out", True) is False:
            continue
        g = tuple(r[k] for k in keys)
        acc[g][float(r["value"])].append(float(r[metric]))
        flags[g][float(r["value"])] = bool(r["in_distribution"])
    return {g: {v: (float(np.mean(e)), flags[g][v], len(e)) for v, e in sorted(by_v.items())} for g, by_v in acc.items()}


def ood_id_ratio(rows: Sequence[Mapping[str, Any]], metric: str = "l2re",
                 by: Sequence[str] | None = None) -> list[dict[str, Any]]:
    r"""Per group (default: the keys of :data:`GROUP_KEYS` the rows have), the mean error over
    in-distribution shifts, over out-of-distribution shifts, and their ratio

    .. math:: \mathrm{OOD/ID} = \operatorname{mean}_{\mu \notin I} \bar e(\mu) \,/\,
              \operatorname{mean}_{\mu \in I} \bar e(\mu),

    where :math:`\bar e(\mu)` is the mean over seeds at shift :math:`\mu` (each shift value
    counts once, whatever its number of seeds). ``ratio`` is NaN when either side is missing.
    Rows at values their set was made on (``held_out: False``) are left out.
    """
    keys = _keys(rows, by)
    out = []
    for g, by_v in _mean_by_value(rows, keys, metric).items():
        ide = [m for m, ind, _ in by_v.values() if ind]
        ood = [m for m, ind, _ in by_v.values() if not ind]
        id_mean = float(np.mean(ide)) if ide else float("nan")
        ood_mean = float(np.mean(ood)) if ood else float("nan")
        ratio = ood_mean / id_mean if ide and ood and id_mean > 0 else float("nan")
        out.append({**dict(zip(keys, g, strict=True)), "id_mean": id_mean, "ood_mean": ood_mean, "ood_id_ratio": ratio,
                    "n_id": len(ide), "n_ood": len(ood)})
    return out


def ratio_to_dense(rows: Sequence[Mapping[str, Any]], dense_rows: Sequence[Mapping[str, Any]] | None = None,
                   metric: str = "l2re", dense_method: str = "dense") -> list[dict[str, Any]]:
    r"""At every shift, a method's mean error over seeds divided by the dense set's,
    :math:`\rho(\mu) = \bar e_{\text{method}}(\mu) / \bar e_{\text{dense}}(\mu)`.

    ``dense_rows`` default: the rows of ``rows`` whose method is ``dense_method``. Dense rows
    are matched on ``pde``, ``param`` and ``value`` (budgets differ by design). Returns one
    row per method row group and value, with ``mean``, ``dense_mean``, ``ratio``; groups and
    values without a dense match, and rows at values their set was made on (``held_out:
    False``), are left out.
    """
    if dense_rows is None:
        dense_rows = [r for r in rows if r.get("method") == dense_method]
        rows = [r for r in rows if r.get("method") != dense_method]
    if not dense_rows:
        raise PinnddError(f"no dense rows: pass dense_rows or include rows with method {dense_method!r}")
    match = tuple(k for k in ("pde", "param") if all(k in r for r in list(rows) + list(dense_rows)))
    dense = _mean_by_value(dense_rows, match, metric)
    keys = _keys(rows, None)
    out = []
    for g, by_v in _mean_by_value(rows, keys, metric).items():
        gd = dict(zip(keys, g, strict=True))
        dv = dense.get(tuple(gd[k] for k in match))
        if dv is None:
            continue
        for v, (m, ind, n) in by_v.items():
            if v in dv:
                d = dv[v][0]
                out.append({**gd, "value": v, "in_distribution": ind, "mean": m, "dense_mean": d,
                            "ratio": m / d if d > 0 else float("nan"), "n": n})
    return out


def worst_ratio_to_dense(ratios: Sequence[Mapping[str, Any]], by: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Per group, the largest :func:`ratio_to_dense` over shift values (the target reads
    "at every shift"), with the value where it occurs."""
    keys = _keys(ratios, by)
    best: dict[tuple, Mapping[str, Any]] = {}
    for r in ratios:
        g = tuple(r[k] for k in keys)
        if g not in best or r["ratio"] > best[g]["ratio"]:
            best[g] = r
    return [{**dict(zip(keys, g, strict=True)), "worst_ratio": r["ratio"], "at_value": r["value"]} for g, r in best.items()]


def error_curves(rows: Sequence[Mapping[str, Any]], metric: str = "l2re",
                 series: str = "method") -> dict[str, tuple[list[float], list[list[float]]]]:
    """``{method: (shift values, [per-seed errors at each value])}`` for
    :func:`pinndd.plotting.plot_error_curves` (pass rows of one PDE and parameter)."""
    acc: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        acc[str(r[series])][float(r["value"])].append(float(r[metric]))
    return {m: (sorted(by_v), [by_v[v] for v in sorted(by_v)]) for m, by_v in acc.items()}
