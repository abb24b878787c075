"""The one pipeline: question + team -> retrieval -> generation -> guardrails -> execution -> chart -> caption.

Generation is a chain of candidates (see :meth:`Copilot._candidates`): the semantic planner, then -- when the
planner is unsure -- the configured OpenAI-compatible endpoint writing SQL with a repair loop, or the local model
filling a semantic plan. Every candidate's SQL goes through the guardrails and runs on the read-only replica; nothing
reaches the engine unvalidated. Every try is recorded in ``Answer.attempts`` and every question in the audit log.

This module is the orchestration only: input checks, the replica lock and rollups, retrieval, the order of the
chain, the final outcome and the audit record. The generators live in :mod:`copilot.candidates`, the one door to
the engine (validation, masking, paging) and the chart/caption step in :mod:`copilot.execution`; they are split
off because they change for different reasons than the order of the chain does. :class:`Copilot` and :func:`ask`
stay importable from here (the UI, evals, benchmarks and tests import them from this module).
"""

from __future__ import annotations

import time
from pathlib import Path

from copilot import guard
from copilot.anchor import data_today
from copilot.audit import AuditRecord, write_audit
from copilot.backends import caption_writer, local_filler, openai_writer
from copilot.candidates import metric_evidence, planner_refusal, try_plan, try_sql
from copilot.errors import BackendUnavailableError, InvalidQuestionError, UnknownTeamError
from copilot.execution import Timer, caption_answer, chart_answer, elapsed_ms, run_candidate
from copilot.inputs import check_question, looks_english
from copilot.llm.base import CaptionWriter, PlanFiller, SqlWriter
from copilot.models import Answer
from copilot.semantic.rollup_route import rollups_enabled
from copilot.semantic.view import TeamSemantics, semantics_for, team_semantics
from copilot.settings import CopilotSettings, get_settings
from guardrails.executor import SafeExecutor
from schema_catalog.teams import UnknownTeamError as CatalogUnknownTeam
from schema_catalog.teams import team_scope
from warehouse.rollups import available_rollups

__all__ = ["Copilot", "ask"]


