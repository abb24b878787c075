"""Orchestrates one synthetic world: entities, a day-by-day loop of applications and bureau pulls, internal history,
ground truth, and an atomic write.

The world is written to a temporary file next to the target and renamed into place only when complete, so an
interrupted run (Ctrl-C, crash, full disk) never leaves a half-written warehouse where readers expect a whole one.
Each stage draws from its own seeded random stream (``[seed, stage, day]``), which makes the content a pure function
of the parameters: the same seed gives identical table contents, run after run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from tqdm import tqdm

from warehouse.db import connect_writer
from warehouse.world import bureau, entities, people, truth
from warehouse.world.applications import (
    ApplicantStore,
    application_columns,
    arrival_times,
    assign_applicants,
    daily_volumes,
)
from warehouse.world.history import _ids, build_history
from warehouse.world.scenarios import (
    DEFAULT_SCENARIOS,
    NONE,
    SCENARIOS,
    normalise_scenarios,
    scenario_start_dates,
)

DEFAULT_START_DATE = dt.date(2026, 10, 1)
WORLD_TABLES = ("partners", "lenders", "partner_lenders", "applicants", "applications", "bureau_reports",
                "ground_truth", "loans", "repayments", "world_events")


class InvalidWorldParametersError(ValueError):
    """Generation parameters out of range (for example zero days)."""


@dataclass(frozen=True)
class WorldParams:
    """Everything the content of a world depends on."""

    days: int = 45
    per_day: int = 50_000
    seed: int = 42
    start_date: dt.date = DEFAULT_START_DATE
    scenarios: tuple[str, ...] = DEFAULT_SCENARIOS

    def __post_init__(self) -> None:
        for name in ("days", "per_day"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InvalidWorldParametersError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**31:
            raise InvalidWorldParametersError(f"seed must be an integer in [0, 2**31), got {self.seed!r}")
        object.__setattr__(self, "scenarios", normalise_scenarios(self.scenarios))

    @property
    def scenario_label(self) -> str:
        """Value recorded in ``world_runs.scenario``: comma-separated switches, or ``none``."""
        return ",".join(self.scenarios) or NONE

    def describe(self) -> str:
        return (f"{self.days} days x {self.per_day:,}/day from {self.start_date}, seed {self.seed}, "
                f"scenario {self.scenario_label}")

    @property
    def run_id(self) -> str:
        key = json.dumps([self.days, self.per_day, self.seed, self.start_date.isoformat(), self.scenario_label])
        return "world-" + hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass
class WorldSummary:
    """What a generation produced: parameters, row counts per table, scenario dates and wall time."""

    path: Path
    params: WorldParams
    rows: dict[str, int]
    events: dict[str, dt.date]
    seconds: float
    run_id: str = field(default="")

    def format(self) -> str:
        lines = [f"world {self.run_id} -> {self.path} in {self.seconds:.1f} s ({self.params.describe()})"]
        lines += [f"  {name:<16} {count:>12,}" for name, count in self.rows.items()]
        lines += [f"  event {name} from {day.isoformat()}" for name, day in self.events.items()]
        return "\n".join(lines)


def generate_world(
    path: Path | str,
    *,
    days: int = 45,
    per_day: int = 50_000,
    seed: int = 42,
    start_date: dt.date = DEFAULT_START_DATE,
    scenarios: Sequence[str] = DEFAULT_SCENARIOS,
    progress: bool = True,
) -> WorldSummary:
    """Generate a complete warehouse file at ``path`` (replacing any existing one, atomically)."""
    params = WorldParams(days, per_day, seed, start_date, tuple(scenarios))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _remove_db(tmp)
    started = time.perf_counter()
    con = connect_writer(tmp)
    con.execute("SET enable_progress_bar = false")  # our own tqdm bar is the progress report
    try:
        # one transaction: per-day autocommits would write (and checkpoint) the WAL 45 times, twice as slow overall
        con.execute("BEGIN")
        events = _build(con, params, progress)
        con.execute("COMMIT")
        rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in WORLD_TABLES}
        con.execute("CHECKPOINT")
        con.close()
        Path(f"{path}.wal").unlink(missing_ok=True)  # a stale WAL would be replayed onto the new file
        os.replace(tmp, path)
    except BaseException:
        con.close()
        _remove_db(tmp)
        raise
    return WorldSummary(path, params, rows, events, time.perf_counter() - started, params.run_id)


def _remove_db(db: Path) -> None:
    db.unlink(missing_ok=True)
    Path(f"{db}.wal").unlink(missing_ok=True)


def _insert(con: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> None:
    con.register("__batch", data)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM __batch")
    finally:
        con.unregister("__batch")


def _int_or_null(values: np.ndarray) -> pa.Array:
    return pa.array(values, from_pandas=True).cast(pa.int32())


def _build(con: duckdb.DuckDBPyConnection, params: WorldParams, progress: bool) -> dict[str, dt.date]:
    events = scenario_start_dates(params.scenarios, params.start_date, params.days)
    offsets = {name: (day - params.start_date).days for name, day in events.items()}
    partners = entities.marketplace(events.get("new_partner"))
    stages = tqdm(total=params.days + 3, desc="world", unit="stage", disable=not progress)

    _insert(con, "partners", pa.Table.from_pandas(entities.partners_frame(partners), preserve_index=False))
    _insert(con, "lenders", pa.Table.from_pandas(entities.lenders_frame(), preserve_index=False))
    _insert(con, "partner_lenders", pa.Table.from_pandas(entities.partner_lenders_frame(partners),
                                                         preserve_index=False))
    _insert(con, "world_events", pa.table({
        "event_date": pa.array(list(events.values()), type=pa.date32()),
        "scenario": list(events),
        "detail": [SCENARIOS[name].detail for name in events],
    }))
    con.execute("INSERT INTO world_runs VALUES (?, ?, ?, ?, ?, ?, ?)", [
        params.run_id, dt.datetime.now(dt.UTC).replace(tzinfo=None), params.seed, params.days, params.per_day,
        params.start_date, params.scenario_label])

    totals, new_counts = daily_volumes(params.days, params.per_day, params.start_date, offsets.get("new_partner"))
    store = ApplicantStore(capacity=int(totals.sum()))
    pools = people.NamePools.from_faker(params.seed)
    established = [i for i, p in enumerate(partners) if p.volume_share > 0]
    shares = np.array([partners[i].volume_share for i in established])
    enquiry_uplift = np.array([p.enquiry_uplift for p in partners])
    takeup = np.array([truth.CHANNEL_TAKEUP[p.channel_type] for p in partners])
    partner_ids = np.array([p.partner_id for p in partners])
    collected: list[dict[str, np.ndarray]] = []
    seq = 0
    stages.update(1)
    for d in range(params.days):
        rng = np.random.default_rng([params.seed, 1, d])
        day = params.start_date + dt.timedelta(days=d)
        n = int(totals[d])
        counts = rng.multinomial(n - int(new_counts[d]), shares / shares.sum())
        partner_idx = np.concatenate([np.repeat(established, counts), np.full(new_counts[d], len(partners) - 1)])
        received = arrival_times(partner_idx, partners, day, rng)
        order = np.argsort(received, kind="stable")
        partner_idx, received = partner_idx[order], received[order]
        before = store.count
        who, fresh = assign_applicants(n, partner_idx, partners, store, d, rng)
        if len(fresh.index):
            dob = people.dob_from_age(fresh.age, day, rng)
            _insert(con, "applicants",
                    people.make_applicants(fresh.index, fresh.gender, dob, fresh.city, pools, rng))
        app = application_columns(who, store, d, rng)
        repeat = (who < before).astype(np.int64)
        zb = store.zb[who] + 0.08 * rng.standard_normal(n)
        true_b = bureau.true_report(zb, store.thin[who], app["age"], enquiry_uplift[partner_idx], repeat, rng)
        app["existing_emi"] = bureau.existing_emi(true_b["total_outstanding"], app["monthly_income"], rng)
        shown = bureau.reported(true_b, format_v3=d >= offsets.get("bureau_format_change", params.days),
                                utilisation_zero=d >= offsets.get("feature_zero", params.days), rng=rng)
        numbers = np.arange(seq, seq + n)
        seq += n
        app_ids = _ids(b"APP", numbers, 9)
        applicant_ids = people.applicant_ids(who)
        _insert(con, "applications", pa.table({
            "application_id": app_ids, "applicant_id": applicant_ids, "partner_id": partner_ids[partner_idx],
            "received_at": received, **{k: v for k, v in app.items() if k != "age"}}))
        lag = np.ceil(rng.lognormal(np.log(6), 0.6, n) * 1e6).astype("timedelta64[us]")
        _insert(con, "bureau_reports", pa.table({
            "report_id": _ids(b"BR", numbers, 9), "applicant_id": applicant_ids, "application_id": app_ids,
            "pulled_at": received + lag,
            "bureau_score": _int_or_null(shown["bureau_score"]),
            "dpd30_count_12m": shown["dpd30_count_12m"], "dpd90_count_12m": shown["dpd90_count_12m"],
            "enquiries_90d": shown["enquiries_90d"],
            "utilisation_pct": pa.array(shown["utilisation_pct"], from_pandas=True),
            "oldest_account_age_months": _int_or_null(shown["oldest_account_age_months"]),
            "secured_accounts": shown["secured_accounts"], "unsecured_accounts": shown["unsecured_accounts"],
            "total_outstanding": shown["total_outstanding"], "thin_file": shown["thin_file"],
            "report_format_version": shown["report_format_version"]}))
        collected.append({
            "who": who, "z": store.z[who], "self_employed": store.self_employed[who], "takeup": takeup[partner_idx],
            **{k: true_b[k] for k in ("dpd30_count_12m", "dpd90_count_12m", "enquiries_90d", "utilisation_pct",
                                      "thin_file")},
            **{k: app[k] for k in ("requested_amount", "requested_tenure_months", "monthly_income",
                                   "existing_emi", "employer_tenure_months")},
        })
        stages.set_postfix_str(f"{day} {n:,} applications")
        stages.update(1)

    cols = {k: np.concatenate([c[k] for c in collected]) for k in collected[0]}
    del collected
    history = build_history(store.z[: store.count], np.bincount(cols["who"], minlength=store.count),
                            people.applicant_ids(np.arange(store.count)), params.start_date,
                            np.random.default_rng([params.seed, 2]))
    stages.set_postfix_str("internal loan history")
    _insert(con, "loans", history.loans)
    _insert(con, "repayments", history.repayments)
    stages.update(1)

    who = cols["who"]
    cols.update(hist_defaulted=history.defaulted[who], hist_avg_days_late=history.avg_days_late[who],
                hist_restructured=history.restructured[who], hist_clean=history.clean[who])
    stages.set_postfix_str("ground truth")
    pd_ = truth.true_pd(cols)
    out = truth.outcomes(pd_, cols["z"], cols["requested_tenure_months"], cols["takeup"],
                         cols["requested_amount"], np.random.default_rng([params.seed, 3]))
    _insert(con, "ground_truth", pa.table({
        "application_id": _ids(b"APP", np.arange(len(who)), 9),
        "true_pd": np.round(pd_, 6),
        "bad_if_funded": out["bad_if_funded"],
        "months_to_default": pa.array(out["months_to_default"], mask=out["months_to_default"] < 0, type=pa.int32()),
        "takeup_propensity": out["takeup_propensity"],
    }))
    stages.update(1)
    stages.close()
    return events


def read_world_params(path: Path | str) -> WorldParams | None:
    """Parameters of the latest world recorded in an existing warehouse file (None if it holds no world).

    Opens the file read-only, so it fails (``duckdb.IOException``) while another process is writing it.
    """
    con = duckdb.connect(str(path), read_only=True)
    try:
        has = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'world_runs'").fetchone()
        row = con.execute(
            "SELECT days, per_day, seed, start_date, scenario FROM world_runs ORDER BY created_at DESC LIMIT 1"
        ).fetchone() if has[0] else None
    finally:
        con.close()
    if row is None:
        return None
    scenarios = () if row[4] == NONE else tuple(row[4].split(","))
    return WorldParams(row[0], row[1], row[2], row[3], scenarios)
