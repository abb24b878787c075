"""Command line: ``python -m copilot ask "..." --team risk [--json] [--backend ...]`` and ``python -m copilot serve``.

Exit codes: 0 answered, 1 cannot answer (the reason is printed), 2 bad input or configuration (typed error).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from copilot.errors import CopilotError
from copilot.models import Answer


def _table(columns: list[str], rows: list[list[Any]], limit: int = 20) -> str:
    from copilot.captions import fmt_value

    cells = [[fmt_value(v, c) for v, c in zip(r, columns, strict=False)] for r in rows[:limit]]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    if len(rows) > limit:
        lines.append(f"... {len(rows) - limit:,} more rows")
    return "\n".join(lines)


def answer_json(answer: Answer) -> dict[str, Any]:
    """The whole answer as JSON, with ``columns`` and ``rows`` at the top level for scripts."""
    data = answer.model_dump(mode="json")
    page = data.pop("rows")
    data["columns"] = page["columns"] if page else []
    data["rows"] = page["rows"] if page else []
    data["page"] = {k: page[k] for k in ("page", "page_size", "has_more")} if page else None
    return data


def print_answer(answer: Answer) -> None:
    if answer.cannot_answer:
        print(f"Cannot answer: {answer.reason}")
        return
    print(f"-- {answer.explanation}\n-- backend: {answer.backend}, confidence {answer.confidence:.2f}")
    import sqlglot

    print(sqlglot.transpile(answer.sql or "", read="duckdb", write="duckdb", pretty=True)[0], end="\n\n")
    assert answer.rows is not None
    print(_table(answer.rows.columns, answer.rows.rows), end="\n\n")
    print(answer.caption)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m copilot", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--team", required=True)
    ask.add_argument("--user", default="cli")
    ask.add_argument("--json", action="store_true", help="print the whole answer object as JSON")
    ask.add_argument("--backend", choices=["auto", "semantic", "local", "openai"], default=None)
    serve = sub.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8010)
    args = parser.parse_args(argv)

    if args.command == "serve":
        import uvicorn

        from copilot.api import create_app

        uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info")
        return 0

    from copilot.pipeline import Copilot

    try:
        answer = Copilot().ask(args.question, args.team, args.user, backend=args.backend)
    except CopilotError as err:
        payload = {"error": {"code": err.code, "message": err.message, "field": err.field}}
        print(json.dumps(payload) if args.json else f"error ({err.code}): {err.message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(answer_json(answer), indent=1, default=str))
    else:
        print_answer(answer)
    return 1 if answer.cannot_answer else 0
