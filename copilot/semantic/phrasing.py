"""Readers for phrasings the metric/dimension matcher cannot see: thresholds, flags, units, aggregates, counts.

Each reader takes the normalised question, the spans already consumed (so nothing is read twice) and the team's
:class:`~copilot.semantic.columns.ColumnLayer`; each returns what it found plus the spans it consumed. They are kinds
of question ("X above N lakh", "when the fallback was used", "in crore", "average <column>", "how many <rows>"),
never particular questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from copilot.models import PlanFilter
from copilot.semantic.columns import ColumnLayer, ColumnRef

Span = tuple[int, int]

_LEAD = r"(?:^|[.;!?]\s*|\b(?:can|could|would|will)\s+you\s+|\bi\s+(?:want|need)\s+(?:you\s+)?to\s+|\blet'?s\s+|" \
        r"\bgo\s+ahead\s+and\s+|\bplease\s+)\s*(?:please\s+)?"
# verbs that are requests to change data whatever follows them
_WRITE_VERBS = r"update|insert|remove|modify|overwrite|create|wipe|erase|purge|set|mark|rename|cancel|reset|" \
               r"assign|disable|enable|edit|refund|revoke|unblock|blacklist|whitelist|deactivate|activate|" \
               r"onboard|offboard|save|upload|import|export"
# verbs that are also nouns of analysis ("decline rate", "change in approvals"): a write only with an object
_AMBIGUOUS_VERBS = r"approve|decline|reject|change|increase|decrease|raise|lower|block|flag|close|reopen|move|" \
                   r"copy|disburse|send|email|notify|waive|adjust|replace|suspend|pause|stop|restart|write|add"
_OBJECT = r"(?:(?:a|an)\s+new|new|all|the|every|this|these|those|any|each|my|our|its|their|pending|" \
          r"application|applications|loan|loans|lender|lenders|partner|partners|decision|decisions|alert|alerts|\d+)\b"
_WRITE_RE = re.compile(
    r"\b(?:delete|drop|truncate|insert\s+into|alter\s+table|grant|revoke|update\s+\w+\s+set|merge\s+into)\b"
    rf"|{_LEAD}(?:{_WRITE_VERBS})\b"
    rf"|{_LEAD}(?:{_AMBIGUOUS_VERBS})\s+{_OBJECT}"
)
_SCALES = {"lakh": 1e5, "lakhs": 1e5, "lac": 1e5, "lacs": 1e5, "crore": 1e7, "crores": 1e7, "cr": 1e7,
           "thousand": 1e3, "thousands": 1e3, "k": 1e3, "million": 1e6, "millions": 1e6, "mn": 1e6}
_SCALE_RE = re.compile(r"\b(?:in|as|into)\s+(?:rs\.?\s+|rupees\s+|inr\s+)?(?P<u>lakhs?|lacs?|crores?|cr|thousands?|"
                       r"millions?|mn)\b")


@dataclass(frozen=True)
class Comparison:
    """One comparison phrase (a regex) and the operator it means, with the readers that accept it.

    ``values``: a threshold on a column or a metric ("above 5 lakh", "under 20%"), read here. ``counts``: how often
    an entity did something ("applied more than once", "exactly two offers"), read by :mod:`copilot.semantic.shapes`.
    The count reader accepts a subset of the phrases plus "exactly"/"only"/"just" as "="; the value reader has never
    read those three (before an amount they are emphasis: "only 5 lakh"), so they are counts-only here.
    """

    op: str
    pattern: str
    values: bool = True
    counts: bool = False


COMPARISONS: tuple[Comparison, ...] = (
    Comparison(">=", r"at\s+least", counts=True),
    Comparison(">=", r"no\s+less\s+than"),
    Comparison(">=", r"not\s+less\s+than"),
    Comparison(">=", r"minimum\s+of", counts=True),
    Comparison(">=", r">="),
    Comparison("<=", r"at\s+most", counts=True),
    Comparison("<=", r"no\s+more\s+than"),
    Comparison("<=", r"not\s+more\s+than"),
    Comparison("<=", r"up\s+to", counts=True),
    Comparison("<=", r"maximum\s+of", counts=True),
    Comparison("<=", r"<="),
    Comparison(">", r"more\s+than", counts=True),
    Comparison(">", r"greater\s+than", counts=True),
    Comparison(">", r"higher\s+than"),
    Comparison(">", r"larger\s+than"),
    Comparison(">", r"bigger\s+than"),
    Comparison(">", r"longer\s+than"),
    Comparison(">", r"slower\s+than"),
    Comparison(">", r"above", counts=True),
    Comparison(">", r"over", counts=True),
    Comparison(">", r"exceeding"),
    Comparison(">", r"exceeds?"),
    Comparison(">", r"in\s+excess\s+of"),
    Comparison(">", r">"),
    Comparison("<", r"less\s+than", counts=True),
    Comparison("<", r"lower\s+than"),
    Comparison("<", r"smaller\s+than"),
    Comparison("<", r"shorter\s+than"),
    Comparison("<", r"faster\s+than"),
    Comparison("<", r"fewer\s+than", counts=True),
    Comparison("<", r"below", counts=True),
    Comparison("<", r"under", counts=True),
    Comparison("<", r"within"),
    Comparison("<", r"<"),
    Comparison("=", r"exactly", values=False, counts=True),
    Comparison("=", r"only", values=False, counts=True),
    Comparison("=", r"just", values=False, counts=True),
)
"""The one table of comparison phrases. Order matters: it is the order of the alternatives in each regex."""


def comparison_ops(reader: Literal["values", "counts"]) -> list[tuple[str, str]]:
    """``(op, alternation)`` per operator for one reader (``"values"`` or ``"counts"``), in table order."""
    ops: dict[str, list[str]] = {}
    for c in COMPARISONS:
        if getattr(c, reader):
            ops.setdefault(c.op, []).append(c.pattern)
    return [(op, "|".join(patterns)) for op, patterns in ops.items()]


_OPS = comparison_ops("values")
_NUM = r"(?:rs\.?\s*|inr\s*|₹\s*)?(?P<num>\d+(?:,\d{2,3})*(?:\.\d+)?)\s*(?P<unit>lakhs?|lacs?|l\b|crores?|cr\b|" \
       r"k\b|thousand|mn\b|million|seconds?|secs?|s\b|milliseconds?|ms\b|minutes?|mins?|%|percent|days?)?"
_THRESHOLD_RES = [(op, re.compile(rf"(?<![\w])(?:{pat})\s*(?:of\s+)?{_NUM}")) for op, pat in _OPS]
# "30+ dpd", "5+ enquiries"
_THRESHOLD_RES.append((">=", re.compile(r"(?<![\w])(?P<num>\d+(?:\.\d+)?)(?P<unit>)\s*\+")))
THRESHOLD_RES = _THRESHOLD_RES
"""(op, pattern) pairs of the comparisons a question can make ("above 5 lakh", "at least 3", "30+")."""
_NEGATION_RE = re.compile(r"\b(?:no|not|non|without|excluding|except|never|zero)\s+(?:\w+\s+)?$")
_AGG_WORDS = {"average": "avg", "avg": "avg", "mean": "avg", "typical": "avg", "total": "sum", "sum": "sum",
              "combined": "sum", "overall": "sum", "maximum": "max", "max": "max", "highest": "max", "largest": "max",
              "biggest": "max", "minimum": "min", "min": "min", "lowest": "min", "smallest": "min", "median": "median",
              "p90": "p90", "p95": "p95", "p99": "p99", "90th percentile": "p90", "95th percentile": "p95",
              "99th percentile": "p99"}
_AGG_RE = re.compile(r"\b(?P<w>" + "|".join(sorted(_AGG_WORDS, key=len, reverse=True)) + r")\b")
_COUNT_RE = re.compile(r"(?:\b(?:how\s+many|number\s+of|no\s+of|count\s+of|count|total|volume\s+of|"
                       r"(?:share|percent|percentage|proportion|fraction)\s+of)|%\s+of)"
                       r"(?:\s+(?:distinct|unique|different|individual))?\b")
_EXCLUDE_RE = re.compile(r"\b(?:excluding|exclude|except(?:\s+for)?|other\s+than|apart\s+from|not\s+counting|"
                         r"leaving\s+out|ignoring|besides|but\s+not|not)\s+(?:the\s+)?$")
_SHARE_RE = re.compile(r"(?:\b(?:share|proportion|percentage|percent|fraction|contribution|contributes?|"
                       r"mix)\b|%)(?:\s+of)?")
_ALL_RE = re.compile(r"\b(?:across|for|over|of)\s+all(?:\s+the)?\s+$|\ball\s+$")
_LIST_RE = re.compile(r"^(?:please\s+)?(?:list|show|display|give\s+me|get|which|what)\b(?:\s+(?:me|us))?"
                      r"(?:\s+(?:all|every|the|our))*\b")
_RECENT_RE = re.compile(r"\b(?:most\s+recent(?:ly)?|latest|newest|last|recently)\b")
_OLDEST_RE = re.compile(r"\b(?:oldest|earliest|first)\b")


def write_intent(text: str) -> str | None:
    """The write verb of a request to change data ("delete all declined decisions"), or None."""
    m = _WRITE_RE.search(text)
    return m.group().strip() if m else None


def read_scale(text: str) -> tuple[float, str, Span] | None:
    """"in lakh" / "in crores": divide money results by the unit (a lakh is 100,000; a crore 10,000,000)."""
    m = _SCALE_RE.search(text)
    if not m:
        return None
    unit = m["u"]
    return _SCALES[unit], unit.rstrip("s"), m.span()


def _overlaps(span: Span, taken: list[Span]) -> bool:
    return any(s < span[1] and span[0] < e for s, e in taken)


def find_column(text: str, refs: tuple[ColumnRef, ...], taken: list[Span], *, kinds: tuple[str, ...],
                window: Span | None = None) -> list[tuple[Span, ColumnRef]]:
    """Column phrases in ``text`` (longest phrase first, real columns before struct fields), not yet consumed."""
    found: list[tuple[Span, ColumnRef]] = []
    cands = [(p, r) for r in refs if r.kind in kinds for p in r.phrases]
    cands.sort(key=lambda pr: (-len(pr[0]), pr[1].struct_field))
    local = list(taken)
    for phrase, ref in cands:
        for m in re.finditer(rf"(?<![\w]){re.escape(phrase)}(?:e?s)?(?![\w])", text):
            if window and not (window[0] <= m.start() < window[1]):
                continue
            if _overlaps(m.span(), local):
                continue
            local.append(m.span())
            found.append((m.span(), ref))
    return found


def _unit_value(num: str, unit: str | None, ref: ColumnRef) -> float:
    value = float(num.replace(",", ""))
    unit = (unit or "").lower()
    if unit in _SCALES or unit in ("l",):
        return value * _SCALES.get(unit, 1e5)
    if ref.sql.endswith("_ms"):
        if unit.startswith("s"):
            return value * 1000
        if unit.startswith("min"):
            return value * 60_000
    return value


@dataclass
class Thresholds:
    filters: list[PlanFilter] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)


def read_thresholds(text: str, layer: ColumnLayer, taken: list[Span], prefer: tuple[str, ...] = ()) -> Thresholds:
    """"<column> more than N <unit>": a numeric filter. The column is the nearest phrase before the comparison
    (else right after the number); without one, the unit says which kind of column (seconds -> a *_ms column,
    lakh/crore/rupees -> an amount column), preferring the tables in ``prefer`` (the metric's)."""
    out = Thresholds()
    numeric = tuple(r for r in layer.columns if r.kind == "numeric")
    hits = sorted(((m, op) for op, rx in _THRESHOLD_RES for m in rx.finditer(text)), key=lambda h: h[0].start())
    for m, op in hits:
        if _overlaps(m.span(), taken + out.spans):
            continue
        num, unit = m["num"], m["unit"]
        before = find_column(text, numeric, taken + out.spans, kinds=("numeric",), window=(max(0, m.start() - 45),
                                                                                           m.start()))
        after = find_column(text, numeric, taken + out.spans, kinds=("numeric",), window=(m.end(), m.end() + 25))
        chosen: tuple[Span, ColumnRef] | None = None
        if before:
            chosen = max(before, key=lambda f: f[0][1])
        elif after:
            chosen = min(after, key=lambda f: f[0][0])
        ref = chosen[1] if chosen else _by_unit(unit, numeric, prefer)
        if ref is None:
            continue
        if chosen and len(before) > 1 and prefer:  # several phrases: prefer one on the metric's tables
            on_pref = [f for f in before if f[1].table in prefer]
            if on_pref:
                chosen, ref = max(on_pref, key=lambda f: f[0][1]), max(on_pref, key=lambda f: f[0][1])[1]
        out.filters.append(PlanFilter(dimension=f"col__{ref.key}", op=op, values=[_unit_value(num, unit, ref)]))
        out.spans.append(m.span())
        if chosen:
            out.spans.append(chosen[0])
    return out


def _by_unit(unit: str | None, refs: tuple[ColumnRef, ...], prefer: tuple[str, ...]) -> ColumnRef | None:
    unit = (unit or "").lower()
    if unit.startswith(("s", "ms", "milli", "min")) and unit not in ("",):
        pool = [r for r in refs if r.sql.endswith("_ms") and not r.struct_field]
    elif unit in _SCALES or unit in ("l",):  # money: amounts, principal, income, EMIs
        pool = [r for r in refs if re.search(r"amount|principal|income|emi", r.sql) and not r.struct_field]
    else:
        return None
    pool.sort(key=lambda r: (r.table not in prefer, prefer.index(r.table) if r.table in prefer else 0))
    return pool[0] if pool else None


def read_flags(text: str, layer: ColumnLayer, taken: list[Span]) -> Thresholds:
    """Boolean columns named in the question ("when the fallback was used", "thin-file applicants"): a true
    filter, or false after a negation ("without fallback", "non thin file")."""
    out = Thresholds()
    for span, ref in find_column(text, layer.columns, taken, kinds=("boolean",)):
        negated = bool(_NEGATION_RE.search(text[: span[0]]))
        out.filters.append(PlanFilter(dimension=f"col__{ref.key}", op="is", values=["false" if negated else "true"]))
        out.spans.append(span)
    return out


def read_aggregate(text: str, layer: ColumnLayer, taken: list[Span]) -> tuple[str, list[Span]] | None:
    """"average <numeric column>" / "total <column>" / "median <column>": a derived column metric."""
    numeric = tuple(r for r in layer.columns if r.kind == "numeric")
    for m in _AGG_RE.finditer(text):
        if _overlaps(m.span(), taken):
            continue
        cols = find_column(text, numeric, taken, kinds=("numeric",), window=(m.end(), m.end() + 30))
        if cols:
            span, ref = min(cols, key=lambda f: f[0][0])
            return f"{_AGG_WORDS[m['w']]}__{ref.key}", [m.span(), span]
    return None


def read_count(text: str, layer: ColumnLayer, taken: list[Span], visible: set[str]) -> tuple[str, list[Span]] | None:
    """"how many <rows>" / "number of <rows>": the row count of the table those rows live in."""
    phrases = sorted(((p, t) for t, ps in layer.tables.items() if t in visible for p in ps),
                     key=lambda pt: -len(pt[0]))
    for m in _COUNT_RE.finditer(text):
        if _overlaps(m.span(), taken):
            continue
        window = text[m.end(): m.end() + 45]
        best: tuple[int, str, Span] | None = None
        for phrase, table in phrases:
            pm = re.search(rf"(?<![\w]){re.escape(phrase)}(?:e?s)?(?![\w])", window)
            if pm:
                span = (m.end() + pm.start(), m.end() + pm.end())
                if not _overlaps(span, taken) and (best is None or pm.start() < best[0]):
                    best = (pm.start(), table, span)
        if best:
            return f"rows__{best[1]}", [m.span(), best[2]]
    return None


_ROWS_BY_RE = r"(?:e?s)?\s+(?:by|per|for\s+each|split\s+by|broken\s+down\s+by|grouped\s+by|across|[a-z]+\s+wise)\b"

_BY_ROWS_RE = r"\b[a-z]+\s+(?:wise|split\s+of|mix\s+of|distribution\s+of|breakdown\s+of)\s+(?:the\s+|all\s+)?$"
"""A breakdown named before the rows: "state wise applicants", "gender split of applicants"."""


def read_rows_by(text: str, layer: ColumnLayer, taken: list[Span], visible: set[str]) -> tuple[str, list[Span]] | None:
    """"loans by purpose", "alerts per severity": a table's rows named right before a breakdown are counted."""
    phrases = sorted(((p, t) for t, ps in layer.tables.items() if t in visible for p in ps), key=lambda pt: -len(pt[0]))
    for phrase, table in phrases:
        for m in re.finditer(rf"(?<![\w]){re.escape(phrase)}(?=(?:e?s)?(?:\s|$))", text):
            end = m.end() + (len(re.match(r"(?:e?s)?", text[m.end():]).group()))
            grouped_after = re.match(_ROWS_BY_RE[len("(?:e?s)?"):], text[end:])
            grouped_before = re.search(_BY_ROWS_RE, text[: m.start()])  # "state wise applicants"
            if (grouped_after or grouped_before) and not _overlaps((m.start(), end), taken):
                return f"rows__{table}", [(m.start(), end)]
    return None


def read_count_phrase(text: str) -> bool:
    """Whether the question asks for a count ("how many", "number of", "count of")."""
    return bool(_COUNT_RE.search(text))


def excluded(text: str, start: int) -> bool:
    """Whether a value at ``start`` is preceded by an exclusion ("excluding Paisabazaar", "other than web")."""
    return bool(_EXCLUDE_RE.search(text[:start]))


def across_all(text: str, start: int) -> bool:
    """"across all lenders" / "for all partners": the total over them, not a breakdown."""
    return bool(_ALL_RE.search(text[:start]))


def wants_share(text: str) -> Span | None:
    """"what share of X comes from each Y", "percentage of approvals by lender": each group's share of the total
    (the span of the share word, or None)."""
    m = _SHARE_RE.search(text)
    return m.span() if m else None


def listing_table(text: str, layer: ColumnLayer, visible: set[str]) -> tuple[str, str | None, list[Span]] | None:
    """"list all partners", "show the deployments", "which partner was onboarded most recently": (table, order
    (desc/asc by the table's date column, or None), spans)."""
    if not _LIST_RE.search(text):
        return None
    phrases = sorted(((p, t) for t, ps in layer.tables.items() if t in visible for p in ps), key=lambda pt: -len(pt[0]))
    for phrase, table in phrases:
        pm = re.search(rf"(?<![\w]){re.escape(phrase)}(?:e?s)?(?![\w])", text)
        if pm:
            order = "desc" if _RECENT_RE.search(text) else "asc" if _OLDEST_RE.search(text) else None
            return table, order, [pm.span()]
    return None
