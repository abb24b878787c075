"""Compiled (numba) evaluation of the per-tree TreeSHAP leaf tables: the backfill's reason-code engine.

Why compiled: the numpy strategies of :mod:`decision_service.treeshap` pay a numpy call per split and per leaf of
every tree (tens of thousands per batch) plus an (n, F) temporary per tree; for the ~6 million refer/decline rows of a
full backfill that was most of a quarter of an hour. The arithmetic is cheap (for each tree: a comparison per split,
then per leaf a bit pattern and m table reads), so one compiled loop over rows, parallel over the machine's cores,
does it at a few microseconds a row. LightGBM's own ``pred_contrib`` is slower still here (about 1.4 ms a row on one
thread, 0.8 ms on two, measured on a registered 176-tree champion) because it recomputes the path weights per row.

Same numbers, bit for bit, as ``_PerTree`` (the numpy per-tree strategy): the kernel reads the very leaf tables
``_PerTree`` built, evaluates LightGBM's missing-value rules the same way, and sums in the same order (leaves in
tree order into a per-tree vector, then trees in order into the row's total), so reason codes cannot differ even at a
rounding boundary. Tests compare it with LightGBM's ``pred_contrib`` and with ``_PerTree`` exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np
from numba import njit, prange

if TYPE_CHECKING:
    from decision_service.treeshap import _Tree

_ZERO = 1e-35  # LightGBM's kZeroThreshold
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}
MIN_ROWS_PER_TASK = 4096
MAX_ROWS_PER_TASK = 65536
"""Rows one parallel task handles, tree by tree: distinct split patterns are memoised per task and tree, so larger
blocks share more (measured on a 157-tree champion: 4,096-row blocks evaluate the leaves for about a quarter of the
rows, 32,768-row blocks for far fewer); two tasks per thread keep both cores busy."""
MAX_SPLITS = 62
"""A tree's split pattern is packed into one int64; deeper trees are left to the numpy strategy."""


class CompiledTrees:
    """The trees of one booster flattened into arrays for :func:`_kernel` (built once per model)."""

    def __init__(self, trees: list[_Tree], num_features: int) -> None:
        self.num_features = num_features
        node_feature, node_threshold, node_default, node_missing = [], [], [], []
        tree_node_start, tree_leaf_start, tree_feat_start = [0], [0], [0]
        tree_feats: list[int] = []
        leaf_m, leaf_table_start, leaf_cond_start = [], [], [0]
        leaf_feats: list[int] = []
        cond_node, cond_left, cond_slot = [], [], []
        tables: list[np.ndarray] = []
        table_size = 0
        for tree in trees:
            node_feature.extend(tree.split_feature.tolist())
            node_threshold.extend(tree.threshold.tolist())
            node_default.extend(tree.default_left.tolist())
            node_missing.extend(_MISSING.get(mt, 0) for mt in tree.missing_type)
            used: dict[int, None] = {}
            for leaf in tree.leaves:
                m = len(leaf.features)
                leaf_m.append(m)
                leaf_feats.extend(leaf.features.tolist())
                used.update(dict.fromkeys(leaf.features.tolist()))
                for slot, conds in enumerate(leaf.conditions):
                    for node, went_left in conds:
                        cond_node.append(node)
                        cond_left.append(went_left)
                        cond_slot.append(slot)
                leaf_cond_start.append(len(cond_node))
                leaf_table_start.append(table_size)
                tables.append(np.ascontiguousarray(leaf.table, dtype=np.float64).ravel())
                table_size += leaf.table.size
            tree_feats.extend(sorted(used))
            tree_node_start.append(len(node_feature))
            tree_leaf_start.append(len(leaf_m))
            tree_feat_start.append(len(tree_feats))
        i64 = np.int64
        self.node_feature = np.array(node_feature, dtype=i64)
        self.node_threshold = np.array(node_threshold, dtype=np.float64)
        self.node_default_left = np.array(node_default, dtype=np.bool_)
        self.node_missing = np.array(node_missing, dtype=np.int8)
        self.tree_node_start = np.array(tree_node_start, dtype=i64)
        self.tree_leaf_start = np.array(tree_leaf_start, dtype=i64)
        self.tree_feat_start = np.array(tree_feat_start, dtype=i64)
        self.tree_feats = np.array(tree_feats, dtype=i64)
        self.leaf_m = np.array(leaf_m, dtype=i64)
        self.leaf_feat_start = np.concatenate([[0], np.cumsum(self.leaf_m)]).astype(i64)
        self.leaf_feats = np.array(leaf_feats, dtype=i64)
        self.leaf_table_start = np.array(leaf_table_start, dtype=i64)
        self.leaf_cond_start = np.array(leaf_cond_start, dtype=i64)
        self.cond_node = np.array(cond_node, dtype=i64)
        self.cond_left = np.array(cond_left, dtype=np.bool_)
        self.cond_slot = np.array(cond_slot, dtype=i64)
        self.table = np.concatenate(tables) if tables else np.zeros(0)
        self.max_nodes = int(np.diff(self.tree_node_start).max()) if trees else 0

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """(n, F) TreeSHAP values, identical to ``_PerTree.contributions``."""
        XT = np.ascontiguousarray(np.asarray(X, dtype=np.float64).T)  # (F, n): each split reads one contiguous column
        out = np.zeros((XT.shape[1], self.num_features))
        if XT.shape[1] and len(self.leaf_m):
            _kernel(XT, out, self.node_feature, self.node_threshold, self.node_default_left, self.node_missing,
                    self.tree_node_start, self.tree_leaf_start, self.tree_feat_start, self.tree_feats, self.leaf_m,
                    self.leaf_feat_start, self.leaf_feats, self.leaf_table_start, self.leaf_cond_start,
                    self.cond_node, self.cond_left, self.cond_slot, self.table, _block_rows(XT.shape[1]))
        return out