class Copilot:
    """Answers questions for teams. Backends may be injected (tests, UI); otherwise they come from settings."""

    def __init__(
        self,
        settings: CopilotSettings | None = None,
        *,
        replica: Path | str | None = None,
        sql_writer: SqlWriter | None = None,
        plan_filler: PlanFiller | None = None,
        captioner: CaptionWriter | None = None,
        retrieval_path: Path | None = None,
        use_retrieval: bool = True,
    ) -> None:
        self.settings = settings or get_settings()
        if replica is None and self.settings.replica_path is None:
            from warehouse.settings import get_settings as warehouse_settings

            replica = warehouse_settings().replica_path
        self.replica = Path(replica or self.settings.replica_path)  # type: ignore[arg-type]
        self._sql_writer = sql_writer
        self._plan_filler = plan_filler
        self._captioner = captioner
        self.retrieval_path = retrieval_path
        self.use_retrieval = use_retrieval
        self._lock = guard.replica_lock(self.replica)

    # -- backends ------------------------------------------------------------------------------------------------
    def sql_writer(self) -> SqlWriter | None:
        if self._sql_writer is None:
            self._sql_writer = openai_writer(self.settings)
        return self._sql_writer

    def plan_filler(self) -> PlanFiller | None:
        if self._plan_filler is None and self.settings.local_enabled:
            self._plan_filler = local_filler(self.settings)
        return self._plan_filler

    def _candidates(self, backend: str) -> list[str]:
        if backend == "auto":
            chain = ["semantic"]
            if self.settings.openai_base_url or self._sql_writer is not None:
                chain.append("openai")
            elif self.settings.local_enabled or self._plan_filler is not None:
                chain.append("local")
            return chain
        return [backend]

    # -- the pipeline --------------------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        team: str,
        user: str = "anonymous",
        *,
        backend: str | None = None,
        previous: Answer | None = None,
        page: int = 0,
    ) -> Answer:
        """Answer one question; raises only for unusable input (typed :class:`CopilotError`)."""
        t0 = time.perf_counter()
        timer = Timer()
        backend = backend or self.settings.backend
        if backend not in ("auto", "semantic", "local", "openai"):
            raise InvalidQuestionError(f"unknown backend {backend!r}", code="unknown_backend")
        try:
            team_scope(team)
        except CatalogUnknownTeam as err:
            raise UnknownTeamError(str(err)) from None
        try:
            text = check_question(question, self.settings.max_question_chars)
        except InvalidQuestionError:
            bad = question[:2000] if isinstance(question, str) else repr(question)[:2000]
            write_audit(AuditRecord(user_name=user, team=team, question=bad, sql=None, outcome="error",
                                    latency_ms=elapsed_ms(t0)), self.settings.audit_path)
            raise
        answer = Answer(question=text, team=team, user=user)
        if not looks_english(text):
            answer.cannot_answer = True
            answer.reason = "only English questions are supported; please ask in English"
            return self._finish(answer, timer, t0, "cannot_answer")
        if not self.replica.exists():
            raise BackendUnavailableError(f"no warehouse replica at {self.replica}; run `make run` first")
        with self._lock:  # one shared hardened connection per replica, one question at a time
            with timer.stage("connect"):
                executor = self._executor()
                rollups = _rollups_of(executor)
            with rollups_enabled(rollups):  # plans may be answered from the replica's pre-aggregates
                return self._answer(answer, executor, timer, t0, backend, previous, page)

    def run_sql(self, sql: str, team: str, user: str = "anonymous", page: int = 0) -> Answer:
        """Validate and run analyst-written SQL for ``team`` on the shared hardened replica connection.

        The public door for SQL that did not come from a question (the UI's SQL runner and decision lookups,
        feedback re-runs): the same guardrails, paging, chart and audit as :meth:`ask`, backend ``"sql"``. A refused
        or failing query is an answer with ``cannot_answer=True``, the reason and a ``rejected``/``engine_error``
        attempt -- never an exception; only an unknown team or empty SQL raise (typed).
        """
        t0, timer = time.perf_counter(), Timer()
        try:
            team_scope(team)
        except CatalogUnknownTeam as err:
            raise UnknownTeamError(str(err)) from None
        if not isinstance(sql, str) or not sql.strip():
            raise InvalidQuestionError("the SQL is empty", code="empty_question")
        if not self.replica.exists():
            raise BackendUnavailableError(f"no warehouse replica at {self.replica}; run `make run` first")
        answer = Answer(question=sql, team=team, user=user)
        with self._lock:
            with timer.stage("connect"):
                executor = self._executor()
            ok = run_candidate(answer, executor, timer, sql, "sql", page, confidence=1.0, t=time.perf_counter())
        if not ok:
            answer.cannot_answer = True
            rejected = answer.attempts[-1].outcome == "rejected"
            return self._finish(answer, timer, t0, "blocked" if rejected else "error")
        chart_answer(answer, timer, "SQL result")
        return self._finish(answer, timer, t0, "answered")

    def _executor(self) -> SafeExecutor:
        """The shared hardened connection on this replica (see :func:`copilot.guard.shared_executor`)."""
        return guard.shared_executor(self.replica)

    def close(self) -> None:
        """Nothing to release per instance: replica connections are shared per process (``close_executors``)."""

    def _answer(self, answer: Answer, con: SafeExecutor, timer: Timer, t0: float, backend: str,
                previous: Answer | None, page: int) -> Answer:
        with timer.stage("anchor"):
            today = data_today(con.con, self.replica)
        answer.anchor_date = today
        with timer.stage("retrieval"):
            sem, context = self._retrieve(answer, con)
        for name in self._candidates(backend):
            refusal = planner_refusal(answer)
            if refusal == "final" or (refusal == "unknown" and name == "local"):
                break  # a principled "no" (writes, PII, unknown terms...) is not handed to a model to overturn
            if name == "semantic":
                done = try_plan(answer, con, timer, sem, today, previous, page, settings=self.settings,
                                plan_filler=self.plan_filler, planner=True)
            elif name == "local":
                if backend == "auto" and not metric_evidence(answer):
                    continue  # nothing in the catalog matched: a tiny model would only guess
                done = try_plan(answer, con, timer, sem, today, previous, page, settings=self.settings,
                                plan_filler=self.plan_filler, planner=False, gated=backend == "auto")
            else:
                done = try_sql(answer, con, timer, context, previous, page, max_repairs=self.settings.max_repairs,
                               sql_writer=self.sql_writer)
            if done:
                break
        if answer.rows is None:
            answer.cannot_answer = True
            answer.reason = answer.reason or self._reason(answer)
            outcome = "blocked" if any(a.outcome == "rejected" for a in answer.attempts) else "cannot_answer"
            if any(a.outcome == "unavailable" for a in answer.attempts) and outcome == "cannot_answer":
                outcome = "error"
            return self._finish(answer, timer, t0, outcome)
        chart_answer(answer, timer, answer.explanation.split(";")[0] if answer.explanation else answer.question)
        with timer.stage("caption"):
            answer.caption = self._caption(answer, sem)
        return self._finish(answer, timer, t0, "answered")

    def _retrieve(self, answer: Answer, con: SafeExecutor) -> tuple[TeamSemantics, str]:
        """Retrieval context (and the catalog slice it used); without an index, the catalog slice alone."""
        if self.use_retrieval:
            try:
                from schema_catalog.retrieval import retrieve

                ctx = retrieve(answer.question, answer.team, k=10, path=self.retrieval_path)
                answer.retrieved = {
                    "tables": ctx.tables, "columns": ctx.columns, "metrics": ctx.metrics,
                    "dimensions": ctx.dimensions, "joins": [j.sql for j in ctx.joins],
                    "values": [f"{v.table}.{v.column}={v.value}" for v in ctx.values],
                    "examples": [e.question for e in ctx.examples],
                    "metric_scores": {m: round(ctx.scores.get(f"metric:{m}", 0.0), 3) for m in ctx.metrics[:5]},
                }
                assert ctx.catalog is not None
                return semantics_for(ctx.catalog), ctx.to_prompt()
            except Exception as err:
                answer.retrieved = {"unavailable": f"{type(err).__name__}: {err}"}
        sem = team_semantics(answer.team, str(self.replica), con.con)
        return sem, _catalog_prompt(sem)

    def _caption(self, answer: Answer, sem: TeamSemantics) -> str:
        """The injected caption writer, else the OpenAI-compatible one when it wrote the SQL, else the template."""
        writer = self._captioner or caption_writer(self._sql_writer if answer.backend == "openai" else None)
        return caption_answer(answer, sem, writer)

    def _reason(self, answer: Answer) -> str:
        return "I cannot answer that from this team's data."

    def _finish(self, answer: Answer, timer: Timer, t0: float, outcome: str) -> Answer:
        answer.timings = {**timer.ms, "total": round((time.perf_counter() - t0) * 1000, 3)}
        record = AuditRecord(user_name=answer.user, team=answer.team, question=answer.question, sql=answer.sql,
                             outcome=outcome,  # type: ignore[arg-type]
                             rows_returned=len(answer.rows.rows) if answer.rows else 0,
                             backend=answer.backend, latency_ms=answer.timings["total"])
        if write_audit(record, self.settings.audit_path):
            answer.audit_id = record.audit_id
        return answer


