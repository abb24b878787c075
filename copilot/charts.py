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
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

import plotly.graph_objects as go

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


def build_chart(columns: list[str], rows: list[list[Any]], title: str = "") -> tuple[ChartType, dict[str, Any] | None]:
    """Chart type and the Plotly figure as JSON (``None`` for table-only results)."""
    kind = choose_chart(columns, rows)
    if kind == "table":
        return kind, None
    s = classify(columns, rows)
    col = lambda i: [r[i] for r in rows]  # noqa: E731 - local shorthand
    fig = go.Figure()
    if kind == "kpi":
        fig.add_trace(go.Indicator(mode="number", value=rows[0][0], title={"text": _label(columns[0])}))
    elif kind == "line":
        t = s.time[0]
        if s.categories:
            c, m = s.categories[0], s.measures[0]
            for key in dict.fromkeys(col(c)):
                sub = [r for r in rows if r[c] == key]
                fig.add_trace(go.Scatter(x=[r[t] for r in sub], y=[r[m] for r in sub], mode="lines+markers",
                                         name=str(key)))
        else:
            for m in s.measures:
                fig.add_trace(go.Scatter(x=col(t), y=col(m), mode="lines+markers", name=_label(columns[m])))
        fig.update_layout(xaxis_title=_label(columns[t]), yaxis_title=_label(columns[s.measures[0]]))
    elif kind == "bar":
        c, m = s.categories[0], s.measures[0]
        fig.add_trace(go.Bar(x=[str(v) for v in col(c)], y=col(m), name=_label(columns[m])))
        fig.update_layout(xaxis_title=_label(columns[c]), yaxis_title=_label(columns[m]))
    elif kind == "stacked_bar":
        c1, c2, m = s.categories[0], s.categories[1], s.measures[0]
        for key in dict.fromkeys(col(c2)):
            sub = [r for r in rows if r[c2] == key]
            fig.add_trace(go.Bar(x=[str(r[c1]) for r in sub], y=[r[m] for r in sub], name=str(key)))
        fig.update_layout(barmode="stack", xaxis_title=_label(columns[c1]), yaxis_title=_label(columns[m]),
                          legend_title=_label(columns[c2]))
    elif kind == "scatter":
        x, y = s.measures
        text = [str(v) for v in col(s.categories[0])] if s.categories else None
        fig.add_trace(go.Scatter(x=col(x), y=col(y), mode="markers+text" if text else "markers", text=text))
        fig.update_layout(xaxis_title=_label(columns[x]), yaxis_title=_label(columns[y]))
    fig.update_layout(title=title or None, template="plotly_white", margin={"l": 40, "r": 20, "t": 50, "b": 40})
    return kind, json.loads(fig.to_json())
