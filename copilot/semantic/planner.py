"""The deterministic semantic planner: a question in plain English -> a :class:`SemanticPlan` and a confidence.

General over the catalog, not over any list of questions: it matches the catalog's metric and dimension names and
synonyms, the catalog's sample values (for filters), the date grammar of :mod:`copilot.semantic.dates`, top-N and
comparison phrases. Every word it could not place lowers its confidence, so a question it only half understood is
handed on (or declined) instead of being answered confidently and wrongly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from copilot.models import PlanFilter, SemanticPlan
from copilot.semantic import followup, phrasing, scope, shapes, vocabulary
from copilot.semantic.dates import read_dates
from copilot.semantic.matching import dimension_words as _dimension_words
from copilot.semantic.matching import find as _find
from copilot.semantic.matching import fuzzy_metric as _fuzzy_metric
from copilot.semantic.matching import metric_finder as _metric_finder
from copilot.semantic.matching import normalise as _normalise
from copilot.semantic.matching import phrase_table as _phrase_table
from copilot.semantic.view import TeamSemantics

STOPWORDS = frozenset(
    [
        "a", "an", "the", "of", "for", "in", "on", "at", "to", "by", "per", "each", "every", "across", "over", "from",
        "with", "and", "or", "vs", "versus", "v", "compare", "compared", "comparison", "between", "what", "what's",
        "whats", "which", "who", "how", "is", "are", "was", "were", "be", "been", "do", "does", "did", "show", "me",
        "give", "get", "list", "tell", "display", "plot", "chart", "graph", "our", "my", "we", "us", "i", "you",
        "please", "can", "could", "would", "there", "their", "this", "that", "these", "those", "its", "it", "as",
        "much", "many", "number", "count", "total", "overall", "all", "rate", "value", "values", "split", "broken",
        "down", "breakdown", "wise", "grouped", "group", "only", "just", "also", "vs.", "than", "versus?", "whose",
        "where", "when", "has", "have", "had", "value?", "numbers", "figures", "data", "split-by", "against",
        "period", "periods", "time",
    ]
)
_TOP_RE = re.compile(
    r"(?<!\bat\s)\b(?P<word>top|bottom|highest|lowest|largest|smallest|biggest|most|least|fewest|best|worst|max|min|maximum|"
    r"minimum|busiest|quietest|peak|descending|ascending)\b(?:\s+(?P<n>\d{1,4}))?"
)
_DESC = {"top", "highest", "largest", "biggest", "most", "best", "max", "maximum", "busiest", "peak", "descending"}
_BY_RE = re.compile(r"\b(?:by|per|each|every|across|split by|broken down by|for each|wise|group(?:ed)? by)\s+$")


@dataclass
class PlannerResult:
    """The plan (or None), how sure the planner is, and why: shown to the analyst and kept in the trace."""

    plan: SemanticPlan | None
    confidence: float
    notes: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    refusal: str | None = None
    """Why no other backend may override a refusal: ``final`` (writes, injection, forecasts, personal or other
    teams' data -- the answer is "no" whoever asks) or ``unknown`` (a term the team's catalog does not hold: a
    model choosing among catalog names can only guess, a SQL-writing LLM may still find it or decline)."""


def plan_question(
    question: str,
    sem: TeamSemantics,
    today: dt.date,
    *,
    previous: SemanticPlan | None = None,
    retrieved_metrics: list[tuple[str, float]] | None = None,
) -> PlannerResult:
    """Plan ``question`` for the team; ``previous`` makes it a follow-up that refines the last plan.

    Matching lives in :mod:`copilot.semantic.matching`, scope checks and the cost of unplaced words in
    :mod:`copilot.semantic.scope`, follow-ups in :mod:`copilot.semantic.followup`, derived
    shapes (per-entity, ratio, change) in :mod:`copilot.semantic.shapes`; this function decides between them."""
    text = _normalise(question)
    notes: list[str] = []
    injected = vocabulary.injection(text)
    if injected:
        return PlannerResult(None, 0.0, [f"{injected!r}: instructions to the system are not questions about the data"],
                             [], refusal="final")
    verb = phrasing.write_intent(text)
    if verb:
        return PlannerResult(None, 0.0, [f"{verb!r}: the copilot only reads data, it never changes it"], [],
                             refusal="final")
    future = vocabulary.forecast(text)
    if future:
        return PlannerResult(None, 0.0, [f"{future!r}: forecasts and predictions are out of scope; the warehouse "
                                         "records what happened, ask about a past period"], [], refusal="final")
    dates = read_dates(text, today)
    taken = list(dates.spans)
    taken += [m.span() for m in _ALL_TIME_RE.finditer(text)]  # "till date": no window, not an unknown word
    before = followup.BEFORE_RE.search(text) if previous is not None else None
    if before:  # "and the week before?": read by the follow-up below
        taken.append(before.span())
    lookback = _column_lookback(text, dates.spans, sem)
    if lookback and dates.window:  # "enquiries in the last 90 days" is the column enquiries_90d, not a window
        dates = dataclasses.replace(dates, window=None, compare_previous=False)
        notes.append(f"{lookback!r} is part of the column's definition, not a date window")
    scale = phrasing.read_scale(text)
    if scale:
        taken.append(scale[2])
    phrases = _phrase_table(sem)
    layer = sem.columns
    finder = _metric_finder(sem)
    shape = shapes.read_per_period(text, sem, finder)
    if shape:  # "average daily approvals": the period is what is averaged over, not the breakdown
        dates = dataclasses.replace(dates, grain=None)
    shape = shape or shapes.read_nested(text, sem, taken, finder) or shapes.read_ratio(text, finder, sem, taken)
    if shape:
        taken.extend(shape.spans)
        notes.append(f"read as {shape.note or 'a count per ' + (shape.nested.entity if shape.nested else '')}")
    change = shapes.read_change(text, bool(dates.grain))
    if change:
        taken.append(change[1])
    # a first look at the metrics named, so a bare "above 5 lakh" can pick an amount column on their tables
    first_look = _find(text, list(taken), phrases)
    prefer = tuple(d.table for m in first_look if m.kind == "metric" for d in sem.metrics[m.name].definitions)
    metric_spans = [(m.start, m.end) for m in first_look if m.kind == "metric"]
    hidden_col = scope.hidden_column(text, sem, [*taken, *((m.start, m.end) for m in first_look)])
    if hidden_col:
        return PlannerResult(None, 0.0, [f"{hidden_col!r} is not in team {sem.team!r}'s data"], [], refusal="final")
    thresholds = phrasing.read_thresholds(text, layer, taken + metric_spans, prefer)  # "default rate": no apr
    taken.extend(thresholds.spans)
    flags = phrasing.read_flags(text, layer, taken + metric_spans)  # "rule based fallback" before "fallback"
    taken.extend(flags.spans)
    rest = _REST_RE.search(text)  # "thin file applicants vs the rest": group by the flag, "others" is no value
    if rest and flags.filters:
        taken.append(rest.span())
    matches = _find(text, taken, phrases)
    tops = list(_TOP_RE.finditer(text))
    top = tops[0] if tops else None
    for t in tops:
        taken.append((t.start(), t.end()))

    metric_matches = sorted((m for m in matches if m.kind == "metric"), key=lambda m: m.start)
    metrics = []
    for i, m in enumerate(metric_matches):  # a second metric must be asked for ("X and Y"), not a noun ("decisions")
        if i == 0 or re.search(r"\b(?:and|&)\b|,|\bvs\b|\bversus\b", text[metric_matches[i - 1].end : m.start]):
            metrics.append(m.name)
    metrics = list(dict.fromkeys(metrics))
    if shape and shape.metrics:
        metrics = shape.metrics
    metric_quality = 1.0 if metrics else 0.0
    words = [w for w in re.findall(r"[a-z][a-z0-9+%'-]*", text)]
    listing: tuple[str, str | None, list[tuple[int, int]]] | None = None
    if not metrics:
        value_spans = {(m.start, m.end) for m in matches if m.kind == "value"}
        dim_spans = {(m.start, m.end) for m in matches if m.kind == "dimension"}
        counted = {(m.start, m.end) for m in matches if m.kind == "dimension" and _COUNTED_RE.search(text[: m.start])}
        top_spans = {t.span() for t in tops}
        derived = (phrasing.read_aggregate(text, layer, [t for t in taken if t not in dim_spans | top_spans])
                   or phrasing.read_count(text, layer, [t for t in taken if t not in value_spans | counted],
                                          set(layer.tables))
                   or followup.followup_aggregate(text, sem, previous))
        if not derived and _GROUPING_RE.search(text):  # "loans by purpose": count the rows named before "by"
            derived = phrasing.read_rows_by(text, layer, [t for t in taken if t not in dim_spans | value_spans],
                                            set(layer.tables))
        flagged = {f.dimension.split("__")[1] for f in flags.filters + thresholds.filters}
        flagged |= {sem.dimensions[m.name].definitions[0].table for m in matches if m.kind == "value"}
        asks_count = _GROUPING_RE.search(text) or phrasing.read_count_phrase(text)
        if not derived and asks_count and len(flagged) == 1 and f"rows__{min(flagged)}" in sem.metrics:
            derived = (f"rows__{min(flagged)}", [])  # "fallbacks by lender": the flagged rows are what is counted
        if derived:
            if top and any(s < top.end() and top.start() < e for s, e in derived[1]):
                top = None  # "maximum latency": the word was the aggregate, not a ranking
            matches = [m for m in matches if not any(s < m.end and m.start < e for s, e in derived[1])]
            metrics, metric_quality = [derived[0]], 1.0
            taken.extend(derived[1])
            notes.append(f"computed {sem.metrics[derived[0]].label!r} from the column, not a named metric")
    if (not metrics and previous is None and not _GROUPING_RE.search(text)  # "by partner" asks for an aggregate
            and not phrasing.wants_share(text)):  # "what percent of loans defaulted" too
        listing = phrasing.listing_table(text, layer, set(sem.catalog.tables))
        if listing:
            taken.extend(listing[2])
    if not metrics and not listing:
        fuzzy = _fuzzy_metric(words, sem)
        if fuzzy:
            metrics, metric_quality = [fuzzy[0]], 0.75
            notes.append(f"read a misspelt metric as {sem.metrics[fuzzy[0]].label!r}")
            syn_words = set(" ".join((*sem.metrics[fuzzy[0]].synonyms, sem.metrics[fuzzy[0]].label)).lower().split())
            for m in re.finditer(r"[a-z][a-z0-9+%'-]*", text):
                if process.extractOne(m.group(), syn_words, scorer=fuzz.ratio, score_cutoff=80):
                    taken.append((m.start(), m.end()))
    if not metrics and not listing and retrieved_metrics and previous is None:
        name, score = retrieved_metrics[0]
        if name in sem.metrics and score >= 0.5:
            metrics, metric_quality = [name], 0.55 * score
            notes.append(f"metric {sem.metrics[name].label!r} chosen by similarity ({score:.2f}), not by name")

    metric_columns = {c for name in metrics for d in sem.metrics[name].definitions[:1] for c in d.columns}
    values: dict[str, list[str]] = {}
    excluded: dict[str, list[str]] = {}
    for m in matches:
        if m.kind != "value":
            continue
        dim_cols = {c for d in sem.dimensions[m.name].definitions for c in d.columns}
        rate = any(sem.metrics[n].format == "percent" for n in metrics)
        if rate and dim_cols & metric_columns:
            notes.append(f"{m.value!r} is what the rate counts, not a filter")  # "which lender approves most"
            continue
        target = excluded if phrasing.excluded(text, m.start) else values
        target.setdefault(m.name, [])
        if m.value not in target[m.name]:
            target[m.name].append(m.value)
    filters = [PlanFilter(dimension=d, values=v) for d, v in values.items()]
    filters += [PlanFilter(dimension=d, op="not_in", values=v) for d, v in excluded.items()]
    filters += thresholds.filters + flags.filters
    dims: list[str] = []
    for m in matches:
        if m.kind != "dimension" or m.name in dims:
            continue
        after_value = any(v.kind == "value" and 0 <= m.start - v.end <= 1 for v in matches)  # "aggregator partners"
        wise = bool(re.match(r"\s*-?\s*wise\b", text[m.end:]))  # "lender wise", "partner-wise"
        by = wise or bool(_BY_RE.search(text[: m.start])) or text[m.start : m.end].startswith(("by ", "per ", "each "))
        if phrasing.across_all(text, m.start) and not wise:
            notes.append(f"'all {sem.dimensions[m.name].label.lower()}s' read as the total, not a breakdown")
            continue
        grouped = by or (not after_value and (m.name not in values or len(values[m.name]) > 1))
        if grouped:
            dims.append(m.name)
    for m in matches:  # "how many lenders does each partner route to": the counted thing is no grouping
        if m.kind == "dimension" and m.name in dims and metrics and _COUNTED_RE.search(text[: m.start]):
            dims.remove(m.name)
            notes.append(f"{text[m.start:m.end]!r} is what is counted, not a breakdown")
    if rest and flags.filters:
        flag = flags.filters[0]
        filters.remove(flag)
        dims.append(flag.dimension)
        notes.append(f"compared {flag.dimension.split('__')[-1].replace('_', ' ')} against the rest")
    for d, v in values.items():  # "app vs web": comparing values means grouping by their dimension
        if len(v) > 1 and d not in dims:
            dims.append(d)

    order, limit = None, None
    if top:
        order = "desc" if top["word"] in _DESC else "asc"
        if top["word"] in ("best", "worst") and metrics and _higher_is_worse(metrics[0]):
            order = "asc" if order == "desc" else "desc"  # the worst default rate is the highest
        n = next((t["n"] for t in tops if t["n"]), None)
        if n is None:  # "which 3 partners have the lowest ..."
            count = re.search(r"\b(?:which|what|the|name|list|show)\s+(\d{1,3})\s+[a-z]", text)
            n = count.group(1) if count else None
        limit = int(n) if n else (10 if top["word"] in ("top", "bottom") else 1)
        if not n and re.search(r"\b(?:ranked|sorted|ordered|rank|sort|order|descending|ascending)\b|"
                               r"\b(?:highest|lowest|largest|smallest|most|least|best|worst)\s+(?:first|to\s+\w+est)\b",
                               text):
            limit = None  # "ranked by X, highest first": every row, in order
        ranked_before = previous is not None and bool(previous.dimensions or previous.grain)  # "just the top 3"
        if not dims and not ranked_before and not (dates.grain and order):  # "which day had the most applications"
            notes.append("a ranking without a dimension to rank: ignored the ranking")
            order, limit = None, None
    share_span = phrasing.wants_share(text)
    passing = bool(shape and shape.nested and shape.nested.op)  # "what fraction of applications got an offer"
    share = bool(metrics) and bool(share_span) and bool(dims or filters or passing) and all(
        sem.metrics[n].format in ("count", "currency_inr") for n in metrics[:1])
    if share and share_span:
        taken.append(share_span)
    having = None
    first = next((m for m in metric_matches if metrics and m.name == metrics[0]), None)
    if first and dims:  # "partners with a take-up rate under 20%": a condition on each group's value
        found = shapes.read_having(text, metrics[0], (first.start, first.end), taken, sem, phrasing.THRESHOLD_RES)
        if found:
            having = found[0]
            taken.append(found[1])

    unmatched = [
        m.group()
        for m in re.finditer(r"[a-z][a-z0-9+%'-]*", text)
        if m.group() not in STOPWORDS
        and not any(s <= m.start() < e for s, e in taken)
        and not (m.group().isdigit())
    ]
    unknown, names, penalty = scope.weigh_unplaced(question, unmatched, filters, notes, sem, STOPWORDS)

    personal = scope.personal_data(text, sem)
    if personal:
        return PlannerResult(None, 0.0, [*notes, f"{personal!r} is personal data team {sem.team!r} may not see"],
                             unmatched, refusal="final")
    for w in list(unmatched):  # "by partnr": a misspelt dimension after by/per
        idx = text.find(w)
        if _BY_RE.search(text[:idx]) and len(w) >= 5:
            hit = process.extractOne(w, _dimension_words(sem), scorer=fuzz.ratio, score_cutoff=80)
            if hit and sem.named_dimensions[_dimension_words(sem)[hit[0]]].kind != "time":
                dim = _dimension_words(sem)[hit[0]]
                if dim not in dims:
                    dims.append(dim)
                unmatched.remove(w)
                penalty -= scope.UNKNOWN_TERM_COST if w in unknown else 0.15
                if w in unknown:
                    unknown.remove(w)
                notes.append(f"read {w!r} as {sem.named_dimensions[dim].label.lower()!r}")
    outside = scope.outside_scope(unmatched, sem)
    if outside:
        return PlannerResult(None, 0.0, [*notes, f"{', '.join(outside)}: not in team {sem.team!r}'s data"], unmatched,
                             refusal="final")

    if previous is not None and followup.refines(text, previous, metrics, dims, filters):
        plan, changed = followup.refine(previous, text, metrics=metrics, dims=dims, filters=filters, values=values,
                                        dates=dates, order=order, limit=limit)
        confidence = max(0.0, (0.9 if changed else 0.3) - penalty)
        notes.append("follow-up: refined the previous question's plan")
        return PlannerResult(plan, round(confidence, 3), notes, unmatched)

    if listing and unknown:  # "show partner commissions": the table exists, what is asked of it does not
        return PlannerResult(None, 0.0, [*notes, scope.unknown_note(unknown, sem)], unmatched, refusal="unknown")
    if listing:
        plan = SemanticPlan(list_table=listing[0], filters=[f for f in filters if _on_table(sem, f, listing[0])],
                            order=listing[1], limit=1 if listing[1] else None)
        # a listing shows the table as it is: words naming its columns ("with their onboarding date") cost little
        cost = sum(0.4 if w in names else 0.08 for w in unmatched)
        return PlannerResult(plan, round(max(0.0, 0.9 - cost), 3), [*notes, "listed the table's rows"], unmatched)
    if not metrics:
        hidden = [p for p in scope.hidden_metric_phrases(sem) if re.search(rf"\b{re.escape(p)}\b", text)]
        why = (f"{hidden[0]!r} is not in team {sem.team!r}'s data" if hidden
               else scope.unknown_note(unknown, sem) if unknown
               else "no metric in the team's catalog matches the question")
        return PlannerResult(None, 0.0, [*notes, why], unmatched,
                             refusal="final" if hidden else "unknown" if unknown else None)
    plan = SemanticPlan(
        metrics=metrics[:3],
        dimensions=dims[:3],
        filters=filters,
        time_window=dates.window,
        grain=dates.grain,
        order=order,
        limit=limit,
        compare_previous=dates.compare_previous,
        share=share,
        scale=scale[0] if scale and not share else None,
        change=change[0] if change else None,
        ratio=bool(shape and shape.ratio),
        nested=shape.nested if shape else None,
        having=having,
    )
    confidence = metric_quality * 0.95 - penalty
    refusal = None
    if unknown:
        notes.append(scope.unknown_note(unknown, sem))
        refusal = "unknown" if confidence < 0.6 else None
    elif unmatched:
        notes.append(f"words not understood: {', '.join(unmatched[:8])}")
    return PlannerResult(plan, round(max(0.0, min(1.0, confidence)), 3), notes, unmatched, refusal=refusal)


_REST_RE = re.compile(r"\b(?:vs\.?|versus|compared\s+(?:to|with)|against|and)\s+(?:the\s+|all\s+)?(?:others?|rest|"
                      r"everyone\s+else|everybody\s+else|remaining|non\s+[a-z]+(?:\s+[a-z]+)?)\b")
_ALL_TIME_RE = re.compile(r"\b(?:till|until|up\s*to|to)\s+date\b|\bas\s+(?:on|of)\s+(?:date|today|now)\b|\bso\s+far\b"
                          r"|\ball[\s-]time\b|\bsince\s+(?:inception|launch|the\s+(?:beginning|start))\b|\bever\b")
"""Phrases meaning "over all the data there is": the default when no window is named, so they add nothing."""
_COUNTED_RE = re.compile(r"\b(?:how\s+many|number\s+of|count\s+of)\s+(?:distinct\s+|unique\s+|different\s+)?$")
_GROUPING_RE = re.compile(r"\b(?:by|per|for\s+each)\s+[a-z]|\bwise\b|\b(?:split|mix|distribution|breakdown)\s+of\b")


_WORSE_WHEN_HIGHER = re.compile(r"default|decline|dpd|delinquen|latency|fallback|refer|late|error|drift|psi|alert"
                                r"|score")  # the score is a probability of default


def _higher_is_worse(metric: str) -> bool:
    """Whether "best" means the lowest value of ``metric`` (risk, delay and failure measures)."""
    return bool(_WORSE_WHEN_HIGHER.search(metric))


_LOOKBACK_RE = re.compile(r"(?:last|past|previous|trailing)\s+(?P<n>\d+)\s*(?P<unit>days?|months?)")


def _column_lookback(text: str, spans: tuple[tuple[int, int], ...], sem: TeamSemantics) -> str | None:
    """A "last N days/months" right after a phrase naming a column measured over that look-back (``*_90d``,
    ``*_12m``), or None."""
    for start, end in spans:
        m = _LOOKBACK_RE.search(text[start:end])
        if not m:
            continue
        suffix = f"_{m['n']}{m['unit'][0]}"
        before = text[max(0, start - 40):start]
        for ref in sem.columns.columns:
            if ref.sql.endswith(suffix) and any(re.search(rf"\b{re.escape(p)}\b", before) for p in ref.phrases):
                return text[start:end]
    return None


def _on_table(sem: TeamSemantics, f: PlanFilter, table: str) -> bool:
    return all(d.table == table for d in sem.dimensions[f.dimension].definitions[:1])
