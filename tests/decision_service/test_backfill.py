"""The backfill on the small world: same code path as real time, complete, idempotent, and it tells the story."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from decision_service.backfill import BackfillError, BackfillSummary, run_backfill
from decision_service.backfill.simulate import MODEL_TIMEOUT_RATE, simulate_loans
from decision_service.fallback import FALLBACK_MODEL_ID
from decision_service.features import FEATURE_NAMES, features_for_rows, load_inputs
from decision_service.registry import ModelRegistry, NoChampionError
from warehouse.db import connect_writer


@dataclass(frozen=True)
class Backfilled:
    path: Path
    replica: Path
    summary: BackfillSummary
    registry: Path


def _copy_world(small_world, root: Path) -> tuple[Path, Path]:
    root.mkdir(parents=True, exist_ok=True)
    path, replica = root / "warehouse.duckdb", root / "replica.duckdb"
    shutil.copyfile(small_world.path, path)
    return path, replica


@pytest.fixture(scope="module")
def backfilled(small_world, trained_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Backfilled:
    path, replica = _copy_world(small_world, tmp_path_factory.mktemp("backfill"))
    summary = run_backfill(path, registry=ModelRegistry(trained_registry), progress=False, replica_path=replica,
                           batch_size=7_000)
    return Backfilled(path, replica, summary, trained_registry)


@pytest.fixture(scope="module")
def con(backfilled: Backfilled) -> duckdb.DuckDBPyConnection:
    c = duckdb.connect(str(backfilled.replica), read_only=True)
    yield c
    c.close()


def test_one_decision_per_application_and_eligible_lender(con: duckdb.DuckDBPyConnection,
                                                          backfilled: Backfilled) -> None:
    expected = con.execute(
        "SELECT count(*) FROM applications a JOIN partner_lenders pl USING (partner_id)").fetchone()[0]
    got, distinct = con.execute("SELECT count(*), count(DISTINCT decision_id) FROM decisions").fetchone()
    assert got == distinct == expected == sum(backfilled.summary.decisions.values())
    ineligible = con.execute(
        "SELECT count(*) FROM decisions d ANTI JOIN partner_lenders pl USING (partner_id, lender_id)").fetchone()[0]
    assert ineligible == 0
    assert con.execute("SELECT DISTINCT request_id FROM decisions").fetchall() == [(backfilled.summary.request_id,)]


def test_decision_rows_are_complete_and_consistent(con: duckdb.DuckDBPyConnection) -> None:
    bad = con.execute("""
        SELECT
          count(*) FILTER (WHERE decision = 'approve' AND (offered_amount IS NULL OR emi IS NULL OR offered_apr IS NULL
                                                           OR offered_tenure_months IS NULL)),
          count(*) FILTER (WHERE decision <> 'approve' AND (offered_amount IS NOT NULL OR emi IS NOT NULL)),
          count(*) FILTER (WHERE decision <> 'approve' AND len(reason_codes) = 0),
          count(*) FILTER (WHERE decision = 'approve' AND len(reason_codes) > 0),
          count(*) FILTER (WHERE len(reason_codes) > 4),
          count(*) FILTER (WHERE d.decided_at <= a.received_at),
          count(*) FILTER (WHERE feature_source = 'live' AND latency_ms < 400),
          count(*) FILTER (WHERE score < 0 OR score > 1 OR score IS NULL),
          count(*) FILTER (WHERE policy_version IS NULL OR model_version IS NULL OR model_id IS NULL),
          count(*) FILTER (WHERE offered_amount > a.requested_amount)
        FROM decisions d JOIN applications a USING (application_id)""").fetchone()
    assert bad == (0,) * 10
    # EMI follows the amortisation formula from the stored offer.
    rows = con.execute("SELECT offered_amount, offered_apr, offered_tenure_months, emi FROM decisions "
                       "WHERE decision = 'approve' LIMIT 500").fetchnumpy()
    r = rows["offered_apr"] / 1200
    n = rows["offered_tenure_months"].astype(float)
    expected = rows["offered_amount"] * r * (1 + r) ** n / ((1 + r) ** n - 1)
    np.testing.assert_allclose(rows["emi"], expected, atol=0.01)
    assert set(dict(con.execute("SELECT decision, count(*) FROM decisions GROUP BY ALL").fetchall())) == {
        "approve", "refer", "decline"}


def test_stored_features_are_what_the_real_time_code_computes(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute features for a sample with the API's own helpers and compare with the logged STRUCT."""
    sample = "SELECT * FROM applications WHERE hash(application_id) % 50 = 0"
    cols = load_inputs(con, sample)
    live = features_for_rows(con, cols)
    fields = ", ".join(f"d.features.{name} AS {name}" for name in FEATURE_NAMES)
    stored = con.execute(
        f"SELECT a.application_id, {fields} FROM ({sample}) a JOIN decisions d USING (application_id) "
        "QUALIFY row_number() OVER (PARTITION BY a.application_id ORDER BY d.lender_id) = 1 "
        "ORDER BY a.received_at, a.application_id").fetchnumpy()
    assert list(stored["application_id"]) == list(cols["application_id"])
    for name in FEATURE_NAMES:
        got = np.ma.asarray(stored[name]).astype(float).filled(np.nan)
        np.testing.assert_allclose(got, live[name], rtol=1e-9, err_msg=name, equal_nan=True)


