"""Distribution-shift statistics on histograms, vectorised over any number of leading axes (dates, segments).

Bins. SQL counts every variable on a fixed fine grid with bin 0 reserved for NULL. Against each baseline the fine bins
are merged into ``k`` groups of (roughly) equal baseline mass, i.e. quantile bins *of the baseline*, plus the missing
group 0. Discrete variables (DPD counts) collapse naturally: a value holding 70% of the baseline mass is one group and
some groups stay empty. Doing the merge on counts keeps the whole job free of per-row Python.

Epsilon. Empty bins make PSI and KL infinite, so every group proportion gets ``epsilon`` added and the vector is
renormalised: ``p' = (p + eps) / (1 + eps * n_groups)``. A group empty on both sides then contributes exactly zero.

Definitions (p = current day, q = baseline):
* PSI = sum (p - q) ln(p / q)  (= KL(p||q) + KL(q||p)); rule of thumb 0.1 watch, 0.25 alert.
* KL divergence = KL(p || q) in nats (scipy.special.rel_entr).
* JS distance = sqrt of the Jensen-Shannon divergence, base 2, in [0, 1] (scipy.spatial.distance.jensenshannon).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr


def baseline_groups(baseline: np.ndarray, k: int) -> np.ndarray:
    """Group index (0 = missing, 1..k = baseline quantile groups) of every fine bin; shape of ``baseline``.

    ``baseline[..., 0]`` is the missing bin. A fine bin goes to the group its baseline mass mid-point falls into.
    """
    nonnull = baseline[..., 1:].astype(np.float64)
    total = nonnull.sum(axis=-1, keepdims=True)
    mid = (np.cumsum(nonnull, axis=-1) - nonnull / 2) / np.where(total > 0, total, 1.0)
    groups = 1 + np.minimum(np.floor(mid * k), k - 1).astype(np.int64)
    return np.concatenate([np.zeros_like(groups[..., :1]), groups], axis=-1)


def regroup(counts: np.ndarray, groups: np.ndarray, k: int) -> np.ndarray:
    """Sum fine-bin ``counts`` into the ``k + 1`` groups given per fine bin by ``groups`` (same shape)."""
    onehot = groups[..., None] == np.arange(k + 1)
    return np.einsum("...b,...bk->...k", counts.astype(np.float64), onehot)


def smoothed(counts: np.ndarray, epsilon: float) -> np.ndarray:
    """Proportions with the documented epsilon added and renormalised (rows with no counts stay uniform-ish)."""
    total = counts.sum(axis=-1, keepdims=True)
    p = counts / np.where(total > 0, total, 1.0)
    return (p + epsilon) / (1.0 + epsilon * counts.shape[-1])


def divergences(current: np.ndarray, baseline: np.ndarray, k: int, epsilon: float) -> dict[str, np.ndarray]:
    """PSI, KL(current || baseline) and JS distance from fine-bin counts (last axis = fine bins, bin 0 = NULL)."""
    groups = baseline_groups(baseline, k)
    p = smoothed(regroup(current, groups, k), epsilon)
    q = smoothed(regroup(baseline, groups, k), epsilon)
    kl_pq = rel_entr(p, q).sum(axis=-1)
    kl_qp = rel_entr(q, p).sum(axis=-1)
    return {
        "psi": kl_pq + kl_qp,
        "kl_divergence": kl_pq,
        "js_distance": jensenshannon(p, q, axis=-1, base=2),
    }
