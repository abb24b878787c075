"""Benchmark of the guardrails: validation time per query and EXPLAIN cost-check time.

    python benchmarks/bench_guardrails.py [--replica data/replica.duckdb] [--repeat 20]

Validation runs the 180 legitimate analyst queries of the test corpus (all three teams) ``--repeat`` times each and
reports median and p99 per query category; the cost check runs ``EXPLAIN (FORMAT JSON)`` for the same queries on a
replica, side by side with and without the provable row bound (``cost_bound_by_keys``), and reports which legitimate
queries and which expensive attacks (tests/guardrails/corpus/cost_attacks.py) are over their team's limit either way.
Without ``--replica`` a small world (30 days x 1,000 applications/day) is generated in a temp directory.
Timings are noisy on a shared 2-core machine: medians and p99 are reported, never means.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from guardrails import validate  # noqa: E402
from guardrails.executor import SafeExecutor  # noqa: E402
from guardrails.settings import GuardrailSettings  # noqa: E402
from guardrails.teams import team_scope  # noqa: E402
from tests.guardrails.corpus.attacks import ATTACKS  # noqa: E402
from tests.guardrails.corpus.cost_attacks import COST_ATTACKS  # noqa: E402
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


@dataclass
class ExplainResult:
    """Cost-check timings and verdicts of one mode (raw planner estimate, or lowered to the provable bound)."""

    ms: list[float] = field(default_factory=list)
    legit_over: dict[str, int] = field(default_factory=dict)
    attacks_passed: dict[str, int] = field(default_factory=dict)
    attack_rows: list[int] = field(default_factory=list)


def bench_explain(replica: Path, repeat: int) -> dict[str, ExplainResult]:
    """The cost check of every legitimate query and cost attack, both modes interleaved in the same rounds (so load
    hits both alike). The estimate depends on the data: on the full world DuckDB's guess for the internal join of a
    split COUNT(DISTINCT) aggregate is far above the truth, which the bound corrects."""
    scopes = {team: team_scope(team) for team in ("risk", "growth", "partnerships")}
    legit = [validate(sql, scopes[team]) for team, sql in LEGIT]
    attacks = [validate(sql, scopes[team]) for team, sql in COST_ATTACKS]
    modes = {"planner only": False, "with row bound": True}
    results = {mode: ExplainResult() for mode in modes}
    settings = {mode: GuardrailSettings(cost_bound_by_keys=on) for mode, on in modes.items()}
    # one connection: DuckDB shares one instance per file in a process, and its configuration is locked
    with SafeExecutor(replica) as executor:
        for _ in tqdm(range(max(1, repeat // 4)), desc="EXPLAIN rounds"):
            for is_legit, v in [(True, v) for v in legit] + [(False, v) for v in attacks]:
                for mode in modes:
                    executor.settings = settings[mode]
                    started = time.perf_counter()
                    estimate = executor.estimate(v)
                    elapsed = (time.perf_counter() - started) * 1000
                    result = results[mode]
                    if is_legit:
                        result.ms.append(elapsed)
                        if estimate.rows > v.cost_limit_rows:
                            result.legit_over[v.sql] = estimate.rows
                    elif estimate.rows <= v.cost_limit_rows:
                        result.attacks_passed[v.sql] = estimate.rows
                    else:
                        result.attack_rows.append(estimate.rows)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replica", type=Path, help="replica to run EXPLAIN on (default: generate a small world)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    times, cpu = bench_validation(args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        replica = args.replica or _small_world(Path(tmp))
        explain = bench_explain(replica, args.repeat)
        world = "given replica" if args.replica else "generated small world (30 days x 1,000/day)"
    print("\nguardrails benchmark (milliseconds)")
    print(f"{'measure':38} {'n':>6} {'median':>8} {'p99':>8} {'cpu med':>8} {'cpu p99':>8}")
    for label, values in times.items():
        print(f"{'validate: ' + label:38} {len(values):6d} {statistics.median(values):8.2f} "
              f"{_percentile(values, 0.99):8.2f} {statistics.median(cpu[label]):8.2f} "
              f"{_percentile(cpu[label], 0.99):8.2f}")
    for mode, result in explain.items():
        print(f"{'cost check, ' + mode:38} {len(result.ms):6d} {statistics.median(result.ms):8.2f} "
              f"{_percentile(result.ms, 0.99):8.2f}   on {world}")
    n_attacks = len(COST_ATTACKS)
    for mode, result in explain.items():
        refused = n_attacks - len(result.attacks_passed)
        low = min(result.attack_rows, default=0)
        print(f"\n[{mode}] legitimate queries over their team's cost limit: {len(result.legit_over)} of {len(LEGIT)}; "
              f"expensive attacks refused: {refused} of {n_attacks} (smallest refused estimate {low:,} rows)")
        for sql, rows in sorted(result.legit_over.items()):
            print(f"  legit over  {rows:>22,}  {sql[:140]}")
        for sql, rows in sorted(result.attacks_passed.items()):
            print(f"  attack PASSED {rows:>20,}  {sql[:140]}")


if __name__ == "__main__":
    main()
