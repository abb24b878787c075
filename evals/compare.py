"""Result-set comparison: is the copilot's result the gold result, whatever the column names and order?

Execution accuracy is only as honest as this comparison, so the rules are strict and written down (docs/evals.md):

* **Values.** Numbers compare with ``math.isclose(rel_tol=1e-6, abs_tol=1e-9)`` whatever their Python type (``1`` ==
  ``1.0`` == ``Decimal("1")``; booleans are not numbers). A number visibly rounded to 2..6 decimals matches the other
  side rounded the same way when at least four significant digits survive (``round(rate, 4)`` is a right answer,
  ``round(rate, 2)`` is not); a percent is *not* a ratio (45.2 != 0.452: the
  documented convention is ratios). NULL equals NULL (and NaN equals NaN), never anything else. A timestamp at
  midnight equals the same date. Strings compare exactly.
* **Columns.** Names and order are ignored. Each gold column is matched to a distinct predicted column holding the
  same multiset of values; the mapping is then checked row by row. The prediction may carry **at most
  ``MAX_EXTRA_COLUMNS`` extra columns** (an id next to a name, the numerator next to a rate), and only when the rows
  match exactly on the mapped columns -- extra columns can never hide extra or missing rows. Fewer columns than gold
  is wrong.
* **Rows.** Compared as multisets unless the question asks for an order (``ordered``), then in order. Row counts must
  be equal (no partial credit).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

REL_TOL = 1e-6
ABS_TOL = 1e-9
MAX_EXTRA_COLUMNS = 3
MIN_ROUNDED_DIGITS = 1_000
"""A rounded number must keep at least four significant digits to count (0.2512 for 0.25123, never 0.25)."""
MAX_MAPPINGS = 2_000
"""Candidate column mappings tried before giving up (only reached by results full of identical columns)."""

Mismatch = Literal["ok", "row_count", "too_few_columns", "too_many_columns", "values", "order"]


@dataclass(frozen=True)
class Comparison:
    """Outcome of comparing one predicted result with the gold result."""

    match: bool
    reason: Mismatch
    detail: str = ""
    mapping: tuple[int, ...] = ()
    """For a match: the predicted column index used for each gold column."""


def _is_number(v: object) -> bool:
    return isinstance(v, int | float | Decimal) and not isinstance(v, bool)


def _is_null(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _decimals(x: float) -> int | None:
    """Decimals a float was visibly rounded to (2..6), or None when it does not look rounded."""
    for d in range(2, 7):
        if abs(x - round(x, d)) <= 1e-12 * max(1.0, abs(x)):
            return d
    return None


def _numbers_equal(a: float, b: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    if math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL):
        return True
    for x, y in ((a, b), (b, a)):
        d = _decimals(y)
        if (d is not None and _decimals(x) is None and abs(y) * 10**d >= MIN_ROUNDED_DIGITS
                and abs(round(x, d) - y) <= 1e-12 * max(1.0, abs(y))):
            return True
    return False


def normalize(v: Any) -> Any:
    """A canonical form of one cell: Decimals to float, midnight timestamps to dates, sequences to tuples."""
    if _is_null(v):
        return None
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, dt.datetime) and v.tzinfo is None and v.time() == dt.time(0):
        return v.date()
    if isinstance(v, list | tuple):
        return tuple(normalize(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((str(k), normalize(x)) for k, x in v.items()))
    return v


def values_equal(a: Any, b: Any) -> bool:
    """Equality of two normalised cells under the rules above."""
    if a is None or b is None:
        return a is None and b is None
    if _is_number(a) and _is_number(b):
        return _numbers_equal(float(a), float(b))
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        return False
    return bool(a == b)


def _sort_key(v: Any) -> tuple:
    """Total order over mixed cells, coarse enough that tolerance-equal numbers sort next to each other."""
    if v is None:
        return (0,)
    if _is_number(v):
        x = float(v)
        return (1, float(f"{x:.5g}") if math.isfinite(x) else x)
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, tuple):
        return (4, tuple(_sort_key(x) for x in v))
    return (3, type(v).__name__, str(v))


def _column(rows: Sequence[Sequence[Any]], i: int) -> list[Any]:
    return [r[i] for r in rows]


def _same_multiset(a: list[Any], b: list[Any]) -> bool:
    if len(a) != len(b):
        return False
    sa, sb = sorted(a, key=_sort_key), sorted(b, key=_sort_key)
    if all(values_equal(x, y) for x, y in zip(sa, sb, strict=True)):
        return True
    return _greedy_match([(x,) for x in a], [(y,) for y in b])


def _rows_equal(g: Sequence[Any], p: Sequence[Any]) -> bool:
    return all(values_equal(x, y) for x, y in zip(g, p, strict=True))


def _greedy_match(gold: list[tuple], pred: list[tuple], limit: int = 600) -> bool:
    """Tolerance-aware multiset match for the rare case where sorting separates tolerance-equal values."""
    if len(gold) != len(pred) or len(gold) > limit:
        return False
    left = list(pred)
    for g in gold:
        for i, p in enumerate(left):
            if _rows_equal(g, p):
                del left[i]
                break
        else:
            return False
    return True


def _rows_match(gold: list[tuple], pred: list[tuple], ordered: bool) -> bool:
    if ordered:
        return all(_rows_equal(g, p) for g, p in zip(gold, pred, strict=True))
    key = lambda r: tuple(_sort_key(v) for v in r)  # noqa: E731
    sg, sp = sorted(gold, key=key), sorted(pred, key=key)
    if all(_rows_equal(g, p) for g, p in zip(sg, sp, strict=True)):
        return True
    return _greedy_match(gold, pred)


def compare_results(
    gold_columns: Sequence[str],
    gold_rows: Sequence[Sequence[Any]],
    pred_columns: Sequence[str],
    pred_rows: Sequence[Sequence[Any]],
    *,
    ordered: bool = False,
) -> Comparison:
    """Compare a predicted result with the gold result (column names are informative only, never compared)."""
    k, m = len(gold_columns), len(pred_columns)
    gold = [tuple(normalize(v) for v in r) for r in gold_rows]
    pred = [tuple(normalize(v) for v in r) for r in pred_rows]
    if len(gold) != len(pred):
        return Comparison(False, "row_count", f"gold has {len(gold)} rows, prediction {len(pred)}")
    if m < k:
        return Comparison(False, "too_few_columns", f"gold has {k} columns, prediction {m}")
    if m > k + MAX_EXTRA_COLUMNS:
        return Comparison(False, "too_many_columns", f"prediction has {m - k} extra columns (max {MAX_EXTRA_COLUMNS})")
    if not gold:
        return Comparison(True, "ok", "both results are empty", tuple(range(k)))
    candidates: list[list[int]] = []
    for gi in range(k):
        gcol = _column(gold, gi)
        cands = [pi for pi in range(m) if _same_multiset(gcol, _column(pred, pi))]
        if not cands:
            return Comparison(False, "values", f"no predicted column holds the values of gold column "
                                               f"{gold_columns[gi]!r}")
        candidates.append(cands)
    order_failed = False
    for mapping in itertools.islice(itertools.product(*candidates), MAX_MAPPINGS):
        if len(set(mapping)) != k:
            continue
        projected = [tuple(r[i] for i in mapping) for r in pred]
        if _rows_match(gold, projected, ordered):
            return Comparison(True, "ok", "", tuple(mapping))
        if ordered and _rows_match(gold, projected, False):
            order_failed = True
    if order_failed:
        return Comparison(False, "order", "the right rows in the wrong order")
    return Comparison(False, "values", "every column's values appear, but not combined into the gold rows")
