"""The comparator's rules, table-driven: order, floats, column order and names, NULLs, extra and missing columns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from evals.compare import MAX_EXTRA_COLUMNS, compare_results

G2 = (["name", "rate"], [("Paisabazaar", 0.4523118), ("CashKaro", 0.31)])

CASES = [
    # (id, gold, pred, ordered, expected match, expected reason)
    ("identical", G2, G2, False, True, "ok"),
    ("rows reordered, unordered question", G2, (["n", "r"], [("CashKaro", 0.31), ("Paisabazaar", 0.4523118)]),
     False, True, "ok"),
    ("rows reordered, ordered question", G2, (["n", "r"], [("CashKaro", 0.31), ("Paisabazaar", 0.4523118)]),
     True, False, "order"),
    ("columns swapped and renamed", G2, (["approval_rate", "partner"], [(0.4523118, "Paisabazaar"),
                                                                         (0.31, "CashKaro")]), False, True, "ok"),
    ("float within relative tolerance", G2, (["a", "b"], [("Paisabazaar", 0.4523118 * (1 + 5e-7)),
                                                          ("CashKaro", 0.31)]), False, True, "ok"),
    ("float outside tolerance", G2, (["a", "b"], [("Paisabazaar", 0.4524), ("CashKaro", 0.31)]), False, False,
     "values"),
    ("rounded to 4 decimals", G2, (["a", "b"], [("Paisabazaar", 0.4523), ("CashKaro", 0.31)]), False, True, "ok"),
    ("rounded to 2 decimals loses too much", G2, (["a", "b"], [("Paisabazaar", 0.45), ("CashKaro", 0.31)]), False,
     False, "values"),
    ("percent is not a ratio", G2, (["a", "b"], [("Paisabazaar", 45.23118), ("CashKaro", 31.0)]), False, False,
     "values"),
    ("int equals float equals decimal", (["c"], [(3,)]), (["c"], [(Decimal("3.0"),)]), False, True, "ok"),
    ("bool is not a number", (["c"], [(1,)]), (["c"], [(True,)]), False, False, "values"),
    ("NULL equals NULL", (["a", "b"], [("x", None)]), (["a", "b"], [("x", None)]), False, True, "ok"),
    ("NaN equals NULL", (["a"], [(None,)]), (["a"], [(float("nan"),)]), False, True, "ok"),
    ("NULL is not zero", (["a"], [(None,)]), (["a"], [(0,)]), False, False, "values"),
    ("midnight timestamp equals date", (["d", "n"], [(dt.date(2025, 3, 1), 5)]),
     (["day", "n"], [(dt.datetime(2025, 3, 1), 5)]), False, True, "ok"),
    ("timestamp with a time is not a date", (["d"], [(dt.date(2025, 3, 1),)]), (["d"], [(dt.datetime(2025, 3, 1, 9),)]),
     False, False, "values"),
    ("one extra id column is fine", G2, (["id", "name", "rate"], [("P01", "Paisabazaar", 0.4523118),
                                                                   ("P02", "CashKaro", 0.31)]), False, True, "ok"),
    ("too many extra columns", (["c"], [(1,)]), ([f"c{i}" for i in range(MAX_EXTRA_COLUMNS + 2)],
                                               [tuple(range(1, MAX_EXTRA_COLUMNS + 3))]), False, False,
     "too_many_columns"),
    ("missing a column", G2, (["name"], [("Paisabazaar",), ("CashKaro",)]), False, False, "too_few_columns"),
    ("extra row", G2, (["a", "b"], [*G2[1], ("Kreditbee", 0.2)]), False, False, "row_count"),
    ("values present but paired wrongly", G2, (["a", "b"], [("Paisabazaar", 0.31), ("CashKaro", 0.4523118)]), False,
     False, "values"),
    ("duplicate rows are a multiset", (["a"], [(1,), (1,), (2,)]), (["a"], [(1,), (2,), (2,)]), False, False,
     "values"),
    ("both empty", (["a"], []), (["x", "y"], []), False, True, "ok"),
    ("scalar vs grouped", (["avg"], [(0.3,)]), (["p", "avg"], [("a", 0.3), ("b", 0.3)]), False, False, "row_count"),
    ("identical columns map injectively", (["a", "b"], [(1, 1), (2, 2)]), (["x", "y"], [(1, 1), (2, 2)]), False,
     True, "ok"),
    ("lists compare elementwise", (["r"], [(["R1", "R2"],)]), (["r"], [(("R1", "R2"),)]), False, True, "ok"),
]


@pytest.mark.parametrize(("gold", "pred", "ordered", "match", "reason"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_compare(gold, pred, ordered: bool, match: bool, reason: str) -> None:
    result = compare_results(gold[0], gold[1], pred[0], pred[1], ordered=ordered)
    assert (result.match, result.reason) == (match, reason), result.detail


def test_mapping_reports_which_predicted_column_answers_each_gold_column() -> None:
    result = compare_results(["name", "rate"], [("a", 0.5)], ["rate", "id", "name"], [(0.5, "x", "a")])
    assert result.match and result.mapping == (2, 0)


def test_sorting_near_ties_falls_back_to_matching() -> None:
    """Values equal within tolerance but on either side of a rounding boundary still pair up."""
    gold = [(0.1234549999,), (0.1234550001,)]
    pred = [(0.1234550001 * (1 + 1e-7),), (0.1234549999,)]
    assert compare_results(["x"], gold, ["y"], pred).match
