"""Compile a :class:`~copilot.models.SemanticPlan` to one DuckDB SELECT with sqlglot's expression builders.

The SQL comes only from the catalog's reviewed definitions and the contract's join paths; nothing a model wrote is
pasted in. Values from the question enter as literals built by sqlglot, so a quote in a value cannot break out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from copilot.errors import PlanCompileError
from copilot.models import SemanticPlan
from copilot.semantic.rollup_route import route
from copilot.semantic.view import TeamSemantics
from schema_catalog.catalog import JoinStep
from schema_catalog.semantic import Dimension, MetricDefinition

DIALECT = "duckdb"


@dataclass(frozen=True)
class CompiledPlan:
    sql: str
    base_table: str
    time_column: str | None
    explanation: str


def _parse(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read=DIALECT)


def _date(day: dt.date) -> exp.Expression:
    return exp.cast(exp.Literal.string(day.isoformat()), exp.DataType.build("DATE"))


def _literal(value: str | float) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _dimension_def(dim: Dimension, base: str, sem: TeamSemantics) -> tuple[str, list[JoinStep]] | None:
    """The first definition of ``dim`` reachable from ``base``, with its join path."""
    for d in dim.definitions:
        if d.table == "*":
            return d.sql, []
        path = sem.join_path(base, d.table)
        if path is not None:
            return d.sql, path
    return None


def _choose_base(plan: SemanticPlan, sem: TeamSemantics,
                 reach: str | None = None) -> tuple[str, list[MetricDefinition]]:
    """A base table on which every planned metric has a definition and every dimension/filter is reachable (and,
    for a nested plan, the entity table ``reach``)."""
    unknown = [m for m in plan.metrics if m not in sem.metrics]
    unknown += [d for d in plan.dimensions if d not in sem.dimensions]
    unknown += [f.dimension for f in plan.filters if f.dimension not in sem.dimensions]
    if unknown:
        raise PlanCompileError(f"not in team {sem.team!r}'s catalog: {', '.join(unknown)}")
    first = sem.metrics[plan.metrics[0]]
    needed = [*plan.dimensions, *(f.dimension for f in plan.filters)]
    for candidate in first.definitions:
        defs = []
        for name in plan.metrics:
            match = next((d for d in sem.metrics[name].definitions if d.table == candidate.table), None)
            if match is None:
                break
            defs.append(match)
        else:
            if all(_dimension_def(sem.dimensions[n], candidate.table, sem) is not None for n in needed):
                if (plan.time_window or plan.grain or plan.compare_previous) and not candidate.time:
                    continue
                if reach and reach != candidate.table and sem.join_path(candidate.table, reach) is None:
                    continue
                return candidate.table, defs
    raise PlanCompileError(
        f"no single table in team {sem.team!r}'s scope computes {', '.join(plan.metrics)} "
        f"by {', '.join(needed) or 'nothing'}"
    )


def _compile_listing(plan: SemanticPlan, sem: TeamSemantics) -> CompiledPlan:
    """``SELECT <visible non-PII columns> FROM <table>`` (optionally newest/oldest first by its date column)."""
    table = sem.catalog.tables.get(plan.list_table or "")
    if table is None:
        raise PlanCompileError(f"table {plan.list_table!r} is not in team {sem.team!r}'s catalog")
    cols = [c for c in table.columns.values() if not c.pii]
    if not cols:
        raise PlanCompileError(f"table {table.name!r} has no columns team {sem.team!r} may list")
    query = exp.select(*(exp.column(c.name, table=table.name) for c in cols)).from_(table.name)
    dated = next((c for c in cols if c.type.upper() in ("DATE", "TIMESTAMP")), None)
    conditions = _filter_conditions(plan, sem, table.name, lambda name: _dim_sql(sem, name, table.name))
    if conditions:
        query = query.where(exp.and_(*conditions))
    if plan.order and dated is not None:
        query = query.order_by(exp.Ordered(this=exp.column(dated.name, table=table.name), desc=plan.order == "desc",
                                           nulls_first=False))
    if plan.limit:
        query = query.limit(plan.limit)
    text = f"the {table.name.replace('_', ' ')} table" + (f", {plan.order}ending by {dated.name}"
                                                           if plan.order and dated else "")
    return CompiledPlan(query.sql(dialect=DIALECT, pretty=True), table.name, None, f"Lists {text}.")


def _dim_sql(sem: TeamSemantics, name: str, base: str) -> exp.Expression:
    found = _dimension_def(sem.dimensions[name], base, sem)
    if found is None or found[1]:
        raise PlanCompileError(f"{name!r} is not a column of {base!r}")
    return _parse(found[0])


def _filter_conditions(plan: SemanticPlan, sem: TeamSemantics, base: str,
                       dim_expr: object) -> list[exp.Expression]:
    conditions: list[exp.Expression] = []
    for f in plan.filters:
        target = dim_expr(f.dimension)  # type: ignore[operator]
        values = [_literal(v) for v in f.values]
        if f.op == "in":
            conditions.append(exp.In(this=target, expressions=values))
        elif f.op == "not_in":
            conditions.append(exp.Not(this=exp.In(this=target, expressions=values)))
        elif f.op == "is":
            conditions.append(exp.EQ(this=target, expression=exp.Boolean(this=str(f.values[0]).lower() == "true")))
        else:
            cls = {">": exp.GT, ">=": exp.GTE, "<": exp.LT, "<=": exp.LTE}[f.op]
            conditions.append(cls(this=target, expression=values[0]))
    return conditions


def compile_plan(plan: SemanticPlan, sem: TeamSemantics, *, reach: str | None = None) -> CompiledPlan:
    """Build the SELECT; raises :class:`PlanCompileError` when the team's catalog cannot express the plan.

    ``reach`` restricts the base table to one from which that table can be joined (the entity of a nested plan,
    see :mod:`copilot.semantic.derived`)."""
    if plan.list_table and not plan.metrics:
        return _compile_listing(plan, sem)
    base, metric_defs = _choose_base(plan, sem, reach)
    source = base
    resolved: dict[str, tuple[str, list[JoinStep]]] = {}
    if reach is None:  # nested plans join the base to an entity: they stay on the facts
        needed = {*plan.dimensions, *(f.dimension for f in plan.filters)} - {plan.grain}
        for name in needed:
            if name in sem.dimensions and sem.dimensions[name].kind != "time":
                found = _dimension_def(sem.dimensions[name], base, sem)
                if found is not None:
                    resolved[name] = found
        routed = route(plan, sem, base, resolved)
        if routed is not None:
            base, metric_defs, resolved = routed.table, routed.metric_defs, routed.dimensions
        else:
            resolved = {}
    time_col = metric_defs[0].time_column
    joins: dict[str, JoinStep] = {}
    select: list[exp.Expression] = []
    group: list[exp.Expression] = []

    def dim_expr(name: str) -> exp.Expression:
        found = resolved.get(name) or _dimension_def(sem.dimensions[name], base, sem)
        assert found is not None  # checked by _choose_base
        sql, path = found
        for edge in path:
            joins.setdefault(edge.right_table, edge)
        return _parse(sql.replace("{time}", time_col or ""))

    dims = list(plan.dimensions)
    if plan.grain and plan.grain not in dims:
        dims.insert(0, plan.grain)
    window = plan.time_window
    if plan.compare_previous and window and window.start and window.end:
        length = window.end - window.start
        period = exp.Case(
            ifs=[exp.If(this=exp.GTE(this=_parse(time_col or ""), expression=_date(window.start)),
                        true=exp.Literal.string("current"))],
            default=exp.Literal.string("previous"),
        )
        select.append(exp.alias_(period, "period"))
        group.append(exp.Literal.number(1))
        window = window.model_copy(update={"start": window.start - length})
    for name in dims:
        if name not in sem.dimensions:
            raise PlanCompileError(f"dimension {name!r} is not in team {sem.team!r}'s catalog")
        select.append(exp.alias_(dim_expr(name), name))
        group.append(exp.Literal.number(len(select)))
    for i, (name, d) in enumerate(zip(plan.metrics, metric_defs, strict=True)):
        value = _parse(d.sql)
        if i == 0 and plan.share:  # each group's share of the total over all groups
            total = exp.Window(this=exp.Sum(this=_parse(d.sql)))
            value = exp.Div(this=value, expression=exp.Nullif(this=total, expression=exp.Literal.number(0)))
        elif i == 0 and plan.scale:
            value = exp.Div(this=exp.paren(value), expression=exp.Literal.number(plan.scale))
        select.append(exp.alias_(value, name))

    query = exp.select(*select).from_(base)
    conditions: list[exp.Expression] = []
    if window and time_col:
        if window.start:
            conditions.append(exp.GTE(this=_parse(time_col), expression=_date(window.start)))
        if window.end:
            conditions.append(exp.LT(this=_parse(time_col), expression=_date(window.end)))
    conditions.extend(_filter_conditions(plan, sem, base, dim_expr))
    for table, edge in joins.items():
        on = exp.EQ(
            this=exp.column(edge.left_column, table=edge.left_table),
            expression=exp.column(edge.right_column, table=edge.right_table),
        )
        # inner join: every step is many-to-one, so it never multiplies rows; rows whose key is empty (a loan
        # booked before the marketplace has no decision) have no value to group or filter by and are left out,
        # and DuckDB may reorder inner joins (build the hash table on the small side)
        query = query.join(exp.to_table(table), on=on, join_type="inner")
    if conditions:
        query = query.where(exp.and_(*conditions))
    if group:
        query = query.group_by(*group)
    order: list[exp.Expression] = []
    if plan.order:
        order.append(exp.Ordered(this=exp.column(plan.metrics[0]), desc=plan.order == "desc", nulls_first=False))
    elif group:
        order.extend(exp.Ordered(this=exp.Literal.number(i + 1)) for i in range(len(group)))
    if order:
        query = query.order_by(*order)
    if plan.limit:
        query = query.limit(plan.limit)
    text = explain_plan(plan, sem, source)
    if base != source:
        text = text[:-1] + f" (pre-aggregated in {base})."
    return CompiledPlan(query.sql(dialect=DIALECT, pretty=True), base, time_col, text)


def explain_plan(plan: SemanticPlan, sem: TeamSemantics, base: str) -> str:
    """One plain-English sentence saying exactly what was computed (shown next to the SQL)."""
    labels = [sem.metrics[m].label for m in plan.metrics]
    text = " and ".join(labels)
    if plan.share:
        text = f"share of total {text}"
    if plan.scale:
        text += f" (in units of {plan.scale:,.0f})"
    dims = [sem.dimensions[d].label.lower() for d in plan.dimensions]
    if plan.grain:
        dims.insert(0, plan.grain)
    if dims:
        text += " by " + ", ".join(dims)
    for f in plan.filters:
        op = {"in": "is", "not_in": "is not", "is": "is"}.get(f.op, f.op)
        text += f", where {sem.dimensions[f.dimension].label.lower()} {op} {' or '.join(map(str, f.values))}"
    if plan.time_window:
        text += f", {plan.time_window.label}"
        if plan.compare_previous:
            text += " (current vs previous period)"
    if plan.limit:
        text += f", {'top' if plan.order != 'asc' else 'bottom'} {plan.limit}"
    return f"{text}; computed from {base}."
