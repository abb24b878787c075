"""The provable row bound of the cost check: exact bounds on hand-made table sizes and keys, the constraints read from
a real replica, and on the small world: every legitimate query within a limit scaled to the world, every expensive
attack over it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlglot

from guardrails import make_scope, validate
from guardrails.cost_limit import CostEstimate, estimate_cost
from guardrails.errors import CostLimitError
from guardrails.executor import SafeExecutor, connect_sandbox
from guardrails.row_bound import TableStats, row_bound, table_stats
from guardrails.scope import Scope
from guardrails.settings import GuardrailSettings, get_settings
from tests.guardrails.corpus.cost_attacks import COST_ATTACKS
from tests.guardrails.legit_queries import LEGIT

STATS = {
    "apps": TableStats(1_000, (frozenset({"app_id"}),)),
    "decs": TableStats(4_000, (frozenset({"dec_id"}),)),
    "loans": TableStats(300, (frozenset({"loan_id"}),)),
    "partners": TableStats(8, (frozenset({"partner_id"}),)),
    "daily": TableStats(50),  # no key
}
SCOPE = make_scope("t", {
    "apps": ["app_id", "partner_id", "amount"],
    "decs": ["dec_id", "app_id", "partner_id", "lender_id", "score"],
    "loans": ["loan_id", "dec_id", "principal"],
    "partners": ["partner_id", "name"],
    "daily": ["partner_id", "day", "n"],
    "shadow": ["partner_id"],  # in the scope, not in STATS: a view or unknown name
})


def _bound(sql: str) -> tuple[float, float]:
    result = row_bound(validate(sql, SCOPE).expression, STATS)
    return result.peak, result.unequal_join


@pytest.mark.parametrize(("sql", "peak"), [
    ("SELECT count(*) AS n FROM decs", 4_000),
    # joining to a whole key cannot multiply rows; a left join keeps unmatched rows on top
    ("SELECT d.score FROM decs d JOIN apps a ON a.app_id = d.app_id", 4_000),
    ("SELECT a.amount FROM apps a JOIN decs d ON d.app_id = a.app_id", 4_000),
    ("SELECT a.amount FROM apps a LEFT JOIN decs d ON d.app_id = a.app_id", 5_000),
    ("SELECT a.partner_id, count(l.loan_id) * 1.0 / count(DISTINCT a.app_id) AS c FROM apps a "
     "LEFT JOIN decs d ON d.app_id = a.app_id LEFT JOIN loans l ON l.dec_id = d.dec_id GROUP BY a.partner_id", 5_300),
    ("SELECT d.score FROM decs d, apps a WHERE a.app_id = d.app_id", 4_000),
    ("SELECT d.score FROM decs d JOIN apps a USING (app_id)", 4_000),
    ("SELECT d.score FROM decs d JOIN apps a ON a.app_id = d.app_id AND a.amount > 5", 4_000),
    ("SELECT d.score FROM decs d RIGHT JOIN apps a ON a.app_id = d.app_id", 5_000),
    # not on a key: the product of the sides
    ("SELECT count(*) AS n FROM decs a JOIN decs b ON a.partner_id = b.partner_id", 16_000_000),
    ("SELECT count(*) AS n FROM decs d JOIN daily x ON x.partner_id = d.partner_id", 200_000),
    ("SELECT count(*) AS n FROM decs d JOIN apps a ON a.app_id = d.app_id OR a.amount = d.score", 4_000_000),
    # a key join to a small table does not make the next non-key join cheap
    ("SELECT count(*) AS n FROM decs d JOIN partners p ON p.partner_id = d.partner_id "
     "JOIN apps a ON a.partner_id = p.partner_id", 4_000_000),
    # GROUP BY makes its columns a key; one column of a composite group is not
    ("SELECT count(*) AS n FROM decs d JOIN (SELECT partner_id, count(*) AS k FROM apps GROUP BY partner_id) g "
     "ON g.partner_id = d.partner_id", 4_000),
    ("SELECT count(*) AS n FROM decs d JOIN (SELECT partner_id, app_id FROM apps GROUP BY partner_id, app_id) g "
     "ON g.partner_id = d.partner_id", 4_000_000),
    ("WITH g AS (SELECT DISTINCT partner_id FROM apps) SELECT count(*) AS n FROM decs d "
     "JOIN g ON g.partner_id = d.partner_id", 4_000),
    # an aggregate without GROUP BY is one row; one in a nested subquery is not this query's aggregate
    ("SELECT d.score FROM decs d JOIN (SELECT max(amount) AS m FROM apps) x ON x.m = d.score", 4_000),
    ("SELECT a.amount, (SELECT max(score) FROM decs) AS m FROM apps a", 4_000),
    # key passed through a derived table's plain columns
    ("SELECT count(*) AS n FROM decs d JOIN (SELECT app_id AS id, amount FROM apps) x ON x.id = d.app_id", 4_000),
    ("SELECT partner_id FROM decs UNION ALL SELECT partner_id FROM apps", 5_000),
    # grouping sets emit one row per input row and set at most
    ("SELECT partner_id, lender_id, count(*) AS n FROM decs GROUP BY GROUPING SETS ((partner_id, lender_id), "
     "(partner_id), ())", 12_000),
    ("SELECT partner_id, lender_id, count(*) AS n FROM decs GROUP BY ROLLUP (partner_id, lender_id)", 12_000),
    ("SELECT partner_id, lender_id, count(*) AS n FROM decs GROUP BY CUBE (partner_id, lender_id)", 16_000),
    ("SELECT count(*) AS n FROM decs d JOIN (SELECT partner_id FROM apps GROUP BY ROLLUP (partner_id)) g "
     "ON g.partner_id = d.partner_id", 8_000_000),
    ("SELECT count(*) AS n FROM decs d JOIN loans l ON l.dec_id = d.dec_id WHERE d.partner_id IN "
     "(SELECT partner_id FROM partners)", 4_000),
    # what cannot be bounded stays unbounded, so DuckDB's estimate stands
    ("SELECT count(*) AS n FROM decs d JOIN shadow s ON s.partner_id = d.partner_id", math.inf),
])
def test_row_bound(sql: str, peak: float) -> None:
    assert _bound(sql)[0] == peak


@pytest.mark.parametrize("sql", [
    # correlated subqueries (the validator refuses them today; the bound must not rely on that)
    "SELECT d.score FROM decs AS d WHERE d.score > (SELECT AVG(x.score) FROM decs AS x "
    "WHERE x.partner_id = d.partner_id)",
    "SELECT d.score FROM decs AS d WHERE EXISTS(SELECT 1 FROM loans AS l WHERE l.dec_id = d.dec_id)",
    "WITH RECURSIVE r AS (SELECT 1 AS i UNION ALL SELECT r.i + 1 FROM r AS r WHERE r.i < 10) SELECT r.i FROM r AS r",
    "SELECT d.score, t.c FROM decs AS d, UNNEST(d.codes) AS t(c)",
    "SELECT u.k, u.v FROM apps UNPIVOT (v FOR k IN (amount, partner_id)) AS u",
])
def test_what_cannot_be_proven_is_unbounded(sql: str) -> None:
    assert row_bound(sqlglot.parse_one(sql, dialect="duckdb"), STATS).peak == math.inf


@pytest.mark.parametrize(("sql", "unequal"), [
    ("SELECT count(*) AS n FROM decs d JOIN apps a ON a.amount > d.score", 4_000_000),
    ("SELECT count(*) AS n FROM decs d JOIN apps a ON a.app_id <> d.app_id", 4_000_000),
    ("SELECT count(*) AS n FROM decs d JOIN apps a ON a.app_id = d.app_id AND a.amount > d.score", 0),
    ("SELECT count(*) AS n FROM decs d", 0),
])
def test_joins_without_equality_are_costed_as_cross_products(sql: str, unequal: float) -> None:
    assert _bound(sql)[1] == unequal


@pytest.mark.parametrize(("planner", "bound", "unequal", "rows"), [
    (10**11, 5_300, 0, 5_300),  # the planner's guess is lowered to what is provable
    (1_000, 5_300, 0, 1_000),  # never raised to the bound
    (10**11, math.inf, 0, 10**11),  # no bound: the planner's guess stands
    (8_000, math.inf, 4_000_000, 4_000_000),  # a join without equality costs its cross product
    (8_000, 10**9, math.inf, 8_000),
])
def test_estimate_rows(planner: int, bound: float, unequal: float, rows: int) -> None:
    assert CostEstimate(planner, bound, unequal).rows == rows


def test_table_stats_read_keys_and_skip_views(tiny_replica: Path) -> None:
    con = connect_sandbox(tiny_replica, setup=["CREATE TEMP VIEW partners AS SELECT * FROM main.partners"])
    try:
        stats = table_stats(con)
    finally:
        con.close()
    assert stats["decisions"] == TableStats(25, (frozenset({"decision_id"}),))
    assert stats["applicants"].rows == 3 and stats["repayments"].keys == ()
    assert "partners" not in stats  # shadowed by a view: an unqualified name could mean either
    assert "partner_lender_daily" not in stats


@pytest.fixture(scope="module")
def world(guardrails_world: Path) -> Iterator[tuple[SafeExecutor, int]]:
    """Executor on the small world and a cost limit scaled to it: ten times its largest table."""
    executor = SafeExecutor(guardrails_world, GuardrailSettings())
    largest = max(s.rows for s in table_stats(executor.con).values())
    yield executor, 10 * largest
    executor.close()


def _scaled(scope: Scope, limit: int) -> Scope:
    return Scope(name=scope.name, tables=scope.tables, pii_columns=scope.pii_columns, pii_policy=scope.pii_policy,
                 cost_limit_rows=limit, hidden_pii_columns=scope.hidden_pii_columns)


def test_legit_queries_fit_a_limit_scaled_to_the_world(world: tuple[SafeExecutor, int],
                                                       scopes: dict[str, Scope]) -> None:
    executor, limit = world
    over = []
    for team, sql in LEGIT:
        estimate = executor.estimate(validate(sql, _scaled(scopes[team], limit)))
        if estimate.rows > limit:
            over.append((sql, estimate))
    assert over == []


@pytest.mark.parametrize(("team", "sql"), COST_ATTACKS, ids=[f"cost_attack{i}" for i in range(len(COST_ATTACKS))])
def test_expensive_attacks_are_refused(world: tuple[SafeExecutor, int], scopes: dict[str, Scope], team: str,
                                       sql: str) -> None:
    executor, limit = world
    scope = _scaled(scopes[team], limit)
    validated = validate(sql, scope)  # every structural rule passes: only the cost check stops it
    with pytest.raises(CostLimitError):
        executor.check_cost(validated)
    with pytest.raises(CostLimitError):
        validate(sql, scope, connection=executor.con)


CONVERSION = ("SELECT a.partner_id, count(l.loan_id) * 1.0 / count(DISTINCT a.application_id) AS conversion "
              "FROM applications a LEFT JOIN decisions d ON d.application_id = a.application_id "
              "LEFT JOIN loans l ON l.decision_id = d.decision_id GROUP BY a.partner_id")
"""The legitimate query the full world refused before the bound (planned at 3.5e11 rows; its joins produce
8,656,266 rows there, bound 11,610,707)."""


def test_the_bound_corrects_the_planner_and_can_be_switched_off(
    world: tuple[SafeExecutor, int], scopes: dict[str, Scope], guardrail_env: pytest.MonkeyPatch
) -> None:
    executor, _ = world
    estimate = estimate_cost(executor.con, validate(CONVERSION, scopes["growth"]).expression)
    sizes = {t: s.rows for t, s in table_stats(executor.con).items()}
    assert estimate.bound_rows == sizes["applications"] + sizes["decisions"] + sizes["loans"]
    # DuckDB plans COUNT(DISTINCT) next to COUNT as two aggregates joined on the group key, and guesses that join high
    assert estimate.planner_rows > estimate.bound_rows
    assert estimate.rows == estimate.bound_rows
    tight = _scaled(scopes["growth"], int(estimate.bound_rows))
    validate(CONVERSION, tight, connection=executor.con)  # within the limit by the bound
    guardrail_env.setenv("CREDIT_GUARDRAILS_COST_BOUND_BY_KEYS", "false")
    get_settings.cache_clear()
    with pytest.raises(CostLimitError):
        validate(CONVERSION, tight, connection=executor.con)  # the raw guess is over it
