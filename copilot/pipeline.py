"""The one pipeline: question + team -> retrieval -> generation -> guardrails -> execution -> chart -> caption.

Generation is a chain of candidates (see :func:`Copilot._candidates`): the semantic planner, then -- when the
planner is unsure -- the configured OpenAI-compatible endpoint writing SQL with a repair loop, or the local model
filling a semantic plan. Every candidate's SQL goes through the guardrails and runs on the read-only replica; nothing
reaches the engine unvalidated. Every try is recorded in ``Answer.attempts`` and every question in the audit log.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from copilot import guard
from copilot.anchor import data_today
from copilot.audit import AuditRecord, write_audit
from copilot.backends import caption_writer, local_filler, openai_writer
from copilot.captions import template_caption, unsupported_numbers
from copilot.charts import build_chart
from copilot.errors import (
    BackendUnavailableError,
    CopilotError,
    InvalidQuestionError,
    MalformedOutputError,
    PlanCompileError,
    UnknownTeamError,
)
from copilot.inputs import check_question, looks_english
from copilot.llm.base import CaptionWriter, PlanFiller, PlanRequest, PriorAttempt, SqlRequest, SqlWriter
from copilot.models import Answer, Attempt, RowsPage, SemanticPlan
from copilot.semantic.derived import compile_derived
from copilot.semantic.planner import plan_question
from copilot.semantic.rollup_route import rollups_enabled
from copilot.semantic.view import TeamSemantics, semantics_for, team_semantics
from copilot.settings import CopilotSettings, get_settings
from guardrails.errors import GuardrailError
from guardrails.executor import SafeExecutor
from schema_catalog.teams import UnknownTeamError as CatalogUnknownTeam
from schema_catalog.teams import team_scope
from warehouse.rollups import available_rollups


class _Timer:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = round(self.ms.get(name, 0.0) + (time.perf_counter() - t0) * 1000, 3)


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
        timer = _Timer()
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
                                    latency_ms=_ms(t0)), self.settings.audit_path)
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
        t0, timer = time.perf_counter(), _Timer()
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
            ok = self._run(answer, executor, timer, sql, "sql", page, confidence=1.0, t=time.perf_counter())
        if not ok:
            answer.cannot_answer = True
            rejected = answer.attempts[-1].outcome == "rejected"
            return self._finish(answer, timer, t0, "blocked" if rejected else "error")
        with timer.stage("chart"):
            assert answer.rows is not None
            answer.chart_type, answer.chart = build_chart(answer.rows.columns, answer.rows.rows, "SQL result")
        return self._finish(answer, timer, t0, "answered")

    def _executor(self) -> SafeExecutor:
        """The shared hardened connection on this replica (see :func:`copilot.guard.shared_executor`)."""
        return guard.shared_executor(self.replica)

    def close(self) -> None:
        """Nothing to release per instance: replica connections are shared per process (``close_executors``)."""

    def _answer(self, answer: Answer, con: SafeExecutor, timer: _Timer, t0: float, backend: str,
                previous: Answer | None, page: int) -> Answer:
        with timer.stage("anchor"):
            today = data_today(con.con, self.replica)
        answer.anchor_date = today
        with timer.stage("retrieval"):
            sem, context = self._retrieve(answer, con)
        for name in self._candidates(backend):
            refusal = self._planner_refusal(answer)
            if refusal == "final" or (refusal == "unknown" and name == "local"):
                break  # a principled "no" (writes, PII, unknown terms...) is not handed to a model to overturn
            if name == "semantic":
                done = self._try_plan(answer, con, timer, sem, today, previous, page, planner=True)
            elif name == "local":
                if backend == "auto" and not self._metric_evidence(answer):
                    continue  # nothing in the catalog matched: a tiny model would only guess
                done = self._try_plan(answer, con, timer, sem, today, previous, page, planner=False,
                                      gated=backend == "auto")
            else:
                done = self._try_sql(answer, con, timer, context, previous, page)
            if done:
                break
        if answer.rows is None:
            answer.cannot_answer = True
            answer.reason = answer.reason or self._reason(answer)
            outcome = "blocked" if any(a.outcome == "rejected" for a in answer.attempts) else "cannot_answer"
            if any(a.outcome == "unavailable" for a in answer.attempts) and outcome == "cannot_answer":
                outcome = "error"
            return self._finish(answer, timer, t0, outcome)
        with timer.stage("chart"):
            title = answer.explanation.split(";")[0] if answer.explanation else answer.question
            answer.chart_type, answer.chart = build_chart(answer.rows.columns, answer.rows.rows, title)
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

    def _try_plan(self, answer: Answer, con: SafeExecutor, timer: _Timer, sem: TeamSemantics,
                  today: dt.date, previous: Answer | None, page: int, *, planner: bool,
                  gated: bool = False) -> bool:
        """Plan-based candidate. ``gated`` (the automatic chain): a local model's plan is kept only if its metric is
        one the planner or retrieval also found -- a tiny model must not turn "weather in Mumbai" into a metric."""
        name = "semantic" if planner else "local"
        t = time.perf_counter()
        prev_plan = previous.plan if previous is not None else None
        if planner:
            with timer.stage("planner"):
                scores = answer.retrieved.get("metric_scores") or {}
                result = plan_question(answer.question, sem, today, previous=prev_plan,
                                       retrieved_metrics=sorted(scores.items(), key=lambda kv: -kv[1]))
            plan, confidence, notes = result.plan, result.confidence, result.notes
            if plan is None or confidence < self.settings.planner_confidence_threshold:
                answer.attempts.append(Attempt(backend=name, outcome="low_confidence", plan=plan,
                                               confidence=confidence,
                                               error={"notes": notes, "refusal": result.refusal}, ms=_ms(t)))
                answer.reason = "; ".join(notes) or "the question does not map onto the team's metrics"
                return False
        else:
            try:
                filler = self.plan_filler()
                if filler is None:
                    raise BackendUnavailableError("the local model is disabled (CREDIT_COPILOT_LOCAL_ENABLED)")
                metrics, dims = self._local_candidates(answer, sem, today, prev_plan)
                request = PlanRequest(question=answer.question, team=answer.team,
                                      metrics={k: sem.metrics[k].description for k in metrics},
                                      dimensions={k: sem.dimensions[k].description for k in dims},
                                      today=today.isoformat())
                with timer.stage("local_model"):
                    out = filler.fill_plan(request)
            except (BackendUnavailableError, MalformedOutputError) as err:
                outcome = "unavailable" if isinstance(err, BackendUnavailableError) else "malformed"
                answer.attempts.append(Attempt(backend=name, outcome=outcome, error={"error": err.code,
                                                                                     "message": err.message},
                                               ms=_ms(t)))
                return False
            if out.cannot_answer or out.plan is None:
                answer.attempts.append(Attempt(backend=name, outcome="cannot_answer", ms=_ms(t),
                                               error={"reason": out.reason}))
                answer.reason = out.reason
                return False
            plan, confidence = out.plan, self.settings.local_confidence
            evidence = self._metric_evidence(answer)
            if gated and plan.metrics[0] not in evidence:
                answer.attempts.append(Attempt(backend=name, outcome="low_confidence", plan=plan,
                                               confidence=confidence, ms=_ms(t),
                                               error={"notes": [f"the local model chose {plan.metrics[0]!r}, which "
                                                                f"neither the planner nor retrieval found"]}))
                return False
        try:
            with timer.stage("compile"), _facts_only(plan):
                compiled = compile_derived(plan, sem)
        except PlanCompileError as err:
            answer.attempts.append(Attempt(backend=name, outcome="not_compilable", plan=plan, confidence=confidence,
                                           error={"error": err.code, "message": err.message}, ms=_ms(t)))
            answer.reason = err.message
            return False
        ok = self._run(answer, con, timer, compiled.sql, name, page, plan=plan, confidence=confidence, t=t)
        if ok:
            answer.plan, answer.explanation = plan, compiled.explanation
            if planner and notes:
                answer.explanation += " Note: " + "; ".join(notes) + "."
            if not planner:
                answer.explanation += " (plan filled by a small local model: check it.)"
        return ok

    def _try_sql(self, answer: Answer, con: SafeExecutor, timer: _Timer, context: str,
                 previous: Answer | None, page: int) -> bool:
        prior: list[PriorAttempt] = []
        for _ in range(self.settings.max_repairs + 1):
            t = time.perf_counter()
            try:
                writer = self.sql_writer()
                if writer is None:
                    raise BackendUnavailableError("no OpenAI-compatible endpoint configured")
                request = SqlRequest(question=answer.question, team=answer.team, context=context,
                                     previous_sql=previous.sql if previous else None, attempts=prior)
                with timer.stage("llm"):
                    out = writer.generate_sql(request)
            except BackendUnavailableError as err:
                answer.attempts.append(Attempt(backend="openai", outcome="unavailable", ms=_ms(t),
                                               error={"error": err.code, "message": err.message}))
                answer.reason = f"the language model is unavailable: {err.message}"
                return False
            except MalformedOutputError as err:
                answer.attempts.append(Attempt(backend="openai", outcome="malformed", ms=_ms(t),
                                               error={"error": err.code, "message": err.message, "raw": err.raw}))
                prior.append(PriorAttempt(sql=None, error={"error": err.code, "message": err.message}))
                answer.reason = "the language model returned malformed output"
                continue
            if out.cannot_answer:
                answer.attempts.append(Attempt(backend="openai", outcome="cannot_answer", ms=_ms(t),
                                               error={"reason": out.reason}))
                answer.reason = out.reason
                return False
            if self._run(answer, con, timer, out.sql or "", "openai", page, confidence=0.7, t=t):
                answer.explanation = out.explanation
                return True
            prior.append(PriorAttempt(sql=out.sql, error=answer.attempts[-1].error or {}))
        return False

    def _run(self, answer: Answer, con: SafeExecutor, timer: _Timer, sql: str, backend: str,
             page: int, *, plan: SemanticPlan | None = None, confidence: float, t: float) -> bool:
        """Validate and execute one candidate; record the attempt; fill the answer on success."""
        try:
            with timer.stage("validation"):
                vq = guard.validate_sql(sql, answer.team)
        except GuardrailError as err:
            answer.attempts.append(Attempt(backend=backend, outcome="rejected", sql=sql, plan=plan,
                                           confidence=confidence, error=err.to_dict(), ms=_ms(t)))
            answer.reason = f"the query was refused by the guardrails: {err}"
            return False
        try:
            with timer.stage("execution"):
                result = guard.execute_page(con, vq, page)
        except GuardrailError as err:
            engine = isinstance(err, guard.ENGINE_ERRORS)
            answer.attempts.append(Attempt(backend=backend, outcome="engine_error" if engine else "rejected",
                                           sql=vq.sql, plan=plan, confidence=confidence, error=err.to_dict(),
                                           ms=_ms(t)))
            answer.reason = f"the query {'failed' if engine else 'was refused'}: {err}"
            return False
        answer.attempts.append(Attempt(backend=backend, outcome="ok", sql=vq.sql, plan=plan, confidence=confidence,
                                       ms=_ms(t)))
        answer.sql, answer.backend, answer.confidence, answer.reason = vq.sql, backend, confidence, None
        answer.validation = {"passed": True, "tables": sorted(vq.tables), "masked_columns": list(vq.masked_columns),
                             "row_limit": vq.row_limit}
        answer.rows = RowsPage(columns=result.columns, rows=result.rows, page=result.page,
                               page_size=result.page_size, has_more=result.has_more)
        return True

    def _caption(self, answer: Answer, sem: TeamSemantics) -> str:
        assert answer.rows is not None
        cols, rows = answer.rows.columns, answer.rows.rows
        writer = self._captioner or caption_writer(self._sql_writer if answer.backend == "openai" else None)
        if writer is not None:
            try:
                caption = writer.write_caption(answer.question, cols, rows)
                if caption and not unsupported_numbers(caption, cols, rows) and caption.count(". ") == 0:
                    return caption
            except CopilotError:
                pass  # the template below is always available
        labels = {k: m.label for k, m in sem.metrics.items()} | {k: d.label for k, d in sem.dimensions.items()}
        window = answer.plan.time_window.label if answer.plan and answer.plan.time_window else ""
        return template_caption(answer.question, cols, rows, labels, window)

    @staticmethod
    def _planner_refusal(answer: Answer) -> str | None:
        """The planner's refusal kind (``final`` / ``unknown``) if it declined on principle, else None."""
        for a in answer.attempts:
            if a.backend == "semantic" and a.error and a.error.get("refusal"):
                return str(a.error["refusal"])
        return None

    @staticmethod
    def _local_candidates(answer: Answer, sem: TeamSemantics, today: dt.date,
                          previous: SemanticPlan | None) -> tuple[list[str], list[str]]:
        """Metrics and dimensions the local model may choose from: what the planner matched (its low-confidence
        plan included) and what retrieval ranked first -- not the whole catalog. A short grammar and prompt keep a
        135M model at a few seconds, and it cannot wander to a metric nothing in the question pointed at."""
        plans = [a.plan for a in answer.attempts if a.plan is not None]
        if not any(a.backend == "semantic" for a in answer.attempts):  # --backend local: ask the planner what it sees
            scores = answer.retrieved.get("metric_scores") or {}
            result = plan_question(answer.question, sem, today, previous=previous,
                                   retrieved_metrics=sorted(scores.items(), key=lambda kv: -kv[1]))
            plans += [result.plan] if result.plan is not None else []
        metrics = [m for p in plans for m in p.metrics] + list((answer.retrieved.get("metrics") or [])[:3])
        dims = [d for p in plans for d in p.dimensions] + list((answer.retrieved.get("dimensions") or [])[:3])
        metrics = [m for m in dict.fromkeys(metrics) if m in sem.metrics]
        dims = [d for d in dict.fromkeys(dims) if d in sem.dimensions and sem.dimensions[d].kind != "time"]
        return metrics[:6], dims[:6]

    @staticmethod
    def _metric_evidence(answer: Answer) -> set[str]:
        """Metrics the planner matched or retrieval ranked in its top three for this question."""
        found = {m for a in answer.attempts if a.plan for m in a.plan.metrics}
        return found | set((answer.retrieved.get("metrics") or [])[:3])

    def _reason(self, answer: Answer) -> str:
        return "I cannot answer that from this team's data."

    def _finish(self, answer: Answer, timer: _Timer, t0: float, outcome: str) -> Answer:
        answer.timings = {**timer.ms, "total": round((time.perf_counter() - t0) * 1000, 3)}
        record = AuditRecord(user_name=answer.user, team=answer.team, question=answer.question, sql=answer.sql,
                             outcome=outcome,  # type: ignore[arg-type]
                             rows_returned=len(answer.rows.rows) if answer.rows else 0,
                             backend=answer.backend, latency_ms=answer.timings["total"])
        if write_audit(record, self.settings.audit_path):
            answer.audit_id = record.audit_id
        return answer


_ROLLUPS: dict[int, tuple[SafeExecutor, frozenset[str]]] = {}


def _facts_only(plan: SemanticPlan) -> AbstractContextManager[None]:
    """Nested plans group the base table's rows per entity (applicant, application): rollups have no such rows."""
    return rollups_enabled(()) if plan.nested is not None else nullcontext()


def _rollups_of(executor: SafeExecutor) -> frozenset[str]:
    """The filled rollup tables of the executor's replica, read once per shared connection (the file is immutable)."""
    cached = _ROLLUPS.get(id(executor))
    if cached is None or cached[0] is not executor:
        cached = _ROLLUPS[id(executor)] = (executor, available_rollups(executor.con))
    return cached[1]


def _ms(t: float) -> float:
    return round((time.perf_counter() - t) * 1000, 3)


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
