"""Relative and absolute date expressions, anchored on the data's "today".

The world is simulated, so "yesterday" means the day before the latest decision in the replica, not the wall clock
(see :mod:`copilot.anchor`). Windows are half-open ``[start, end)`` so they compile to ``>= start AND < end``
without off-by-one errors at midnight.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from copilot.models import Grain, TimeWindow

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
MONTHS["sept"] = 9
_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_UNIT_DAYS = {"day": 1, "week": 7, "fortnight": 14, "month": 30, "quarter": 91, "year": 365}
_NUM_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15, "thirty": 30, "ninety": 90, "a": 1, "an": 1,
}


@dataclass(frozen=True)
class DateReading:
    """What the date parser found: a window, a grain, a period comparison, and the text spans it consumed."""

    window: TimeWindow | None = None
    grain: Grain | None = None
    compare_previous: bool = False
    spans: tuple[tuple[int, int], ...] = ()


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _add_months(day: dt.date, months: int) -> dt.date:
    month0 = day.month - 1 + months
    return dt.date(day.year + month0 // 12, month0 % 12 + 1, 1)


def _latest_month_start(month: int, today: dt.date) -> dt.date:
    """The most recent 1st of ``month`` on or before ``today`` ("since October" in January means last October)."""
    year = today.year if month <= today.month else today.year - 1
    return dt.date(year, month, 1)


def _parse_day(text: str, today: dt.date) -> dt.date | None:
    text = text.strip().lower()
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text):
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    if m := re.fullmatch(rf"(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\.?,?(?:\s+(\d{{4}}))?", text):
        day, month, year = int(m[1]), MONTHS[m[2]], m[3]
    elif m := re.fullmatch(rf"({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?", text):
        day, month, year = int(m[2]), MONTHS[m[1]], m[3]
    else:
        return None
    if year:
        return dt.date(int(year), month, day)
    candidate = dt.date(today.year, month, day)
    return candidate if candidate <= today else dt.date(today.year - 1, month, day)


_DAY_EXPR = (
    rf"\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTH_RE})\.?(?:,?\s+\d{{4}})?"
    rf"|(?:{_MONTH_RE})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
)


_FY_EXPR = r"\d{4}\s*-\s*\d{2,4}|\d{4}|\d{2}"


def _year(text: str) -> int:
    return int(text) if len(text) == 4 else 2000 + int(text)


def _fy_start_year(fy: str, today: dt.date) -> int:
    """The calendar year a financial year starts in (April): "FY25" and "FY2025" end in March 2025 (start 2024),
    "2024-25" starts in 2024; none: the financial year ``today`` is in."""
    fy = fy.replace(" ", "")
    if "-" in fy:
        return int(fy.split("-")[0])
    if fy:
        return _year(fy) - 1
    return today.year if today.month >= 4 else today.year - 1


def _rules(today: dt.date) -> list[tuple[re.Pattern[str], object]]:
    """Ordered (pattern, handler) pairs; the first match on a span wins. Handlers return a DateReading."""
    tomorrow = today + dt.timedelta(days=1)

    def last_n(m: re.Match[str]) -> DateReading:
        raw = m["n"] or "1"
        n = int(raw) if raw.isdigit() else _NUM_WORDS.get(raw, 1)
        unit = m["unit"].rstrip("s")
        if unit == "month":
            start = _add_months(_month_start(today), -(n - 1)) if m["kind"] == "calendar" else today - dt.timedelta(
                days=30 * n - 1)
        else:
            start = today - dt.timedelta(days=_UNIT_DAYS[unit] * n - 1)
        return DateReading(TimeWindow(start=start, end=tomorrow, label=f"last {n} {unit}s (to {today})"))

    def named_period(m: re.Match[str]) -> DateReading:
        which, unit = m["which"], m["unit"]
        if unit == "week":
            this_start = _week_start(today)
            start = this_start if which == "this" else this_start - dt.timedelta(days=7)
            end = tomorrow if which == "this" else this_start
        elif unit == "month":
            this_start = _month_start(today)
            start = this_start if which == "this" else _add_months(this_start, -1)
            end = tomorrow if which == "this" else this_start
        elif unit == "quarter":
            this_start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
            start = this_start if which == "this" else _add_months(this_start, -3)
            end = tomorrow if which == "this" else this_start
        else:  # year
            this_start = dt.date(today.year, 1, 1)
            start = this_start if which == "this" else dt.date(today.year - 1, 1, 1)
            end = tomorrow if which == "this" else this_start
        label = f"{which} {unit} ({start} to {end - dt.timedelta(days=1)})"
        return DateReading(TimeWindow(start=start, end=end, label=label))

    def since(m: re.Match[str]) -> DateReading:
        expr = m["expr"].lower()
        if expr in MONTHS:
            start = _latest_month_start(MONTHS[expr], today)
        else:
            start = _parse_day(expr, today)
            if start is None:
                return DateReading()
        return DateReading(TimeWindow(start=start, end=tomorrow, label=f"since {start}"))

    def between(m: re.Match[str]) -> DateReading:
        start, end = _parse_day(m["a"], today), _parse_day(m["b"], today)
        if start is None or end is None:
            return DateReading()
        start, end = min(start, end), max(start, end)
        return DateReading(TimeWindow(start=start, end=end + dt.timedelta(days=1), label=f"{start} to {end}"))

    def in_month(m: re.Match[str]) -> DateReading:
        month = MONTHS[m["month"].lower()]
        start = dt.date(int(m["year"]), month, 1) if m["year"] else _latest_month_start(month, today)
        end = _add_months(start, 1)
        return DateReading(TimeWindow(start=start, end=end, label=f"{calendar.month_name[month]} {start.year}"))

    def quarter(m: re.Match[str]) -> DateReading:
        """"Q3", "Q3 2024": a calendar quarter, like "this/last quarter"; "Q3 FY25": India's fiscal quarter
        (FY25 runs April 2024 to March 2025, so its Q3 is October-December 2024)."""
        q = int(m["q"])
        if m["fy"]:
            start = _add_months(dt.date(_fy_start_year(m["fy"], today), 4, 1), 3 * (q - 1))
        else:
            year = _year(m["year"]) if m["year"] else today.year
            start = dt.date(year, 3 * (q - 1) + 1, 1)
            if not m["year"] and start > today:
                start = dt.date(year - 1, start.month, 1)
        end = _add_months(start, 3)
        label = f"Q{q} ({start} to {end - dt.timedelta(days=1)})"
        return DateReading(TimeWindow(start=start, end=min(end, tomorrow), label=label))

    def fiscal_year(m: re.Match[str]) -> DateReading:
        """India's financial year (April to March): "this FY", "FYTD", "last financial year", "FY25", "FY 2024-25"."""
        which = (m["which"] or "").lower()
        start_year = _fy_start_year(m["fy"] or "", today) - (1 if which in ("last", "previous", "prior") else 0)
        start = dt.date(start_year, 4, 1)
        end = min(dt.date(start_year + 1, 4, 1), tomorrow)
        return DateReading(TimeWindow(start=start, end=end, label=f"FY {start_year}-{(start_year + 1) % 100:02d} "
                                                                  f"({start} to {end - dt.timedelta(days=1)})"))

    def on_day(m: re.Match[str]) -> DateReading:
        day = _parse_day(m["day"], today)
        if day is None:
            return DateReading()
        return DateReading(TimeWindow(start=day, end=day + dt.timedelta(days=1), label=str(day)))

    def single_day(offset: int, label: str):
        day = today - dt.timedelta(days=offset)
        return lambda m: DateReading(TimeWindow(start=day, end=day + dt.timedelta(days=1), label=f"{label} ({day})"))

    def versus_previous(m: re.Match[str]) -> DateReading:
        unit = m["unit"]
        if unit == "week":
            start = _week_start(today) if m["which"] else today - dt.timedelta(days=6)
        elif unit == "month":
            start = _month_start(today) if m["which"] else today - dt.timedelta(days=29)
        else:
            start = today
        return DateReading(TimeWindow(start=start, end=tomorrow, label=f"this {unit} vs the previous {unit}"),
                           compare_previous=True)

    n_expr = r"(?P<n>\d+|" + "|".join(_NUM_WORDS) + r")"
    return [
        (re.compile(rf"\bbetween\s+(?P<a>{_DAY_EXPR})\s+and\s+(?P<b>{_DAY_EXPR})", re.I), between),
        (re.compile(rf"\bfrom\s+(?P<a>{_DAY_EXPR})\s+(?:to|until|till)\s+(?P<b>{_DAY_EXPR})", re.I), between),
        (re.compile(rf"\b(?:since|from|after)\s+(?P<expr>{_DAY_EXPR}|{_MONTH_RE})\b", re.I), since),
        (re.compile(r"\b(?P<which>this|current)\s+(?P<unit>week|month)\s+(?:vs\.?|versus|compared (?:to|with))\s+"
                    r"(?:last|previous|prior)\s+(?:week|month)\b", re.I), versus_previous),
        (re.compile(r"\b(?P<unit>week|month|day)\s+(?:on|over)\s+(?:week|month|day)\b", re.I),
         lambda m: DateReading(grain=m["unit"].lower())),  # type: ignore[arg-type]
        (re.compile(r"\b(?:wow|w-o-w)\b", re.I), lambda m: DateReading(grain="week")),
        (re.compile(r"\b(?:mom|m-o-m)\b", re.I), lambda m: DateReading(grain="month")),
        (re.compile(rf"\b(?:in\s+the\s+)?(?:last|past|previous|trailing)\s+{n_expr}\s*(?P<kind>calendar\s+)?"
                    r"(?P<unit>days?|weeks?|fortnights?|months?|quarters?|years?)\b", re.I), last_n),
        (re.compile(r"\b(?:in\s+the\s+)?(?:past|trailing)\s+(?P<n>)(?P<kind>)(?P<unit>day|week|fortnight|month|quarter|year)\b",
                    re.I), last_n),
        (re.compile(r"\b(?:in\s+the\s+)?(?:last|previous)\s+(?P<n>)(?P<kind>)(?P<unit>fortnight)\b", re.I), last_n),
        (re.compile(r"\b(?P<which>this|last|previous|current)\s+(?P<unit>week|month|quarter|year)\b", re.I),
         lambda m: named_period(_norm(m))),
        (re.compile(r"(?<!financial\s)(?<!fiscal\s)\b(?:year to date|ytd)\b", re.I),
         lambda m: DateReading(TimeWindow(start=dt.date(today.year, 1, 1), end=tomorrow, label="year to date"))),
        (re.compile(r"\b(?:month to date|mtd)\b", re.I),
         lambda m: DateReading(TimeWindow(start=_month_start(today), end=tomorrow, label="month to date"))),
        (re.compile(r"\bday before yesterday\b", re.I), single_day(2, "day before yesterday")),
        (re.compile(r"\byesterday\b", re.I), single_day(1, "yesterday")),
        (re.compile(r"\btoday\b", re.I), single_day(0, "today")),
        (re.compile(rf"\bon\s+(?:the\s+)?(?P<day>{_DAY_EXPR})\b", re.I), on_day),
        (re.compile(rf"\b(?:(?:in|during|for)\s+(?:the\s+month\s+of\s+)?|(?:the\s+)?month\s+of\s+)"
                    rf"(?P<month>{_MONTH_RE})\b(?:\s+(?P<year>\d{{4}}))?", re.I), in_month),
        (re.compile(rf"\bq(?P<q>[1-4])(?:\s*(?:fy\s*'?(?P<fy>{_FY_EXPR})|'?(?P<year>\d{{4}}|\d{{2}})))?\b", re.I),
         quarter),
        (re.compile(rf"\b(?:(?P<which>this|current|last|previous|prior)\s+)?(?:fy\s*'?(?P<fy>{_FY_EXPR})\b|"
                    r"(?:fy|financial\s+year|fiscal\s+year|fiscal)(?:\s+to\s+date)?\b|fytd\b)", re.I), fiscal_year),
        (re.compile(r"\b(?:daily|per day|by day|each day|day by day|day[- ]?wise|date[- ]?wise)\b(?!\s+of\b)", re.I),
         lambda m: DateReading(grain="day")),
        (re.compile(r"\b(?:weekly|per week|by week|each week|week[- ]?wise)\b", re.I),
         lambda m: DateReading(grain="week")),
        (re.compile(r"\b(?:monthly(?!\s+(?:income|salary|emis?|instalments?|installments?|payments?))|per month|"
                    r"by month|each month|month[- ]?wise)\b", re.I),
         lambda m: DateReading(grain="month")),
        (re.compile(r"\b(?:trend|over time|time series|timeline)\b", re.I), lambda m: DateReading(grain="day")),
        (re.compile(r"(?<!\bof\s)\b(?:which|what|the)\s+(?P<unit>day|week|month)\b(?!\s+(?:before|of\b))", re.I),
         lambda m: DateReading(grain=m["unit"].lower())),  # type: ignore[arg-type]  # "which day had the most"
        (re.compile(r"\b(?:vs\.?|versus|compared\s+(?:to|with)|against)\s+(?:the\s+)?(?:(?:day|week|month|period)\s+"
                    r"before|(?:previous|prior|preceding)\s+(?:day|week|month|period))\b", re.I),
         lambda m: DateReading(compare_previous=True)),  # "yesterday vs the day before"
    ]


class _norm(dict):
    def __init__(self, m: re.Match[str]) -> None:
        groups = {k: (v or "").lower() for k, v in m.groupdict().items()}
        if groups.get("which") in ("previous",):
            groups["which"] = "last"
        if groups.get("which") == "current":
            groups["which"] = "this"
        super().__init__(groups)


def read_dates(question: str, today: dt.date) -> DateReading:
    """Find every date expression in ``question`` and merge them into one reading.

    Later rules never re-read text an earlier rule consumed, so "since 1 October" is not also read as "October".
    """
    window: TimeWindow | None = None
    grain: Grain | None = None
    compare = False
    spans: list[tuple[int, int]] = []
    for pattern, handler in _rules(today):
        for m in pattern.finditer(question):
            if any(s < m.end() and m.start() < e for s, e in spans):
                continue
            reading: DateReading = handler(m)  # type: ignore[operator]
            if reading.window is None and reading.grain is None and not reading.compare_previous:
                continue
            spans.append((m.start(), m.end()))
            window = window or reading.window
            grain = grain or reading.grain
            compare = compare or reading.compare_previous
    return DateReading(window=window, grain=grain, compare_previous=compare, spans=tuple(spans))
