"""The batch backfill: decide every application of the synthetic world through the real-time code, then let the
world's ground truth play out as loans and repayments.

Why a backfill at all: analysts, monitoring and the copilot need decisions, offers, loans and repayments that look
like production's — and they must come from the same feature, model and policy code the API runs, or every
dashboard would describe a system that does not exist.

Shape of a run (idempotent: a re-run gives identical rows):
1. remove the previous backfill's rows (decisions with request_id ``backfill-*``, loans ``BL-*`` and their
   repayments, deployments inside the world's window) in one transaction, rebuilding indexed tables from the rows
   they keep rather than deleting row by row (``removal.py``), and commit, so point-in-time repayment history is
   computed from the world's pre-window book only — exactly what a real-time decision inside the window would have
   seen of older loans (loans booked inside a 45-day window have at most one instalment due by its end);
2. in one transaction: stream the applications (with bureau report and date of birth) in received_at order in
   batches, build features with ``features.build_features`` and ``features.history_from_warehouse``, and for every
   lender eligible for the application's partner score with the lender's champion, apply its policy, add reason
   codes and simulated timings; the ``threshold_misconfig`` scenario switches one lender to mis-set thresholds from
   its date; then the deployments, and loans/repayments from ground truth; commit;
3. publish the read-only replica. Readers only ever see the replica, so they never see a half-done backfill.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from tqdm import tqdm

from decision_service.backfill.decide import (
    CodeVocabulary,
    LenderScorer,
    ThresholdSwitch,
    decide_for_lender,
    features_struct,
)
from decision_service.backfill.removal import Removal, Removed, StepHook, remove_rows
from decision_service.backfill.simulate import keys_for, request_timing, simulate_loans
from decision_service.features import build_features, history_from_warehouse, inputs_sql
from decision_service.policy import load_policy
from decision_service.registry import ModelRegistry, Thresholds
from warehouse.db import connect_writer, publish_replica

MISCONFIG_LENDER = "L04"
"""The lender whose thresholds are mis-set in the ``threshold_misconfig`` scenario."""
MISCONFIG_REFER_FACTOR = 1.6
"""The mis-set deployment moves approve_below up to the old refer_below and refer_below up by this factor."""
LOAN_PREFIX = "BL-"


class BackfillError(RuntimeError):
    """The warehouse cannot be backfilled (no world generated, no lenders, or no champion for a lender)."""


@dataclass(frozen=True)
class WorldInfo:
    run_id: str
    seed: int
    days: int
    start_date: dt.date
    events: dict[str, dt.date]

    @property
    def as_of(self) -> dt.date:
        """The day after the world's last simulated day: loans and repayments are stated as of then."""
        return self.start_date + dt.timedelta(days=self.days)


