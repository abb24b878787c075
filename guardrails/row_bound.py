"""A provable upper bound on the rows a query can hold at any step, from table sizes and declared keys.

Why. The cost rule compares DuckDB's EXPLAIN estimate with the team's limit, and that estimate is a guess: for
``COUNT(DISTINCT x)`` next to other aggregates DuckDB splits the aggregate in two and joins the halves on the group
keys (``#0 IS NOT DISTINCT FROM #0``), and estimates that join like a many-to-many join. On the full world the
conversion query ``applications LEFT JOIN decisions LEFT JOIN loans ... GROUP BY partner_id`` was estimated at
3.5e11 rows; its joins really produce 8,656,266 rows (8 groups after the aggregate; it runs in about 14 s) and the
bound below is 11,610,707. Base-table sizes and primary keys give a bound that no plan of the query can exceed:
joining to a source on its whole key cannot multiply rows. The cost rule uses ``min(EXPLAIN estimate, bound)``: the
bound only ever corrects an estimate downwards where it can be proven, and every join not on a key keeps the product
of its sides, so cross-product attacks still cost what DuckDB says they cost (joins linked by no equality are costed
as their full cross product, see :class:`RowBound`).

How. Over sqlglot's scopes of the validated (qualified) tree, every relation gets ``rows`` (upper bound of its
output), ``peak`` (largest intermediate while producing it) and ``keys`` (column sets known to be unique in it):

* a base table: its row count and its PRIMARY KEY / UNIQUE constraints, both read from the connection (DuckDB
  enforces them, so they are facts, not declarations); a name that is a view, exists in several schemas, or is
  unknown gets no bound (infinite);
* a join: ``a * b`` in general; when the ON/USING (or, for inner joins, WHERE) equalities cover a whole key of the
  joined source, ``a`` (plus ``b`` for RIGHT/FULL); when they cover a whole key of the rows joined so far, ``b``
  (plus ``a`` for LEFT/FULL); SEMI/ANTI joins keep ``a``;
* GROUP BY keeps at most its input rows and makes the group columns a key (ROLLUP, CUBE and GROUPING SETS: one row
  per input row and grouping set, no key); an aggregate without GROUP BY is one row;
  DISTINCT makes all output columns a key; LIMIT n caps the output; UNION adds its branches;
* a derived table or CTE is bounded recursively; an uncorrelated subquery adds its own peak; anything this module
  cannot reason about (correlated subqueries, UNNEST and table functions, recursive CTEs) is unbounded, so the
  EXPLAIN estimate stands.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.scope import Scope as SqlScope
from sqlglot.optimizer.scope import build_scope

INF = math.inf
_MAX_KEYS = 16
"""Composite keys multiply through non-key joins; a handful is plenty to recognise later key joins."""

Key = frozenset[str]


@dataclass(frozen=True)
class TableStats:
    """Row count and unique column sets of one base table."""

    rows: int
    keys: tuple[Key, ...] = ()


@dataclass(frozen=True)
class _Rel:
    rows: float
    peak: float
    keys: frozenset[Key] = field(default_factory=frozenset)


_UNBOUNDED = _Rel(INF, INF)


def table_stats(connection: Any) -> dict[str, TableStats]:
    """Sizes and PRIMARY KEY / UNIQUE constraints of the base tables visible on ``connection``, by lower-case name.

    A name that is also a view (e.g. a team view created in the sandbox setup), or that exists in more than one
    database or schema, is left out: an unqualified reference could resolve to either, so it gets no bound.
    """
    seen: dict[str, list[int]] = {}
    for name, size in connection.execute("SELECT table_name, estimated_size FROM duckdb_tables()").fetchall():
        seen.setdefault(name.lower(), []).append(int(size or 0))
    for (name,) in connection.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall():
        seen.setdefault(name.lower(), []).extend([-1, -1])  # shadowed: ambiguous
    keys: dict[str, list[Key]] = {}
    for name, columns in connection.execute(
        "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
        "WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
    ).fetchall():
        keys.setdefault(name.lower(), []).append(frozenset(c.lower() for c in columns))
    return {
        name: TableStats(sizes[0], tuple(keys.get(name, ())))
        for name, sizes in seen.items()
        if len(sizes) == 1 and sizes[0] >= 0
    }


@dataclass(frozen=True)
class RowBound:
    """What :func:`row_bound` proves about a query."""

    peak: float
    """Upper bound of the largest intermediate result (INF when it cannot be bounded)."""
    unequal_join: float = 0.0
    """Product of the sides of the largest join linked by no equality at all (``a.x < b.y``, ``a.x <> b.y``): such a
    join is a filtered cross product, whose output DuckDB's planner can underestimate by orders of magnitude."""


