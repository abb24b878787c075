"""Follow-up questions for the planner: "and the week before?", "what about the median?", "now by lender".

Why its own module: a follow-up is read by the same matching as a fresh question, but what it *means* is a change
to the previous plan (a new or shifted window, another aggregate of the same column, an added grouping or
filter), and those rules are separate from how :mod:`copilot.semantic.planner` assembles a fresh plan.
"""

from __future__ import annotations

import datetime as dt
import re

from copilot.models import PlanFilter, SemanticPlan
from copilot.semantic.dates import DateReading
from copilot.semantic.view import TeamSemantics

BEFORE_RE = re.compile(r"\b(?:the\s+)?(?:day|week|month|fortnight|period|one)\s+before\b|\bbefore\s+that\b|"
                       r"\b(?:the\s+)?(?:previous|prior|preceding)\s+(?:day|week|month|period|one)\b")
""""and the week before?": the same-length window just before the last one."""
_FOLLOWUP_RE = re.compile(r"^(?:and|what about|how about|same for|now|ok|also)\b")


def followup_aggregate(text: str, sem: TeamSemantics,
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


def refines(text: str, previous: SemanticPlan, metrics: list[str], dims: list[str],
            filters: list[PlanFilter]) -> bool:
    """Whether this turn refines ``previous`` rather than asking afresh: no metric of its own, the same metrics,
    or only a leading "and"/"what about" with no new grouping or filter."""
    return (not metrics or metrics == previous.metrics
            or (not dims and not filters and bool(_FOLLOWUP_RE.search(text))))


def refine(previous: SemanticPlan, text: str, *, metrics: list[str], dims: list[str], filters: list[PlanFilter],
           values: dict[str, list[str]], dates: DateReading, order: str | None,
           limit: int | None) -> tuple[SemanticPlan, bool]:
    """The last plan with whatever this turn adds (a new metric keeps the grouping), and whether it added anything."""
    plan = previous.model_copy(deep=True)
    if metrics and metrics != previous.metrics:
        plan.metrics, plan.share = metrics[:3], False
    plan.dimensions = list(dict.fromkeys([*plan.dimensions, *dims]))[:3]
    kept = [f for f in plan.filters if f.dimension not in values]
    plan.filters = kept + filters
    shifted = False
    if dates.window:
        plan.time_window, plan.compare_previous = dates.window, dates.compare_previous
    elif dates.compare_previous and plan.time_window:  # "vs the day before": the same window against the last
        plan.compare_previous = True
    elif BEFORE_RE.search(text) and plan.time_window and plan.time_window.start and plan.time_window.end:
        w = plan.time_window  # "and the week before?": the same-length window just before the last one
        length = w.end - w.start
        plan.time_window = w.model_copy(update={"start": w.start - length, "end": w.start,
                                                "label": f"{w.start - length} to {w.start - dt.timedelta(days=1)}"})
        shifted = True
    if dates.grain:
        plan.grain = dates.grain
    if order:
        plan.order, plan.limit = order, limit
    changed = bool(dims or filters or dates.window or dates.grain or order or metrics or shifted
                   or dates.compare_previous)
    return plan, changed
