"""Typed objects the copilot produces and consumes.

One :class:`Answer` carries everything a caller (CLI, HTTP, UI, evals) needs to show *and to check* an answer: the
SQL, the plan it came from, what retrieval found, what the guardrails said, the page of rows, the chart, the caption,
where the time went and every attempt made on the way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Grain = Literal["day", "week", "month"]
FilterOp = Literal["in", "not_in", ">", ">=", "<", "<=", "is"]


class PlanFilter(BaseModel):
    """A filter on a dimension: ``dimension op values`` (``in`` for one or more category values; ``is`` with
    ``["true"]``/``["false"]`` for a boolean column)."""

    model_config = ConfigDict(extra="forbid")
    dimension: str
    op: FilterOp = "in"
    values: list[str | float] = Field(min_length=1)


class TimeWindow(BaseModel):
    """Half-open date window ``[start, end)`` on the metric's time column; ``label`` says how it was read."""

    model_config = ConfigDict(extra="forbid")
    start: dt.date | None = None
    end: dt.date | None = None
    label: str = ""


class NestedStep(BaseModel):
    """A second level of aggregation: compute the plan's first metric once per ``entity`` (a table whose rows the
    base rows belong to: ``applications`` for decisions), keep the entities whose value passes ``op value`` if
    given, then aggregate over the entities ("average offers per application", "applicants who applied more than
    once", "applications with no approval")."""

    model_config = ConfigDict(extra="forbid")
    entity: str
    aggregate: Literal["avg", "count", "max", "min", "median"] = "avg"
    op: Literal["=", ">", ">=", "<", "<="] | None = None
    value: float | None = None

    @model_validator(mode="after")
    def _condition(self) -> NestedStep:
        if (self.op is None) != (self.value is None):
            raise ValueError("a nested condition needs both 'op' and 'value'")
        return self


class MetricCondition(BaseModel):
    """A condition on the first metric's value per group (SQL ``HAVING``): "partners with an approval rate under
    20%" keeps the groups whose value passes."""

    model_config = ConfigDict(extra="forbid")
    op: Literal["=", ">", ">=", "<", "<="]
    value: float


class SemanticPlan(BaseModel):
    """What to compute, in catalog terms; compiled to SQL by :mod:`copilot.semantic.compiler`, never by a model.

    ``compare_previous`` splits the window and the same-length window before it into a ``period`` column
    ("this week vs last week", "week on week" without a series). ``share`` turns the first metric into each
    group's share of the total; ``scale`` divides it by a unit (1e5 for "in lakh"). ``list_table`` (with no
    metrics) lists the visible, non-PII columns of one table instead of aggregating.

    Derived shapes (compiled by :mod:`copilot.semantic.derived` around the plain plan): ``change`` adds each
    period's difference (``diff``) or relative change (``pct``) from the period before to a series; ``ratio`` divides
    the first metric by the second, each computed on its own base table ("loans per approval"); ``nested`` is a
    second level of aggregation over entities (or over days, weeks or months: "average approvals per day");
    ``having`` keeps the groups whose first metric passes a condition.
    """

    model_config = ConfigDict(extra="forbid")
    metrics: list[str] = Field(default_factory=list, max_length=3)
    dimensions: list[str] = Field(default_factory=list, max_length=3)
    filters: list[PlanFilter] = Field(default_factory=list)
    time_window: TimeWindow | None = None
    grain: Grain | None = None
    order: Literal["asc", "desc"] | None = None
    limit: int | None = Field(None, ge=1, le=10_000)
    compare_previous: bool = False
    share: bool = False
    scale: float | None = Field(None, gt=0)
    list_table: str | None = None
    change: Literal["diff", "pct"] | None = None
    ratio: bool = False
    nested: NestedStep | None = None
    having: MetricCondition | None = None

    @model_validator(mode="after")
    def _something(self) -> SemanticPlan:
        if not self.metrics and not self.list_table:
            raise ValueError("a plan computes at least one metric or lists one table")
        if self.change and not self.grain:
            raise ValueError("a period-over-period change needs a grain (day, week or month)")
        if self.ratio and len(self.metrics) != 2:
            raise ValueError("a ratio divides exactly two metrics")
        return self


class GenerationOutput(BaseModel):
    """The structured answer an LLM must return: SQL with an explanation, or an honest refusal."""

    model_config = ConfigDict(extra="ignore")
    sql: str | None = None
    explanation: str = ""
    cannot_answer: bool = False
    reason: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> GenerationOutput:
        if self.cannot_answer:
            if not (self.reason or "").strip():
                self.reason = "the model said it cannot answer from the available tables"
            self.sql = None
        elif not (self.sql or "").strip():
            raise ValueError("either 'sql' or 'cannot_answer': true is required")
        return self


GENERATION_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "sql": {"type": "string"},
        "explanation": {"type": "string"},
        "cannot_answer": {"type": "boolean"},
        "reason": {"type": "string"},
    },
    "required": ["cannot_answer"],
}


class RowsPage(BaseModel):
    """One page of (masked) result rows."""

    columns: list[str]
    rows: list[list[Any]]
    page: int = 0
    page_size: int
    has_more: bool = False


AttemptOutcome = Literal[
    "ok", "rejected", "engine_error", "cannot_answer", "low_confidence", "malformed", "unavailable", "not_compilable"
]


class Attempt(BaseModel):
    """One try by one backend: what it proposed and what happened to it."""

    backend: str
    outcome: AttemptOutcome
    sql: str | None = None
    plan: SemanticPlan | None = None
    confidence: float | None = None
    error: dict[str, Any] | None = None
    ms: float = 0.0


class Answer(BaseModel):
    """The copilot's whole answer to one question."""

    question: str
    team: str
    user: str = "anonymous"
    sql: str | None = None
    explanation: str = ""
    plan: SemanticPlan | None = None
    retrieved: dict[str, Any] = Field(default_factory=dict)
    validation: dict[str, Any] | None = None
    rows: RowsPage | None = None
    chart_type: str | None = None
    chart: dict[str, Any] | None = None
    caption: str | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    backend: str | None = None
    confidence: float = 0.0
    cannot_answer: bool = False
    reason: str | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    anchor_date: dt.date | None = None
    audit_id: str | None = None

    @property
    def columns(self) -> list[str]:
        return self.rows.columns if self.rows else []

    def summary_dict(self) -> dict[str, Any]:
        """The CLI/HTTP JSON view: the whole answer with ``columns`` and ``rows`` lifted to the top level."""
        data = self.model_dump(mode="json")
        data["columns"] = self.rows.columns if self.rows else []
        data["row_values"] = data["rows"]["rows"] if self.rows else []
        return data
