"""``python -m guardrails check --team TEAM``: validate one SQL text from standard input.

Allowed: exit 0 and print the SQL that will run (limit injected, PII masked). Blocked: exit 1 and print the structured
error as JSON. Reviewers use it by hand and red-team corpora are piped through it.
"""

from __future__ import annotations

import argparse
import json
import sys

from guardrails.errors import GuardrailError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m guardrails", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate SQL read from standard input for a team")
    check.add_argument("--team", required=True, help="team whose scope applies (risk, growth, partnerships)")
    check.add_argument("--json", action="store_true", help="on success print a JSON summary instead of bare SQL")
    args = parser.parse_args(argv)

    from guardrails.teams import validate_for_team
    from schema_catalog.teams import UnknownTeamError

    sql = sys.stdin.read()
    try:
        validated = validate_for_team(sql, args.team)
    except GuardrailError as err:
        print(json.dumps(err.to_dict(), indent=2))
        return 1
    except UnknownTeamError as err:
        print(json.dumps({"error": "unknown_team", "message": str(err)}), file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "sql": validated.sql,
                    "tables": sorted(validated.tables),
                    "masked_columns": list(validated.masked_columns),
                    "row_limit": validated.row_limit,
                },
                indent=2,
            )
        )
    else:
        print(validated.sql)
    return 0
