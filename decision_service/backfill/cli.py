"""``python -m decision_service backfill``: decide the world's applications and simulate loans and repayments."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = (
    "Backfill the warehouse: decide every application of the generated world for every eligible lender through the "
    "real-time feature/model/policy code, then simulate take-up, loans and repayments from the world's ground "
    "truth. Idempotent (re-running replaces the previous backfill) and publishes the read-only replica at the end."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--warehouse", type=Path, default=None,
                        help="writer warehouse file (default: CREDIT_WAREHOUSE_PATH)")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="model registry root (default: CREDIT_DECISION_MODEL_DIR)")
    parser.add_argument("--policy-dir", type=Path, default=None,
                        help="policy YAML directory (default: CREDIT_DECISION_POLICY_DIR)")
    parser.add_argument("--days", type=int, default=None, help="only the world's first N days (default: all)")
    parser.add_argument("--batch-size", type=int, default=200_000,
                        help="applications per batch (default 200,000: larger TreeSHAP blocks share more work)")
    parser.add_argument("--no-publish", action="store_true", help="do not publish the read-only replica")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--if-missing", action="store_true",
                        help="do nothing when the warehouse already holds backfilled decisions (what `make run` uses)")


def _already_backfilled(path: Path | None) -> bool:
    """True when the writer file already holds decisions from a backfill run (so `make run` can be re-run cheaply)."""
    import duckdb

    from warehouse.settings import get_settings

    path = Path(path or get_settings().path)
    if not path.exists():
        return False
    with duckdb.connect(str(path), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "decisions" not in tables:
            return False
        row = con.execute("SELECT count(*) FROM decisions WHERE request_id LIKE 'backfill-%'").fetchone()
    return bool(row and row[0])


def main(args: argparse.Namespace) -> int:
    from decision_service.backfill.run import run_backfill
    from decision_service.registry import ModelRegistry

    if args.if_missing and _already_backfilled(args.warehouse):
        print("backfill: the warehouse already holds backfilled decisions; nothing to do (--if-missing)")
        return 0
    registry = ModelRegistry(args.model_dir) if args.model_dir else None
    summary = run_backfill(
        args.warehouse, registry=registry, policy_dir=args.policy_dir, days=args.days, batch_size=args.batch_size,
        progress=not args.quiet, publish=not args.no_publish,
    )
    print(summary.format())
    return 0
