"""What a team may not see, for the planner: words naming metrics, columns or personal data outside the team's
scope, and the words that name the team's own tables and columns.

The planner refuses a question that names something outside the team's scope instead of answering a nearby
question that the team can see ("bureau score" for a team without bureau data must not become "score"). Each
lookup is built once per team and cached.
"""

from __future__ import annotations

import re

from copilot.semantic.view import TeamSemantics
from schema_catalog.semantic import load_semantic
from warehouse.schema import load_schema

_HIDDEN_CACHE: dict[str, frozenset[str]] = {}


def outside_scope(words: list[str], sem: TeamSemantics) -> list[str]:
    """Unmatched words that name a metric or dimension of the *full* semantic layer the team cannot use."""
    hidden = _HIDDEN_CACHE.get(sem.team)
    if hidden is None:
        layer, found = load_semantic(), set()
        for name, metric in layer.metrics.items():
            if name not in sem.metrics:
                found.update(p.lower() for p in (*metric.synonyms, metric.label) if " " not in p)
        for name, dim in layer.dimensions.items():
            if name not in sem.dimensions:
                found.update(p.lower() for p in (*dim.synonyms, dim.label) if " " not in p)
        hidden = _HIDDEN_CACHE.setdefault(sem.team, frozenset(found))
    return [w for w in words if w in hidden or w.rstrip("s") in hidden]


def known_words(sem: TeamSemantics, ignore: frozenset[str] = frozenset()) -> frozenset[str]:
    """Words naming the team's tables and columns: harmless when unplaced ("of applicants")."""
    known = _KNOWN_CACHE.get(sem.team)
    if known is None:
        words: set[str] = set()
        for t in sem.catalog.tables.values():
            for phrase in (t.name, *t.synonyms, *(c.name for c in t.columns.values())):
                words.update(re.findall(r"[a-z]+", phrase.lower()))
            for c in t.columns.values():
                for phrase in c.synonyms:
                    words.update(re.findall(r"[a-z]+", phrase.lower()))
        known = _KNOWN_CACHE.setdefault(sem.team, frozenset(words - ignore))
    return known


def hidden_metric_phrases(sem: TeamSemantics) -> list[str]:
    """Synonyms of metrics the full semantic layer has and this team cannot use (longest first)."""
    layer = load_semantic()
    return sorted({p.lower() for n, m in layer.metrics.items() if n not in sem.metrics for p in (*m.synonyms, m.label)},
                  key=len, reverse=True)


_KNOWN_CACHE: dict[str, frozenset[str]] = {}


def personal_data(text: str, sem: TeamSemantics) -> str | None:
    """A personal-data column named in the question of a team whose PII policy is 'denied'."""
    if sem.scope.pii_policy != "denied":
        return None
    for table in load_schema().tables.values():
        for col in table.columns:
            if col.pii:
                phrase = col.name.replace("_", " ")
                if re.search(rf"\b{re.escape(phrase)}s?\b", text):
                    return phrase
    return None


_HIDDEN_COLUMNS: dict[str, tuple[str, ...]] = {}


def hidden_column(text: str, sem: TeamSemantics, named: list[tuple[int, int]]) -> str | None:
    """A multi-word name of a column the team cannot see ("bureau score" for growth), outside the named matches:
    without this check a visible column with a shorter name ("score") would silently stand in for it."""
    phrases = _HIDDEN_COLUMNS.get(sem.team)
    if phrases is None:
        layer = load_semantic()
        hidden: set[str] = set()
        visible: set[str] = set()
        for table in load_schema().tables.values():
            if table.internal:
                continue  # bookkeeping tables (world runs, audit) are nobody's analyst data
            for col in table.columns:
                names = {col.name.replace("_", " "), *layer.column_synonyms.get((table.name, col.name), ())}
                (visible if sem.catalog.has_column(table.name, col.name) else hidden).update(
                    n.lower() for n in names if " " in n)
        phrases = _HIDDEN_COLUMNS.setdefault(sem.team, tuple(sorted(hidden - visible, key=len, reverse=True)))
    for phrase in phrases:
        for m in re.finditer(rf"(?<![\w]){re.escape(phrase)}s?(?![\w])", text):
            if not any(s < m.end() and m.start() < e for s, e in named):
                return phrase
    return None
