"""Matching the question's words against the team's catalog: the phrase table (metric and dimension names and
synonyms, sample values), normalisation, typo-tolerant metric and dimension lookup, partial value names.

Every table here is built once per team (or per semantics object) and cached, so planning a question costs a few
regex scans rather than a rebuild of the vocabulary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from copilot.semantic import shapes
from copilot.semantic.view import TeamSemantics
from schema_catalog.semantic import load_semantic


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    kind: str  # metric | dimension | value
    name: str
    value: str = ""
    exact: bool = True


def phrases_for(sem: TeamSemantics) -> list[tuple[str, str, str, str]]:
    """(phrase, kind, name, value) for every metric, dimension and sample value, longest phrase first."""
    out: list[tuple[str, str, str, str]] = []
    for name, metric in sem.named_metrics.items():
        for p in {*metric.synonyms, metric.label, name.replace("_", " ")}:
            out.append((normalise(p), "metric", name, ""))
            if metric.format == "percent" and normalise(p).endswith(" rate"):  # "fallback %", "approval ratio"
                out.append((normalise(p)[:-5] + " percentage", "metric", name, ""))
                out.append((normalise(p)[:-5] + " ratio", "metric", name, ""))
    for name, dim in sem.named_dimensions.items():
        if dim.kind == "time":
            continue  # grains come from the date grammar
        for p in {*dim.synonyms, dim.label, name.replace("_", " ")}:
            out.append((normalise(p), "dimension", name, ""))
    for name, mapping in load_semantic().value_synonyms.items():  # "rejected" is the value decline
        for value, words in mapping.items():
            if value in sem.samples.get(name, ()):
                out.extend((normalise(w), "value", name, value) for w in words)
    for name, values in sem.samples.items():
        for v in values:
            text = v.lower().replace("_", " ")
            if len(text) >= 2:
                out.append((text, "value", name, v))
                if v.lower() != text:
                    out.append((v.lower(), "value", name, v))
    kind_rank = {"metric": 0, "value": 1, "dimension": 2}
    # derived column dimensions (col__...) lose ties to the reviewed ones
    return sorted(set(out), key=lambda p: (-len(p[0]), kind_rank[p[1]], p[2].startswith("col__"), p[2]))


def phrase_table(sem: TeamSemantics) -> list[tuple[str, str, str, str]]:
    """The phrase table of one semantics object, built once and kept on that object.

    Keyed by the object, not the team name: two catalogs may share a team name (every external benchmark database
    is team "external"), and a table built for one must never serve the other.
    """
    cached = sem.__dict__.get("_planner_phrases")
    if cached is None:
        cached = sem.__dict__["_planner_phrases"] = phrases_for(sem)
    return cached


def normalise(question: str) -> str:
    text = question.lower().replace("’", "'").replace("₹", " rs ")
    text = re.sub(r"%\s*age\b", "%", text)  # "approval %age": Indian English for percentage
    text = re.sub(r"\bin\s+terms\s+of\b", " ", text)  # "performance in terms of X": X is asked, not loan "term"
    text = re.sub(r"\bw\.?\s?r\.?\s?t\.?(?=\s|$)|\bwith\s+respect\s+to\b|\bvis[\s-]a[\s-]vis\b", " by ", text)
    text = re.sub(r"[^\w\s%+\-.'<>=]", " ", text)
    text = re.sub(r"(?<!\d)\.(?!\d)", " ", text)
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)  # "self-employed", "loan-to-income", "thin-file"
    text = re.sub(r"\b(?:avg|mean)\b", "average", text)
    text = re.sub(r"\bno\s+of\b|\bnum\s+of\b|\bnos\s+of\b", "number of", text)
    text = re.sub(r"\bamt\b", "amount", text)
    text = re.sub(r"\b(?:kindly|please|pls|plz|can\s+you|could\s+you|pl)\s+(?:share|provide|send|give|show|get)"
                  r"(?:\s+(?:me|us))?\b", " ", text)  # politeness, not a "share of" question
    text = re.sub(r"\b(?!like|other|clock|length|stretch)([a-z]{3,})wise\b", r"\1 wise", text)  # "partnerwise"
    text = re.sub(r"(?<=[a-z])\s*%", " percentage", text)  # "approval %" names the approval percentage
    return re.sub(r"\s+", " ", text).strip()


def find(text: str, taken: list[tuple[int, int]], phrases: list[tuple[str, str, str, str]]) -> list[Match]:
    found: list[Match] = []
    for phrase, kind, name, value in phrases:
        # plural and past forms: "declines", "approved", "referred"
        pattern = (rf"(?<![\w]){re.escape(phrase[:-1])}(?:y|ies)(?![\w])" if phrase.endswith("y") and len(phrase) > 3
                   else rf"(?<![\w]){re.escape(phrase)}(?:e?s|e?d|red)?(?![\w])")
        for m in re.finditer(pattern, text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append(Match(m.start(), m.end(), kind, name, value))
    return found


def fuzzy_metric(words: list[str], sem: TeamSemantics) -> tuple[str, float] | None:
    """Closest metric synonym to any 1-3 word n-gram (typos: "aproval rate"); rapidfuzz ratio >= 85 or nothing."""
    grams = [" ".join(words[i : i + n]) for n in (3, 2, 1) for i in range(len(words) - n + 1)]
    grams = [g for g in grams if len(g) >= 6]
    choices = _SYNONYM_CACHE.get(sem.team)
    if choices is None:
        choices = [(normalise(syn), name) for name, m in sem.named_metrics.items() for syn in (*m.synonyms, m.label)]
        _SYNONYM_CACHE[sem.team] = choices
    if not grams or not choices:
        return None
    scores = process.cdist(grams, [c[0] for c in choices], scorer=fuzz.ratio, score_cutoff=85)
    best = scores.max()
    if best < 85:
        return None
    _, j = divmod(int(scores.argmax()), scores.shape[1])
    return choices[j][1], float(best) / 100


_SYNONYM_CACHE: dict[str, list[tuple[str, str]]] = {}
def metric_finder(sem: TeamSemantics) -> shapes.MetricFinder:
    """Exact phrase -> metric name over the team's metric names and synonyms (for the shape readers)."""
    table = sem.__dict__.get("_planner_metric_phrases")
    if table is None:
        table = {p: name for p, kind, name, _ in reversed(phrase_table(sem)) if kind == "metric"}
        sem.__dict__["_planner_metric_phrases"] = table
    return lambda phrase: table.get(normalise(phrase))


def partial_value(word: str, sem: TeamSemantics) -> tuple[str, str] | None:
    """The one sample value (dimension, value) having ``word`` as a whole word, or None when none or several do."""
    if len(word) < 4:
        return None
    hits = {(name, v) for name, values in sem.samples.items() for v in values
            if word in re.findall(r"[a-z0-9]+", v.lower())}
    return hits.pop() if len(hits) == 1 else None


def dimension_words(sem: TeamSemantics) -> dict[str, str]:
    """Single-word dimension synonyms -> dimension (for typo matching after "by")."""
    found = _DIM_WORDS.get(sem.team)
    if found is None:
        found = {p.lower(): n for n, d in sem.named_dimensions.items() for p in (*d.synonyms, d.label)
                 if " " not in p and len(p) >= 4}
        _DIM_WORDS[sem.team] = found
    return found


_DIM_WORDS: dict[str, dict[str, str]] = {}