def test_fallback_share_and_flags(con: duckdb.DuckDBPyConnection) -> None:
    n, fb, fb_model, thin_approved = con.execute("""
        SELECT count(*), count(*) FILTER (WHERE fallback_used),
               count(*) FILTER (WHERE fallback_used AND model_id = ?),
               count(*) FILTER (WHERE fallback_used AND decision = 'approve' AND features.thin_file = 1)
        FROM decisions""", [FALLBACK_MODEL_ID]).fetchone()
    assert 0 < fb < 4 * MODEL_TIMEOUT_RATE * n
    assert fb_model == fb
    assert thin_approved == 0
    no_flag_code = con.execute("SELECT count(*) FROM decisions WHERE fallback_used AND decision <> 'approve' "
                               "AND NOT list_contains(reason_codes, 'FALLBACK_DECISION')").fetchone()[0]
    assert no_flag_code == 0


def test_new_partner_story_approval_rate_falls(con: duckdb.DuckDBPyConnection) -> None:
    start = con.execute("SELECT event_date FROM world_events WHERE scenario = 'new_partner'").fetchone()[0]
    before, after = con.execute(
        "SELECT avg((decision = 'approve')::INT) FILTER (WHERE decided_at < ?),"
        "       avg((decision = 'approve')::INT) FILTER (WHERE decided_at >= ?) FROM decisions", [start, start]
    ).fetchone()
    assert after < before - 0.02, (before, after)
    new_partner, others = con.execute(
        "SELECT avg((decision = 'approve')::INT) FILTER (WHERE partner_id = 'P08'),"
        "       avg((decision = 'approve')::INT) FILTER (WHERE partner_id <> 'P08' AND decided_at >= ?)"
        " FROM decisions", [start]).fetchone()
    assert new_partner < others


