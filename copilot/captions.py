"""One-sentence captions whose every number is checked against the (masked) result before it is shown.

The templated caption is built from the result itself, so it passes the check by construction; a model's caption
(when an LLM is configured) must pass the same check or is replaced by the template. A caption that states a number
the result does not contain is how a confident wrong answer reaches a slide deck.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from copilot.charts import classify

_NUM_RE = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{2,3})+|\d+)(?:\.\d+)?%?")
_DATE_RE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def fmt_value(value: Any, name: str = "") -> str:
    """Human formatting shared by the template and the check: rates as percentages, money and counts with commas."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if name.endswith("_rate") and -1.0 <= value <= 1.0:
            return f"{value * 100:.1f}%"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def _candidates(columns: list[str], rows: list[list[Any]]) -> list[float]:
    out: list[float] = []
    for r in rows:
        for name, v in zip(columns, r, strict=False):
            if isinstance(v, int | float) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v)):
                out.extend((float(v), float(v) * 100 if name.endswith("_rate") else float(v)))
            elif isinstance(v, str):
                out.extend(float(x.replace(",", "")) for x in _NUM_RE.findall(v) if "%" not in x)
    return out


def unsupported_numbers(caption: str, columns: list[str], rows: list[list[Any]]) -> list[str]:
    """Numbers in ``caption`` that match no value of the result (within the rounding the caption shows)."""
    dates = {fmt_value(v) for r in rows for v in r if isinstance(v, dt.date | dt.datetime)}
    text = _DATE_RE.sub(lambda m: "" if m.group() in dates else m.group(), caption)
    values = _candidates(columns, rows)
    bad = []
    for token in _NUM_RE.findall(text):
        raw = token.rstrip("%").replace(",", "")
        number = float(raw)
        decimals = len(raw.split(".")[1]) if "." in raw else 0
        tolerance = 0.5 * 10 ** (-decimals) + 1e-9
        if not any(abs(v - number) <= max(tolerance, abs(v) * 0.005 if decimals == 0 and abs(v) > 1e4 else 0)
                   for v in values):
            bad.append(token)
    return bad


def template_caption(question: str, columns: list[str], rows: list[list[Any]], labels: dict[str, str] | None = None,
                     window_label: str = "") -> str:
    """A one-sentence caption built only from values of the result; the window is named only if it holds no
    number the result lacks ("last 7 days" states a 7 the rows do not contain)."""
    caption = _template(columns, rows, labels, window_label)
    if window_label and unsupported_numbers(caption, columns, rows):
        caption = _template(columns, rows, labels, "")
    return caption


def _template( columns: list[str], rows: list[list[Any]], labels: dict[str, str] | None = None,
                     window_label: str = "") -> str:
    """A one-sentence caption built only from values of the result."""
    labels = labels or {}
    if not rows:
        return "The query returned no rows for this question."
    s = classify(columns, rows)
    when = f" ({window_label})" if window_label else ""
    def name(i: int) -> str:
        label = labels.get(columns[i], columns[i].replace("_", " "))
        return label[0].lower() + label[1:] if label[1:2].islower() else label
    if not s.measures:
        return f"The result has {fmt_value(len(rows))} rows." if len(rows) > 1 else "The result has one row."
    m = s.measures[0]
    if len(rows) == 1 and not s.categories and not s.time:
        return f"{name(m).capitalize()} was {fmt_value(rows[0][m], columns[m])}{when}."
    valid = [r for r in rows if isinstance(r[m], int | float) and not (isinstance(r[m], float) and math.isnan(r[m]))]
    if not valid:
        return f"{name(m).capitalize()} has no values for this selection{when}."
    if s.time and not s.categories:
        t = s.time[0]
        first, last = valid[0], valid[-1]
        return (f"{name(m).capitalize()} moved from {fmt_value(first[m], columns[m])} on {fmt_value(first[t])} "
                f"to {fmt_value(last[m], columns[m])} on {fmt_value(last[t])}.")
    if s.categories:
        c = s.categories[0]
        hi = max(valid, key=lambda r: r[m])
        lo = min(valid, key=lambda r: r[m])
        if hi is lo:
            return f"{name(m).capitalize()} for {hi[c]} was {fmt_value(hi[m], columns[m])}{when}."
        return (f"{hi[c]} had the highest {name(m)} at {fmt_value(hi[m], columns[m])} and {lo[c]} the lowest at "
                f"{fmt_value(lo[m], columns[m])}{when}.")
    return f"{name(m).capitalize()} ranges from {fmt_value(min(r[m] for r in valid), columns[m])} to " \
           f"{fmt_value(max(r[m] for r in valid), columns[m])}{when}."