def row_bound(expression: exp.Expr, stats: dict[str, TableStats]) -> RowBound:
    """Bounds of the intermediate results of ``expression`` (a validated, qualified query)."""
    if any(w.args.get("recursive") for w in expression.find_all(exp.With)):
        return RowBound(INF)
    try:
        root = build_scope(expression)
    except Exception:  # sqlglot's OptimizeError and friends: no proof, no bound
        return RowBound(INF)
    if root is None:
        return RowBound(INF)
    bounder = _Bounder(stats)
    peak = bounder.scope(root).peak
    return RowBound(peak, bounder.unequal_join)


def _conjuncts(condition: exp.Expr | None) -> list[exp.Expr]:
    return list(condition.flatten()) if isinstance(condition, exp.And) else ([condition] if condition else [])


def _column_id(column: exp.Column) -> str:
    return f"{column.table.lower()}.{column.name.lower()}"


def _literal_int(node: exp.Expr | None) -> int | None:
    value = node.args.get("expression") if isinstance(node, exp.Limit) else None
    if isinstance(value, exp.Literal) and value.is_int:
        return int(value.this)
    return None


class _Bounder:
    def __init__(self, stats: dict[str, TableStats]) -> None:
        self.stats = stats
        self.memo: dict[int, _Rel] = {}
        self.unequal_join = 0.0

    def scope(self, scope: SqlScope) -> _Rel:
        if id(scope) not in self.memo:
            self.memo[id(scope)] = _UNBOUNDED  # a cycle (recursion) stays unbounded
            self.memo[id(scope)] = self._scope(scope)
        return self.memo[id(scope)]

    def _scope(self, scope: SqlScope) -> _Rel:
        node = scope.expression
        if isinstance(node, exp.SetOperation):
            parts = [self.scope(s) for s in scope.set_operation_scopes]
            rows = sum(p.rows for p in parts)  # UNION ALL; UNION, INTERSECT and EXCEPT return no more
            limit = _literal_int(node.args.get("limit"))
            rows = min(rows, limit) if limit is not None else rows
            return _Rel(rows, max([sum(p.rows for p in parts), *(p.peak for p in parts)]))
        if not isinstance(node, exp.Select):
            return _UNBOUNDED
        return self._select(scope, node)

    def _source(self, scope: SqlScope, node: exp.Expr) -> tuple[str, _Rel]:
        alias = node.alias_or_name.lower()
        source = scope.sources.get(node.alias_or_name, scope.sources.get(alias))
        if isinstance(source, SqlScope) and isinstance(node, exp.Table | exp.Subquery):
            inner = self.scope(source)
            keys = frozenset(frozenset(f"{alias}.{c}" for c in k) for k in inner.keys)
            return alias, _Rel(inner.rows, inner.peak, keys)
        if node.args.get("pivots"):
            return alias, _UNBOUNDED  # UNPIVOT multiplies rows by the unpivoted columns
        plain = isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier)
        if not (plain and isinstance(source, exp.Table)):
            return alias, _UNBOUNDED  # UNNEST, table functions, VALUES, LATERAL: no bound
        stats = self.stats.get(node.name.lower())
        if stats is None:
            return alias, _UNBOUNDED
        keys = frozenset(frozenset(f"{alias}.{c}" for c in k) for k in stats.keys)
        return alias, _Rel(stats.rows, stats.rows, keys)

    def _select(self, scope: SqlScope, select: exp.Select) -> _Rel:
        from_ = select.args.get("from_") or select.args.get("from")
        if from_ is None:
            cur, seen = _Rel(1, 1, frozenset({frozenset()})), set()
        else:
            first, cur = self._source(scope, from_.this)
            seen = {first}
        where = _conjuncts(select.args["where"].this) if select.args.get("where") else []
        peak = cur.peak
        for join in select.args.get("joins") or []:
            alias, new = self._source(scope, join.this)
            side, kind = (join.side or "").upper(), (join.kind or "").upper()
            on = _conjuncts(join.args.get("on"))
            equalities = on + (where if side == "" and kind in ("", "INNER", "CROSS") else [])
            new_cols, cur_cols = _links(alias, seen, equalities)
            expansion = isinstance(join.this, exp.Unnest | exp.Lateral) or isinstance(join.this.this, exp.Unnest)
            if not new_cols and kind not in ("SEMI", "ANTI") and not expansion:
                self.unequal_join = max(self.unequal_join, cur.rows * new.rows)
            cur = _join(cur, new, new_cols, cur_cols, side, kind)
            seen.add(alias)
            peak = max(peak, new.peak, cur.rows)
        for sub in scope.subquery_scopes:
            if sub.is_correlated_subquery:
                return _UNBOUNDED  # decorrelated into a join with the outer rows: not bounded here
            peak = max(peak, self.scope(sub).peak)
        rows, keys = cur.rows, _output_keys(select, cur.keys)
        group = select.args.get("group")
        if group is None and any(not agg.find_ancestor(exp.Window) for agg in _aggregates(select)):
            rows, keys = 1, frozenset({frozenset()})
        sets = _grouping_sets(group)
        if sets > 1:  # every grouping set emits up to one row per input row; the group columns are no key
            rows, keys = rows * sets, frozenset()
            peak = max(peak, rows)
        limit = _literal_int(select.args.get("limit"))
        if limit is not None:
            rows = min(rows, limit)
        return _Rel(rows, max(peak, rows), keys)