def test_loans_follow_approved_offers_and_ground_truth(con: duckdb.DuckDBPyConnection,
                                                       backfilled: Backfilled) -> None:
    n_loans, per_app, not_approved, too_early, wrong_terms = con.execute("""
        SELECT count(*), max(c), 0, 0, 0 FROM (
          SELECT d.application_id, count(*) AS c FROM loans l JOIN decisions d USING (decision_id) GROUP BY ALL)
    """).fetchone()
    assert n_loans == backfilled.summary.loans > 0 and per_app == 1
    not_approved, too_early, wrong_terms = con.execute("""
        SELECT count(*) FILTER (WHERE d.decision <> 'approve'),
               count(*) FILTER (WHERE l.disbursed_on <= CAST(d.decided_at AS DATE)),
               count(*) FILTER (WHERE l.principal <> d.offered_amount OR l.apr <> d.offered_apr)
        FROM loans l JOIN decisions d USING (decision_id)""").fetchone()
    assert (not_approved, too_early, wrong_terms) == (0, 0, 0)
    # The applicant takes the cheapest offer.
    cheaper = con.execute("""
        SELECT count(*) FROM loans l JOIN decisions d USING (decision_id)
        JOIN decisions o ON o.application_id = d.application_id AND o.decision = 'approve'
        WHERE o.offered_apr < d.offered_apr""").fetchone()[0]
    assert cheaper == 0
    # Take-up follows the world's propensity: realised loan share ~ mean propensity (decisions old enough to disburse).
    share, propensity, n = con.execute("""
        WITH best AS (SELECT application_id, min(decided_at) AS decided FROM decisions
                      WHERE decision = 'approve' GROUP BY ALL)
        SELECT avg((l.loan_id IS NOT NULL)::INT), avg(g.takeup_propensity), count(*)
        FROM best b JOIN ground_truth g USING (application_id)
        LEFT JOIN (SELECT d.application_id, l.loan_id FROM loans l JOIN decisions d USING (decision_id)) l
          USING (application_id)
        WHERE b.decided < (SELECT max(start_date) + max(days) FROM world_runs) - INTERVAL 6 DAY""").fetchone()
    assert n > 1000
    assert abs(share - propensity) < 0.03, (share, propensity)