def _block_rows(n: int) -> int:
    per_task = -(-n // (2 * numba.get_num_threads()))
    return int(min(MAX_ROWS_PER_TASK, max(MIN_ROWS_PER_TASK, per_task)))


@njit(cache=True, nogil=True, inline="always")
def _tree_phi(code, t, tree_phi, tree_leaf_start, leaf_m, leaf_feat_start, leaf_feats, leaf_table_start,
              leaf_cond_start, cond_node, cond_left, cond_slot, table):
    """Add tree t's contributions for split pattern ``code`` (bit k: went left at split k) into ``tree_phi``."""
    for leaf in range(tree_leaf_start[t], tree_leaf_start[t + 1]):
        m = leaf_m[leaf]
        pattern = (1 << m) - 1
        for c in range(leaf_cond_start[leaf], leaf_cond_start[leaf + 1]):
            if ((code >> cond_node[c]) & 1) != cond_left[c]:
                pattern &= ~(1 << cond_slot[c])
        base = leaf_table_start[leaf] + pattern * m
        fs = leaf_feat_start[leaf]
        for b in range(m):
            tree_phi[leaf_feats[fs + b]] += table[base + b]


@njit(parallel=True, cache=True, nogil=True)
def _kernel(XT, out, node_feature, node_threshold, node_default_left, node_missing,
            tree_node_start, tree_leaf_start, tree_feat_start, tree_feats, leaf_m, leaf_feat_start, leaf_feats,
            leaf_table_start, leaf_cond_start, cond_node, cond_left, cond_slot, table, block):
    """Tree-major within blocks of rows; per (block, tree) each distinct split pattern is evaluated once (an
    open-addressing memo keyed by the pattern), so the leaf loop runs for a few hundred patterns, not every row."""
    n = XT.shape[1]
    n_feat = out.shape[1]
    n_trees = tree_node_start.shape[0] - 1
    n_tasks = (n + block - 1) // block
    size = 1
    while size < 2 * block:
        size *= 2
    mask = size - 1
    for task in prange(n_tasks):
        lo = task * block
        hi = min(n, lo + block)
        codes = np.empty(hi - lo, dtype=np.int64)
        keys = np.empty(size, dtype=np.int64)
        stamp = np.full(size, -1, dtype=np.int64)
        slot_of = np.empty(size, dtype=np.int64)
        cache = np.empty((hi - lo, n_feat))
        tree_phi = np.zeros(n_feat)
        for t in range(n_trees):
            first = tree_node_start[t]
            n_nodes = tree_node_start[t + 1] - first
            codes[:] = 0
            for k in range(n_nodes):  # one split for the whole block: branch-free, vectorisable loops
                node = first + k
                col = XT[node_feature[node]]
                thr = node_threshold[node]
                dl = node_default_left[node]
                bit = np.int64(1) << k
                if node_missing[node] == 2:  # NaN goes the default way
                    for r in range(lo, hi):
                        x = col[r]
                        if (x <= thr) | (np.isnan(x) & dl):
                            codes[r - lo] |= bit
                elif node_missing[node] == 1:  # zero (and NaN, read as zero) goes the default way
                    for r in range(lo, hi):
                        x = col[r]
                        xz = 0.0 if np.isnan(x) else x
                        zero = abs(xz) <= _ZERO
                        if (zero & dl) | (~zero & (xz <= thr)):
                            codes[r - lo] |= bit
                else:  # NaN is read as zero
                    zero_left = thr >= 0.0
                    for r in range(lo, hi):
                        x = col[r]
                        if (x <= thr) | (np.isnan(x) & zero_left):
                            codes[r - lo] |= bit
            f0 = tree_feat_start[t]
            f1 = tree_feat_start[t + 1]
            n_cached = 0
            for r in range(lo, hi):
                code = codes[r - lo]
                h = (code * 0x9E3779B97F4A7C15) & mask
                while stamp[h] == t and keys[h] != code:
                    h = (h + 1) & mask
                if stamp[h] != t:
                    stamp[h] = t
                    keys[h] = code
                    slot_of[h] = n_cached
                    for j in range(f0, f1):
                        tree_phi[tree_feats[j]] = 0.0
                    _tree_phi(code, t, tree_phi, tree_leaf_start, leaf_m, leaf_feat_start, leaf_feats,
                              leaf_table_start, leaf_cond_start, cond_node, cond_left, cond_slot, table)
                    for j in range(f0, f1):
                        cache[n_cached, j - f0] = tree_phi[tree_feats[j]]
                    n_cached += 1
                s = slot_of[h]
                for j in range(f0, f1):
                    out[r, tree_feats[j]] += cache[s, j - f0]
