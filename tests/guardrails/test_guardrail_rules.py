"""Each rule on its own, on a hand-made scope (the rules need no catalog), table-driven."""

from __future__ import annotations

import pytest
import sqlglot

from guardrails import errors, make_scope, validate
from guardrails.allowed_functions import allowed_functions
from guardrails.allowed_tables import allowed_tables
from guardrails.cost_limit import cost_limit
from guardrails.limit_rows import limit_rows
from guardrails.pipeline import RULES
from guardrails.qualify_and_check_columns import qualify_and_check_columns
from guardrails.select_only import select_only
from guardrails.single_statement import single_statement

SCOPE = make_scope(
    "toy",
    {"orders": {"id": "INT", "customer": "VARCHAR", "amount": "DOUBLE", "tags": "VARCHAR[]",
                "meta": "STRUCT(channel VARCHAR, score DOUBLE)"},
     "customers": {"customer": "VARCHAR", "region": "VARCHAR", "email": "VARCHAR"}},
    pii_columns=[("customers", "email")],
    pii_policy="masked",
    hidden_pii_columns=[("orders", "card_number")],
)


def parse(sql: str) -> sqlglot.exp.Expr:
    return sqlglot.parse_one(sql, read="duckdb")


@pytest.mark.parametrize(
    ("sql", "error"),
    [("", errors.ParseError), ("   ", errors.ParseError), ("SELECT 1; SELECT 2", errors.MultipleStatementsError),
     ("SELECT (1", errors.ParseError), ("LOAD httpfs", errors.ParseError), ("SELECT 'x", errors.ParseError),
     (";", errors.MultipleStatementsError)],
)
def test_single_statement_refuses(sql: str, error: type[errors.GuardrailError]) -> None:
    with pytest.raises(error):
        single_statement(sql)


def test_single_statement_reports_position() -> None:
    with pytest.raises(errors.MultipleStatementsError) as info:
        single_statement("SELECT 1;\nDROP TABLE orders")
    assert info.value.line == 2
    assert info.value.to_dict()["object"] == "DROP"


@pytest.mark.parametrize(
    "sql",
    ["DELETE FROM orders", "WITH x AS (DELETE FROM orders RETURNING *) SELECT * FROM x", "SELECT * INTO t FROM orders",
     "CREATE TABLE t AS SELECT 1", "SET threads = 1", "PRAGMA version", "ATTACH 'x' AS y", "COPY orders TO 'x'"],
)
def test_select_only_refuses(sql: str) -> None:
    with pytest.raises(errors.ForbiddenStatementError):
        select_only(parse(sql))


@pytest.mark.parametrize(
    ("sql", "error", "obj"),
    [("SELECT * FROM secrets", errors.UnknownTableError, "secrets"),
     ("SELECT * FROM main.orders", errors.UnknownTableError, "main.orders"),
     ("SELECT * FROM read_csv('x')", errors.TableFunctionError, "read_csv"),
     ("SELECT * FROM range(10)", errors.TableFunctionError, "generate_series"),
     ("WITH orders AS (SELECT 1 AS a) SELECT * FROM (SELECT * FROM orders) t, secrets", errors.UnknownTableError,
      "secrets")],
)
def test_allowed_tables_refuses(sql: str, error: type[errors.GuardrailError], obj: str) -> None:
    with pytest.raises(error) as info:
        allowed_tables(parse(sql), SCOPE)
    assert info.value.obj == obj


@pytest.mark.parametrize(
    ("sql", "error", "obj"),
    [("SELECT nope FROM orders", errors.UnknownColumnError, "nope"),
     ("SELECT o.nope FROM orders o", errors.UnknownColumnError, "orders.nope"),
     ("SELECT card_number FROM orders", errors.PiiAccessError, "card_number"),
     ("SELECT orders FROM orders", errors.UnknownColumnError, "orders")],
)
def test_columns_refused(sql: str, error: type[errors.GuardrailError], obj: str) -> None:
    with pytest.raises(error) as info:
        qualify_and_check_columns(parse(sql), SCOPE)
    assert info.value.obj == obj


def test_columns_are_qualified_and_star_expanded() -> None:
    out = qualify_and_check_columns(parse("SELECT o.meta.channel, * FROM orders o"), SCOPE).sql(dialect="duckdb")
    assert "o.meta.channel AS channel" in out
    assert "o.tags AS tags" in out


