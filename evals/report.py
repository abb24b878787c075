"""Scoreboard outputs: Markdown (for people and PRs), JSON (for machines and the gate) and an HTML report with Plotly
charts (accuracy by tag and backend, latency distribution, failure causes by tag).

Several backends' runs can be put side by side: :func:`write_reports` takes every scoreboard of one invocation.
"""

from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from evals.runner import QuestionResult
from evals.scoring import Metrics, Scoreboard


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f} ms"


def _row(name: str, m: Metrics) -> str:
    return (f"| {name} | {m.n} | {_pct(m.execution_accuracy)} ({m.correct}/{m.scored}) | {_pct(m.valid_sql_rate)} | "
            f"{_pct(m.guardrail_pass_rate)} | {_pct(m.abstention_precision)} | {_pct(m.abstention_recall)} | "
            f"{m.leaks} | {_ms(m.latency_p50_ms)} | {_ms(m.latency_p95_ms)} |")


_HEADER = ("| group | n | execution accuracy | valid SQL | guardrail pass | abst. precision | abst. recall | leaks | "
           "p50 | p95 |\n|---|---|---|---|---|---|---|---|---|---|")


def markdown(boards: list[Scoreboard], results: dict[str, list[QuestionResult]], examples: int = 3) -> str:
    lines = ["# Evaluation scoreboard", ""]
    for b in boards:
        w = b.world
        lines += [f"## Backend `{b.backend}`, split `{b.split}`", "",
                  f"World: seed {w.get('seed')}, {w.get('days')} days x {w.get('per_day')}/day, "
                  f"{w.get('decisions'):,} decisions, as of {w.get('as_of')}.", "",
                  _HEADER, _row("**overall**", b.overall)]
        for title, groups in (("tag", b.by_tag), ("topic", b.by_topic), ("team", b.by_team)):
            lines += [_row(f"{title}: {k}", m) for k, m in groups.items()]
        lines += ["", "Failure causes: " + ", ".join(f"{k} {v}" for k, v in b.overall.causes.items()), ""]
        if b.overall.gold_errors:
            lines += [f"**{b.overall.gold_errors} gold queries failed** and were excluded from accuracy.", ""]
        if b.overall.gold_empty:
            empty = [r.id for r in results.get(b.backend, []) if r.expect == "answer" and r.gold_rows == 0]
            lines += [f"{b.overall.gold_empty} answerable questions have an **empty gold result** on this world "
                      f"(scored as usual; a match there proves little): {', '.join(empty)}", ""]
        failures: dict[str, list[QuestionResult]] = {}
        for r in results.get(b.backend, []):
            if r.cause not in ("correct", "abstained"):
                failures.setdefault(r.cause, []).append(r)
        if failures:
            lines += ["### Failure examples", ""]
        for cause, rs in sorted(failures.items(), key=lambda kv: -len(kv[1])):
            lines.append(f"**{cause}** ({len(rs)})")
            for r in rs[:examples]:
                sql = (r.sql or "").replace("\n", " ")
                lines.append(f"- `{r.id}` ({r.team}) \"{r.question}\" -> {r.comparison or r.error or r.outcome}; "
                             f"SQL: `{sql[:300]}`")
            lines.append("")
    return "\n".join(lines) + "\n"


def html(boards: list[Scoreboard], results: dict[str, list[QuestionResult]]) -> str:
    """A self-contained page (plotly.js embedded once: the machines have no CDN) with three charts."""
    figs = []
    acc = go.Figure()
    for b in boards:
        tags = list(b.by_tag)
        acc.add_bar(name=b.backend, x=tags, y=[(b.by_tag[t].execution_accuracy or 0) * 100 for t in tags],
                    text=[f"{b.by_tag[t].correct}/{b.by_tag[t].scored}" for t in tags])
    acc.update_layout(title="Execution accuracy by tag and backend (%)", barmode="group", yaxis_range=[0, 100])
    figs.append(acc)
    lat = go.Figure()
    for b in boards:
        lat.add_box(name=b.backend, y=[r.latency_ms for r in results.get(b.backend, [])], boxpoints="all")
    lat.update_layout(title="Latency per question (ms)", yaxis_type="log")
    figs.append(lat)
    confusion = make_subplots(rows=1, cols=len(boards), subplot_titles=[b.backend for b in boards])
    for i, b in enumerate(boards, start=1):
        rs = [r for r in results.get(b.backend, [])]
        tags = sorted({t for r in rs for t in r.tags})
        causes = sorted({r.cause for r in rs})
        z = [[sum(r.cause == c and t in r.tags for r in rs) for t in tags] for c in causes]
        confusion.add_trace(go.Heatmap(z=z, x=tags, y=causes, colorscale="Reds", showscale=i == 1,
                                       text=z, texttemplate="%{text}"), row=1, col=i)
    confusion.update_layout(title="Outcome / failure cause by tag (questions)", height=500)
    figs.append(confusion)
    parts = [f.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, f in enumerate(figs)]
    summary = "".join(
        f"<li><b>{b.backend}</b> ({b.split}): accuracy {_pct(b.overall.execution_accuracy)}, abstention precision "
        f"{_pct(b.overall.abstention_precision)}, recall {_pct(b.overall.abstention_recall)}, leaks {b.overall.leaks}, "
        f"p50 {_ms(b.overall.latency_p50_ms)}, p95 {_ms(b.overall.latency_p95_ms)}</li>" for b in boards)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Copilot evaluation</title></head><body>"
            f"<h1>Copilot evaluation</h1><ul>{summary}</ul>" + "".join(parts) + "</body></html>")


def write_reports(boards: list[Scoreboard], results: dict[str, list[QuestionResult]], out_dir: Path,
                  name: str = "scoreboard") -> dict[str, Path]:
    """Write ``<name>.md``, ``<name>.json``, ``<name>.html`` and ``<name>_results.jsonl``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {k: out_dir / f"{name}.{k}" for k in ("md", "json", "html")}
    paths["results"] = out_dir / f"{name}_results.jsonl"
    paths["md"].write_text(markdown(boards, results), encoding="utf-8")
    paths["json"].write_text(json.dumps([b.model_dump(mode="json") for b in boards], indent=1), encoding="utf-8")
    paths["html"].write_text(html(boards, results), encoding="utf-8")
    with paths["results"].open("w", encoding="utf-8") as f:
        for rs in results.values():
            for r in rs:
                f.write(r.model_dump_json() + "\n")
    return paths
