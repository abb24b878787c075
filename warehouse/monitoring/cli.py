"""Command lines: ``python -m warehouse monitor`` and ``python -m warehouse diagnose``.

Both are plain functions taking ``argv`` so ``warehouse/__main__.py`` can dispatch to them and tests can call them
without a subprocess. ``monitor`` writes (it opens the writer file); ``diagnose`` only reads (the replica by default).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from warehouse.db import connect_reader, connect_writer, publish_replica
from warehouse.monitoring.config import MonitoringConfigError
from warehouse.monitoring.diagnose import METRICS, EmptyWindowError, Window, diagnose
from warehouse.monitoring.job import NoDecisionsError
from warehouse.monitoring.report import write_report
from warehouse.monitoring.runner import run_monitoring
from warehouse.monitoring.settings import get_settings


def add_monitor_arguments(p: argparse.ArgumentParser) -> None:
    when = p.add_mutually_exclusive_group()
    when.add_argument("--date", type=dt.date.fromisoformat, help="monitor one day (YYYY-MM-DD)")
    when.add_argument("--backfill", action="store_true", help="monitor every day that has decisions (default)")
    p.add_argument("--path", type=Path, help="writer warehouse file (default: CREDIT_WAREHOUSE_PATH)")
    p.add_argument("--publish", action="store_true", help="publish the read-only replica afterwards")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def add_diagnose_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metric", default="approval_rate", choices=sorted(METRICS))
    p.add_argument("--baseline", required=True, type=Window.parse, help="YYYY-MM-DD:YYYY-MM-DD (inclusive)")
    p.add_argument("--current", required=True, type=Window.parse, help="YYYY-MM-DD:YYYY-MM-DD (inclusive)")
    p.add_argument("--path", type=Path, help="warehouse file to read (default: the replica)")
    p.add_argument("--out", type=Path, help="report directory (default: artifacts/diagnostics)")


def _fail(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 1


def monitor(args: argparse.Namespace) -> int:
    """Run the job; a known failure (no decisions, bad config) is one line on stderr and exit code 1."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    con = connect_writer(args.path)
    try:
        summary = run_monitoring(con, start=args.date, end=args.date, progress=not args.no_progress)
        if args.publish:
            publish_replica(con)
    except (NoDecisionsError, MonitoringConfigError) as exc:
        return _fail(exc)
    finally:
        con.close()
    print(summary.format())
    return 0


def diagnose_command(args: argparse.Namespace) -> int:
    """Diagnose, print the ranked causes and write the JSON + HTML report."""
    con = connect_reader(args.path)
    try:
        d = diagnose(con, args.metric, args.baseline, args.current)
    except (EmptyWindowError, MonitoringConfigError) as exc:
        return _fail(exc)
    finally:
        con.close()
    json_path, html_path = write_report(d, args.out or get_settings().artifacts_dir)
    print(f"{d.metric}: {d.baseline_value:.2%} -> {d.current_value:.2%} ({d.change * 100:+.2f} points)")
    for c in d.causes:
        print(f"  {c.rank}. [{c.share_of_change:>5.0%}] {c.title}: {c.explanation}")
    print(f"report: {html_path}\njson:   {json_path}")
    return 0


def register_subcommands(sub: argparse._SubParsersAction) -> None:
    """Add ``monitor`` and ``diagnose`` to another CLI's subparsers (``python -m warehouse``).

    Each sets ``monitoring_handler``; the host dispatches with ``return args.monitoring_handler(args)``.
    """
    add_monitor_arguments(sub.add_parser("monitor", help="daily drift metrics and alerts (idempotent per day)"))
    sub.choices["monitor"].set_defaults(monitoring_handler=monitor)
    add_diagnose_arguments(sub.add_parser("diagnose", help="root-cause diagnosis of a rate change"))
    sub.choices["diagnose"].set_defaults(monitoring_handler=diagnose_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m warehouse.monitoring monitor|diagnose ...``)."""
    parser = argparse.ArgumentParser(prog="python -m warehouse.monitoring")
    register_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.monitoring_handler(args)


if __name__ == "__main__":
    sys.exit(main())
