"""Why did a question fail? A coarse, deterministic failure-cause classifier.

The copilot engineers need to know *what kind* of mistake dominates (a planner that picks the wrong table needs a
different fix than one that drops a filter), not a judgement per question. Structural features of the gold and the
predicted SQL are compared in a fixed order; the first difference names the cause:

1. outcome first: ``timeout``, ``blocked`` (the guardrails refused every attempt at an answerable question),
   ``cannot_answer`` (the copilot abstained on an answerable question), ``error`` (engine error, backend down);
2. then the SQL: ``wrong_table`` (the aggregates read different fact tables; lookups joined for labels or filters do
   not count), ``wrong_grouping`` (different GROUP BY columns), ``wrong_aggregation`` (a gold aggregate function
   is missing), ``wrong_order`` (right rows, wrong order),
   ``wrong_columns`` (columns missing or too many), else ``wrong_filter`` (same shape, different rows: a filter or
   time window differs).

Unanswerable questions that were answered are ``answered_unanswerable``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import traverse_scope

from evals.compare import Comparison
from evals.leaks import columns_read, qualified_tree

Cause = Literal[
    "correct", "timeout", "blocked", "cannot_answer", "error", "wrong_table", "wrong_grouping", "wrong_aggregation",
    "wrong_order", "wrong_columns", "wrong_filter", "answered_unanswerable", "abstained",
]
CAUSES: tuple[str, ...] = Cause.__args__  # type: ignore[attr-defined]

Outcome = Literal["answered", "cannot_answer", "blocked", "error", "timeout"]


@dataclass(frozen=True)
class SqlShape:
    """What the classifier compares between two queries."""

    tables: frozenset[str]
    """Fact tables: what the aggregates read (``count(*)``: the table it counts), not lookups joined for labels."""
    group_columns: frozenset[str]
    aggregates: frozenset[str]


def _column_names(node: exp.Expr) -> set[str]:
    return {c.name.lower() for c in node.find_all(exp.Column)}


def sql_shape(sql: str) -> SqlShape:
    """Tables, GROUP BY column names and aggregate function names of ``sql`` (outermost and nested alike)."""
    tree = qualified_tree(sql)
    tables: set[str] = set()
    for sql_scope in traverse_scope(tree):
        select = sql_scope.expression
        for agg in select.find_all(exp.AggFunc):
            cols = list(agg.find_all(exp.Column))
            for col in cols:
                source = sql_scope.sources.get(col.table)
                if isinstance(source, exp.Table):
                    tables.add(source.name.lower())
            from_ = select.args.get("from") if isinstance(select, exp.Select) else None
            if not cols and from_ is not None and isinstance(from_.this, exp.Table):
                tables.add(from_.this.name.lower())
    if not tables:  # no aggregate: a listing; every table read counts
        tables = {t for t, c in columns_read(sql) if c == "*"}
    groups: set[str] = set()
    for select in tree.find_all(exp.Select):
        group = select.args.get("group")
        if group is None:
            continue
        projections = select.expressions
        exprs = list(group.expressions)
        if group.args.get("all") or any(isinstance(e, exp.Var) and e.name.upper() == "ALL" for e in exprs):
            exprs = [p for p in projections if not p.find(exp.AggFunc)]
        for e in exprs:
            if isinstance(e, exp.Literal) and e.is_int and 0 < int(e.this) <= len(projections):
                e = projections[int(e.this) - 1]
            elif isinstance(e, exp.Column) and not e.table:
                alias = next((p for p in projections if isinstance(p, exp.Alias) and p.alias == e.name), None)
                e = alias.this if alias is not None else e
            groups |= _column_names(e)
    aggs = frozenset(type(a).__name__.lower() for a in tree.find_all(exp.AggFunc))
    return SqlShape(frozenset(tables), frozenset(groups), aggs)


def classify(
    *,
    answerable: bool,
    outcome: Outcome,
    comparison: Comparison | None,
    gold_sql: str | None,
    pred_sql: str | None,
) -> Cause:
    """The failure cause of one question (``correct`` / ``abstained`` when it went right)."""
    if not answerable:
        return "abstained" if outcome in ("cannot_answer", "blocked") else "answered_unanswerable"
    if comparison is not None and comparison.match:
        return "correct"
    if outcome in ("timeout", "blocked", "cannot_answer", "error"):
        return outcome
    if comparison is None or not gold_sql or not pred_sql:
        return "error"
    try:
        gold, pred = sql_shape(gold_sql), sql_shape(pred_sql)
    except SqlglotError:
        return "error"
    if gold.tables != pred.tables:
        return "wrong_table"
    if gold.group_columns != pred.group_columns:
        return "wrong_grouping"
    if not gold.aggregates <= pred.aggregates:  # an extra count next to the asked-for rate is not the mistake
        return "wrong_aggregation"
    if comparison.reason == "order":
        return "wrong_order"
    if comparison.reason in ("too_few_columns", "too_many_columns"):
        return "wrong_columns"
    return "wrong_filter"
