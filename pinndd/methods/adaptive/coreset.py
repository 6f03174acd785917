r"""Coresets of the dense physics loss, after Tukan, Maalouf and Osadchy, "Dataset Distillation
Meets Provable Subset Selection" (2023), and the sensitivity framework of Feldman and Langberg.

Both methods start, like the residual-adaptive ones, from the absolute residual :math:`|r_i|`
of a short warm-up PINN on :math:`N` Sobol candidates :math:`x_i`
(:mod:`pinndd.methods.adaptive.warmup`), keep the shared condition points, and return ``budget``
weighted interior points whose weighted loss estimates the dense one,

.. math:: \frac1n \sum_{i \in S} w_i\, r(x_i)^2 \approx \frac1N \sum_{j=1}^N r(x_j)^2,

weights normalised so that their mean is (exactly or in expectation) 1. The trainer uses the
self-normalised mean :math:`\sum_S w_i r_i^2 / \sum_S w_i`: the same for ``kmeans_coreset``
(:math:`\sum_S w_i = n` exactly), only consistent, not unbiased, for ``sensitivity``
(:math:`E \sum_S w_i = n`).

``kmeans_coreset`` — clustering coreset (Tukan et al.'s k-means-based initialisation). Each
candidate gets the feature

.. math:: f_i = \Big(u_i,\ \frac{\gamma}{\sqrt{12}}\,
          \frac{\ell_i - \bar\ell}{\mathrm{sd}(\ell)}\Big),\qquad
          \ell_i = \log\big(|r_i| + 10^{-12}\,\overline{|r|}\big),

with :math:`u_i \in [0, 1]^d` the coordinates scaled to the unit box and :math:`\gamma`
(``residual_weight``, default 1) the weight of the log-residual; :math:`1/\sqrt{12}` is the
standard deviation of a uniform coordinate, so :math:`\gamma = 1` spreads the log-residual as
much as one coordinate and :math:`\gamma = 0` clusters by position alone. Lloyd's k-means
(k-means++ start, at most ``kmeans_iter`` iterations, an empty cluster re-seeded at the point
farthest from its centre) splits the pool into :math:`k = n` clusters :math:`C_c`; from each the
candidate nearest the centre is kept with weight

.. math:: w_c = \frac{n}{N}\,|C_c| ,

so the set is a stratified estimate of the dense loss: exact when :math:`r^2` is constant on
each cluster, hence accurate when the clusters are small in position and in log-residual.

``sensitivity`` — sensitivity (importance) sampling. A point's *sensitivity* is the largest
share of the loss it can carry over a family of networks (queries); sampling by an upper bound
:math:`s_i` and weighting by the inverse probability gives an :math:`\varepsilon`-coreset for the
whole family with :math:`O(S / \varepsilon^2)` samples, :math:`S = \sum_i s_i` (Feldman and
Langberg). Here, with clusters :math:`C_1, \dots, C_k` of the pool by position (k-means on
:math:`u`, ``clusters`` = k, default 8),

.. math:: s_i = \frac{r_i^2}{\sum_j r_j^2} + \frac{1}{|C(i)|},\qquad S = 1 + k,

which bounds the share :math:`f_i / \sum_j f_j` for every loss
:math:`f = a\, r^2 + g` with :math:`a \ge 0` and :math:`g \ge 0` constant on each cluster (the
warm-up's residual plus any cluster-wise error level), because
:math:`(a + b)/(A + B) \le \max(a/A, b/B)`. With ``clusters=1`` the second term is the uniform
:math:`1/N` and the draw is that of ``residual_is`` with ``floor=1``. Points are taken by
ordered pivotal sampling (:func:`pinndd.methods.adaptive.warmup.pps_sample`) with inclusion
probabilities :math:`\pi_i = \min(1, \lambda s_i)`, :math:`\sum_i \pi_i = n`, over the pool
sorted by cluster (so each cluster gets within two points of its expected count),
instead of i.i.d. draws, which would repeat points. The weights are Horvitz-Thompson,
:math:`w_i = n / (N \pi_i)`, and make the estimate of the dense mean above unbiased.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ...pointset import PointSet
from ..base import register
from ..checks import check_int, check_number
from .warmup import WarmupMethod, pps_sample, selection_rng


def kmeans(features: np.ndarray, k: int, rng: np.random.Generator, max_iter: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with a k-means++ start; every cluster non-empty.

    Parameters
    ----------
    features:
        Points, shape ``(N, m)``, ``N >= k``.
    k:
        Number of clusters.
    rng:
        Random generator (the k-means++ draws).
    max_iter:
        Lloyd iterations at most; stops early when no label changes.

    Returns
    -------
    centres, labels:
        Shapes ``(k, m)`` and ``(N,)``; each label in ``0..k-1`` occurs at least once when the
        features are distinct.
    """
    x = np.asarray(features, dtype=np.float64)
    n = len(x)
    # k-means++: each next centre drawn with probability proportional to D^2 (columns kept
    # contiguous and buffers reused: this loop is O(N k) and dominates at large budgets)
    cols = [np.ascontiguousarray(x[:, j]) for j in range(x.shape[1])]
    tmp, d2, new_d2, cum = np.empty(n), np.zeros(n), np.empty(n), np.empty(n)

    def sq_dist(i: int, out: np.ndarray) -> None:
        out.fill(0.0)
        for col in cols:
            np.subtract(col, col[i], out=tmp)
            np.multiply(tmp, tmp, out=tmp)
            np.add(out, tmp, out=out)

    centres = np.empty((k, x.shape[1]))
    i = int(rng.integers(n))
    centres[0] = x[i]
    sq_dist(i, d2)
    for j in range(1, k):
        np.cumsum(d2, out=cum)
        i = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), n - 1) if cum[-1] > 0 else int(rng.integers(n))
        centres[j] = x[i]
        sq_dist(i, new_d2)
        np.minimum(d2, new_d2, out=d2)
    labels = np.full(n, -1)
    for _ in range(max(1, max_iter)):
        dist, new = cKDTree(centres).query(x)
        new = _fill_empty(x, centres, new, dist, k)
        if np.array_equal(new, labels):
            break
        labels = new
        counts = np.bincount(labels, minlength=k)
        for axis in range(x.shape[1]):
            centres[:, axis] = np.bincount(labels, weights=x[:, axis], minlength=k) / counts
    dist, labels = cKDTree(centres).query(x)
    labels = _fill_empty(x, centres, labels, dist, k)
    return centres, labels


