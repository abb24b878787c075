"""Fixtures of the monitoring tests, and TEST DATA: synthetic decisions for a generated world (so the monitoring
tests need not wait for the backfill).

This is NOT the decision service. It fills ``decisions`` (and ``model_deployments``) from the world's applications and
bureau reports with a simple logistic score and per-lender thresholds, entirely in SQL, so the monitoring job and the
diagnostics can be exercised on a real warehouse file with the world's real scenario stories (new partner, bureau
format change, utilisation silently zero). A threshold misconfiguration can be injected the way the backfill records
one: a new model_deployments row from a date, with the decisions after it following the mis-set threshold.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from warehouse.db import writer
from warehouse.monitoring.runner import run_monitoring
from warehouse.world import generate_world

APPROVE_BELOW = {"L01": 0.07, "L02": 0.08, "L03": 0.11, "L04": 0.12, "L05": 0.16}
REFER_FACTOR = 1.5
MODEL_VERSION, POLICY_VERSION = "td-model-1", "td-policy-1"


def _feature_struct(con: duckdb.DuckDBPyConnection, provided: dict[str, str]) -> str:
    ftype = con.execute("SELECT data_type FROM information_schema.columns WHERE table_name = 'decisions' "
                        "AND column_name = 'features'").fetchone()[0]
    names = re.findall(r"(\w+) DOUBLE", ftype)
    return "struct_pack(" + ", ".join(f"{n} := CAST({provided.get(n, 'NULL')} AS DOUBLE)" for n in names) + ")"


def synthesise_decisions(con: duckdb.DuckDBPyConnection, *, misconfig: tuple[str, dt.date, float] | None = None
                         ) -> int:
    """Fill decisions for every application x eligible lender. ``misconfig`` = (lender, from date, factor on the
    approve threshold). Returns the number of decisions written."""
    cases = " ".join(f"WHEN '{lid}' THEN {ab}" for lid, ab in APPROVE_BELOW.items())
    mis_l, mis_d, mis_f = misconfig or ("", dt.date(9999, 1, 1), 1.0)
    features = _feature_struct(con, {
        "bureau_score": "bureau_score", "dpd30_count_12m": "dpd30_count_12m", "dpd90_count_12m": "dpd90_count_12m",
        "enquiries_90d": "enquiries_90d", "utilisation_pct": "utilisation_pct",
        "thin_file": "CASE WHEN thin_file THEN 1 ELSE 0 END", "loan_to_income": "lti",
        "emi_to_income": "existing_emi / monthly_income", "requested_amount": "requested_amount",
        "monthly_income": "monthly_income"})
    con.execute("DELETE FROM decisions")
    con.execute(f"""
        INSERT INTO decisions BY NAME
        WITH x AS (
          SELECT a.application_id, a.partner_id, pl.lender_id, a.received_at, a.requested_amount, a.monthly_income,
                 a.existing_emi, b.bureau_score, b.dpd30_count_12m, b.dpd90_count_12m, b.enquiries_90d,
                 b.utilisation_pct, b.thin_file, a.requested_amount / (12 * a.monthly_income) AS lti,
                 hash(a.application_id || pl.lender_id) AS h
          FROM applications a JOIN bureau_reports b USING (application_id) JOIN partner_lenders pl USING (partner_id)
        ), s AS (
          SELECT *, 1 / (1 + exp(2.6 + 0.011 * (coalesce(bureau_score, 640) - 720) - 0.35 * dpd30_count_12m
                   - 0.6 * dpd90_count_12m - 0.07 * enquiries_90d - 0.012 * (coalesce(utilisation_pct, 45) - 45)
                   - 0.25 * lti - 0.6 * ((h >> 8) % 1000 / 1000.0 - 0.5))) AS score,
                 (CASE lender_id {cases} END) * CASE WHEN lender_id = '{mis_l}' AND received_at >= DATE '{mis_d}'
                   THEN {mis_f} ELSE 1 END AS approve_below
          FROM x
        )
        SELECT 'TD-' || application_id || '-' || lender_id AS decision_id, application_id, partner_id, lender_id,
               'test-synthetic' AS request_id, received_at + INTERVAL 2 SECOND AS decided_at,
               CASE WHEN score < approve_below THEN 'approve' WHEN score < approve_below * {REFER_FACTOR} THEN 'refer'
                    ELSE 'decline' END AS decision,
               score, 'td-' || lender_id AS model_id, '{MODEL_VERSION}' AS model_version,
               '{POLICY_VERSION}' AS policy_version, h % 100 < 2 AS fallback_used,
               CASE WHEN h % 100 < 2 THEN 'fallback' WHEN h % 100 < 40 THEN 'cache' ELSE 'live' END AS feature_source,
               20 + (h % 997) / 25.0 + CASE WHEN h % 50 = 0 THEN 150 ELSE 0 END AS latency_ms,
               {features} AS features
        FROM s""")
    con.execute("DELETE FROM model_deployments")
    start = con.execute("SELECT min(received_at) FROM applications").fetchone()[0]
    rows = [(lid, MODEL_VERSION, start - dt.timedelta(days=60), json.dumps({"approve_below": ab,
             "refer_below": ab * REFER_FACTOR}), "passed", "champion", POLICY_VERSION)
            for lid, ab in APPROVE_BELOW.items()]
    if misconfig:
        ab = APPROVE_BELOW[mis_l] * mis_f
        rows.append((mis_l, MODEL_VERSION, dt.datetime.combine(mis_d, dt.time()), json.dumps(
            {"approve_below": ab, "refer_below": APPROVE_BELOW[mis_l] * REFER_FACTOR}), "forced", "champion",
            POLICY_VERSION))
    con.executemany("INSERT INTO model_deployments VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return con.execute("SELECT count(*) FROM decisions").fetchone()[0]


SCENARIO_WORLD = {"days": 24, "per_day": 800, "seed": 11}
"""Small single-story worlds: 24 days keeps every story's start date inside the window with >= 7 days before it."""
MISCONFIG = ("L03", 0.4)
"""Lender and factor of the injected threshold misconfiguration (approve threshold cut to 40%)."""


@pytest.fixture(scope="session")
def monitored_world(small_world, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Copy of the shared default-scenario ``small_world`` with synthetic decisions and a full monitoring run."""
    path = tmp_path_factory.mktemp("monitored") / "warehouse.duckdb"
    shutil.copyfile(small_world.path, path)
    with writer(path) as con:
        synthesise_decisions(con)
        run_monitoring(con, progress=False, deliver=False)
    return path


@pytest.fixture(scope="session")
def scenario_world(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Factory: a small world with exactly one story switched on (plus synthetic decisions), built once per name.

    ``threshold_misconfig`` is injected by the synthetic decisions (as the backfill would record it) on a world with
    no other story, dated from the world's own world_events row.
    """
    cache: dict[str, Path] = {}

    def build(name: str) -> Path:
        if name not in cache:
            path = tmp_path_factory.mktemp(f"scenario_{name}") / "warehouse.duckdb"
            generate_world(path, scenarios=[name], progress=False, **SCENARIO_WORLD)
            with writer(path) as con:
                misconfig = None
                if name == "threshold_misconfig":
                    start = con.execute("SELECT event_date FROM world_events WHERE scenario = ?", [name]).fetchone()
                    misconfig = (MISCONFIG[0], start[0], MISCONFIG[1])
                synthesise_decisions(con, misconfig=misconfig)
            cache[name] = path
        return cache[name]

    return build
