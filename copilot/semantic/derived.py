"""Derived query shapes compiled *around* a plain plan: period-over-period change, a ratio of two metrics computed
on different tables, and a second level of aggregation over entities.

Each shape is built from plain plans compiled by :func:`copilot.semantic.compiler.compile_plan` and wrapped with
sqlglot builders, so the reviewed metric and dimension definitions stay the only source of SQL. Column names of the
inner queries are the plan's own aliases (dimension and metric names), which is what the wrappers refer to.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from copilot.errors import PlanCompileError
from copilot.models import SemanticPlan
from copilot.semantic.compiler import DIALECT, CompiledPlan, compile_plan
from copilot.semantic.view import TeamSemantics

_CHANGE_LABEL = {"diff": "change from the previous {grain}", "pct": "relative change from the previous {grain}"}


def compile_derived(plan: SemanticPlan, sem: TeamSemantics) -> CompiledPlan:
    """Compile ``plan`` whatever its shape; plain plans go straight to :func:`compile_plan`.

    A column-level name on a table the rest of the plan cannot reach ("approval rate when the bureau score is above
    750": ``bureau_reports.bureau_score`` from decisions) is retried with the same column where the plan can reach
    it (``decisions.features.bureau_score``, the value the decision used)."""
    try:
        return _compile_shape(plan, sem)
    except PlanCompileError as first:
        for alternative in _equivalent_plans(plan, sem):
            try:
                return _compile_shape(alternative, sem)
            except PlanCompileError:
                continue
        raise first


def _equivalent_plans(plan: SemanticPlan, sem: TeamSemantics, limit: int = 8) -> list[SemanticPlan]:
    """Plans with column-level names swapped for the same column on another table (at most ``limit``)."""
    def options(name: str, pool: dict) -> list[str]:
        prefix, sep, rest = name.partition("__")
        if not sep or "__" not in rest:
            return [name]
        tail = rest.rsplit("__", 1)[1]
        same = [n for n in pool if n != name and n.startswith(prefix + "__") and n.rsplit("__", 1)[1] == tail]
        return [name, *sorted(same)]

    metric_opts = [options(m, sem.metrics) for m in plan.metrics]
    dim_opts = [options(d, sem.dimensions) for d in plan.dimensions]
    filter_opts = [options(f.dimension, sem.dimensions) for f in plan.filters]
    if all(len(o) == 1 for o in (*metric_opts, *dim_opts, *filter_opts)):
        return []
    out: list[SemanticPlan] = []
    for i in range(1, limit + 1):  # the i-th alternative of every swappable name, then mixed with the originals
        metrics = [o[min(i, len(o) - 1)] for o in metric_opts]
        dims = [o[min(i, len(o) - 1)] for o in dim_opts]
        filters = [f.model_copy(update={"dimension": o[min(i, len(o) - 1)]})
                   for f, o in zip(plan.filters, filter_opts, strict=True)]
        candidate = plan.model_copy(update={"metrics": metrics, "dimensions": dims, "filters": filters})
        if candidate != plan and candidate not in out:
            out.append(candidate)
        if all(i >= len(o) - 1 for o in (*metric_opts, *dim_opts, *filter_opts)):
            break
    return out


def _compile_shape(plan: SemanticPlan, sem: TeamSemantics) -> CompiledPlan:
    if plan.nested:
        compiled = _nested(plan, sem)
    elif plan.ratio:
        compiled = _ratio(plan, sem)
    elif plan.share and not plan.dimensions and plan.filters:
        compiled = _filtered_share(plan, sem)
    else:
        try:
            compiled = compile_plan(plan.model_copy(update={"change": None}), sem)
        except PlanCompileError:
            compiled = _through_bridge(plan, sem)
    if plan.change:
        compiled = _change(plan, compiled)
    if plan.having:
        compiled = _having(plan, sem, compiled)
    return compiled


def _having(plan: SemanticPlan, sem: TeamSemantics, compiled: CompiledPlan) -> CompiledPlan:
    """Keep the groups whose measure passes ``plan.having`` (the measure is the query's last column)."""
    cond = plan.having
    assert cond is not None
    inner = _select(compiled.sql)
    measure = inner.expressions[-1].alias_or_name
    inner.set("limit", None)
    cls = {"=": exp.EQ, ">": exp.GT, ">=": exp.GTE, "<": exp.LT, "<=": exp.LTE}[cond.op]
    query = exp.select(exp.Star()).from_(inner.subquery("grouped")).where(
        cls(this=exp.column(measure), expression=exp.Literal.number(cond.value)))
    query = _finish(query, plan, _keys(plan), measure)
    label = sem.metrics[plan.metrics[0]].label.lower()
    return CompiledPlan(query.sql(dialect=DIALECT, pretty=True), compiled.base_table, compiled.time_column,
                        compiled.explanation.replace("; computed from",
                                                     f", only where {label} {cond.op} {cond.value:g}; computed from"))


def _select(sql: str) -> exp.Select:
    tree = sqlglot.parse_one(sql, read=DIALECT)
    assert isinstance(tree, exp.Select)
    return tree


def _inner(plan: SemanticPlan, **update: object) -> SemanticPlan:
    """The plan without its derived shape, ordering or limit (applied by the wrapper)."""
    return plan.model_copy(update={"change": None, "ratio": False, "nested": None, "order": None, "limit": None,
                                   **update})


def _finish(query: exp.Select, plan: SemanticPlan, keys: list[str], measure: str) -> exp.Select:
    """Order (by the measure if asked, else by the keys, which lead the select list) and limit."""
    if plan.order:
        query = query.order_by(exp.Ordered(this=exp.column(measure), desc=plan.order == "desc", nulls_first=False))
    elif keys:
        query = query.order_by(*(exp.Literal.number(i + 1) for i in range(len(keys))))
    if plan.limit:
        query = query.limit(plan.limit)
    return query


def _keys(plan: SemanticPlan) -> list[str]:
    keys = list(plan.dimensions)
    if plan.grain and plan.grain not in keys:
        keys.insert(0, plan.grain)
    if plan.compare_previous:
        keys.insert(0, "period")
    return keys


def _change(plan: SemanticPlan, compiled: CompiledPlan) -> CompiledPlan:
    """Add ``change`` = value minus the previous period's value (or the relative change), per other dimension."""
    grain = plan.grain or ""
    inner = _select(compiled.sql)
    measure = inner.expressions[-1].alias_or_name
    partition = [exp.column(k) for k in _keys(plan) if k != grain]
    previous = exp.Window(this=exp.Anonymous(this="LAG", expressions=[exp.column(measure)]),
                          partition_by=partition or None,
                          order=exp.Order(expressions=[exp.Ordered(this=exp.column(grain))]))
    delta: exp.Expression = exp.Sub(this=exp.column(measure), expression=previous)
    if plan.change == "pct":
        delta = exp.Div(this=exp.paren(delta), expression=exp.Nullif(this=previous.copy(),
                                                                    expression=exp.Literal.number(0)))
    name = "change" if plan.change == "diff" else "pct_change"
    query = exp.select(exp.Star(), exp.alias_(delta, name)).from_(inner.subquery("series"))
    keys = [k for k in _keys(plan) if k != grain] + [grain]
    query = query.order_by(*(exp.column(k) for k in keys))
    label = _CHANGE_LABEL[plan.change or "diff"].format(grain=grain)
    return CompiledPlan(query.sql(dialect=DIALECT, pretty=True), compiled.base_table, compiled.time_column,
                        compiled.explanation.replace("; computed from", f", with the {label}; computed from"))


def _ratio(plan: SemanticPlan, sem: TeamSemantics) -> CompiledPlan:
    """``metric_a / metric_b``, each aggregated on its own base table, joined on the plan's dimensions."""
    a_name, b_name = plan.metrics
    a = compile_plan(_inner(plan, metrics=[a_name]), sem)
    b = compile_plan(_inner(plan, metrics=[b_name]), sem)
    name = f"{a_name}_per_{b_name}"
    query = _divide(plan, a.sql, b.sql, a_name, b_name, name)
    labels = [sem.metrics[m].label.lower() for m in plan.metrics]
    text = a.explanation.split(";")[0].replace(sem.metrics[a_name].label, f"{labels[0]} per {labels[1]}", 1)
    return CompiledPlan(query.sql(dialect=DIALECT, pretty=True), a.base_table, a.time_column,
                        f"{text}; computed from {a.base_table} and {b.base_table}.")


def _filtered_share(plan: SemanticPlan, sem: TeamSemantics) -> CompiledPlan:
    """"what % of applications came from aggregators": the filtered count over the unfiltered one (same window)."""
    metric = plan.metrics[0]
    part = compile_plan(_inner(plan, metrics=[metric], share=False), sem)
    whole = compile_plan(_inner(plan, metrics=[metric], share=False, filters=[]), sem)
    query = _divide(plan, part.sql, whole.sql, metric, metric, f"share_of_{metric}")
    text = part.explanation.split(";")[0].replace(sem.metrics[metric].label,
                                                  f"share of {sem.metrics[metric].label.lower()}", 1)
    return CompiledPlan(query.sql(dialect=DIALECT, pretty=True), part.base_table, part.time_column,
                        f"{text} (out of all of them); computed from {part.base_table}.")


def _divide(plan: SemanticPlan, a_sql: str, b_sql: str, a_name: str, b_name: str, name: str) -> exp.Select:
    """``a / b`` of two compiled single-metric queries, joined on the plan's keys (or two scalar subqueries)."""
    keys = _keys(plan)
    if keys:
        # the denominator's groups lead and the numerator is left-joined: a group with no numerator rows (no loans
        # yet) is a zero, not a missing group
        numerator = exp.Coalesce(this=exp.column(a_name, table="a"), expressions=[exp.Literal.number(0)])
        value = exp.Div(this=exp.cast(numerator, exp.DataType.build("DOUBLE")),
                        expression=exp.Nullif(this=exp.column(b_name, table="b"), expression=exp.Literal.number(0)))
        query = exp.select(*(exp.column(k, table="b") for k in keys), exp.alias_(value, name))
        query = query.from_(_select(b_sql).subquery("b"))
        on = exp.and_(*(exp.EQ(this=exp.column(k, table="a"), expression=exp.column(k, table="b")) for k in keys))
        return _finish(query.join(_select(a_sql).subquery("a"), on=on, join_type="left"), plan, keys, name)
    # two scalar subqueries: one row each, nothing to join (a cross join is refused by the guardrails)
    value = exp.Div(this=exp.cast(exp.Subquery(this=_select(a_sql)), exp.DataType.build("DOUBLE")),
                    expression=exp.Nullif(this=exp.Subquery(this=_select(b_sql)), expression=exp.Literal.number(0)))
    return exp.select(exp.alias_(value, name))


def _entity_key(base: str, entity: str, sem: TeamSemantics) -> tuple[exp.Expression, list[tuple[str, exp.Expression]]]:
    """The column identifying ``entity`` on ``base`` rows, and the joins needed to reach it: the base table's own
    key, else its column referencing the entity (no join, so an entity table the team cannot read still counts),
    else the last key along the join path."""
    direct = next((c.name for c in sem.catalog.tables[base].columns.values()
                   if c.references and c.references.split(".")[0] == entity), None)
    if direct and base != entity:
        return exp.column(direct, table=base), []
    if base == entity:
        table = sem.catalog.tables[base]
        key = next((c.name for c in table.columns.values() if c.primary_key), None)
        if key is None:
            raise PlanCompileError(f"table {entity!r} has no key to count by")
        return exp.column(key, table=base), []
    path = sem.join_path(base, entity)
    if not path:
        raise PlanCompileError(f"{base!r} rows do not belong to one {entity!r} row")
    joins = [(step.right_table, exp.EQ(this=exp.column(step.left_column, table=step.left_table),
                                       expression=exp.column(step.right_column, table=step.right_table)))
             for step in path[:-1]]
    return exp.column(path[-1].left_column, table=path[-1].left_table), joins


def _nested(plan: SemanticPlan, sem: TeamSemantics) -> CompiledPlan:
    """Aggregate the first metric per entity, filter entities by it, then aggregate over the entities."""
    step = plan.nested
    assert step is not None
    metric = plan.metrics[0]
    if step.entity in ("day", "week", "month"):  # "average approvals per day": the daily series, then its average
        inner_compiled = compile_plan(_inner(plan, metrics=[metric], grain=step.entity, compare_previous=False,
                                             share=False), sem)
        inner = _select(inner_compiled.sql)
    else:
        visible = step.entity in sem.catalog.tables
        inner_compiled = compile_plan(_inner(plan, metrics=[metric], grain=None, compare_previous=False, share=False),
                                      sem, reach=step.entity if visible else None)
        inner = _select(inner_compiled.sql)
        key, joins = _entity_key(inner_compiled.base_table, step.entity, sem)
        present = {j.this.name for j in inner.args.get("joins") or []}
        for table, on in joins:
            if table not in present:
                inner = inner.join(exp.to_table(table), on=on, join_type="inner")
        inner = inner.select(exp.alias_(key, "entity_key"), append=True)
        position = exp.Literal.number(len(inner.expressions))
        group = inner.args.get("group")
        inner = inner.group_by(position, append=True) if group else inner.group_by(position)
    inner.set("order", None)
    inner.set("limit", None)
    keys = list(plan.dimensions)
    measure = exp.column(metric)
    outer_value: exp.Expression
    passing: exp.Expression | None = None
    if step.op and step.value is not None:
        cls = {"=": exp.EQ, ">": exp.GT, ">=": exp.GTE, "<": exp.LT, "<=": exp.LTE}[step.op]
        passing = cls(this=exp.Coalesce(this=measure, expressions=[exp.Literal.number(0)]),
                      expression=exp.Literal.number(step.value))
    if step.aggregate == "count" and plan.share and passing is not None:  # the passing entities' share
        outer_value = exp.Avg(this=exp.Case(ifs=[exp.If(this=passing, true=exp.Literal.number(1.0))],
                                            default=exp.Literal.number(0)))
        name = f"share_of_{step.entity}"
        passing = None
    elif step.aggregate == "count":
        outer_value = exp.Count(this=exp.Star())
        name = f"{step.entity}_count"
    else:
        func = {"avg": exp.Avg, "max": exp.Max, "min": exp.Min, "median": exp.Median}[step.aggregate]
        outer_value = func(this=measure)
        name = f"{step.aggregate}_{metric}_per_{step.entity.rstrip('s')}"
    query = exp.select(*(exp.column(k) for k in keys), exp.alias_(outer_value, name))
    query = query.from_(inner.subquery("per_entity"))
    if passing is not None:
        query = query.where(passing)
    if keys:
        query = query.group_by(*(exp.column(k) for k in keys))
    query = _finish(query, plan, keys, name)
    label = sem.metrics[metric].label.lower()
    entity = step.entity.rstrip("s").replace("_", " ")
    cond = f" with {label} {step.op} {step.value:g}" if step.op and step.value is not None else ""
    word = {"avg": "average", "max": "maximum", "min": "minimum"}.get(step.aggregate, step.aggregate)
    what = (f"share of {step.entity.replace('_', ' ')}{cond}" if name.startswith("share_of_")
            else f"number of {step.entity.replace('_', ' ')}{cond}" if step.aggregate == "count"
            else f"{word} {label} per {entity}{cond}")
    text = inner_compiled.explanation.split(";")[0].replace(sem.metrics[metric].label, what, 1)
    if step.entity in ("day", "week", "month"):  # the series' own grain is not a breakdown of the average
        text = text.replace(f" by {step.entity}, ", " by ").replace(f" by {step.entity}", "")
    return CompiledPlan(query.sql(dialect=DIALECT, pretty=True), inner_compiled.base_table,
                        inner_compiled.time_column, f"{text}; computed from {inner_compiled.base_table}.")


def _through_bridge(plan: SemanticPlan, sem: TeamSemantics) -> CompiledPlan:
    """"How many lenders does each partner have": lenders do not belong to one partner, but a bridge table
    (``partner_lenders``) has one row per pair, so counting its rows per partner counts the lenders. Re-raises the
    original error when the plan is not a row count or no bridge table compiles."""
    metric = plan.metrics[0] if len(plan.metrics) == 1 else ""
    counted = metric.removeprefix("rows__") if metric.startswith("rows__") else None
    for name, table in sem.catalog.tables.items() if counted else ():
        if name == counted or f"rows__{name}" not in sem.metrics:
            continue
        if not any(c.references and c.references.split(".")[0] == counted for c in table.columns.values()):
            continue
        try:
            compiled = compile_plan(plan.model_copy(update={"change": None, "metrics": [f"rows__{name}"]}), sem)
        except PlanCompileError:
            continue
        return CompiledPlan(compiled.sql, compiled.base_table, compiled.time_column,
                            compiled.explanation.replace("; computed from",
                                                         f" (each row pairs one of the {counted}); computed from"))
    return compile_plan(plan.model_copy(update={"change": None}), sem)