@dataclass
class BackfillSummary:
    """What a backfill wrote, how long each phase took, and the approval story around the scenario dates."""

    request_id: str
    applications: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    fallbacks: int = 0
    reasons_computed: int = 0
    loans: int = 0
    repayments: int = 0
    deployments: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)
    """Time inside the ``decide`` phase by step (features, score+policy, reasons, rows, insert)."""
    approve_rate_by_period: dict[str, float] = field(default_factory=dict)
    removed: list[Removed] = field(default_factory=list)
    """What removing the previous backfill did per table (part of the ``setup`` time)."""

    def format(self) -> str:
        total = sum(self.decisions.values())
        lines = [f"backfill {self.request_id}: {self.applications:,} applications -> {total:,} decisions"]
        lines += [f"  {k:<8} {v:>10,} ({v / max(total, 1):.1%})" for k, v in sorted(self.decisions.items())]
        lines += [f"  fallback {self.fallbacks:>10,}", f"  loans    {self.loans:>10,}",
                  f"  repayments {self.repayments:>8,}", f"  deployments {self.deployments:>7,}"]
        lines += [f"  approve share {k}: {v:.1%}" for k, v in self.approve_rate_by_period.items()]
        if any(r.removed for r in self.removed):
            lines.append("  previous backfill removed: " + "; ".join(r.format() for r in self.removed if r.removed))
        lines.append("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()))
        if self.steps:
            lines.append("  decide steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.steps.items()))
        if self.seconds.get("decide"):
            lines.append(f"  throughput: {total / self.seconds['decide']:,.0f} decisions/s, "
                         f"{self.applications / self.seconds['decide']:,.0f} applications/s (decide phase)")
        return "\n".join(lines)




def world_info(con: duckdb.DuckDBPyConnection) -> WorldInfo:
    row = con.execute(
        "SELECT run_id, seed, days, start_date FROM world_runs ORDER BY created_at DESC LIMIT 1"
    ).fetchone()
    if row is None:
        raise BackfillError("the warehouse has no world (world_runs is empty); run `python -m warehouse generate`")
    events = dict(con.execute("SELECT scenario, event_date FROM world_events").fetchall())
    return WorldInfo(row[0], int(row[1]), int(row[2]), row[3], events)


def _scorers(con: duckdb.DuckDBPyConnection, registry: ModelRegistry, policy_dir: Path | None,
             world: WorldInfo) -> tuple[list[LenderScorer], dict[str, np.ndarray]]:
    lenders = [r[0] for r in con.execute("SELECT lender_id FROM lenders WHERE active ORDER BY lender_id").fetchall()]
    if not lenders:
        raise BackfillError("the warehouse has no active lenders")
    eligible: dict[str, np.ndarray] = {}
    for lender_id, partners in con.execute(
        "SELECT lender_id, list(partner_id ORDER BY partner_id) FROM partner_lenders GROUP BY lender_id"
    ).fetchall():
        eligible[lender_id] = np.array(partners, dtype=object)
    scorers = []
    for index, lender_id in enumerate(lenders):
        model = registry.champion(lender_id)
        switch = None
        if lender_id == MISCONFIG_LENDER and "threshold_misconfig" in world.events:
            t = model.thresholds
            wrong = Thresholds(t.refer_below, min(1.0, t.refer_below * MISCONFIG_REFER_FACTOR))
            switch = ThresholdSwitch(np.datetime64(world.events["threshold_misconfig"], "us"), wrong)
        scorers.append(LenderScorer.build(lender_id, index, model, load_policy(lender_id, policy_dir), switch))
    return scorers, eligible


def _delete_previous(con: duckdb.DuckDBPyConnection, world: WorldInfo, *,
                     on_step: StepHook | None = None) -> list[Removed]:
    """Remove the previous backfill in one transaction; indexed tables are rebuilt rather than deleted from
    (DuckDB's row-by-row index delete took 332.8 s on the full world; see ``removal.py``)."""
    window = (dt.datetime.combine(world.start_date - dt.timedelta(days=1), dt.time()),
              dt.datetime.combine(world.as_of, dt.time()))
    return remove_rows(con, [
        Removal("repayments", f"starts_with(loan_id, '{LOAN_PREFIX}')"),
        Removal("loans", f"starts_with(loan_id, '{LOAN_PREFIX}')"),
        Removal("decisions", "starts_with(request_id, 'backfill-')"),
        Removal("model_deployments", "deployed_at >= ? AND deployed_at < ?", window),
    ], on_step=on_step)


def _insert(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    con.register("__backfill_batch", data)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM __backfill_batch")
    finally:
        con.unregister("__backfill_batch")


def _batches(con: duckdb.DuckDBPyConnection, until: dt.datetime, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
    cur = con.cursor()
    try:
        reader = cur.sql(inputs_sql("SELECT * FROM applications WHERE received_at < ?"),
                         params=[until]).to_arrow_reader(batch_size)
        for rb in reader:
            yield {name: _to_numpy(rb.column(i)) for i, name in enumerate(rb.schema.names)}
    finally:
        cur.close()


def _to_numpy(col: pa.Array) -> np.ndarray:
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=object)
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        return col.cast(pa.float64()).to_numpy(zero_copy_only=False)  # NULL -> NaN
    return col.to_numpy(zero_copy_only=False)


def _deployment_rows(scorers: list[LenderScorer], world: WorldInfo) -> pa.Table:
    rows = []
    initial = dt.datetime.combine(world.start_date - dt.timedelta(days=1), dt.time())
    for s in scorers:
        rows.append((s.lender_id, s.model.version, initial, s.model.thresholds, "passed", "champion",
                     s.policy.version))
        if s.switch is not None:
            when = dt.datetime.combine(world.events["threshold_misconfig"], dt.time())
            rows.append((s.lender_id, s.model.version, when, s.switch.thresholds, "forced", "champion",
                         s.policy.version))
    return pa.table({
        "lender_id": [r[0] for r in rows],
        "model_version": [r[1] for r in rows],
        "deployed_at": pa.array([r[2] for r in rows], type=pa.timestamp("us")),
        "thresholds": [json.dumps({"approve_below": r[3].approve_below, "refer_below": r[3].refer_below},
                                  sort_keys=True) for r in rows],
        "gate_result": [r[4] for r in rows],
        "role": [r[5] for r in rows],
        "policy_version": [r[6] for r in rows],
    })


_OFFERS_SQL = """
SELECT d.application_id, d.decision_id, a.applicant_id, d.lender_id, d.decided_at, d.offered_amount, d.offered_apr,
       d.offered_tenure_months, d.emi, g.takeup_propensity, g.bad_if_funded, g.months_to_default
FROM decisions d
JOIN applications a ON a.application_id = d.application_id
JOIN ground_truth g ON g.application_id = d.application_id
WHERE d.request_id = ? AND d.decision = 'approve'
QUALIFY row_number() OVER (PARTITION BY d.application_id
                           ORDER BY d.offered_apr, d.offered_amount DESC, d.lender_id) = 1
ORDER BY d.application_id
"""


def run_backfill(
    path: Path | str | None = None,
    *,
    registry: ModelRegistry | None = None,
    policy_dir: Path | str | None = None,
    days: int | None = None,
    batch_size: int = 200_000,
    progress: bool = True,
    publish: bool = True,
    replica_path: Path | str | None = None,
) -> BackfillSummary:
    """Backfill the warehouse at ``path`` (default: the warehouse settings' writer file); see the module docstring.

    ``days`` limits the run to the world's first N days (quick looks); ``registry`` defaults to the decision
    settings' ``model_dir``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if registry is None:
        from decision_service.settings import get_settings

        registry = ModelRegistry(get_settings().model_dir)
    started = time.perf_counter()
    con = connect_writer(path)
    try:
        world = world_info(con)
        request_id = f"backfill-{world.run_id}"
        summary = BackfillSummary(request_id)
        scorers, eligible = _scorers(con, registry, Path(policy_dir) if policy_dir else None, world)
        n_days = world.days if days is None else max(1, min(days, world.days))
        until = dt.datetime.combine(world.start_date + dt.timedelta(days=n_days), dt.time())
        summary.removed = _delete_previous(con, world)
        total = con.execute("SELECT count(*) FROM applications WHERE received_at < ?", [until]).fetchone()[0]
        summary.seconds["setup"] = time.perf_counter() - started

        t0 = time.perf_counter()
        con.execute("BEGIN")
        try:
            with tqdm(total=total, desc="backfill", unit="app", disable=not progress) as bar:
                vocab = CodeVocabulary()
                for batch in _batches(con, until, batch_size):
                    _decide_batch(con, batch, scorers, eligible, request_id, summary, vocab)
                    bar.update(len(batch["application_id"]))
            summary.seconds["decide"] = time.perf_counter() - t0
            deployments = _deployment_rows(scorers, world)
            _insert(con, "model_deployments", deployments)
            summary.deployments = deployments.num_rows
            t1 = time.perf_counter()
            offers = con.execute(_OFFERS_SQL, [request_id]).fetchnumpy()
            offers = {k: (v.filled(np.nan) if isinstance(v, np.ma.MaskedArray) and v.dtype.kind == "f" else v)
                      for k, v in offers.items()}
            if "months_to_default" in offers:
                offers["months_to_default"] = np.ma.asarray(offers["months_to_default"]).astype(float).filled(np.nan)
            loans, repayments = simulate_loans(offers, world.as_of)
            _insert(con, "loans", loans)
            _insert(con, "repayments", repayments)
            summary.loans, summary.repayments = loans.num_rows, repayments.num_rows
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        summary.seconds["outcomes"] = time.perf_counter() - t1
        _story(con, world, request_id, summary)
        if publish:
            t2 = time.perf_counter()
            publish_replica(con, replica_path)
            summary.seconds["publish"] = time.perf_counter() - t2
    finally:
        con.close()
    summary.seconds["total"] = time.perf_counter() - started
    return summary


def _decide_batch(con: duckdb.DuckDBPyConnection, batch: dict[str, np.ndarray], scorers: list[LenderScorer],
                  eligible: dict[str, np.ndarray], request_id: str, summary: BackfillSummary,
                  vocab: CodeVocabulary) -> None:
    t0 = time.perf_counter()
    history = history_from_warehouse(con, batch["applicant_id"], batch["received_at"])
    features = build_features(batch, batch, history)
    struct = features_struct(features)
    batch["keys"] = keys_for(batch["application_id"])
    timing = request_timing(batch["keys"])
    batch.update(timing)
    summary.applications += len(batch["application_id"])
    steps = summary.steps
    steps["features"] = steps.get("features", 0.0) + time.perf_counter() - t0
    tables = []
    for scorer in scorers:
        rows = np.flatnonzero(np.isin(batch["partner_id"], eligible.get(scorer.lender_id, np.array([], dtype=object))))
        if not len(rows):
            continue
        table = decide_for_lender(scorer, batch, features, rows, request_id, vocab, struct, steps)
        tables.append(table)
        counts = table.group_by("decision").aggregate([("decision", "count")]).to_pydict()
        for k, v in zip(counts["decision"], counts["decision_count"], strict=True):
            summary.decisions[k] = summary.decisions.get(k, 0) + v
        summary.fallbacks += int(np.sum(table.column("fallback_used").to_numpy()))
    if tables:
        t1 = time.perf_counter()
        _insert(con, "decisions", pa.concat_tables(tables))
        steps["insert"] = steps.get("insert", 0.0) + time.perf_counter() - t1


def _story(con: duckdb.DuckDBPyConnection, world: WorldInfo, request_id: str, summary: BackfillSummary) -> None:
    """Approve share of decisions before and after each scenario date (the numbers the README quotes)."""
    for scenario, day in sorted(world.events.items(), key=lambda kv: kv[1]):
        before, after = con.execute(
            "SELECT avg((decision = 'approve')::INT) FILTER (WHERE decided_at < ?),"
            "       avg((decision = 'approve')::INT) FILTER (WHERE decided_at >= ?)"
            " FROM decisions WHERE request_id = ?", [day, day, request_id]).fetchone()
        if before is not None:
            summary.approve_rate_by_period[f"before {scenario} ({day})"] = float(before)
        if after is not None:
            summary.approve_rate_by_period[f"from {scenario} ({day})"] = float(after)