@pytest.mark.parametrize(
    ("sql", "allowed"),
    [("SELECT date_trunc('week', now()) AS w", False), ("SELECT date_trunc('week', DATE '2024-01-01') AS w", True),
     ("SELECT quantile_cont(amount, 0.5) AS m FROM orders", True),
     ("SELECT list_contains(tags, 'a') FROM orders", True),
     ("SELECT getenv('HOME')", False), ("SELECT current_setting('threads')", False),
     ("SELECT read_text('/etc/hosts')", False), ("SELECT strftime(DATE '2024-01-01', '%Y') AS y", True),
     ("SELECT coalesce(amount, 0) AS a FROM orders", True), ("SELECT md5('x') AS h", False)],
)
def test_allowed_functions(sql: str, allowed: bool) -> None:
    if allowed:
        allowed_functions(parse(sql))
    else:
        with pytest.raises(errors.ForbiddenFunctionError):
            allowed_functions(parse(sql))


@pytest.mark.parametrize(
    ("sql", "expected"),
    [("SELECT 1 AS a", 10_000), ("SELECT 1 AS a LIMIT 5", 5), ("SELECT 1 AS a LIMIT 50000", 10_000),
     ("SELECT 1 AS a UNION ALL SELECT 2 LIMIT 20000", 10_000)],
)
def test_limit_rows(sql: str, expected: int) -> None:
    assert int(limit_rows(parse(sql), max_rows=10_000).args["limit"].expression.this) == expected


@pytest.mark.parametrize(
    "sql", ["SELECT 1 AS a LIMIT -1", "SELECT 1 AS a LIMIT 1 + 1", "SELECT 1 AS a LIMIT 5 OFFSET -1"]
)
def test_limit_rows_refuses(sql: str) -> None:
    with pytest.raises(errors.GuardrailError):
        limit_rows(parse(sql))


@pytest.mark.parametrize(
    ("sql", "ok"),
    [("SELECT * FROM orders o JOIN customers c ON c.customer = o.customer", True),
     ("SELECT * FROM orders o JOIN customers c USING (customer)", True),
     ("SELECT * FROM orders o, customers c WHERE c.customer = o.customer", True),
     ("SELECT t FROM orders o, unnest(o.tags) AS x(t)", True),
     ("SELECT * FROM orders o CROSS JOIN customers c", False),
     ("SELECT * FROM orders o, customers c", False),
     ("SELECT * FROM orders o JOIN customers c ON true", False),
     ("SELECT * FROM orders o JOIN customers c ON o.amount > 0", False)],
)
def test_cost_limit_joins(sql: str, ok: bool) -> None:
    expression = qualify_and_check_columns(parse(sql), SCOPE)
    if ok:
        cost_limit(expression, SCOPE)
    else:
        with pytest.raises(errors.CartesianJoinError):
            cost_limit(expression, SCOPE)


def test_pipeline_is_a_plain_tuple_of_rules() -> None:
    assert isinstance(RULES, tuple)
    assert [r.__name__ for r in RULES] == [
        "select_only", "allowed_tables", "qualify_and_check_columns", "allowed_functions", "cost_limit", "limit_rows"
    ]


def test_validate_reports_what_the_query_uses() -> None:
    v = validate("SELECT c.region, sum(o.amount) AS total FROM orders o JOIN customers c USING (customer) "
                 "GROUP BY 1", SCOPE)
    assert v.tables == {"orders", "customers"}
    assert ("orders", "amount") in v.columns and ("customers", "region") in v.columns
    assert v.output_columns == ("region", "total")
    assert v.row_limit == 10_000


def test_error_to_dict_is_json_ready() -> None:
    import json

    with pytest.raises(errors.UnknownTableError) as info:
        validate("SELECT *\nFROM secrets", SCOPE)
    data = json.loads(json.dumps(info.value.to_dict()))
    assert data == {
        "error": "unknown_table", "rule": "allowed_tables", "message": data["message"], "object": "secrets",
        "line": 2, "col": 12, "hint": data["hint"],
    }
    assert "secrets" in data["message"] and "line 2" in data["message"] and "orders" in data["hint"]
