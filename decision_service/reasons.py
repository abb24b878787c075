"""Adverse-action reason codes: TreeSHAP contributions mapped through a versioned reason catalogue.

Why TreeSHAP against a fixed reference: a reason must be specific and reproducible. LightGBM's ``pred_contrib`` gives
exact TreeSHAP values whose baseline is the model's expected raw score over its training population (stored in the
model's metadata as ``shap_reference``), so the same model and the same input give the same contributions on every
machine and every release. Positive contributions push the PD up: those are the adverse reasons.

Determinism: contributions are rounded to 1e-9 before ordering (so platform float noise cannot reorder them), ties
break on the catalogue's order, then on the code. Features that map to the same code (e.g. all bureau fields when the
bureau report is missing) add up into one reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

CATALOGUE_PATH = Path(__file__).resolve().parent / "reason_catalogue.yaml"
MAX_REASONS = 4
_ROUND = 9


class ReasonCatalogueError(ValueError):
    """The reason catalogue file is malformed or does not cover a model feature."""


@dataclass(frozen=True)
class ReasonEntry:
    feature: str
    code: str
    text: str
    missing_code: str | None
    missing_text: str | None


@dataclass(frozen=True)
class ReasonCatalogue:
    """A loaded catalogue: one entry per feature, in tie-break order."""

    version: str
    entries: tuple[ReasonEntry, ...]

    @property
    def by_feature(self) -> dict[str, ReasonEntry]:
        return {e.feature: e for e in self.entries}

    def codes(self) -> tuple[str, ...]:
        """Every code, in first-appearance (tie-break) order."""
        seen: dict[str, None] = {}
        for e in self.entries:
            seen.setdefault(e.code, None)
            if e.missing_code:
                seen.setdefault(e.missing_code, None)
        return tuple(seen)

    def text(self, code: str) -> str:
        """Human-readable text of a code (raises KeyError for an unknown code)."""
        for e in self.entries:
            if e.code == code:
                return e.text
            if e.missing_code == code and e.missing_text:
                return e.missing_text
        raise KeyError(code)

    def mapper(self, feature_names: Sequence[str]) -> ReasonMapper:
        return ReasonMapper(self, tuple(feature_names))


def parse_catalogue(doc: object) -> ReasonCatalogue:
    """Validate a parsed YAML document into a catalogue, with a precise error for each mistake."""
    if not isinstance(doc, dict) or "version" not in doc or "features" not in doc:
        raise ReasonCatalogueError("reason catalogue needs top-level keys 'version' and 'features'")
    entries: list[ReasonEntry] = []
    seen: set[str] = set()
    for i, item in enumerate(doc["features"]):
        if not isinstance(item, dict) or not {"feature", "code", "text"} <= set(item):
            raise ReasonCatalogueError(f"catalogue entry {i} needs 'feature', 'code' and 'text'")
        if item["feature"] in seen:
            raise ReasonCatalogueError(f"feature {item['feature']!r} appears twice in the catalogue")
        if bool(item.get("missing_code")) != bool(item.get("missing_text")):
            raise ReasonCatalogueError(f"entry {item['feature']!r}: missing_code and missing_text go together")
        seen.add(item["feature"])
        entries.append(
            ReasonEntry(item["feature"], item["code"], item["text"], item.get("missing_code"), item.get("missing_text"))
        )
    return ReasonCatalogue(str(doc["version"]), tuple(entries))


@lru_cache(maxsize=16)
def _load_text(text: str) -> ReasonCatalogue:
    return parse_catalogue(yaml.safe_load(text))


def load_catalogue(path: Path | None = None, text: str | None = None) -> ReasonCatalogue:
    """Load the catalogue from YAML text (a model's frozen copy) or a file (default: the package's current one)."""
    if text is None:
        text = Path(path or CATALOGUE_PATH).read_text()
    return _load_text(text)


class ReasonMapper:
    """Precomputed, vectorised mapping from a model's feature order to catalogue codes."""

    def __init__(self, catalogue: ReasonCatalogue, feature_names: tuple[str, ...]) -> None:
        by_feature = catalogue.by_feature
        uncovered = [f for f in feature_names if f not in by_feature]
        if uncovered:
            raise ReasonCatalogueError(f"catalogue {catalogue.version} has no reason for features {uncovered}")
        self.catalogue = catalogue
        self.codes = np.array(catalogue.codes(), dtype=object)
        index = {c: i for i, c in enumerate(self.codes)}
        self.present_idx = np.array([index[by_feature[f].code] for f in feature_names], dtype=np.int64)
        self.missing_idx = np.array(
            [index[by_feature[f].missing_code or by_feature[f].code] for f in feature_names], dtype=np.int64
        )

    def map(self, contrib: np.ndarray, X: np.ndarray, k: int = MAX_REASONS) -> list[list[str]]:
        """Top-k adverse codes per row from contributions ``(n, F)`` (bias column removed) and the inputs ``X``.

        Only strictly positive (PD-increasing) contributions become reasons; a row without any gets ``[]``.
        """
        agg = self._aggregate(contrib, X, k)
        n = agg.shape[0]
        if n == 0 or k == 0:
            return [[] for _ in range(n)]
        codes = self.codes
        if n <= 8:  # real time: a tiny Python sort beats lexsort's set-up cost
            out = []
            for row in agg:
                pos = np.flatnonzero(row > 0).tolist()
                vals = row.tolist()
                pos.sort(key=lambda j: (-vals[j], j))
                out.append([codes[j] for j in pos[:k]])
            return out
        top = self._top(agg, k)
        return [codes[row[row >= 0]].tolist() for row in top]

    def top_indices(self, contrib: np.ndarray, X: np.ndarray, k: int = MAX_REASONS) -> np.ndarray:
        """What :meth:`map` returns, as an ``(n, k)`` matrix of indices into ``self.codes`` padded with -1.

        For batch callers (the backfill) that build Arrow lists without a Python list per row.
        """
        agg = self._aggregate(contrib, X, k)
        if agg.shape[0] == 0 or k == 0:
            return np.full((agg.shape[0], k), -1, dtype=np.int64)
        return self._top(agg, k)

    def _aggregate(self, contrib: np.ndarray, X: np.ndarray, k: int) -> np.ndarray:
        """Contributions summed per code (features sharing a code add up), rounded to 1e-9: ``(n, codes)``."""
        if k < 0 or k > MAX_REASONS:
            raise ValueError(f"k must be between 0 and {MAX_REASONS}, got {k}")
        contrib = np.atleast_2d(np.asarray(contrib, dtype=np.float64))
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        n, n_feat = contrib.shape
        if X.shape != (n, n_feat) or n_feat != self.present_idx.shape[0]:
            raise ValueError(f"contributions {contrib.shape} and inputs {X.shape} do not fit {n_feat} features")
        n_codes = self.codes.shape[0]
        code_of = np.where(np.isnan(X), self.missing_idx[None, :], self.present_idx[None, :])
        flat = (np.arange(n)[:, None] * n_codes + code_of).ravel()
        agg = np.bincount(flat, weights=contrib.ravel(), minlength=n * n_codes).reshape(n, n_codes)
        return np.round(agg, _ROUND)

    @staticmethod
    def _top(agg: np.ndarray, k: int) -> np.ndarray:
        """Top-k positive codes per row by value, ties on catalogue order; -1 where a row has fewer."""
        rank = np.broadcast_to(np.arange(agg.shape[1]), agg.shape)
        order = np.lexsort((rank, -agg), axis=-1)[:, :k]
        top = np.take_along_axis(agg, order, axis=1)
        return np.where(top > 0, order, -1)