def _fill_empty(x: np.ndarray, centres: np.ndarray, labels: np.ndarray, dist: np.ndarray, k: int) -> np.ndarray:
    """Re-seed empty clusters at the points farthest from their centres (each such point, alone
    in a cluster of size >= 2, becomes its own cluster)."""
    labels = labels.copy()
    counts = np.bincount(labels, minlength=k)
    empty = np.flatnonzero(counts == 0)
    if len(empty) == 0:
        return labels
    dist = dist.copy()
    for c in empty:
        movable = counts[labels] > 1
        i = int(np.argmax(np.where(movable, dist, -1.0)))
        counts[labels[i]] -= 1
        labels[i] = c
        counts[c] = 1
        centres[c] = x[i]
        dist[i] = 0.0
    return labels


def residual_features(unit: np.ndarray, residuals: np.ndarray, weight: float) -> np.ndarray:
    r"""Coordinates in the unit box with the scaled, standardised log-residual appended (module
    docstring); ``weight = 0`` returns the coordinates alone."""
    if weight == 0:
        return np.asarray(unit, dtype=np.float64)
    r = np.abs(np.asarray(residuals, dtype=np.float64))
    ell = np.log(r + 1e-12 * max(r.mean(), 1e-300))
    sd = ell.std()
    z = (ell - ell.mean()) / sd if sd > 0 else np.zeros_like(ell)
    return np.column_stack([unit, weight * z / np.sqrt(12.0)])


