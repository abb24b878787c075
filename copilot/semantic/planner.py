"""The deterministic semantic planner: a question in plain English -> a :class:`SemanticPlan` and a confidence.

General over the catalog, not over any list of questions: it matches the catalog's metric and dimension names and
synonyms, the catalog's sample values (for filters), the date grammar of :mod:`copilot.semantic.dates`, top-N and
comparison phrases. Every word it could not place lowers its confidence, so a question it only half understood is
handed on (or declined) instead of being answered confidently and wrongly.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from copilot.models import PlanFilter, SemanticPlan
from copilot.semantic import phrasing, shapes, vocabulary
from copilot.semantic.dates import read_dates
from copilot.semantic.view import TeamSemantics
from schema_catalog.semantic import load_semantic
from warehouse.schema import load_schema

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
    r"\b(?P<word>top|bottom|highest|lowest|largest|smallest|biggest|most|least|fewest|best|worst|max|min|maximum|"
    r"minimum)\b(?:\s+(?P<n>\d{1,4}))?"
)
_DESC = {"top", "highest", "largest", "biggest", "most", "best", "max", "maximum"}
_BY_RE = re.compile(r"\b(?:by|per|each|every|across|split by|broken down by|for each|wise|group(?:ed)? by)\s+$")


@dataclass(frozen=True)
class _Match:
    start: int
    end: int
    kind: str  # metric | dimension | value
    name: str
    value: str = ""
    exact: bool = True


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


def _phrases(sem: TeamSemantics) -> list[tuple[str, str, str, str]]:
    """(phrase, kind, name, value) for every metric, dimension and sample value, longest phrase first."""
    out: list[tuple[str, str, str, str]] = []
    for name, metric in sem.named_metrics.items():
        for p in {*metric.synonyms, metric.label, name.replace("_", " ")}:
            out.append((_normalise(p), "metric", name, ""))
    for name, dim in sem.named_dimensions.items():
        if dim.kind == "time":
            continue  # grains come from the date grammar
        for p in {*dim.synonyms, dim.label, name.replace("_", " ")}:
            out.append((_normalise(p), "dimension", name, ""))
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


def _phrase_table(sem: TeamSemantics) -> list[tuple[str, str, str, str]]:
    """The phrase table of one semantics object, built once and kept on that object.

    Keyed by the object, not the team name: two catalogs may share a team name (every external benchmark database
    is team "external"), and a table built for one must never serve the other.
    """
    cached = sem.__dict__.get("_planner_phrases")
    if cached is None:
        cached = sem.__dict__["_planner_phrases"] = _phrases(sem)
    return cached


def _normalise(question: str) -> str:
    text = question.lower().replace("’", "'").replace("₹", " rs ")
    text = re.sub(r"[^\w\s%+\-.'<>=]", " ", text)
    text = re.sub(r"(?<!\d)\.(?!\d)", " ", text)
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)  # "self-employed", "loan-to-income", "thin-file"
    text = re.sub(r"\b(?:avg|mean)\b", "average", text)
    text = re.sub(r"\bno\s+of\b|\bnum\s+of\b|\bnos\s+of\b", "number of", text)
    text = re.sub(r"\bamt\b", "amount", text)
    return re.sub(r"\s+", " ", text).strip()


def _find(text: str, taken: list[tuple[int, int]], phrases: list[tuple[str, str, str, str]]) -> list[_Match]:
    found: list[_Match] = []
    for phrase, kind, name, value in phrases:
        # plural and past forms: "declines", "approved", "referred"
        pattern = (rf"(?<![\w]){re.escape(phrase[:-1])}(?:y|ies)(?![\w])" if phrase.endswith("y") and len(phrase) > 3
                   else rf"(?<![\w]){re.escape(phrase)}(?:e?s|e?d|red)?(?![\w])")
        for m in re.finditer(pattern, text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append(_Match(m.start(), m.end(), kind, name, value))
    return found


def _fuzzy_metric(words: list[str], sem: TeamSemantics) -> tuple[str, float] | None:
    """Closest metric synonym to any 1-3 word n-gram (typos: "aproval rate"); rapidfuzz ratio >= 85 or nothing."""
    grams = [" ".join(words[i : i + n]) for n in (3, 2, 1) for i in range(len(words) - n + 1)]
    grams = [g for g in grams if len(g) >= 6]
    choices = _SYNONYM_CACHE.get(sem.team)
    if choices is None:
        choices = [(_normalise(syn), name) for name, m in sem.named_metrics.items() for syn in (*m.synonyms, m.label)]
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
_HIDDEN_CACHE: dict[str, frozenset[str]] = {}


def _outside_scope(words: list[str], sem: TeamSemantics) -> list[str]:
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


def _known_words(sem: TeamSemantics) -> frozenset[str]:
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
        known = _KNOWN_CACHE.setdefault(sem.team, frozenset(words - STOPWORDS))
    return known


def _hidden_metric_phrases(sem: TeamSemantics) -> list[str]:
    """Synonyms of metrics the full semantic layer has and this team cannot use (longest first)."""
    layer = load_semantic()
    return sorted({p.lower() for n, m in layer.metrics.items() if n not in sem.metrics for p in (*m.synonyms, m.label)},
                  key=len, reverse=True)


_KNOWN_CACHE: dict[str, frozenset[str]] = {}


def plan_question(
    question: str,
    sem: TeamSemantics,
    today: dt.date,
    *,
    previous: SemanticPlan | None = None,
    retrieved_metrics: list[tuple[str, float]] | None = None,
) -> PlannerResult:
    """Plan ``question`` for the team; ``previous`` makes it a follow-up that refines the last plan."""
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
    scale = phrasing.read_scale(text)
    if scale:
        taken.append(scale[2])
    phrases = _phrase_table(sem)
    layer = sem.columns
    finder = _metric_finder(sem)
    shape = shapes.read_nested(text, sem, taken, finder) or shapes.read_ratio(text, finder, sem, taken)
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
    hidden_col = _hidden_column(text, sem, [*taken, *((m.start, m.end) for m in first_look)])
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
    if shape:
        metrics = shape.metrics
    metric_quality = 1.0 if metrics else 0.0
    words = [w for w in re.findall(r"[a-z][a-z0-9+%'-]*", text)]
    listing: tuple[str, str | None, list[tuple[int, int]]] | None = None
    if not metrics:
        value_spans = {(m.start, m.end) for m in matches if m.kind == "value"}
        dim_spans = {(m.start, m.end) for m in matches if m.kind == "dimension"}
        counted = {(m.start, m.end) for m in matches if m.kind == "dimension" and _COUNTED_RE.search(text[: m.start])}
        derived = (phrasing.read_aggregate(text, layer, [t for t in taken if t not in dim_spans])
                   or phrasing.read_count(text, layer, [t for t in taken if t not in value_spans | counted],
                                          set(layer.tables))
                   or _followup_aggregate(text, sem, previous))
        if derived:
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
        n = next((t["n"] for t in tops if t["n"]), None)
        if n is None:  # "which 3 partners have the lowest ..."
            count = re.search(r"\b(?:which|what|the|name|list|show)\s+(\d{1,3})\s+[a-z]", text)
            n = count.group(1) if count else None
        limit = int(n) if n else (10 if top["word"] in ("top", "bottom") else 1)
        if not n and re.search(r"\b(?:ranked|sorted|ordered|rank|sort|order)\b|\b(?:highest|lowest|largest|smallest|"
                               r"most|least|best|worst)\s+(?:first|to\s+\w+est)\b", text):
            limit = None  # "ranked by X, highest first": every row, in order
        if not dims:
            notes.append("a ranking without a dimension to rank: ignored the ranking")
            order, limit = None, None
    share_span = phrasing.wants_share(text)
    share = bool(metrics) and bool(share_span) and bool(dims or filters) and all(
        sem.metrics[n].format in ("count", "currency_inr") for n in metrics[:1])
    if share and share_span:
        taken.append(share_span)

    unmatched = [
        m.group()
        for m in re.finditer(r"[a-z][a-z0-9+%'-]*", text)
        if m.group() not in STOPWORDS
        and not any(s <= m.start() < e for s, e in taken)
        and not (m.group().isdigit())
    ]
    known = _known_words(sem)
    # a capitalised word we could not place is most likely a name (a partner, a city): a filter we would drop
    names = {w.lower() for w in re.findall(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w'-]+", question.strip())}
    for w in [w for w in unmatched if w in names]:  # "QuickRupee" for "QuickRupee Instant Loans"
        hit = _partial_value(w, sem)
        if hit and not any(f.dimension == hit[0] for f in filters):
            filters.append(PlanFilter(dimension=hit[0], values=[hit[1]]))
            unmatched.remove(w)
            notes.append(f"read {w!r} as {hit[1]!r}")
    unknown = vocabulary.unknown_terms(unmatched, sem, ignore=_FILLER)
    penalty = sum(0.03 if w in known or w.rstrip("s") in known else 0.4 if w in names
                  else 0.02 if w in _FILLER else UNKNOWN_TERM_COST if w in unknown
                  else 0.3 if w in vocabulary.STRUCTURAL else 0.15 for w in unmatched)

    personal = _personal_data(text, sem)
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
                penalty -= UNKNOWN_TERM_COST if w in unknown else 0.15
                if w in unknown:
                    unknown.remove(w)
                notes.append(f"read {w!r} as {sem.named_dimensions[dim].label.lower()!r}")
    outside = _outside_scope(unmatched, sem)
    if outside:
        return PlannerResult(None, 0.0, [*notes, f"{', '.join(outside)}: not in team {sem.team!r}'s data"], unmatched,
                             refusal="final")

    if previous is not None and (not metrics or metrics == previous.metrics or
                                 (not dims and not filters and _FOLLOWUP_RE.search(text))):
        # follow-up: refine the last plan with whatever this turn adds (a new metric keeps the grouping)
        plan = previous.model_copy(deep=True)
        if metrics and metrics != previous.metrics:
            plan.metrics, plan.share = metrics[:3], False
        plan.dimensions = list(dict.fromkeys([*plan.dimensions, *dims]))[:3]
        kept = [f for f in plan.filters if f.dimension not in values]
        plan.filters = kept + filters
        if dates.window:
            plan.time_window, plan.compare_previous = dates.window, dates.compare_previous
        if dates.grain:
            plan.grain = dates.grain
        if order:
            plan.order, plan.limit = order, limit
        changed = bool(dims or filters or dates.window or dates.grain or order or metrics)
        confidence = max(0.0, (0.9 if changed else 0.3) - penalty)
        notes.append("follow-up: refined the previous question's plan")
        return PlannerResult(plan, round(confidence, 3), notes, unmatched)

    if listing and unknown:  # "show partner commissions": the table exists, what is asked of it does not
        return PlannerResult(None, 0.0, [*notes, _unknown_note(unknown, sem)], unmatched, refusal="unknown")
    if listing:
        plan = SemanticPlan(list_table=listing[0], filters=[f for f in filters if _on_table(sem, f, listing[0])],
                            order=listing[1], limit=1 if listing[1] else None)
        # a listing shows the table as it is: words naming its columns ("with their onboarding date") cost little
        cost = sum(0.4 if w in names else 0.08 for w in unmatched)
        return PlannerResult(plan, round(max(0.0, 0.9 - cost), 3), [*notes, "listed the table's rows"], unmatched)
    if not metrics:
        hidden = [p for p in _hidden_metric_phrases(sem) if re.search(rf"\b{re.escape(p)}\b", text)]
        why = (f"{hidden[0]!r} is not in team {sem.team!r}'s data" if hidden
               else _unknown_note(unknown, sem) if unknown
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
    )
    confidence = metric_quality * 0.95 - penalty
    refusal = None
    if unknown:
        notes.append(_unknown_note(unknown, sem))
        refusal = "unknown" if confidence < 0.6 else None
    elif unmatched:
        notes.append(f"words not understood: {', '.join(unmatched[:8])}")
    return PlannerResult(plan, round(max(0.0, min(1.0, confidence)), 3), notes, unmatched, refusal=refusal)


UNKNOWN_TERM_COST = 0.45
"""What a word the team's catalog does not know costs (see :mod:`copilot.semantic.vocabulary`): more than the gap
between a clean match (0.95) and the threshold (0.6), so one unknown subject is enough to decline."""


def _unknown_note(unknown: list[str], sem: TeamSemantics) -> str:
    terms = ", ".join(repr(w) for w in unknown[:4])
    return f"{terms}: not in team {sem.team!r}'s data (no metric, column, table or value by that name)"


_REST_RE = re.compile(r"\b(?:vs\.?|versus|compared\s+(?:to|with)|against|and)\s+(?:the\s+|all\s+)?(?:others?|rest|"
                      r"everyone\s+else|everybody\s+else|remaining|non\s+[a-z]+(?:\s+[a-z]+)?)\b")
_COUNTED_RE = re.compile(r"\b(?:how\s+many|number\s+of|count\s+of)\s+(?:distinct\s+|unique\s+|different\s+)?$")
_GROUPING_RE = re.compile(r"\b(?:by|per|for\s+each)\s+[a-z]|\bwise\b")
_FOLLOWUP_RE = re.compile(r"^(?:and|what about|how about|same for|now|ok|also)\b")
_FILLER = frozenset(["comes", "come", "came", "ranked", "highest", "first", "please", "give", "using", "used",
                     "got", "get", "applicants", "wise", "like", "look", "looks", "going", "currently", "right"])


def _on_table(sem: TeamSemantics, f: PlanFilter, table: str) -> bool:
    return all(d.table == table for d in sem.dimensions[f.dimension].definitions[:1])


def _followup_aggregate(text: str, sem: TeamSemantics,
                        previous: SemanticPlan | None) -> tuple[str, list[tuple[int, int]]] | None:
    """"what about the median?" after "average latency by lender": the same column, another aggregate."""
    if previous is None or not previous.metrics:
        return None
    m = re.search(r"\b(?P<w>median|average|total|sum|maximum|max|minimum|min|p90|p95|p99)\b", text)
    if not m:
        return None
    agg = {"average": "avg", "total": "sum", "maximum": "max", "minimum": "min"}.get(m["w"], m["w"])
    defs = sem.metrics[previous.metrics[0]].definitions
    for ref in sem.columns.columns:
        if ref.kind == "numeric" and defs and ref.sql in defs[0].sql and f"{agg}__{ref.key}" in sem.metrics:
            return f"{agg}__{ref.key}", [m.span()]
    return None


def _metric_finder(sem: TeamSemantics) -> shapes.MetricFinder:
    """Exact phrase -> metric name over the team's metric names and synonyms (for the shape readers)."""
    table = sem.__dict__.get("_planner_metric_phrases")
    if table is None:
        table = {p: name for p, kind, name, _ in reversed(_phrase_table(sem)) if kind == "metric"}
        sem.__dict__["_planner_metric_phrases"] = table
    return lambda phrase: table.get(_normalise(phrase))


def _partial_value(word: str, sem: TeamSemantics) -> tuple[str, str] | None:
    """The one sample value (dimension, value) having ``word`` as a whole word, or None when none or several do."""
    if len(word) < 4:
        return None
    hits = {(name, v) for name, values in sem.samples.items() for v in values
            if word in re.findall(r"[a-z0-9]+", v.lower())}
    return hits.pop() if len(hits) == 1 else None


def _dimension_words(sem: TeamSemantics) -> dict[str, str]:
    """Single-word dimension synonyms -> dimension (for typo matching after "by")."""
    found = _DIM_WORDS.get(sem.team)
    if found is None:
        found = {p.lower(): n for n, d in sem.named_dimensions.items() for p in (*d.synonyms, d.label)
                 if " " not in p and len(p) >= 4}
        _DIM_WORDS[sem.team] = found
    return found


_DIM_WORDS: dict[str, dict[str, str]] = {}


def _personal_data(text: str, sem: TeamSemantics) -> str | None:
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


def _hidden_column(text: str, sem: TeamSemantics, named: list[tuple[int, int]]) -> str | None:
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
