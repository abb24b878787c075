"""Readers for question *shapes* beyond one aggregate: change from the previous period, a ratio of two counts,
and a second level of aggregation over entities ("per application", "more than once", "no offer from any lender").

Like :mod:`copilot.semantic.phrasing`, each reader works on the normalised question and the spans already consumed,
and knows kinds of phrasing, never particular questions. Entities are the catalog's tables (matched by the phrases
naming their rows), metrics are the catalog's count and sum metrics; :mod:`copilot.semantic.derived` compiles what
they find.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from copilot.models import MetricCondition, NestedStep
from copilot.semantic.phrasing import comparison_ops
from copilot.semantic.view import TeamSemantics

Span = tuple[int, int]

_CHANGE_RE = re.compile(r"\b(?:change|changes|difference|diff|delta|growth|grew|increase|decrease|rise|fall|drop|"
                        r"movement|moved|jump)\b")
_PCT_RE = re.compile(r"%|\bper\s*cent|\bpercent(?:age)?\b|\brelative\b|\bgrowth\s+rate\b|\bgrowth\b")
_AGG = {"average": "avg", "mean": "avg", "typical": "avg", "median": "median", "maximum": "max", "max": "max",
        "most": "max", "minimum": "min", "min": "min", "fewest": "min", "least": "min"}
_AGG_PER_RE = re.compile(r"\b(?P<agg>average|mean|typical|median|maximum|max|minimum|min)\s+(?:number|count|no|"
                         r"amount|total)?\s*(?:of\s+)?(?P<what>[a-z][a-z ]{1,40}?)\s+(?:per|for\s+each|by\s+each|"
                         r"each|an?)\s+(?P<entity>[a-z]+)\b")
_BARE_PER_RE = re.compile(r"\b(?P<what>[a-z][a-z ]{1,40}?)\s+per\s+(?P<entity>[a-z]+)\b")
_HOW_MANY_RE = re.compile(r"\b(?:how\s+many|number\s+of|count\s+of|no\s+of|count|(?P<share>fraction|share|"
                          r"proportion|percentage|percent)\s+of|(?P<pct>%)\s+of)\s+(?:distinct\s+|unique\s+)?"
                          r"(?P<entity>[a-z]+(?:\s+[a-z]+)?)\b")
_TIMES = {"once": 1, "twice": 2, "thrice": 3}
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "a": 1, "an": 1, "single": 1}
# the count reader's view of the one comparison table ("more than once", "at least 3 offers", "exactly two")
_COMPARE = comparison_ops("counts")
_QUANTITY = (r"(?P<n>\d+|" + "|".join(_NUMBER_WORDS) + r")\s*(?P<noun>times?|[a-z]+(?:\s+[a-z]+)?)?"
             r"|(?P<t>once|twice|thrice)")
_THRESHOLD_RE = re.compile(rf"(?P<verb>\b[a-z]+(?:\s+(?:a|an|any))?)\s+(?P<op>{'|'.join(p for _, p in _COMPARE)})\s+"
                           rf"(?:{_QUANTITY})\b")
_REPEAT_RE = re.compile(r"\b(?:repeat|returning)\s+(?P<entity>[a-z]+)\b|\b(?P<entity2>[a-z]+)\s+(?:who|that|which)\s+"
                        r"(?P<verb>[a-z]+)\s+(?:multiple|several|many)\s+times\b")
_NONE_RE = re.compile(r"\b(?:got|get|gets|received?|receiving|had|have|has|with|getting|without)\s+(?:no|zero|not\s+"
                      r"(?:a|an|any|one|even\s+one)|never\s+(?:a|an|any))\s+(?P<noun>[a-z]+(?:\s+[a-z]+)?)"
                      r"|\b(?:without|never\s+got|never\s+received)\s+(?:a|an|any)\s+(?P<noun2>[a-z]+(?:\s+[a-z]+)?)"
                      r"|\b(?:not|never)\s+(?:been\s+)?(?P<verb>[a-z]+ed)\s+by\s+(?:any|a\s+single)\b")
_ANY_TAIL_RE = re.compile(r"^\s*(?:from|by|at|with)\s+(?:any|a\s+single|even\s+one)\s+[a-z]+")
# verbs naming the event a count metric counts ("applied more than once" counts applications)
_VERB_NOUNS = {"applied": "applications", "apply": "applications", "applies": "applications",
               "borrowed": "loans", "borrow": "loans", "disbursed": "loans", "approved": "approvals",
               "sanctioned": "approvals", "offered": "approvals", "declined": "declines", "rejected": "declines",
               "decided": "decisions", "paid": "repayments", "repaid": "repayments", "alerted": "alerts"}
_RATIO_RE = re.compile(r"\bratio\s+of\s+(?P<a>[a-z ]+?)\s+(?:to|and|vs|versus)\s+(?P<b>[a-z ]+?)(?:\s|$)"
                       r"|\b(?P<a2>[a-z]+(?:\s+[a-z]+)?)\s*(?:/|to)\s*(?P<b2>[a-z]+(?:\s+[a-z]+)?)\s+ratio\b")


@dataclass
class Shape:
    """What a reader found: the plan fields it sets and the spans it consumed."""

    metrics: list[str] = field(default_factory=list)
    nested: NestedStep | None = None
    ratio: bool = False
    spans: list[Span] = field(default_factory=list)
    note: str = ""


def read_change(text: str, has_grain: bool) -> tuple[str, Span] | None:
    """"week on week change", "daily difference", "% growth by month": a change column on a series."""
    if not has_grain:
        return None
    m = _CHANGE_RE.search(text)
    if not m:
        return None
    return ("pct" if _PCT_RE.search(text) else "diff"), m.span()


def _entity(word: str, sem: TeamSemantics) -> str | None:
    """The table whose rows ``word`` names ("application", "borrowers", "loan"), or None."""
    word = word.strip().lower()
    for table, phrases in sem.columns.tables.items():  # a table the team cannot read is still countable by key
        for p in phrases:
            if word == p or word == p + "s" or word + "s" == p or word == p + "es":
                return table
    return None


MetricFinder = Callable[[str], str | None]


def _additive(name: str, sem: TeamSemantics) -> bool:
    sql = sem.metrics[name].definitions[0].sql.lstrip().lower()
    return sql.startswith(("count(", "sum("))


def _counted(noun: str, sem: TeamSemantics, find_metric: MetricFinder) -> str | None:
    """The count (or sum) metric a noun or verb names: "offers", "applied", "loans" (the row count of a table)."""
    if not noun:
        return None
    noun = _VERB_NOUNS.get(noun.split()[0], noun)
    for phrase in (noun, noun + "s", f"number of {noun}", f"number of {noun}s"):
        name = find_metric(phrase)
        if name and _additive(name, sem):
            return name
    table = _entity(noun, sem) or (_entity(noun.split()[-1], sem) if len(noun.split()) <= 2 else None)
    return f"rows__{table}" if table and f"rows__{table}" in sem.metrics else None


def read_nested(text: str, sem: TeamSemantics, taken: list[Span], find_metric: MetricFinder) -> Shape | None:
    """A second level of aggregation. ``find_metric`` maps a phrase to a catalog metric name (or None)."""
    def free(span: Span) -> bool:
        return not any(s < span[1] and span[0] < e for s, e in taken)

    def counted(noun: str) -> str | None:
        return _counted(noun, sem, find_metric)

    dims = {p.lower() for d in sem.named_dimensions.values() for p in (*d.synonyms, d.label)}
    m = _AGG_PER_RE.search(text)
    if m and free(m.span()):
        entity = _entity(m["entity"], sem)
        metric = counted(m["what"].strip())
        if entity and metric and not metric.endswith(f"__{entity}"):
            return Shape([metric], NestedStep(entity=entity, aggregate=_AGG[m["agg"]]), spans=[m.span()],
                         note=f"{m['agg']} over {entity}")
    m = _BARE_PER_RE.search(text)
    if (m and free(m.span()) and m["entity"] not in dims and m["entity"].rstrip("s") not in dims
            and not find_metric(m["entity"]) and not find_metric(m["entity"] + "s")):  # "loans per approval": a ratio
        entity = _entity(m["entity"], sem)
        words = m["what"].split()
        for i in range(len(words)):  # "average number of offers per application": the longest tail that counts
            metric = counted(" ".join(words[i:]))
            if metric:
                break
        if entity and metric and not metric.endswith(f"__{entity}"):
            start = m.start("what") + len(" ".join(words[:i])) + (1 if i else 0)
            return Shape([metric], NestedStep(entity=entity, aggregate="avg"), spans=[(start, m.end())],
                         note=f"average over {entity}")
    subject = _HOW_MANY_RE.search(text)
    entity = None
    if subject:
        words = subject["entity"].split()
        entity = _entity(" ".join(words), sem) or _entity(words[0], sem)
    for m in _THRESHOLD_RE.finditer(text):
        if not entity or not free(m.span()):
            continue
        op = next(o for o, p in _COMPARE if re.fullmatch(p, m["op"]))
        if m["t"]:
            n, noun = _TIMES[m["t"]], m["verb"].split()[0]
        else:
            n = int(m["n"]) if m["n"].isdigit() else _NUMBER_WORDS[m["n"]]
            noun = m["verb"].split()[0] if not m["noun"] or m["noun"].startswith("time") else m["noun"]
        metric = counted(noun)
        if metric and not metric.endswith(f"__{entity}"):
            span = (subject.start(), m.end()) if subject else m.span()
            return Shape([metric], NestedStep(entity=entity, aggregate="count", op=op, value=float(n)),
                         spans=[subject.span(), m.span()] if subject else [span])
    m = _NONE_RE.search(text)
    if entity and m and free(m.span()):
        group = "noun" if m["noun"] else "noun2" if m["noun2"] else "verb"
        noun, end = m[group], m.end()
        metric = counted(noun)
        if metric is None and " " in noun:  # "no offer from any lender": the noun is one word
            noun = noun.split()[0]
            end = m.start(group) + len(noun)
            metric = counted(noun)
        if metric and not metric.endswith(f"__{entity}"):
            spans = [subject.span(), (m.start(), end)] if subject else [(m.start(), end)]
            tail = _ANY_TAIL_RE.match(text[end:])
            if tail:
                spans.append((end, end + tail.end()))
            return Shape([metric], NestedStep(entity=entity, aggregate="count", op="=", value=0.0), spans=spans)
    return None


def read_ratio(text: str, find_metric: MetricFinder, sem: TeamSemantics, taken: list[Span]) -> Shape | None:
    """"loans per approval", "ratio of loans to approvals": one count divided by another, each on its own table."""
    m = _RATIO_RE.search(text)
    pairs: list[tuple[str, str, Span]] = []
    if m:
        pairs.append(((m["a"] or m["a2"]).strip(), (m["b"] or m["b2"]).strip(), m.span()))
    for pm in _BARE_PER_RE.finditer(text):
        pairs.append((pm["what"].strip(), pm["entity"], pm.span()))
    for a_text, b_text, span in pairs:
        if any(s < span[1] and span[0] < e for s, e in taken):
            continue
        b = _counted(b_text, sem, find_metric) if find_metric(b_text) or find_metric(b_text + "s") else None
        if not b:
            continue
        words = a_text.split()
        for i in range(len(words)):
            a = _counted(" ".join(words[i:]), sem, find_metric)
            if a and a != b:
                start = span[0] + len(" ".join(words[:i])) + (1 if i else 0)
                return Shape([a, b], ratio=True, spans=[(start, span[1])], note="a ratio of two counts")
    return None


_PER_PERIOD_RES = [
    re.compile(r"\b(?P<agg>average|avg|mean|typical|median)\s+(?P<adj>daily|weekly|monthly)\b"),
    re.compile(r"\b(?P<agg>average|avg|mean|typical|median)\s+(?:number\s+of\s+|no\s+of\s+|count\s+of\s+)?"
               r"(?P<what>[a-z][a-z ]{1,40}?)\s+(?:per|a|each|every)\s+(?P<unit>day|week|month)\b"),
]
_ADJ_UNIT = {"daily": "day", "weekly": "week", "monthly": "month"}


def read_per_period(text: str, sem: TeamSemantics, find_metric: MetricFinder) -> Shape | None:
    """"average daily approvals", "average applications per day by partner": the per-period series, then its
    average (the period words are also a grain to the date reader; the caller drops that grain)."""
    m = _PER_PERIOD_RES[0].search(text)
    if m:  # the metric follows and is matched as usual
        return Shape([], NestedStep(entity=_ADJ_UNIT[m["adj"]], aggregate=_AGG[m["agg"].replace("avg", "mean")]),
                     spans=[m.span()], note=f"{m['agg']} per {_ADJ_UNIT[m['adj']]}")
    m = _PER_PERIOD_RES[1].search(text)
    if m:
        words = m["what"].split()
        for i in range(len(words)):
            metric = find_metric(" ".join(words[i:])) or _counted(" ".join(words[i:]), sem, find_metric)
            if metric:
                start = m.start("what") + len(" ".join(words[:i])) + (1 if i else 0)
                return Shape([metric], NestedStep(entity=m["unit"], aggregate=_AGG[m["agg"].replace("avg", "mean")]),
                             spans=[(m.start(), m.end("agg")), (start, m.end())], note=f"{m['agg']} per {m['unit']}")
    return None


def read_having(text: str, metric: str, metric_span: Span, taken: list[Span], sem: TeamSemantics,
                thresholds: list[tuple[str, re.Pattern[str]]]) -> tuple[MetricCondition, Span] | None:
    """"partners with a take-up rate under 20%", "lenders with more than 1000 approvals": a condition on the
    metric's value per group, written right before or after the metric's phrase."""
    for op, rx in thresholds:
        for m in rx.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            after = 0 <= m.start() - metric_span[1] <= 12 and re.fullmatch(r"[\s,]*(?:is|was|of|at|are|were)?[\s,]*",
                                                                            text[metric_span[1]:m.start()])
            before = 0 <= metric_span[0] - m.end() <= 2
            if not (after or before):
                continue
            value = float(m["num"].replace(",", ""))
            unit = (m["unit"] or "").lower()
            if sem.metrics[metric].format == "percent" and (unit in ("%", "percent") or value > 1):
                value /= 100
            elif unit.rstrip("s") in ("lakh", "lac", "l"):
                value *= 1e5
            elif unit.rstrip("s") in ("crore", "cr"):
                value *= 1e7
            return MetricCondition(op=op, value=value), m.span()
    return None
