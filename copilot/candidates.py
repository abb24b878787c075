"""The generators of the candidate chain: a semantic plan (the planner's, or one a small local model filled) or SQL
written by an OpenAI-compatible endpoint with a repair loop.

Why this is its own module: generators are where the copilot changes most (new backends, gating rules, repair
policy), and each of them only has to produce a plan or SQL and hand it to :func:`copilot.execution.run_candidate`.
They never run SQL themselves and never decide the order of the chain or the final outcome; that is
:meth:`copilot.pipeline.Copilot.ask`. Backends arrive as zero-argument factories so a disabled or unreachable model is
only built (and only fails) when its turn in the chain comes.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from rapidfuzz import fuzz, process

from copilot.errors import BackendUnavailableError, MalformedOutputError, PlanCompileError
from copilot.execution import Timer, elapsed_ms, run_candidate
from copilot.llm.base import PlanFiller, PlanRequest, PriorAttempt, SqlRequest, SqlWriter
from copilot.models import Answer, Attempt, SemanticPlan
from copilot.semantic import vocabulary
from copilot.semantic.derived import compile_derived
from copilot.semantic.planner import STOPWORDS, plan_question
from copilot.semantic.rollup_route import rollups_enabled
from copilot.semantic.view import TeamSemantics
from copilot.settings import CopilotSettings
from guardrails.executor import SafeExecutor


def try_plan(answer: Answer, con: SafeExecutor, timer: Timer, sem: TeamSemantics, today: dt.date,
             previous: Answer | None, page: int, *, settings: CopilotSettings,
             plan_filler: Callable[[], PlanFiller | None], planner: bool, gated: bool = False) -> bool:
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
        if plan is None or confidence < settings.planner_confidence_threshold:
            answer.attempts.append(Attempt(backend=name, outcome="low_confidence", plan=plan,
                                           confidence=confidence,
                                           error={"notes": notes, "refusal": result.refusal}, ms=elapsed_ms(t)))
            answer.reason = "; ".join(notes) or "the question does not map onto the team's metrics"
            return False
    else:
        try:
            filler = plan_filler()
            if filler is None:
                raise BackendUnavailableError("the local model is disabled (CREDIT_COPILOT_LOCAL_ENABLED)")
            metrics, dims = local_candidates(answer, sem, today, prev_plan)
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
                                           ms=elapsed_ms(t)))
            return False
        if out.cannot_answer or out.plan is None:
            answer.attempts.append(Attempt(backend=name, outcome="cannot_answer", ms=elapsed_ms(t),
                                           error={"reason": out.reason}))
            answer.reason = out.reason
            return False
        plan, confidence = out.plan, settings.local_confidence
        evidence = metric_evidence(answer)
        if gated and plan.metrics[0] not in evidence:
            answer.attempts.append(Attempt(backend=name, outcome="low_confidence", plan=plan,
                                           confidence=confidence, ms=elapsed_ms(t),
                                           error={"notes": [f"the local model chose {plan.metrics[0]!r}, which "
                                                            f"neither the planner nor retrieval found"]}))
            return False
        carried = prev_plan is not None and plan.metrics[0] in prev_plan.metrics  # "and by lender?"
        if gated and not carried and not subject_named(answer.question, plan.metrics[0], sem):
            answer.attempts.append(Attempt(backend=name, outcome="low_confidence", plan=plan,
                                           confidence=confidence, ms=elapsed_ms(t),
                                           error={"notes": [f"the local model chose {plan.metrics[0]!r}, but the "
                                                            f"question names none of its subject's words"]}))
            return False
    try:
        with timer.stage("compile"), _facts_only(plan):
            compiled = compile_derived(plan, sem)
    except PlanCompileError as err:
        answer.attempts.append(Attempt(backend=name, outcome="not_compilable", plan=plan, confidence=confidence,
                                       error={"error": err.code, "message": err.message}, ms=elapsed_ms(t)))
        answer.reason = err.message
        return False
    ok = run_candidate(answer, con, timer, compiled.sql, name, page, plan=plan, confidence=confidence, t=t)
    if ok:
        answer.plan, answer.explanation = plan, compiled.explanation
        if planner and notes:
            answer.explanation += " Note: " + "; ".join(notes) + "."
        if not planner:
            answer.explanation += " (plan filled by a small local model: check it.)"
    return ok


def try_sql(answer: Answer, con: SafeExecutor, timer: Timer, context: str, previous: Answer | None, page: int, *,
            max_repairs: int, sql_writer: Callable[[], SqlWriter | None]) -> bool:
    """SQL written by an OpenAI-compatible endpoint; a refused or failing query goes back to it with the error, up to
    ``max_repairs`` times."""
    prior: list[PriorAttempt] = []
    for _ in range(max_repairs + 1):
        t = time.perf_counter()
        try:
            writer = sql_writer()
            if writer is None:
                raise BackendUnavailableError("no OpenAI-compatible endpoint configured")
            request = SqlRequest(question=answer.question, team=answer.team, context=context,
                                 previous_sql=previous.sql if previous else None, attempts=prior)
            with timer.stage("llm"):
                out = writer.generate_sql(request)
        except BackendUnavailableError as err:
            answer.attempts.append(Attempt(backend="openai", outcome="unavailable", ms=elapsed_ms(t),
                                           error={"error": err.code, "message": err.message}))
            answer.reason = f"the language model is unavailable: {err.message}"
            return False
        except MalformedOutputError as err:
            answer.attempts.append(Attempt(backend="openai", outcome="malformed", ms=elapsed_ms(t),
                                           error={"error": err.code, "message": err.message, "raw": err.raw}))
            prior.append(PriorAttempt(sql=None, error={"error": err.code, "message": err.message}))
            answer.reason = "the language model returned malformed output"
            continue
        if out.cannot_answer:
            answer.attempts.append(Attempt(backend="openai", outcome="cannot_answer", ms=elapsed_ms(t),
                                           error={"reason": out.reason}))
            answer.reason = out.reason
            return False
        if run_candidate(answer, con, timer, out.sql or "", "openai", page, confidence=0.7, t=t):
            answer.explanation = out.explanation
            return True
        prior.append(PriorAttempt(sql=out.sql, error=answer.attempts[-1].error or {}))
    return False


def planner_refusal(answer: Answer) -> str | None:
    """The planner's refusal kind (``final`` / ``unknown``) if it declined on principle, else None."""
    for a in answer.attempts:
        if a.backend == "semantic" and a.error and a.error.get("refusal"):
            return str(a.error["refusal"])
    return None