_ROLLUPS: dict[int, tuple[SafeExecutor, frozenset[str]]] = {}


def _rollups_of(executor: SafeExecutor) -> frozenset[str]:
    """The filled rollup tables of the executor's replica, read once per shared connection (the file is immutable)."""
    cached = _ROLLUPS.get(id(executor))
    if cached is None or cached[0] is not executor:
        cached = _ROLLUPS[id(executor)] = (executor, available_rollups(executor.con))
    return cached[1]


def _catalog_prompt(sem: TeamSemantics) -> str:
    """Schema context when the retrieval index is missing: every visible table and column, and the metrics."""
    lines = []
    for t in sem.catalog.tables.values():
        lines.append(f"TABLE {t.name}: {t.description}")
        lines += [f"  {c.name} {c.type}: {c.description}" for c in t.columns.values()]
    for name, m in sem.metrics.items():
        lines.append(f"METRIC {name}: " + "; ".join(f"{d.sql} FROM {d.table}" for d in m.definitions))
    return "\n".join(lines)


_default: Copilot | None = None


def ask(question: str, team: str, user: str = "anonymous", *, backend: str | None = None) -> Answer:
    """Module-level convenience over a process-wide :class:`Copilot` built from settings."""
    global _default
    if _default is None:
        _default = Copilot()
    return _default.ask(question, team, user, backend=backend)
