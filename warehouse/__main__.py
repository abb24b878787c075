"""Command line of the warehouse: ``python -m warehouse generate | info | run``.

``generate`` builds the seeded synthetic world into the writer file and publishes the read-only replica; ``info``
prints the schema version, the world's parameters and row counts; ``run`` is what ``make run`` calls (today: build
the world if it is missing, later issues add the services); ``monitor`` and ``diagnose`` come from
``warehouse.monitoring.cli``. Bad arguments exit with code 2 and one clear message on
stderr (argparse's convention); failures while working exit with code 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb

from warehouse.db import connect_reader, publish_replica, writer
from warehouse.migrations import current_version
from warehouse.monitoring.cli import register_subcommands as register_monitoring
from warehouse.schema import load_schema
from warehouse.settings import get_settings
from warehouse.world import DEFAULT_SCENARIOS, DEFAULT_START_DATE, SCENARIO_NAMES, WorldParams, generate_world
from warehouse.world.generator import read_world_params


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2**31:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2147483647, got {value}")
    return value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m warehouse", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="generate the synthetic credit world and publish the replica")
    gen.add_argument("--days", type=_positive_int, default=45, help="simulated days (default 45)")
    gen.add_argument("--per-day", type=_positive_int, default=50_000, help="average applications a day (50000)")
    gen.add_argument("--seed", type=_seed, default=42, help="random seed (default 42)")
    gen.add_argument("--start-date", type=_date, default=DEFAULT_START_DATE,
                     help=f"first simulated day (default {DEFAULT_START_DATE})")
    gen.add_argument("--scenario", nargs="+", action="extend", choices=SCENARIO_NAMES, metavar="NAME",
                     help=f"scenario switches, any of {', '.join(SCENARIO_NAMES)} (default: new_partner)")
    _add_paths(gen)
    mode = gen.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true", help="replace an existing warehouse file")
    mode.add_argument("--if-missing", action="store_true",
                      help="do nothing when the file already holds a world with the same parameters")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(subparser=gen)
    info = sub.add_parser("info", help="print schema version, world parameters and row counts")
    info.add_argument("--path", type=Path, help="warehouse file to inspect (default: the replica)")
    run = sub.add_parser("run", help="what `make run` does: build the default world if missing, publish the replica")
    _add_paths(run)
    run.set_defaults(subparser=run)
    register_monitoring(sub)  # monitor, diagnose: owned by warehouse.monitoring, dispatched via monitoring_handler
    return parser


def _add_paths(p: argparse.ArgumentParser) -> None:
    p.add_argument("--path", type=Path, help="writer file (default: CREDIT_WAREHOUSE_PATH)")
    p.add_argument("--replica-path", type=Path, help="replica file (default: CREDIT_WAREHOUSE_REPLICA_PATH)")


def _check_writable(parser: argparse.ArgumentParser, path: Path) -> None:
    """Fail fast (exit 2) on a path we could never write, instead of after a minute of generation."""
    if path.is_dir():
        parser.error(f"{path} is a directory, not a warehouse file")
    try:  # really try: permission bits say nothing when running as root, and /proc or a file-as-directory lie
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except FileExistsError:
        parser.error(f"cannot write the warehouse file {path}: {path.parent} is not a directory")
    except OSError as exc:
        parser.error(f"cannot write the warehouse file {path}: {exc.strerror or exc}")


def _generate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    settings = get_settings()
    path, replica = args.path or settings.path, args.replica_path or settings.replica_path
    _check_writable(parser, path)
    _check_writable(parser, replica)
    try:
        wanted = WorldParams(args.days, args.per_day, args.seed, args.start_date,
                             tuple(args.scenario or DEFAULT_SCENARIOS))
    except ValueError as exc:  # InvalidWorldParametersError, UnknownScenarioError, ScenarioConflictError
        parser.error(str(exc))
    if path.exists() and not args.force:
        existing = read_world_params(path)
        if not args.if_missing:
            parser.error(f"{path} already exists; pass --force to replace it or --if-missing to keep it")
        if existing != wanted:
            found = "no world" if existing is None else f"a different world ({existing.describe()})"
            parser.error(f"{path} holds {found}; pass --force to replace it with {wanted.describe()}")
        if not replica.exists():
            with writer(path) as con:
                publish_replica(con, replica)
        print(f"world {wanted.run_id} already at {path}; nothing to do (replica {replica})")
        return 0
    if path.exists():
        _refuse_if_in_use(path)
    summary = generate_world(path, days=wanted.days, per_day=wanted.per_day, seed=wanted.seed,
                             start_date=wanted.start_date, scenarios=wanted.scenarios, progress=not args.quiet)
    with writer(path) as con:
        publish_replica(con, replica)
    print(summary.format())
    print(f"replica published at {replica}")
    return 0


def _refuse_if_in_use(path: Path) -> None:
    """Replacing a file another process is writing would silently drop its writes (it keeps the old inode)."""
    try:
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.IOException as exc:
        raise WarehouseInUseError(f"{path} is open by another process; stop it before --force: {exc}") from exc


class WarehouseInUseError(duckdb.IOException):
    """The writer file is held by another process (the decision-log loader, a backfill...)."""


def _info(args: argparse.Namespace) -> int:
    path = args.path or get_settings().replica_path
    with connect_reader(path) as con:
        print(f"warehouse {path}: schema version {current_version(con)} (code {load_schema().version})")
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "world_runs" in tables:
            for row in con.execute("SELECT run_id, seed, days, per_day, start_date, scenario FROM world_runs"
                                   " ORDER BY created_at").fetchall():
                print(f"world {row[0]}: seed {row[1]}, {row[2]} days x {row[3]:,}/day from {row[4]}, "
                      f"scenario {row[5]}")
        for table in load_schema().tables.values():
            if table.name in tables:
                count = con.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0]
                print(f"  {table.name:<22} {count:>12,}{'  (view)' if table.is_view else ''}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if hasattr(args, "monitoring_handler"):
            return int(args.monitoring_handler(args))
        if args.command == "generate":
            return _generate(args.subparser, args)
        if args.command == "run":
            run_args = parser.parse_args(["generate", "--if-missing", *_path_args(args)])
            return _generate(args.subparser, run_args)
        return _info(args)
    except (duckdb.Error, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _path_args(args: argparse.Namespace) -> list[str]:
    out = []
    if args.path:
        out += ["--path", str(args.path)]
    if args.replica_path:
        out += ["--replica-path", str(args.replica_path)]
    return out


if __name__ == "__main__":
    sys.exit(main())
