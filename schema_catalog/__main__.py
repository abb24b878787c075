"""CLI: ``python -m schema_catalog check|index|retrieve``.

- ``check``    fails (exit 1) if a warehouse column has no description or a metric/dimension's SQL does not run (or
               breaks its time/memory budget); pairings the copilot refuses (fan-out joins) are listed as SKIP.
- ``index``    builds or updates the per-team Chroma index (incremental; a corrupt store is moved aside and rebuilt).
- ``retrieve`` prints the retrieved context of one question (for debugging the catalog).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def _open_warehouse(path: str | None) -> tuple[duckdb.DuckDBPyConnection, str]:
    """The replica read-only if it exists, else an empty migrated warehouse in a temporary directory."""
    from warehouse.db import connect_reader, connect_writer
    from warehouse.settings import get_settings

    replica = Path(path) if path else get_settings().replica_path
    if replica.exists():
        return connect_reader(replica), str(replica)
    tmp = Path(tempfile.mkdtemp(prefix="catalog-check-")) / "empty.duckdb"
    return connect_writer(tmp), f"an empty migrated warehouse ({replica} does not exist)"


def _load_validator(spec: str) -> Callable[[str, str], None]:
    """``package.module:function`` -> the callable (e.g. the guardrails' validator), imported only when asked for,
    so schema_catalog never depends on guardrails."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise SystemExit(f"--validator must look like package.module:function, not {spec!r}")
    return getattr(importlib.import_module(module), name)


def cmd_check(args: argparse.Namespace) -> int:
    from schema_catalog.check import check_catalog, get_check_settings

    overrides = {k: v for k, v in (("timeout_s", args.timeout), ("memory_limit", args.memory_limit),
                                   ("rss_limit_mb", args.rss_limit_mb)) if v is not None}
    settings = get_check_settings().model_copy(update=overrides)
    con, where = _open_warehouse(args.warehouse)
    started = time.monotonic()
    try:
        report = check_catalog(con, settings=settings, progress=not args.quiet)
    finally:
        con.close()
    for skip in report.skipped:
        print(f"SKIP {skip}")
    for problem in report.problems:
        print(f"FAIL {problem}", file=sys.stderr)
    print(f"checked on {where} in {time.monotonic() - started:.1f} s: {report.queries_run} queries run; "
          f"metric x dimension combinations: {report.combinations_run} run, {report.combinations_failed} failed, "
          f"{len(report.skipped)} skipped (fan-out); {len(report.problems)} problem(s)")
    return 1 if report.problems else 0


def cmd_index(args: argparse.Namespace) -> int:
    from schema_catalog.catalog import extract_samples
    from schema_catalog.index import build_index
    from schema_catalog.settings import get_settings
    from schema_catalog.verified import VerifiedQueryStore, replica_validator

    settings = get_settings()
    con, where = _open_warehouse(args.warehouse)
    samples = extract_samples(con, settings.sample_limit, settings.sample_max_distinct)
    store = VerifiedQueryStore(args.verified or settings.verified_path)
    validator = _load_validator(args.validator) if args.validator else replica_validator(con)
    seeded = store.seed(validator)
    con.close()
    path = Path(args.chroma or settings.chroma_path)
    report = build_index(path, samples, store.list(status="verified"), progress=not args.quiet)
    print(f"samples from {where}: {len(samples)} columns; seed queries: {seeded}")
    print(f"index at {path}:")
    print(report.summary())
    return 0


def cmd_retrieve(args: argparse.Namespace) -> int:
    from schema_catalog.retrieval import retrieve

    ctx = retrieve(args.question, args.team, args.k, Path(args.chroma) if args.chroma else None)
    print(ctx.to_prompt())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schema_catalog", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="check descriptions and that every metric/dimension runs")
    p.add_argument("--warehouse", help="DuckDB file to check against (default: the replica)")
    p.add_argument("--timeout", type=float, help="seconds one query may run (default: CREDIT_CATALOG_CHECK_TIMEOUT_S)")
    p.add_argument("--memory-limit", help="DuckDB memory_limit while checking, e.g. 2GB "
                   "(default: CREDIT_CATALOG_CHECK_MEMORY_LIMIT)")
    p.add_argument("--rss-limit-mb", type=int, help="process RSS (MiB) at which a query is interrupted "
                   "(default: CREDIT_CATALOG_CHECK_RSS_LIMIT_MB)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("index", help="build or update the per-team Chroma index")
    p.add_argument("--warehouse", help="DuckDB file to read sample values from (default: the replica)")
    p.add_argument("--chroma", help="index directory (default: CREDIT_CATALOG_CHROMA_PATH)")
    p.add_argument("--verified", help="verified-queries DuckDB file (default: CREDIT_CATALOG_VERIFIED_PATH)")
    p.add_argument("--validator", help="package.module:function(sql, team) that must accept each seed query "
                   "(default: team views + a re-run on the warehouse)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_index)
    p = sub.add_parser("retrieve", help="print the retrieved context of a question")
    p.add_argument("team")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--chroma", help="index directory")
    p.set_defaults(func=cmd_retrieve)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