def test_repayments_from_ground_truth(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("""
        SELECT count(*) FILTER (WHERE r.due_on >= (SELECT max(start_date) + max(days) FROM world_runs)),
               count(*) FILTER (WHERE g.bad_if_funded = false AND r.days_late > 15 AND r.paid_on IS NOT NULL),
               count(*) FILTER (WHERE r.paid_on IS NULL AND r.amount_paid <> 0),
               count(*)
        FROM repayments r JOIN loans l USING (loan_id) JOIN decisions d USING (decision_id)
        JOIN ground_truth g USING (application_id) WHERE starts_with(l.loan_id, 'BL-')""").fetchone()
    due_loans = con.execute("""
        SELECT count(*) FROM loans WHERE starts_with(loan_id, 'BL-')
        AND disbursed_on + INTERVAL 1 MONTH < (SELECT max(start_date) + max(days) FROM world_runs)""").fetchone()[0]
    assert rows[:3] == (0, 0, 0)
    assert rows[3] >= due_loans  # every loan a month old by the world's end has its first instalment
    statuses = {s for (s,) in con.execute(
        "SELECT DISTINCT status FROM loans WHERE starts_with(loan_id, 'BL-')").fetchall()}
    assert statuses <= {"current", "delinquent", "defaulted", "closed"}
    max_dpd_ok = con.execute("""
        SELECT count(*) FROM loans l JOIN (SELECT loan_id, max(days_late) AS m FROM repayments GROUP BY ALL) r
        USING (loan_id) WHERE starts_with(l.loan_id, 'BL-') AND l.max_dpd <> r.m""").fetchone()[0]
    assert max_dpd_ok == 0


def test_simulated_repayments_follow_ground_truth() -> None:
    """Far from the window's end: bad loans default at months_to_default, good ones pay (a few days late at most)."""
    n = 400
    rng = np.random.default_rng(3)
    bad = rng.random(n) < 0.3
    offers = {
        "application_id": np.array([f"APP{i:09d}" for i in range(n)], dtype=object),
        "decision_id": np.array([f"D-APP{i:09d}-L01" for i in range(n)], dtype=object),
        "applicant_id": np.array([f"A{i}" for i in range(n)], dtype=object),
        "lender_id": np.full(n, "L01", dtype=object),
        "decided_at": np.full(n, np.datetime64("2026-01-10T10:00:00", "us")),
        "offered_amount": np.full(n, 120_000.0), "offered_apr": np.full(n, 12.0),
        "offered_tenure_months": np.full(n, 12.0), "emi": np.full(n, 10_661.85),
        "takeup_propensity": np.ones(n), "bad_if_funded": bad,
        "months_to_default": np.where(bad, rng.integers(3, 12, n), np.nan).astype(float),
    }
    loans, reps = simulate_loans(offers, dt.date(2027, 6, 1))
    ln = loans.to_pandas()
    rp = reps.to_pandas()
    assert len(ln) == n  # take-up 1 and every loan disbursed before as_of
    assert set(ln.loc[~bad, "status"]) == {"closed"} and set(ln.loc[bad, "status"]) == {"defaulted"}
    assert (ln.loc[~bad, "max_dpd"] <= 15).all() and (ln.loc[bad, "max_dpd"] >= 90).all()
    assert ln.loc[~bad, "defaulted_on"].isna().all() and ln.loc[bad, "defaulted_on"].notna().all()
    assert len(rp) == 12 * n
    # A bad loan's first unpaid instalment is months_to_default - 2, so it is 90+ DPD around instalment mtd + 1.
    first_unpaid = rp[rp.paid_on.isna()].groupby("loan_id").instalment_no.min()
    mtd = pd.Series(offers["months_to_default"], index="BL-" + pd.Series(offers["application_id"])).dropna()
    assert (first_unpaid.sort_index() == (mtd.sort_index() - 2).clip(lower=1).astype(int)).all()


def test_initial_deployments_recorded(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("SELECT lender_id, gate_result, role, thresholds->>'approve_below' FROM model_deployments "
                       "ORDER BY lender_id").fetchall()
    assert [r[0] for r in rows] == ["L01", "L02", "L03", "L04", "L05"]
    assert {r[1] for r in rows} == {"passed"} and {r[2] for r in rows} == {"champion"}


def test_idempotent_and_batch_size_independent(small_world, trained_registry: Path, tmp_path: Path) -> None:
    path, replica = _copy_world(small_world, tmp_path)
    registry = ModelRegistry(trained_registry)
    digest = ("SELECT count(*), sum(hash(decision_id, decision, score, offered_amount, reason_codes, decided_at)), "
              "(SELECT count(*) FROM loans), (SELECT count(*) FROM repayments), "
              "(SELECT count(*) FROM model_deployments) FROM decisions")
    run_backfill(path, registry=registry, days=4, progress=False, publish=False, batch_size=3_000)
    with connect_writer(path) as c:
        first = c.execute(digest).fetchone()
    run_backfill(path, registry=registry, days=4, progress=False, replica_path=replica, batch_size=1_111)
    with connect_writer(path) as c:
        second = c.execute(digest).fetchone()
    assert first == second and first[0] > 0
    assert replica.exists()


def test_threshold_misconfig_scenario(small_world, trained_registry: Path, tmp_path: Path) -> None:
    path, _ = _copy_world(small_world, tmp_path)
    day = small_world.start_date + dt.timedelta(days=3)
    with connect_writer(path) as c:
        c.execute("INSERT INTO world_events VALUES (?, 'threshold_misconfig', 'test')", [day])
    run_backfill(path, registry=ModelRegistry(trained_registry), days=6, progress=False, publish=False)
    with connect_writer(path) as c:
        forced = c.execute(
            "SELECT lender_id, deployed_at FROM model_deployments WHERE gate_result = 'forced'").fetchall()
        before, after = c.execute(
            "SELECT avg((decision = 'approve')::INT) FILTER (WHERE decided_at < ?),"
            "       avg((decision = 'approve')::INT) FILTER (WHERE decided_at >= ?)"
            " FROM decisions WHERE lender_id = 'L04'", [day, day]).fetchone()
    assert forced == [("L04", dt.datetime.combine(day, dt.time()))]
    assert after > before + 0.05, (before, after)


def test_errors_are_typed(tmp_path: Path, small_world, trained_registry: Path) -> None:
    with connect_writer(tmp_path / "empty.duckdb"):
        pass
    with pytest.raises(BackfillError, match="no world"):
        run_backfill(tmp_path / "empty.duckdb", registry=ModelRegistry(trained_registry), progress=False)
    path, _ = _copy_world(small_world, tmp_path / "w")
    with pytest.raises(NoChampionError):
        run_backfill(path, registry=ModelRegistry(tmp_path / "no_models"), progress=False)


def test_batch_treeshap_equals_lightgbm_pred_contrib(trained_registry: Path, small_world) -> None:
    """The shared vectorised TreeSHAP (both strategies) gives LightGBM's values, so reasons equal pred_contrib's."""
    from decision_service.features import to_matrix
    from decision_service.treeshap import PER_TREE_MIN_ROWS, TreeShap

    with duckdb.connect(str(small_world.replica), read_only=True) as c:
        cols = load_inputs(c, "SELECT * FROM applications WHERE hash(application_id) % 20 = 0")
        feats = features_for_rows(c, cols)
    registry = ModelRegistry(trained_registry)
    for lender in ("L01", "L05"):
        model = registry.champion(lender)
        X = to_matrix(feats, model.feature_names)
        expected = model.contributions(X)[:, :-1]
        explainer = TreeShap(model.booster)
        np.testing.assert_allclose(explainer.contributions(X), expected, atol=1e-9)
        big = np.concatenate([X] * (PER_TREE_MIN_ROWS // len(X) + 1))  # the backfill-sized strategy
        np.testing.assert_allclose(explainer.contributions(big)[: len(X)], expected, atol=1e-9)
        assert model.reason_codes(X) == model.mapper.map(expected, X, 4)


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_reason_merge_equals_the_per_row_merge(seed: int) -> None:
    """merge_reason_ids (what the backfill runs) gives merge_reasons' lists: rules first, no duplicates, at most 4."""
    from decision_service.backfill.decide import CodeVocabulary, merge_reason_ids, merge_reasons

    rng = np.random.default_rng(seed)
    n, vocab = 2000, CodeVocabulary()
    codes = vocab.ids([f"C{i}" for i in range(8)])
    first = np.where(rng.random((n, 6)) < 0.3, rng.choice(codes, (n, 6)), -1)
    then = np.where(rng.random((n, 4)) < 0.7, rng.choice(codes, (n, 4)), -1)
    merged = vocab.arrow_lists(merge_reason_ids(first, then)).to_pylist()
    names = np.array([f"C{i}" for i in range(8)])
    for i in range(n):
        expected = merge_reasons(list(names[first[i][first[i] >= 0]]), list(names[then[i][then[i] >= 0]]))
        assert merged[i] == expected


def test_batch_decisions_equal_the_per_row_real_time_path(small_world, trained_registry: Path) -> None:
    """A sample decided in one batch equals the same rows decided one at a time through the real-time pieces
    (policy, ``LoadedModel.reason_codes``, ``merge_reasons``, the fallback): same decision, score, offer, reasons."""
    from decision_service.backfill.decide import LenderScorer, decide_for_lender, merge_reasons
    from decision_service.backfill.simulate import keys_for, lender_timing, request_timing
    from decision_service.fallback import fallback_decide
    from decision_service.features import to_matrix
    from decision_service.policy import APPROVE, load_policy

    with duckdb.connect(str(small_world.replica), read_only=True) as c:
        cols = load_inputs(c, "SELECT * FROM applications WHERE hash(application_id) % 7 = 0")
        feats = features_for_rows(c, cols)
    batch = {k: np.asarray(v) for k, v in cols.items()}
    batch["keys"] = keys_for(batch["application_id"])
    batch.update(request_timing(batch["keys"]))
    registry = ModelRegistry(trained_registry)
    rows = np.arange(len(batch["application_id"]))
    for index, lender in enumerate(("L01", "L05")):
        model = registry.champion(lender)
        scorer = LenderScorer.build(lender, index, model, load_policy(lender))
        table = decide_for_lender(scorer, batch, feats, rows, "test").to_pydict()
        _, timed_out = lender_timing(batch["keys"], index)
        checked = 0
        for i in range(0, len(rows), 3):
            f = {k: np.asarray(v)[i: i + 1] for k, v in feats.items()}
            if timed_out[i]:
                pd_, res = fallback_decide(f, scorer.policy)
                reasons = res.rule_reasons[0][:4] if res.rank[0] != APPROVE else []
            else:
                X = to_matrix(f, model.feature_names)
                pd_ = model.predict_pd(X)
                res = scorer.policy.decide(pd_, f, model.thresholds)
                reasons = []
                if res.rank[0] != APPROVE:
                    rule = res.rule_reasons[0]
                    reasons = merge_reasons(rule, model.reason_codes(X)[0] if len(rule) < 4 else [])
            assert table["decision"][i] == res.decision[0]
            assert table["score"][i] == pytest.approx(float(pd_[0]), abs=1e-12)
            assert table["reason_codes"][i] == reasons, (lender, i)
            offered = table["offered_amount"][i]
            assert (offered is None and np.isnan(res.offered_amount[0])) or offered == res.offered_amount[0]
            checked += 1
        assert checked > 300


# --- Removing the previous backfill (decision_service/backfill/removal.py) ---------------------------------------

_FACT_TABLES = ("decisions", "loans", "repayments", "model_deployments")


def _contents(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    """Order-free checksum of every row of the backfill's tables (row count, sum and xor of the row hashes)."""
    return {t: con.execute(f"SELECT count(*), sum(hash(r)), bit_xor(hash(r)) FROM {t} r").fetchone()
            for t in _FACT_TABLES}


def _schema(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...] = _FACT_TABLES, *,
            constraint_ordinals: bool = True) -> dict[str, object]:
    """Everything that defines the tables, without the catalog's object ids (which a rebuild changes).

    ``constraint_ordinals=False`` leaves out each constraint's position in its table's list: DuckDB renders a
    table's definition with column constraints first and CHECK / FOREIGN KEY after them, so a table declared with an
    inline CHECK comes back with the same constraints in another order (the warehouse's tables have only
    PRIMARY KEY / NOT NULL and keep their positions; the backfill test compares them)."""
    names = list(tables)
    ordinal = "constraint_index, " if constraint_ordinals else ""
    return {
        "describe": {t: con.execute(f"DESCRIBE {t}").fetchall() for t in tables},
        "constraints": con.execute(
            f"SELECT table_name, {ordinal}constraint_type, constraint_text, expression, "
            "constraint_column_indexes, constraint_column_names, constraint_name, referenced_table, "
            "referenced_column_names FROM duckdb_constraints() WHERE table_name IN ? ORDER BY ALL", [names]).fetchall(),
        "tables": con.execute("SELECT table_name, sql, comment, has_primary_key, column_count, temporary "
                              "FROM duckdb_tables() WHERE table_name IN ? ORDER BY ALL", [names]).fetchall(),
        "columns": con.execute("SELECT table_name, column_index, column_name, data_type, column_default, "
                               "is_nullable, comment FROM duckdb_columns() WHERE table_name IN ? ORDER BY ALL",
                               [names]).fetchall(),
        "indexes": con.execute("SELECT table_name, index_name, sql, is_unique FROM duckdb_indexes() "
                               "WHERE table_name IN ? ORDER BY ALL", [names]).fetchall(),
        "views": con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal ORDER BY ALL").fetchall(),
        "all tables": con.execute("SELECT table_name FROM duckdb_tables() ORDER BY ALL").fetchall(),
    }


def test_rerun_on_the_backfilled_world_rebuilds_to_identical_rows_and_schema(backfilled: Backfilled,
                                                                            tmp_path: Path) -> None:
    """A re-run removes the previous backfill by rebuilding the indexed tables (not row-by-row DELETE) and ends in
    exactly the first run's rows and schema; the replica's view over the rebuilt tables still answers."""
    path = tmp_path / "rerun.duckdb"
    shutil.copyfile(backfilled.path, path)
    with duckdb.connect(str(backfilled.path), read_only=True) as c:
        first_rows, first_schema = _contents(c), _schema(c)
        pre_window_loans = c.execute("SELECT count(*) FROM loans WHERE NOT starts_with(loan_id, 'BL-')").fetchone()[0]
    summary = run_backfill(path, registry=ModelRegistry(backfilled.registry), progress=False,
                           replica_path=tmp_path / "replica.duckdb", batch_size=7_000)
    methods = {r.table: (r.method, r.removed, r.kept) for r in summary.removed}
    assert methods["decisions"] == ("rebuild", first_rows["decisions"][0], 0)
    assert methods["loans"] == ("rebuild", backfilled.summary.loans, pre_window_loans) and pre_window_loans > 0
    # no index on repayments: a plain DELETE (the small world's 30 days leave no backfilled instalment due)
    assert methods["repayments"][:2] == ("delete" if backfilled.summary.repayments else "none",
                                         backfilled.summary.repayments)
    assert methods["model_deployments"][:2] == ("delete", backfilled.summary.deployments)
    assert "previous backfill removed: " in summary.format()
    with duckdb.connect(str(path), read_only=True) as c:
        assert _contents(c) == first_rows
        assert _schema(c) == first_schema
        assert c.execute("SELECT sum(decisions) FROM partner_lender_daily").fetchone()[0] == first_rows["decisions"][0]
    with connect_writer(path) as c, pytest.raises(duckdb.ConstraintException, match=r"[Dd]uplicate key"):
        c.execute("INSERT INTO decisions SELECT * FROM decisions LIMIT 1")  # the re-created primary key holds


_KILL_SCRIPT = """
import os, signal, sys
from decision_service.backfill.run import _delete_previous, world_info
from warehouse.db import connect_writer

con = connect_writer(sys.argv[1])
def kill_at(step: str) -> None:
    if step == sys.argv[2]:
        os.kill(os.getpid(), signal.SIGKILL)
_delete_previous(con, world_info(con), on_step=kill_at)
con.close()
"""


@pytest.mark.parametrize("kill_at", ["loans: dropped", "decisions: dropped", "decisions: re-created",
                                     "decisions: refilled", "model_deployments: deleted", None])
def test_removal_killed_midway_leaves_the_old_state(backfilled: Backfilled, tmp_path: Path,
                                                    kill_at: str | None) -> None:
    """SIGKILL at any step of the removal (tables dropped, re-created empty, refilled, all done but not committed)
    leaves every table with all its old rows and its schema on reopening; an uninterrupted run leaves the new state.
    The kill is real: a child process running the backfill's own removal kills itself at the named step."""
    import subprocess
    import sys

    path = tmp_path / "w.duckdb"
    shutil.copyfile(backfilled.path, path)
    with duckdb.connect(str(path), read_only=True) as c:
        before_rows, before_schema = _contents(c), _schema(c)
    proc = subprocess.run([sys.executable, "-c", _KILL_SCRIPT, str(path), kill_at or "-"], capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    with connect_writer(path) as c:  # a writer, so DuckDB replays (or discards) the WAL as on a restart
        rows, schema = _contents(c), _schema(c)
    assert schema == before_schema
    if kill_at is None:
        assert proc.returncode == 0, proc.stderr
        assert {t: r[0] for t, r in rows.items()} == {
            "decisions": 0, "loans": before_rows["loans"][0] - backfilled.summary.loans,
            "repayments": before_rows["repayments"][0] - backfilled.summary.repayments, "model_deployments": 0}
    else:
        assert proc.returncode == -9, proc.stderr  # killed where asked, not finished
        assert rows == before_rows


def _twin_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Tables with everything a rebuild must keep: PK, UNIQUE, NOT NULL, CHECK, DEFAULT, a FOREIGN KEY each way,
    an index, comments, NULLs in the predicate's column, and a view over them."""
    con.execute("CREATE TABLE parent (pid INTEGER PRIMARY KEY, tag VARCHAR)")
    con.execute("""CREATE TABLE t (id VARCHAR PRIMARY KEY, k VARCHAR, x INTEGER DEFAULT 3 CHECK (x >= 0),
                   u INTEGER UNIQUE, n DOUBLE NOT NULL, pid INTEGER REFERENCES parent (pid), l VARCHAR[])""")
    con.execute("CREATE TABLE plain (k VARCHAR, x INTEGER)")
    con.execute("CREATE INDEX t_x ON t (x)")
    con.execute("COMMENT ON TABLE t IS 'the test table'")
    con.execute("COMMENT ON COLUMN t.k IS 'the key the predicates look at'")
    con.execute("CREATE VIEW v AS SELECT k, count(*) AS n FROM t GROUP BY k")
    con.execute("INSERT INTO parent SELECT i, 'p' || i FROM range(20) r(i)")
    con.execute("""INSERT INTO t SELECT 'id' || i, CASE WHEN i % 7 = 0 THEN NULL WHEN i % 3 = 0 THEN 'A' || i
                   ELSE 'B' || i END, i % 50, i, i / 3, i % 10, ['c' || (i % 4)] FROM range(3000) r(i)""")
    con.execute("INSERT INTO plain SELECT CASE WHEN i % 5 = 0 THEN NULL ELSE 'B' || i END, i FROM range(500) r(i)")


@pytest.mark.parametrize(("table", "where", "params", "method"), [
    ("t", "starts_with(k, 'B')", (), "rebuild"),  # most rows go; NULL keys stay, as with DELETE
    ("t", "true", (), "rebuild"),  # every row goes
    ("t", "x >= ? AND k IS NOT NULL", (30,), "rebuild"),  # bound parameters
    ("t", "u < 10", (), "delete"),  # under REBUILD_MIN_SHARE: DELETE is cheap enough
    ("t", "k = 'nothing'", (), "none"),
    ("plain", "starts_with(k, 'B')", (), "delete"),  # no index: DELETE is fast
    # referenced by t's FOREIGN KEY, so it cannot be dropped; only unreferenced parents (10..19) can go at all
    ("parent", "pid NOT IN (SELECT pid FROM t)", (), "delete"),
])
def test_remove_rows_ends_exactly_where_delete_ends(tmp_path: Path, table: str, where: str,
                                                    params: tuple[object, ...], method: str) -> None:
    from decision_service.backfill.removal import Removal, remove_rows

    deleted, removed = duckdb.connect(str(tmp_path / "a.duckdb")), duckdb.connect(str(tmp_path / "b.duckdb"))
    for con in (deleted, removed):
        _twin_tables(con)
    deleted.execute(f"DELETE FROM {table} WHERE {where}", list(params))
    expected_left = deleted.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    before = removed.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    (result,) = remove_rows(removed, [Removal(table, where, params)])
    assert (result.table, result.method, result.kept, result.removed) == (
        table, method, expected_left, before - expected_left)
    names = ("parent", "t", "plain")
    for con in (deleted, removed):
        con.close()
    with duckdb.connect(str(tmp_path / "a.duckdb")) as a, duckdb.connect(str(tmp_path / "b.duckdb")) as b:
        for name in names:  # same rows in the same scan order
            assert a.execute(f"SELECT * FROM {name}").fetchall() == b.execute(f"SELECT * FROM {name}").fetchall()
        view = "SELECT * FROM v ORDER BY ALL"
        assert a.execute(view).fetchall() == b.execute(view).fetchall()
        assert _schema(b, names, constraint_ordinals=False) == _schema(a, names, constraint_ordinals=False)
        with pytest.raises(duckdb.ConstraintException):
            b.execute("INSERT INTO t (id, n, x) VALUES ('new', 1, -1)")  # the CHECK survived
        b.execute("INSERT INTO t (id, n) VALUES ('new', 1)")
        assert b.execute("SELECT x FROM t WHERE id = 'new'").fetchone() == (3,)  # and the DEFAULT


def test_remove_rows_rolls_back_everything_on_error(tmp_path: Path) -> None:
    """A failing removal leaves the tables removed before it untouched too: one transaction for all."""
    from decision_service.backfill.removal import Removal, remove_rows

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    _twin_tables(con)
    with pytest.raises(duckdb.BinderException):
        remove_rows(con, [Removal("t", "true"), Removal("plain", "no_such_column = 1")])
    assert con.execute("SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM plain)").fetchone() == (3000, 500)
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()[0] == 0
    con.close()
