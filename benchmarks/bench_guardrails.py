"""Benchmark of the guardrails: validation time per query and EXPLAIN cost-check time.

    python benchmarks/bench_guardrails.py [--replica data/replica.duckdb] [--repeat 20]

Validation runs the 180 legitimate analyst queries of the test corpus (all three teams) ``--repeat`` times each and
reports median and p99 per query category; the cost check runs ``EXPLAIN (FORMAT JSON)`` for the same queries on a
replica. Without ``--replica`` a small world (30 days x 1,000 applications/day) is generated in a temp directory.
Timings are noisy on a shared 2-core machine: medians and p99 are reported, never means.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from guardrails import validate  # noqa: E402
from guardrails.errors import CostLimitError  # noqa: E402
from guardrails.executor import SafeExecutor  # noqa: E402
from guardrails.teams import team_scope  # noqa: E402
from tests.guardrails.corpus.attacks import ATTACKS  # noqa: E402
from tests.guardrails.legit_queries import LEGIT  # noqa: E402


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _small_world(root: Path) -> Path:
    from tests.guardrails.conftest import _FILL_DECISIONS
    from warehouse.db import publish_replica, writer
    from warehouse.world import generate_world

    path, replica = root / "warehouse.duckdb", root / "replica.duckdb"
    generate_world(path, progress=False, days=30, per_day=1_000, seed=7)
    with writer(path) as con:
        if con.execute("SELECT count(*) FROM decisions").fetchone()[0] == 0:
            con.execute(_FILL_DECISIONS)
        publish_replica(con, replica)
    return replica


def bench_validation(repeat: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall-clock and CPU (process) milliseconds per validation; CPU time is immune to other tenants' load."""
    scopes = {team: team_scope(team) for team in ("risk", "growth", "partnerships")}
    for team, sql in LEGIT:  # warm caches (schema per scope, sqlglot dialect tables)
        validate(sql, scopes[team])
    labels = ("legit (all teams)", "legit with PII masking (risk)", "attacks")
    times: dict[str, list[float]] = {label: [] for label in labels}
    cpu: dict[str, list[float]] = {label: [] for label in labels}
    masked = [
        ("risk", "SELECT applicant_id, upper(pan) AS p, city FROM applicants"),
        ("risk", "WITH x AS (SELECT email AS e, city FROM applicants) SELECT e, city, count(*) AS n "
                 "FROM x GROUP BY ALL"),
    ]
    work = [("legit (all teams)", t, q) for t, q in LEGIT]
    work += [("legit with PII masking (risk)", t, q) for t, q in masked]
    work += [("attacks", t, q) for t, q, _ in ATTACKS]
    for _ in tqdm(range(repeat), desc="validation rounds"):
        for label, team, sql in work:
            started, started_cpu = time.perf_counter(), time.process_time()
            with contextlib.suppress(Exception):  # attacks raise; that is the timed path
                validate(sql, scopes[team])
            times[label].append((time.perf_counter() - started) * 1000)
            cpu[label].append((time.process_time() - started_cpu) * 1000)
    return times, cpu


def bench_explain(replica: Path, repeat: int) -> tuple[list[float], set[str]]:
    """EXPLAIN timings, and the legitimate queries whose estimate is over their team's limit on this replica (the
    estimate depends on the data: on the full world DuckDB's guess for a non-key join can be far above the truth)."""
    scopes = {team: team_scope(team) for team in ("risk", "growth", "partnerships")}
    validated = [validate(sql, scopes[team]) for team, sql in LEGIT]
    out: list[float] = []
    over: set[str] = set()
    with SafeExecutor(replica) as executor:
        for _ in tqdm(range(max(1, repeat // 4)), desc="EXPLAIN rounds"):
            for v in validated:
                started = time.perf_counter()
                try:
                    executor.check_cost(v)
                except CostLimitError:
                    over.add(v.sql)
                out.append((time.perf_counter() - started) * 1000)
    return out, over


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replica", type=Path, help="replica to run EXPLAIN on (default: generate a small world)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    times, cpu = bench_validation(args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        replica = args.replica or _small_world(Path(tmp))
        explain, over = bench_explain(replica, args.repeat)
        world = "given replica" if args.replica else "generated small world (30 days x 1,000/day)"
    print("\nguardrails benchmark (milliseconds)")
    print(f"{'measure':38} {'n':>6} {'median':>8} {'p99':>8} {'cpu med':>8} {'cpu p99':>8}")
    for label, values in times.items():
        print(f"{'validate: ' + label:38} {len(values):6d} {statistics.median(values):8.2f} "
              f"{_percentile(values, 0.99):8.2f} {statistics.median(cpu[label]):8.2f} "
              f"{_percentile(cpu[label], 0.99):8.2f}")
    print(f"{'EXPLAIN cost check':38} {len(explain):6d} {statistics.median(explain):8.2f} "
          f"{_percentile(explain, 0.99):8.2f}   on {world}")
    print(f"legitimate queries over their team's cost limit on this replica: {len(over)} of {len(LEGIT)}")
    for sql in sorted(over):
        print(f"  {sql[:160]}")


if __name__ == "__main__":
    main()