def _grouping_sets(group: exp.Expr | None) -> int:
    """How many grouping sets a GROUP BY has (ROLLUP of k: k + 1, CUBE of k: 2^k, GROUPING SETS: one per set)."""
    sets = 1
    for element in group.expressions if group is not None else []:
        if isinstance(element, exp.Rollup):
            sets *= len(element.expressions) + 1
        elif isinstance(element, exp.Cube):
            sets *= 2 ** len(element.expressions)
        elif isinstance(element, exp.GroupingSets):
            sets *= max(len(element.expressions), 1)
    return sets


def _aggregates(select: exp.Select, projection: exp.Expr | None = None) -> Iterable[exp.AggFunc]:
    """Aggregate calls of this SELECT's projections (not of subqueries nested in them)."""
    for p in [projection] if projection is not None else select.expressions:
        yield from (agg for agg in p.find_all(exp.AggFunc) if agg.find_ancestor(exp.Select) is select)


def _links(alias: str, seen: set[str], equalities: list[exp.Expr]) -> tuple[set[str], set[str]]:
    """Columns of ``alias`` and of the sources in ``seen`` that equalities (``x = y`` between columns) link."""
    new_cols: set[str] = set()
    cur_cols: set[str] = set()
    for eq in equalities:
        if not isinstance(eq, exp.EQ) or not all(isinstance(s, exp.Column) for s in (eq.this, eq.expression)):
            continue
        left, right = eq.this, eq.expression
        for mine, other in ((left, right), (right, left)):
            if mine.table.lower() == alias and other.table.lower() in seen:
                new_cols.add(_column_id(mine))
                cur_cols.add(_column_id(other))
    return new_cols, cur_cols


def _join(cur: _Rel, new: _Rel, new_cols: set[str], cur_cols: set[str], side: str, kind: str) -> _Rel:
    """Bound of ``cur JOIN new`` given the columns of each side that equalities link to the other."""
    a, b = cur.rows, new.rows
    if kind in ("SEMI", "ANTI"):
        return _Rel(a, max(a, new.peak), cur.keys)
    candidates = [(a * b if a and b else 0.0, frozenset(k1 | k2 for k1 in cur.keys for k2 in new.keys))]
    if any(k <= new_cols for k in new.keys):  # each row so far meets at most one row of `new`
        candidates.append((a + (b if side in ("RIGHT", "FULL") else 0), cur.keys))
    if any(k <= cur_cols for k in cur.keys):  # each row of `new` meets at most one row so far
        candidates.append((b + (a if side in ("LEFT", "FULL") else 0), new.keys))
    rows = min(r for r, _ in candidates)
    keys = frozenset().union(*(k for _, k in candidates))  # every candidate's condition holds: all its keys do
    return _Rel(rows, max(rows, new.peak), frozenset(sorted(keys, key=sorted)[:_MAX_KEYS]))


def _output_keys(select: exp.Select, keys: frozenset[Key]) -> frozenset[Key]:
    """Keys of the SELECT's output, by output name: GROUP BY columns, DISTINCT, or source keys passed through."""
    names: dict[str, str] = {}
    for projection in select.expressions:
        inner = projection.unalias()
        names.setdefault(inner.sql(), projection.alias_or_name.lower())
    out: set[Key] = set()
    group = select.args.get("group")
    if group is not None:
        if group.args.get("all"):
            columns = [p for p in select.expressions if not any(_aggregates(select, p))]
            out.add(frozenset(p.alias_or_name.lower() for p in columns))
        elif group.expressions and all(g.sql() in names for g in group.expressions):
            out.add(frozenset(names[g.sql()] for g in group.expressions))
    else:
        by_column = {_column_id(p.unalias()): p.alias_or_name.lower() for p in select.expressions
                     if isinstance(p.unalias(), exp.Column)}
        out.update(frozenset(by_column[c] for c in k) for k in keys if all(c in by_column for c in k))
    if select.args.get("distinct") and not select.args["distinct"].args.get("on"):
        out.add(frozenset(p.alias_or_name.lower() for p in select.expressions))
    return frozenset(out)
