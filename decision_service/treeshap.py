"""Exact path-dependent TreeSHAP for LightGBM, vectorised over trees and rows — the one implementation used by
real-time reason codes (``LoadedModel.reason_codes``) and the batch backfill.

Why not LightGBM's ``pred_contrib``: it walks every tree for one row at a time (about 1 ms a row for 200 trees here,
0.5 ms a row even in batches), which made reason codes the dominant cost of a real-time decision and most of an hour
for the millions of refer/decline rows of a backfill. The values are the same mathematics, computed differently:

For a leaf with value v whose path uses the unique features P (m of them), each feature j has a zero fraction z_j
(the share of training rows that follow the path at j's splits: a product of cover ratios) and a one fraction
o_j(x) in {0, 1} (whether x follows the path at all of j's splits). Path-dependent TreeSHAP (Lundberg et al. 2018)
gives feature i in P the contribution

    v * (o_i - z_i) * sum_{S in P - {i}} |S|! (m - |S| - 1)! / m! * prod_{j in S} o_j * prod_{j not in S} z_j

Because o is binary, this depends on x only through the m-bit pattern of o, so each leaf gets a table of
2^m x m values, built once per model. Scoring is then a fixed number of numpy operations for the whole model, no
matter how many trees it has: every split of every tree is evaluated for all rows at once, every leaf's one-fraction
pattern is gathered from those, its table row looked up, and the contributions are summed into features with one
matrix product. Leaves are grouped by m so each group is a dense array. A single row costs tens of microseconds of
fixed numpy overhead plus the work itself; large batches run in row chunks to bound memory.

``contributions`` matches LightGBM's ``pred_contrib`` to floating-point noise (tests check it, including NaN and
zero-as-missing splits); categorical splits are not supported (:class:`UnsupportedModelError`, callers fall back to
``pred_contrib``).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from decision_service.treeshap_kernel import CompiledTrees

__all__ = ["TreeShap", "UnsupportedModelError", "batch_reason_codes", "explainer_for"]

_ZERO = 1e-35  # LightGBM's kZeroThreshold
_MISSING_NONE, _MISSING_ZERO, _MISSING_NAN = 0, 1, 2
_MISSING_CODES = {"None": _MISSING_NONE, "Zero": _MISSING_ZERO, "NaN": _MISSING_NAN}
MAX_PATH_FEATURES = 16
"""A leaf whose path uses more unique features needs a 2^m table that is too big; such models are unsupported."""
CHUNK_ROWS = 64
"""Rows evaluated together by the all-trees strategy (its work arrays are rows x leaf slots: keep them in cache)."""
PER_TREE_MIN_ROWS = 1024
"""From this many rows on, the per-tree strategy (distinct split patterns computed once) is faster (measured)."""


class UnsupportedModelError(NotImplementedError):
    """The booster has splits this implementation does not handle (categorical, or very deep paths)."""


def _weights(m: int) -> np.ndarray:
    return np.array([factorial(k) * factorial(m - k - 1) / factorial(m) for k in range(m)])


def _leaf_tables(values: np.ndarray, zero: np.ndarray) -> np.ndarray:
    """(L, 2**m, m) contributions of L leaves with m path features for every one-fraction pattern.

    Bit b of the pattern index is o of the leaf's b-th feature. Vectorised over leaves: m*m numpy operations.
    """
    n_leaves, m = zero.shape
    o = ((np.arange(2**m)[:, None] >> np.arange(m)[None, :]) & 1).astype(np.float64)  # (P, m)
    w = _weights(m)
    table = np.empty((n_leaves, 2**m, m))
    for i in range(m):
        coef = np.zeros((n_leaves, 2**m, m))
        coef[:, :, 0] = 1.0
        for j in range(m):
            if j == i:
                continue
            shifted = np.zeros_like(coef)
            shifted[:, :, 1:] = coef[:, :, :-1]
            coef = coef * zero[:, j, None, None] + shifted * o[None, :, j, None]
        table[:, :, i] = values[:, None] * (o[None, :, i] - zero[:, i, None]) * (coef @ w)
    return table


@dataclass
class _RawLeaf:
    value: float
    features: list[int]
    conditions: list[list[int]]  # per feature: split index k if the path goes left there, -(k + 1) if right
    zero: list[float]


class TreeShap:
    """Exact TreeSHAP contributions ``(n, F)`` (no bias column) of one LightGBM booster, numerical splits only.

    Two evaluation strategies over the same leaf tables, chosen by batch size: all trees at once for real-time
    micro-batches (below), tree by tree with distinct split patterns computed once for backfill-sized batches.

    Layout (built once): every split of every tree is one of N "nodes"; every (leaf, path feature) pair is one of S
    "slots". A slot's one fraction is 1 when the row went the path's way at all of that feature's splits on the
    path (slots are grouped by their number of conditions, so that is one gather + ``all`` per group). A leaf's
    pattern is the sum of its slots' bits (leaves are grouped by m, so that is one reshape per group); each slot
    then reads its value from one flat table of all leaves' 2^m x m tables, and a segment sum per feature gives the
    contributions. A few dozen numpy calls for a whole model, whatever the number of trees; no per-segment loops.
    """

    def __init__(self, booster: Any) -> None:
        dump = booster.dump_model()
        self.num_features = len(dump["feature_names"])
        feats: list[int] = []
        thresholds: list[float] = []
        defaults: list[bool] = []
        missing: list[int] = []
        raw: list[_RawLeaf] = []
        for tree in dump["tree_info"]:
            self._walk(tree["tree_structure"], [], feats, thresholds, defaults, missing, raw)
        self.split_feature = np.array(feats, dtype=np.int64)
        self.threshold = np.array(thresholds, dtype=np.float64)
        self.default_left = np.array(defaults, dtype=bool)
        missing_arr = np.array(missing, dtype=np.int8)
        self.nan_is_default = missing_arr == _MISSING_NAN
        self.zero_is_default = missing_arr == _MISSING_ZERO
        n_nodes = len(feats)

        by_m: dict[int, list[_RawLeaf]] = {}
        for leaf in raw:
            by_m.setdefault(len(leaf.features), []).append(leaf)
        tables: list[np.ndarray] = []
        slot_conds: list[list[int]] = []  # rows of the went matrix: split k left -> k, right -> N + k
        slot_feature: list[int] = []
        leaf_base: list[int] = []
        leaf_groups: list[tuple[int, int, int, list[int]]] = []  # (first slot, leaves, m, table offsets)
        offset = 0
        for m in sorted(by_m):
            if m > MAX_PATH_FEATURES:
                raise UnsupportedModelError(f"a leaf path uses {m} features (at most {MAX_PATH_FEATURES} supported)")
            leaves = by_m[m]
            table = _leaf_tables(np.array([lf.value for lf in leaves]), np.array([lf.zero for lf in leaves]))
            tables.append(table.reshape(-1))
            bases = [offset + li * (2**m) * m for li in range(len(leaves))]
            leaf_groups.append((len(slot_feature), len(leaves), m, bases))
            leaf_base.extend(bases)
            for leaf in leaves:
                for b, conds in enumerate(leaf.conditions):
                    slot_feature.append(leaf.features[b])
                    slot_conds.append([c if c >= 0 else n_nodes - c - 1 for c in conds])
            offset += table.size
        n_slots, n_leaves = len(slot_feature), len(leaf_base)
        self.n_nodes, self.n_slots, self.n_leaves = n_nodes, n_slots, n_leaves
        self.table = np.concatenate(tables) if tables else np.zeros(0)
        # Slots by number of conditions k: (S_k, k) rows of the (2N, n) went-left/went-right matrix that must all hold.
        by_k: dict[int, list[int]] = {}
        for slot, conds in enumerate(slot_conds):
            by_k.setdefault(len(conds), []).append(slot)
        self.cond_classes = [(np.array(slots, dtype=np.int64),
                              np.array([slot_conds[i] for i in slots], dtype=np.int64).reshape(len(slots), k))
                             for k, slots in sorted(by_k.items())]
        # Leaves with m path features own m consecutive slots: one (L_m, m, n) block per m.
        self.leaf_groups = [(start, count, m, np.array(bases, dtype=np.int64))
                            for start, count, m, bases in leaf_groups]
        feature_arr = np.array(slot_feature, dtype=np.int64)
        self.by_feature = np.argsort(feature_arr, kind="stable")
        sorted_features = feature_arr[self.by_feature]
        self.present = np.unique(sorted_features)
        self.feature_start = np.searchsorted(sorted_features, self.present)
        self._dump = dump
        self._per_tree: _PerTree | None = None
        self._compiled: CompiledTrees | None = None

    @staticmethod
    def _walk(node: dict[str, Any], path: list[tuple[int, int, bool, float]], feats: list[int],
              thresholds: list[float], defaults: list[bool], missing: list[int], leaves: list[_RawLeaf]) -> None:
        """Depth-first over one tree; ``path`` holds (node index, feature, went_left, cover fraction) per split."""
        if "split_index" not in node:
            if not path:
                return  # a single-leaf tree moves nobody's score
            order: dict[int, list[int]] = {}
            zero: dict[int, float] = {}
            for idx, feature, went_left, frac in path:
                order.setdefault(feature, []).append(idx if went_left else -(idx + 1))
                zero[feature] = zero.get(feature, 1.0) * frac
            fs = list(order)
            leaves.append(_RawLeaf(float(node["leaf_value"]), fs, [order[f] for f in fs], [zero[f] for f in fs]))
            return
        if node.get("decision_type", "<=") != "<=":
            raise UnsupportedModelError("categorical splits are not supported by the vectorised TreeSHAP")
        idx = len(feats)
        feats.append(int(node["split_feature"]))
        thresholds.append(float(node["threshold"]))
        defaults.append(bool(node["default_left"]))
        missing.append(_MISSING_CODES.get(str(node["missing_type"]), _MISSING_NONE))
        total = float(node["internal_count"])
        for child, went_left in ((node["left_child"], True), (node["right_child"], False)):
            count = float(child.get("internal_count", child.get("leaf_count", 0)))
            TreeShap._walk(child, [*path, (idx, feats[idx], went_left, count / total if total else 0.0)], feats,
                           thresholds, defaults, missing, leaves)

    def _went_left(self, X: np.ndarray) -> np.ndarray:
        """(N, n) True where the row goes left at the split, LightGBM's missing-value rules included.

        Work arrays are (elements, rows): every segment sum below then adds contiguous rows of memory.
        """
        x = X.T[self.split_feature]
        nan = np.isnan(x)
        xz = np.where(nan, 0.0, x)
        default = (nan & self.nan_is_default[:, None]) | ((np.abs(xz) <= _ZERO) & self.zero_is_default[:, None])
        return np.where(default, self.default_left[:, None], xz <= self.threshold[:, None])

    def _chunk(self, X: np.ndarray) -> np.ndarray:
        n = X.shape[0]
        phi = np.zeros((self.num_features, n))
        if self.n_slots == 0:
            return phi.T
        left = self._went_left(X)
        went = np.concatenate([left, ~left])  # (2N, n): went left at split k, went right at split k
        ones = np.empty((self.n_slots, n), dtype=np.int64)  # a slot's one fraction o (0/1)
        for slots, cond in self.cond_classes:
            ones[slots] = went[cond[:, 0]] if cond.shape[1] == 1 else went[cond].all(axis=1)
        vals = np.empty((self.n_slots, n))
        for start, count, m, bases in self.leaf_groups:
            block = ones[start: start + count * m].reshape(count, m, n)
            pattern = (block << np.arange(m)[None, :, None]).sum(axis=1)  # (L_m, n)
            idx = (bases[:, None, None] + pattern[:, None, :] * m) + np.arange(m)[None, :, None]
            vals[start: start + count * m] = self.table[idx].reshape(count * m, n)
        phi[self.present] = np.add.reduceat(vals[self.by_feature], self.feature_start, axis=0)
        return phi.T

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """(n, F) TreeSHAP values in margin units: LightGBM's ``pred_contrib`` without the bias column."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.shape[1] != self.num_features:
            raise ValueError(f"model has {self.num_features} features, X has {X.shape[1]} columns")
        n = X.shape[0]
        if n == 0:
            return np.zeros((0, self.num_features))
        if n >= PER_TREE_MIN_ROWS:
            if self._per_tree is None:
                self._per_tree = _PerTree(self._dump)
            return self._per_tree.contributions(X)
        if n <= CHUNK_ROWS:
            return self._chunk(X)
        return np.concatenate([self._chunk(X[s: s + CHUNK_ROWS]) for s in range(0, n, CHUNK_ROWS)])

    def batch_contributions(self, X: np.ndarray) -> np.ndarray:
        """Same values as :meth:`contributions` for large batches (bit for bit equal to its per-tree strategy),
        computed by the compiled kernel of :mod:`decision_service.treeshap_kernel` on all cores: the backfill's
        entry point. The kernel is compiled on first use (cached on disk afterwards), so real time keeps numpy."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.shape[1] != self.num_features:
            raise ValueError(f"model has {self.num_features} features, X has {X.shape[1]} columns")
        if self._compiled is None:
            from decision_service.treeshap_kernel import CompiledTrees

            if self._per_tree is None:
                self._per_tree = _PerTree(self._dump)
            self._compiled = CompiledTrees(self._per_tree.trees, self.num_features)
        return self._compiled.contributions(X)


# ----- large batches: tree by tree, each distinct split pattern of a tree computed once ---------------------------
@dataclass
class _Leaf:
    features: np.ndarray  # (m,) feature indices
    conditions: list[list[tuple[int, bool]]]  # per feature: (node index in tree, went_left)
    table: np.ndarray  # (2**m, m)


@dataclass
class _Tree:
    split_feature: np.ndarray
    threshold: np.ndarray
    default_left: np.ndarray
    missing_type: list[str]
    leaves: list[_Leaf]


def _parse_tree(root: dict[str, Any]) -> _Tree:
    feats, thresholds, defaults, missing = [], [], [], []
    leaves: list[_Leaf] = []

    def walk(node: dict[str, Any], path: list[tuple[int, int, bool, float]]) -> None:
        if "leaf_value" in node or "split_index" not in node:
            if not path:
                return  # a single-leaf tree moves nobody's score
            order: dict[int, list[tuple[int, bool]]] = {}
            zero: dict[int, float] = {}
            for idx, feature, went_left, frac in path:
                order.setdefault(feature, []).append((idx, went_left))
                zero[feature] = zero.get(feature, 1.0) * frac
            fs = np.array(list(order), dtype=np.int64)
            z = np.array([zero[f] for f in fs])
            table = _leaf_tables(np.array([float(node["leaf_value"])]), z[None, :])[0]
            leaves.append(_Leaf(fs, [order[f] for f in fs], table))
            return
        idx = len(feats)
        feats.append(int(node["split_feature"]))
        thresholds.append(float(node["threshold"]))
        defaults.append(bool(node["default_left"]))
        missing.append(str(node["missing_type"]))
        if node.get("decision_type", "<=") != "<=":
            raise UnsupportedModelError("categorical splits are not supported by the vectorised TreeSHAP")
        total = float(node["internal_count"])
        for child, went_left in ((node["left_child"], True), (node["right_child"], False)):
            count = float(child.get("internal_count", child.get("leaf_count", 0)))
            walk(child, [*path, (idx, feats[idx], went_left, count / total if total else 0.0)])

    walk(root, [])
    return _Tree(np.array(feats, dtype=np.int64), np.array(thresholds), np.array(defaults, dtype=bool), missing,
                 leaves)



class _PerTree:
    """Backfill-sized batches: per tree, rows are grouped by their left/right decision at every split (a few hundred
    distinct patterns per tree in practice), so each tree costs O(rows x splits) plus O(patterns x leaves)."""

    def __init__(self, dump: dict[str, Any]) -> None:
        self.num_features = len(dump["feature_names"])
        self.trees = [_parse_tree(t["tree_structure"]) for t in dump["tree_info"]]

    @staticmethod
    def _go_left(tree: _Tree, X: np.ndarray) -> list[np.ndarray]:
        out = []
        for k in range(len(tree.split_feature)):
            x = X[:, tree.split_feature[k]]
            mt = tree.missing_type[k]
            nan = np.isnan(x)
            if mt == "NaN":
                left = np.where(nan, tree.default_left[k], x <= tree.threshold[k])
            elif mt == "Zero":
                xz = np.where(nan, 0.0, x)
                left = np.where(np.abs(xz) <= _ZERO, tree.default_left[k], xz <= tree.threshold[k])
            else:
                left = np.where(nan, 0.0, x) <= tree.threshold[k]
            out.append(left)
        return out

    def contributions(self, X: np.ndarray) -> np.ndarray:
        n = X.shape[0]
        phi = np.zeros((n, self.num_features))
        for tree in self.trees:
            if not tree.leaves:
                continue
            go_left = self._go_left(tree, X)
            if len(go_left) <= 62:
                bits = np.zeros(n, dtype=np.int64)
                for k, left in enumerate(go_left):
                    bits |= left.astype(np.int64) << k
                uniq, inverse = np.unique(bits, return_inverse=True)
                u_left = [((uniq >> k) & 1).astype(bool) for k in range(len(go_left))]
                phi += self._tree_phi(tree, u_left, len(uniq))[inverse.reshape(-1)]
            else:  # deeper than int64 can pack: evaluate every row
                phi += self._tree_phi(tree, go_left, n)
        return phi

    def _tree_phi(self, tree: _Tree, go_left: list[np.ndarray], n: int) -> np.ndarray:
        phi = np.zeros((n, self.num_features))
        for leaf in tree.leaves:
            pattern = np.zeros(n, dtype=np.int64)
            for b, conds in enumerate(leaf.conditions):
                ok = np.ones(n, dtype=bool)
                for idx, went_left in conds:
                    ok &= go_left[idx] if went_left else ~go_left[idx]
                pattern |= ok.astype(np.int64) << b
            phi[:, leaf.features] += leaf.table[pattern]
        return phi


def explainer_for(booster: Any) -> TreeShap:
    """Build the vectorised TreeSHAP of a booster (tables for a few hundred trees: do it at load time)."""
    return TreeShap(booster)


def batch_reason_codes(model: Any, X: np.ndarray, k: int = 4) -> list[list[str]]:
    """``LoadedModel.reason_codes`` by another name (kept for the backfill's callers)."""
    return model.reason_codes(X, k)
