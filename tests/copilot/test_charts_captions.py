import datetime as dt

import plotly.graph_objects as go
import pytest

from copilot.captions import template_caption, unsupported_numbers
from copilot.charts import build_chart

D1, D2 = dt.date(2024, 11, 1), dt.date(2024, 11, 2)


@pytest.mark.parametrize(
    ("columns", "rows", "kind"),
    [
        (["approval_rate"], [[0.41]], "kpi"),
        (["day", "decision_count"], [[D1, 10], [D2, 12]], "line"),
        (["day", "partner", "decision_count"], [[D1, "A", 1], [D2, "A", 2], [D1, "B", 3]], "line"),
        (["partner", "approval_rate"], [["A", 0.4], ["B", 0.3]], "bar"),
        (["partner", "decision", "decision_count"], [["A", "approve", 3], ["A", "decline", 1]], "stacked_bar"),
        (["approval_rate", "default_rate"], [[0.4, 0.1], [0.3, 0.2]], "scatter"),
        (["partner", "approval_rate", "default_rate"], [["A", 0.4, 0.1], ["B", 0.3, 0.2]], "scatter"),
        (["a", "b", "c", "d", "e"], [["x", "y", "z", "w", "v"]], "table"),
        (["partner", "approval_rate"], [], "table"),
    ],
)
def test_chart_follows_shape(columns: list[str], rows: list[list], kind: str) -> None:
    chosen, figure = build_chart(columns, rows, "t")
    assert chosen == kind
    if kind == "table":
        assert figure is None
    else:
        go.Figure(figure)  # plotly validates every property of our hand-built JSON


@pytest.mark.parametrize(
    ("columns", "rows"),
    [
        (["partner", "approval_rate"], [["Paisabazaar", 0.4123], ["CashKaro", 0.3311]]),
        (["day", "decision_count"], [[D1, 1234], [D2, 1301]]),
        (["disbursed_amount"], [[123456789.25]]),
        (["partner", "average_score"], [["A", 0.0712], ["B", 0.0811]]),
    ],
)
def test_template_caption_numbers_are_in_result(columns: list[str], rows: list[list]) -> None:
    caption = template_caption("q", columns, rows, window_label="last 7 days")
    assert caption.endswith(".") and caption.count(". ") == 0
    assert unsupported_numbers(caption, columns, rows) == []


def test_caption_check_catches_invented_numbers() -> None:
    columns, rows = ["partner", "approval_rate"], [["Paisabazaar", 0.4123]]
    assert unsupported_numbers("Paisabazaar approved 41.2% of applications.", columns, rows) == []
    assert unsupported_numbers("Paisabazaar approved 55% of 1,200 applications.", columns, rows) == ["55%", "1,200"]
