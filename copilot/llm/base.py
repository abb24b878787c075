"""Backend interfaces, one per capability.

A backend implements only what it can do well: a capable remote model writes SQL (:class:`SqlWriter`) and captions
(:class:`CaptionWriter`); a tiny local model only fills a semantic plan under a grammar (:class:`PlanFiller`). The
pipeline asks for capabilities, never for a backend by type, and every failure is a typed exception from
:mod:`copilot.errors` (``BackendUnavailableError``, ``MalformedOutputError``) -- never an error string in a result.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pydantic import BaseModel, Field

from copilot.models import GenerationOutput, SemanticPlan


class PriorAttempt(BaseModel):
    """An earlier SQL attempt and the structured error it got (guardrail rejection or engine error)."""

    sql: str | None
    error: dict[str, Any]


class SqlRequest(BaseModel):
    """Everything a SQL writer may see: the question, the team's schema context, and the attempts so far."""

    question: str
    team: str
    context: str
    """Tables, columns, metrics and verified examples the team may use (from retrieval), as prompt text."""
    previous_sql: str | None = None
    """For follow-ups: the SQL of the previous answer in the conversation."""
    attempts: list[PriorAttempt] = Field(default_factory=list)


class PlanRequest(BaseModel):
    """A constrained task: fill a semantic plan whose names must come from the given enums."""

    question: str
    team: str
    metrics: dict[str, str]
    """metric name -> description."""
    dimensions: dict[str, str]
    """dimension name -> description."""
    today: str


class PlanOutput(BaseModel):
    plan: SemanticPlan | None = None
    cannot_answer: bool = False
    reason: str | None = None


class SqlWriter(ABC):
    """Writes one SELECT (or declines) for a question, given the schema context."""

    name: str

    @abstractmethod
    def generate_sql(self, request: SqlRequest) -> GenerationOutput:
        """Return validated structured output; raise BackendUnavailableError / MalformedOutputError."""


class PlanFiller(ABC):
    """Fills a semantic plan (metric, dimensions, filters, window, grain, order, limit) from catalog enums."""

    name: str

    @abstractmethod
    def fill_plan(self, request: PlanRequest) -> PlanOutput:
        """Return a plan or an honest cannot-answer; raise BackendUnavailableError / MalformedOutputError."""


class CaptionWriter(ABC):
    """Writes a one-sentence caption for a result (checked by the pipeline before it is shown)."""

    name: str

    @abstractmethod
    def write_caption(self, question: str, columns: list[str], rows: list[list[Any]]) -> str:
        """One sentence; raise BackendUnavailableError on failure."""