def local_candidates(answer: Answer, sem: TeamSemantics, today: dt.date,
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


def metric_evidence(answer: Answer) -> set[str]:
    """Metrics the planner matched or retrieval ranked in its top three for this question."""
    found = {m for a in answer.attempts if a.plan for m in a.plan.metrics}
    return found | set((answer.retrieved.get("metrics") or [])[:3])


def subject_words(metric: str, sem: TeamSemantics) -> frozenset[str]:
    """The catalog's words for what ``metric`` is about: its name, label and synonyms, and the names and synonyms of
    the tables and columns its definitions read -- minus the general analytic words ("rate", "average", "number")
    every metric shares, which say how something is measured, not what."""
    m = sem.metrics[metric]
    phrases = [m.name.replace("_", " "), m.label, *m.synonyms]
    for d in m.definitions:
        table = sem.catalog.tables.get(d.table)
        phrases += [d.table, *(table.synonyms if table else ()), *sem.columns.tables.get(d.table, ())]
        for t, c in d.columns:
            phrases.append(c)
            if t in sem.catalog.tables and c in sem.catalog.tables[t].columns:
                phrases += list(sem.catalog.tables[t].columns[c].synonyms)
        phrases += [p for ref in sem.columns.columns if ref.sql in d.sql for p in ref.phrases]
    words = {w for p in phrases for w in re.findall(r"[a-z0-9]+", p.lower())}
    return frozenset(w for w in words if len(w) >= 3 and not w.isdigit() and w not in vocabulary.GENERIC
                     and w.rstrip("s") not in vocabulary.GENERIC and w not in STOPWORDS and w not in _MEASURE_WORDS)


_MEASURE_WORDS = frozenset(["avg", "sum", "max", "min", "p50", "p95", "p99", "rows", "ms", "mean", "median"])


def subject_named(question: str, metric: str, sem: TeamSemantics) -> bool:
    """Whether ``question`` names what ``metric`` is about (exactly, as a plural/past form, or misspelt).

    Why: when the planner found no subject it knows, retrieval's nearest metrics are only the least distant ones, and
    a 135M model filling a plan from them turns "average salary slip amount" into the average requested amount.
    Its plan is kept only if the question itself names the chosen metric's subject in the catalog's words."""
    subject = subject_words(metric, sem)
    stems = {vocabulary.stem(w) for w in subject}
    for word in re.findall(r"[a-z0-9]+", question.lower()):
        if len(word) < 3 or word in vocabulary.GENERIC or word in STOPWORDS:
            continue
        if word in subject or vocabulary.stem(word) in stems:
            return True
        if len(word) >= 5 and process.extractOne(word, subject, scorer=fuzz.ratio, score_cutoff=85) is not None:
            return True
    return False


def _facts_only(plan: SemanticPlan) -> AbstractContextManager[None]:
    """Nested plans group the base table's rows per entity (applicant, application): rollups have no such rows."""
    return rollups_enabled(()) if plan.nested is not None else nullcontext()
