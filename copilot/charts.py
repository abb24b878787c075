"""Choose and build the chart from the shape of the result, with Plotly code we wrote (never code a model wrote).

Shape rules (first match wins):
  one row, one number, no category        -> KPI card (indicator)
  a time column and 1-2 measures          -> line (one line per category when there is one category)
  two categories and one measure          -> stacked bar (shares of the second category within the first)
  one category and one measure            -> bar
  two measures (and at most one category) -> scatter
  anything else (many columns)            -> table only (no chart)
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Literal

ChartType = Literal["kpi", "line", "bar", "stacked_bar", "scatter", "table"]
TIME_NAMES = {"day", "week", "month", "date", "period_start"}


@dataclass(frozen=True)
class Shape:
    time: list[int]
    categories: list[int]
    measures: list[int]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v))


def classify(columns: list[str], rows: list[list[Any]]) -> Shape:
    """Column roles from the values: dates are time, numbers are measures, everything else is a category."""
    time, cats, measures = [], [], []
    for i, name in enumerate(columns):
        vals = [r[i] for r in rows if r[i] is not None]
        if (vals and all(isinstance(v, dt.date | dt.datetime) for v in vals)) or (not vals and name in TIME_NAMES):
            time.append(i)
        elif vals and all(_is_number(v) for v in vals) and not name.endswith("_id"):
            measures.append(i)
        else:
            cats.append(i)
    return Shape(time, cats, measures)


def choose_chart(columns: list[str], rows: list[list[Any]]) -> ChartType:
    if not rows or not columns:
        return "table"
    s = classify(columns, rows)
    if len(rows) == 1 and len(s.measures) == 1 and len(columns) == 1:
        return "kpi"
    if len(s.time) == 1 and 1 <= len(s.measures) <= 2 and len(s.categories) <= 1 and len(rows) > 1:
        return "line"
    if not s.time and len(s.categories) == 2 and len(s.measures) == 1:
        return "stacked_bar"
    if not s.time and len(s.categories) == 1 and len(s.measures) == 1:
        return "bar"
    if not s.time and len(s.measures) == 2 and len(s.categories) <= 1 and len(rows) > 1:
        return "scatter"
    return "table"


def _label(name: str) -> str:
    return name.replace("_", " ")


def _json(v: Any) -> Any:
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, int | float | str | bool) or v is None:
        return v
    return str(v)


def build_chart(columns: list[str], rows: list[list[Any]], title: str = "") -> tuple[ChartType, dict[str, Any] | None]:
    """Chart type and the Plotly figure JSON (``{"data": [...], "layout": {...}}``; ``None`` for table-only results).

    The figure is written as plain Plotly JSON rather than through ``plotly.graph_objects``: property validation
    cost 50-200 ms per figure, too slow for the 300 ms budget. Tests load every figure with ``go.Figure(spec)``,
    which validates it.
    """
    kind = choose_chart(columns, rows)
    if kind == "table":
        return kind, None
    s = classify(columns, rows)

    def col(i: int, sub: list[list[Any]] | None = None) -> list[Any]:
        return [_json(r[i]) for r in (rows if sub is None else sub)]

    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {}
    if kind == "kpi":
        data.append({"type": "indicator", "mode": "number", "value": _json(rows[0][0]),
                     "title": {"text": _label(columns[0])}})
    elif kind == "line":
        t = s.time[0]
        if s.categories:
            c, m = s.categories[0], s.measures[0]
            for key in dict.fromkeys(r[c] for r in rows):
                sub = [r for r in rows if r[c] == key]
                data.append({"type": "scatter", "mode": "lines+markers", "x": col(t, sub), "y": col(m, sub),
                             "name": str(key)})
        else:
            data += [{"type": "scatter", "mode": "lines+markers", "x": col(t), "y": col(m), "name": _label(columns[m])}
                     for m in s.measures]
        layout = {"xaxis": {"title": {"text": _label(columns[t])}},
                  "yaxis": {"title": {"text": _label(columns[s.measures[0]])}}}
    elif kind == "bar":
        c, m = s.categories[0], s.measures[0]
        data.append({"type": "bar", "x": [str(v) for v in col(c)], "y": col(m), "name": _label(columns[m])})
        layout = {"xaxis": {"title": {"text": _label(columns[c])}}, "yaxis": {"title": {"text": _label(columns[m])}}}
    elif kind == "stacked_bar":
        c1, c2, m = s.categories[0], s.categories[1], s.measures[0]
        for key in dict.fromkeys(r[c2] for r in rows):
            sub = [r for r in rows if r[c2] == key]
            data.append({"type": "bar", "x": [str(v) for v in col(c1, sub)], "y": col(m, sub), "name": str(key)})
        layout = {"barmode": "stack", "xaxis": {"title": {"text": _label(columns[c1])}},
                  "yaxis": {"title": {"text": _label(columns[m])}}, "legend": {"title": {"text": _label(columns[c2])}}}
    elif kind == "scatter":
        x, y = s.measures
        trace: dict[str, Any] = {"type": "scatter", "mode": "markers", "x": col(x), "y": col(y)}
        if s.categories:
            trace |= {"mode": "markers+text", "text": [str(v) for v in col(s.categories[0])]}
        data.append(trace)
        layout = {"xaxis": {"title": {"text": _label(columns[x])}}, "yaxis": {"title": {"text": _label(columns[y])}}}
    layout |= {"title": {"text": title}, "template": "plotly_white", "margin": {"l": 40, "r": 20, "t": 50, "b": 40}}
    return kind, {"data": data, "layout": layout}
