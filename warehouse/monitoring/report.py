"""Diagnosis reports: JSON for machines, one self-contained HTML page with Plotly charts for people.

The HTML embeds plotly.js once (no CDN: the machines here are offline) so the file opens anywhere.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from warehouse.monitoring.diagnose import Diagnosis


def figures(d: Diagnosis) -> list[go.Figure]:
    """Waterfall of causes, partner shares and rates, the daily rate per partner, feature contributions."""
    pts = 100.0
    wf = go.Figure(go.Waterfall(
        x=["baseline", *[f"{c.rank}. {c.kind}" for c in d.causes], "current"],
        measure=["absolute", *["relative"] * len(d.causes), "total"],
        y=[d.baseline_value * pts, *[c.contribution * pts for c in d.causes], d.current_value * pts],
        text=[f"{d.baseline_value:.1%}", *[f"{c.share_of_change:.0%}" for c in d.causes], f"{d.current_value:.1%}"]))
    wf.update_layout(title=f"{d.metric}: {d.baseline_value:.1%} -> {d.current_value:.1%}, by cause (points)",
                     yaxis_title="percentage points")
    p = pd.DataFrame(d.partners)
    mix = go.Figure([go.Bar(name="share baseline", x=p["partner_id"], y=p["s_b"]),
                     go.Bar(name="share current", x=p["partner_id"], y=p["s_c"]),
                     go.Scatter(name=f"{d.metric} baseline", x=p["partner_id"], y=p["r_b"], mode="markers",
                                yaxis="y2"),
                     go.Scatter(name=f"{d.metric} current", x=p["partner_id"], y=p["r_c"], mode="markers",
                                yaxis="y2")])
    mix.update_layout(title="Partner mix and rates", barmode="group", yaxis={"title": "share of decisions",
                      "tickformat": ".0%"}, yaxis2={"title": d.metric, "overlaying": "y", "side": "right",
                                                     "tickformat": ".0%"})
    daily = pd.DataFrame(d.daily)
    line = go.Figure([go.Scatter(name=pid, x=g["day"], y=g["rate"], mode="lines")
                      for pid, g in daily.groupby("partner_id")] if len(daily) else [])
    line.update_layout(title=f"Daily {d.metric} per partner", yaxis_tickformat=".0%")
    f = pd.DataFrame(d.features)
    feat = go.Figure([go.Bar(name="alone", x=f["feature"], y=f["alone"] * pts),
                      go.Bar(name="attributed", x=f["feature"], y=f["contribution"] * pts)] if len(f) else [])
    feat.update_layout(title="Feature shifts within stable partners (points of the change)", barmode="group")
    return [wf, mix, line, feat]


def render_html(d: Diagnosis) -> str:
    rows = "".join(
        f"<tr><td>{c.rank}</td><td>{html.escape(c.title)}</td><td>{c.contribution * 100:+.2f}</td>"
        f"<td>{c.share_of_change:.0%}</td><td>{html.escape(c.explanation)}</td></tr>" for c in d.causes)
    charts = "".join(fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(figures(d)))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Diagnosis: {d.metric}</title></head><body>"
            f"<h1>Why did {d.metric} change?</h1><p>{d.baseline} -> {d.current}: {d.baseline_value:.2%} -> "
            f"{d.current_value:.2%} ({d.change * 100:+.2f} points). Mix {d.decomposition['mix'] * 100:+.2f}, "
            f"within {d.decomposition['within'] * 100:+.2f}, interaction {d.decomposition['interaction'] * 100:+.2f}"
            f" points.</p><table border='1' cellpadding='4'><tr><th>#</th><th>cause</th><th>points</th>"
            f"<th>share</th><th>evidence</th></tr>{rows}</table>{charts}</body></html>")


def write_report(d: Diagnosis, out_dir: Path) -> tuple[Path, Path]:
    """Write ``<metric>-<timestamp>.json`` and ``.html`` into ``out_dir``; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{d.metric}-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S')}"
    json_path, html_path = out_dir / f"{stem}.json", out_dir / f"{stem}.html"
    json_path.write_text(d.to_json())
    html_path.write_text(render_html(d))
    return json_path, html_path
