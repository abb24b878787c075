"""What a team may not see, for the planner: words naming metrics, columns or personal data outside the team's
scope, the words that name the team's own tables and columns, and what the words the planner could not place
cost its confidence (a name, an acronym, a term the team's catalog does not hold).

The planner refuses a question that names something outside the team's scope instead of answering a nearby
question that the team can see ("bureau score" for a team without bureau data must not become "score"). Each
lookup is built once per team and cached.
"""

from __future__ import annotations

import re

from copilot.models import PlanFilter
from copilot.semantic import vocabulary
from copilot.semantic.matching import partial_value
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


UNKNOWN_TERM_COST = 0.45
"""What a word the team's catalog does not know costs (see :mod:`copilot.semantic.vocabulary`): more than the gap
between a clean match (0.95) and the threshold (0.6), so one unknown subject is enough to decline."""
FILLER = frozenset(["comes", "come", "came", "ranked", "highest", "first", "please", "give", "using", "used",
                    "got", "get", "applicants", "wise", "like", "look", "looks", "going", "currently", "right"])
"""Words that say how a question is asked, not what it asks about: nearly free when unplaced."""


def scope_known(word: str, sem: TeamSemantics) -> bool:
    """Whether ``word`` names one of the team's metrics or dimensions (an acronym like "PD" that is a synonym)."""
    return any(word in (s.lower() for s in (*m.synonyms, m.name)) for m in sem.named_metrics.values()) or any(
        word in (s.lower() for s in (*d.synonyms, d.name)) for d in sem.named_dimensions.values())


def unknown_note(unknown: list[str], sem: TeamSemantics) -> str:
    """The note shown when terms the team's catalog does not hold are why a question is (partly) unanswered."""
    terms = ", ".join(repr(w) for w in unknown[:4])
    return f"{terms}: not in team {sem.team!r}'s data (no metric, column, table or value by that name)"


def weigh_unplaced(question: str, unmatched: list[str], filters: list[PlanFilter], notes: list[str],
                   sem: TeamSemantics, stopwords: frozenset[str]) -> tuple[list[str], set[str], float]:
    """The unknown terms among ``unmatched``, the capitalised words of ``question`` (likely names) and the confidence
    penalty all unplaced words cost.

    Updates its arguments in place, as the planner's reading does: a capitalised word that partly matches a sample
    value becomes a filter (appended to ``filters``, noted in ``notes``, removed from ``unmatched``); an acronym
    spelt like a pronoun ("IT", "US") that the team's catalog does not name is added to ``unmatched``."""
    known = known_words(sem, stopwords)
    # a capitalised word we could not place is most likely a name (a partner, a city): a filter we would drop
    names = {w.lower() for w in re.findall(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w'-]+", question.strip())}
    for w in [w for w in unmatched if w in names]:  # "QuickRupee" for "QuickRupee Instant Loans"
        named = {x for f in filters for v in f.values for x in re.findall(r"[a-z0-9]+", str(v).lower())}
        if w in named:  # "Kaveri Capital": the rest of a name already read as a filter value
            unmatched.remove(w)
            continue
        hit = partial_value(w, sem)
        if hit and not any(f.dimension == hit[0] for f in filters):
            filters.append(PlanFilter(dimension=hit[0], values=[hit[1]]))
            unmatched.remove(w)
            notes.append(f"read {w!r} as {hit[1]!r}")
    unknown = vocabulary.unknown_terms(unmatched, sem, ignore=FILLER)
    penalty = sum(0.03 if w in known or w.rstrip("s") in known else 0.4 if w in names
                  else 0.02 if w in FILLER else UNKNOWN_TERM_COST if w in unknown
                  else 0.3 if w in vocabulary.STRUCTURAL else 0.15 for w in unmatched)
    # "work in IT": an acronym spelt like a pronoun names something; read as the pronoun, it vanished unseen
    acronyms = [] if question.isupper() else [w.lower() for w in re.findall(r"\b(?:IT|US)\b", question)
                                               if not scope_known(w.lower(), sem)]
    for w in dict.fromkeys(acronyms):
        unmatched.append(w)
        unknown.append(w)
        penalty += UNKNOWN_TERM_COST
    return unknown, names, penalty