def kmeans_select(features: np.ndarray, n: int, rng: np.random.Generator, max_iter: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Cluster ``features`` into ``n`` clusters; return for each the index of the member nearest
    its centre and the weight ``n |C| / N`` (module docstring)."""
    centres, labels = kmeans(features, n, rng, max_iter)
    dist = np.sqrt(((features - centres[labels]) ** 2).sum(axis=1))
    order = np.lexsort((dist, labels))  # by cluster, nearest first
    first = np.ones(len(order), dtype=bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    reps = order[first]
    sizes = np.bincount(labels, minlength=n)[labels[reps]]
    return reps, n * sizes / len(features)


def sensitivities(residuals: np.ndarray, labels: np.ndarray) -> np.ndarray:
    r"""``s_i = r_i^2 / sum_j r_j^2 + 1 / |C(i)|`` (module docstring); sums to ``1 + k`` (``k``
    non-empty clusters), or ``k`` when the residual vanishes everywhere."""
    r2 = np.asarray(residuals, dtype=np.float64) ** 2
    total = r2.sum()
    share = r2 / total if total > 0 else np.zeros_like(r2)
    sizes = np.bincount(labels)
    return share + 1.0 / sizes[labels]


def sensitivity_select(unit: np.ndarray, residuals: np.ndarray, n: int, clusters: int, rng: np.random.Generator,
                       max_iter: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sensitivity sampling (module docstring): indices, weights ``n / (N pi)``, and the
    sensitivities and cluster labels of the whole pool."""
    N = len(unit)
    k = min(clusters, N)
    labels = np.zeros(N, dtype=int) if k == 1 else kmeans(unit, k, rng, max_iter)[1]
    s = sensitivities(residuals, labels)
    perm = rng.permutation(N)
    cluster_rank = rng.permutation(k)[labels[perm]]
    order = perm[np.argsort(cluster_rank, kind="stable")]
    idx, pi = pps_sample(s, n, rng, order=order)
    return idx, n / (N * pi), s, labels


@register
@dataclass(frozen=True)
class KMeansCoreset(WarmupMethod):
    """One representative per k-means cluster of (position, log-residual), weighted by cluster
    size (module docstring).

    Parameters
    ----------
    residual_weight:
        ``gamma``, the weight of the log-residual feature (>= 0; 0 clusters by position only).
    kmeans_iter:
        Lloyd iterations at most (>= 1).
    """

    name = "kmeans_coreset"
    family = "coreset"
    residual_weight: float = 1.0
    kmeans_iter: int = 20

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number(self.name, "residual_weight", self.residual_weight, 0.0)
        check_int(self.name, "kmeans_iter", self.kmeans_iter, 1)

    def _make(self, problem, counts, seed):
        warm = self.warmup(problem, counts, seed)
        feats = residual_features(problem.domain.to_unit(warm.pool), warm.residuals, float(self.residual_weight))
        idx, w = kmeans_select(feats, counts["interior"], selection_rng(seed), self.kmeans_iter)
        meta = {**warm.metadata(), "weight_range": [float(w.min()), float(w.max())]}
        return PointSet(warm.pool[idx], w, warm.conditions), meta


@register
@dataclass(frozen=True)
class Sensitivity(WarmupMethod):
    """Sensitivity sampling with Horvitz-Thompson weights (module docstring).

    Parameters
    ----------
    clusters:
        ``k``, the number of position clusters in the sensitivity bound (>= 1; 1 gives the
        uniform term ``1/N``; capped at the pool size).
    kmeans_iter:
        Lloyd iterations at most (>= 1).
    """

    name = "sensitivity"
    family = "coreset"
    clusters: int = 8
    kmeans_iter: int = 20

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int(self.name, "clusters", self.clusters, 1)
        check_int(self.name, "kmeans_iter", self.kmeans_iter, 1)

    def _make(self, problem, counts, seed):
        warm = self.warmup(problem, counts, seed)
        idx, w, s, _ = sensitivity_select(problem.domain.to_unit(warm.pool), warm.residuals, counts["interior"],
                                       self.clusters, selection_rng(seed), self.kmeans_iter)
        meta = {**warm.metadata(), "total_sensitivity": float(s.sum()), "weight_range": [float(w.min()), float(w.max())]}
        return PointSet(warm.pool[idx], w, warm.conditions), meta
