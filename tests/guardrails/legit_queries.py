# ruff: noqa: E501  (a corpus of one-line SQL strings reads best unwrapped)
"""Legitimate analyst queries per team: every one must pass validation (no false blocks) and run on a small world.

Hand-written questions analysts really ask, plus a grid of metric x dimension x period combinations that mirrors how
dashboards slice the same measures.
"""

from __future__ import annotations

RISK = [
    "SELECT partner_id, avg(CASE WHEN decision = 'approve' THEN 1 ELSE 0 END) AS approval_rate FROM decisions GROUP BY partner_id ORDER BY approval_rate DESC",
    "SELECT date_trunc('week', decided_at) AS week, count(*) FILTER (WHERE decision = 'approve') * 1.0 / count(*) AS approval_rate FROM decisions GROUP BY 1 ORDER BY 1",
    "WITH weekly AS (SELECT date_trunc('week', decided_at) AS week, avg(score) AS avg_score FROM decisions GROUP BY 1) SELECT week, avg_score, avg_score - lag(avg_score) OVER (ORDER BY week) AS wow_change FROM weekly ORDER BY week",
    "SELECT CASE WHEN features.bureau_score IS NULL THEN 'thin file' WHEN features.bureau_score < 650 THEN '<650' WHEN features.bureau_score < 750 THEN '650-749' ELSE '750+' END AS band, count(*) AS n, avg(score) AS avg_pd FROM decisions GROUP BY band ORDER BY band",
    "SELECT code, count(*) AS n FROM decisions, unnest(reason_codes) AS t(code) WHERE decision = 'decline' GROUP BY code ORDER BY n DESC LIMIT 10",
    "SELECT unnest(reason_codes) AS code, count(*) AS n FROM decisions GROUP BY code ORDER BY n DESC",
    "SELECT l.lender_id, le.name, count(*) AS loans, avg(CASE WHEN l.status IN ('defaulted', 'written_off') THEN 1.0 ELSE 0.0 END) AS default_rate FROM loans l JOIN lenders le ON le.lender_id = l.lender_id GROUP BY ALL ORDER BY default_rate DESC",
    "SELECT p.name AS partner, p.channel_type, count(*) AS decisions, sum(CASE WHEN d.decision = 'approve' THEN 1 ELSE 0 END) AS approvals FROM decisions d JOIN partners p ON p.partner_id = d.partner_id GROUP BY ALL",
    "SELECT d.lender_id, quantile_cont(d.score, 0.5) AS median_pd, quantile_cont(d.score, 0.9) AS p90_pd FROM decisions d GROUP BY d.lender_id",
    "SELECT strftime(decided_at, '%Y-%m') AS month, count(*) AS n FROM decisions GROUP BY month ORDER BY month",
    "SELECT b.thin_file, count(*) AS n, avg(b.bureau_score) AS avg_score FROM bureau_reports b GROUP BY b.thin_file",
    "SELECT a.state, count(DISTINCT a.applicant_id) AS applicants FROM applicants a GROUP BY a.state ORDER BY applicants DESC",
    "SELECT a.city, count(DISTINCT a.pan) AS distinct_pans FROM applicants a GROUP BY a.city",
    "SELECT r.loan_id, max(r.days_late) AS worst_days_late FROM repayments r GROUP BY r.loan_id HAVING max(r.days_late) > 30 ORDER BY worst_days_late DESC LIMIT 100",
    "SELECT date_diff('day', app.received_at, d.decided_at) AS days_to_decide, count(*) AS n FROM decisions d JOIN applications app ON app.application_id = d.application_id GROUP BY 1 ORDER BY 1",
    "SELECT model_version, count(*) AS n, avg(score) AS avg_score FROM decisions GROUP BY model_version",
    "SELECT lender_id, model_version, deployed_at, gate_result FROM model_deployments ORDER BY deployed_at DESC",
    "SELECT metric_date, partner_id, value FROM drift_metrics WHERE metric = 'psi' AND value > 0.2 ORDER BY metric_date DESC",
    "SELECT severity, count(*) AS n FROM alerts WHERE status = 'open' GROUP BY severity",
    "SELECT feature_source, avg(latency_ms) AS avg_latency, quantile_cont(latency_ms, 0.95) AS p95 FROM decisions GROUP BY feature_source",
    "SELECT round(avg(fallback_used::INT) * 100, 2) AS fallback_pct FROM decisions",
    "SELECT app.purpose, avg(app.requested_amount) AS avg_requested, avg(d.offered_amount) AS avg_offered FROM applications app JOIN decisions d ON d.application_id = app.application_id WHERE d.decision = 'approve' GROUP BY app.purpose",
    "SELECT count(*) FILTER (WHERE list_contains(reason_codes, 'R01')) AS r01, count(*) AS total FROM decisions",
    "SELECT d.decision, avg(d.features.loan_to_income) AS lti, avg(d.features.emi_to_income) AS eti FROM decisions d GROUP BY d.decision",
    "SELECT l.status, count(*) AS n, sum(l.principal) AS principal FROM loans l GROUP BY l.status ORDER BY principal DESC",
    "SELECT extract(year FROM disbursed_on) AS yr, count(*) AS loans FROM loans GROUP BY yr ORDER BY yr",
    "SELECT * FROM partners ORDER BY partner_id",
    "SELECT * FROM lenders WHERE active",
    "SELECT p.partner_id, l.lender_id FROM partner_lenders pl JOIN partners p ON p.partner_id = pl.partner_id JOIN lenders l ON l.lender_id = pl.lender_id",
    "SELECT decision_id, score, decision FROM decisions WHERE score > 0.3 ORDER BY score DESC LIMIT 50",
    "SELECT app.employment_type, avg(d.score) AS avg_pd FROM applications app JOIN decisions d USING (application_id) GROUP BY app.employment_type",
    "SELECT gender, count(*) AS n FROM applicants GROUP BY gender",
    "SELECT date_trunc('month', b.pulled_at) AS month, avg(b.enquiries_90d) AS enquiries FROM bureau_reports b GROUP BY 1 ORDER BY 1",
    "SELECT d.partner_id, count(*) AS declines FROM decisions d WHERE d.decision = 'decline' AND d.decided_at >= DATE '2024-01-01' GROUP BY 1",
    "SELECT lender_id, decision, count(*) AS n FROM decisions GROUP BY GROUPING SETS ((lender_id, decision), (lender_id))",
    "SELECT partner_id, decided_at, score, avg(score) OVER (PARTITION BY partner_id ORDER BY decided_at ROWS BETWEEN 99 PRECEDING AND CURRENT ROW) AS rolling_pd FROM decisions ORDER BY partner_id, decided_at LIMIT 1000",
    "SELECT application_id, count(*) AS lenders_asked FROM decisions GROUP BY application_id HAVING count(*) > 1 LIMIT 100",
    "SELECT d.lender_id, count(l.loan_id) * 1.0 / nullif(count(*) FILTER (WHERE d.decision = 'approve'), 0) AS takeup FROM decisions d LEFT JOIN loans l ON l.decision_id = d.decision_id GROUP BY d.lender_id",
    "SELECT len(reason_codes) AS n_reasons, count(*) AS n FROM decisions GROUP BY 1 ORDER BY 1",
    "SELECT upper(city) AS city, count(*) AS n FROM applicants GROUP BY 1",
    "SELECT coalesce(offered_apr, 0) AS apr, count(*) AS n FROM decisions GROUP BY 1 ORDER BY 2 DESC LIMIT 20",
    "SELECT a.state, avg(b.bureau_score) AS avg_bureau FROM applicants a JOIN bureau_reports b ON b.applicant_id = a.applicant_id GROUP BY a.state",
    "SELECT decision, count(*) AS n FROM decisions WHERE partner_id IN (SELECT partner_id FROM partners WHERE quality_tier = 'subprime') GROUP BY decision",
    "SELECT partner_id FROM decisions EXCEPT SELECT partner_id FROM partners WHERE channel_type = 'dsa'",
    "SELECT lender_id FROM loans UNION SELECT lender_id FROM decisions",
    "SELECT count(DISTINCT applicant_id) AS repeat_borrowers FROM loans WHERE decision_id IS NULL",
    "SELECT r.loan_id, r.instalment_no, r.due_on, r.paid_on FROM repayments r WHERE r.paid_on IS NULL AND r.due_on < DATE '2030-01-01' ORDER BY r.due_on LIMIT 200",
    "SELECT lender_id, avg(apr) AS avg_apr, min(apr) AS min_apr, max(apr) AS max_apr FROM loans GROUP BY lender_id",
]

GROWTH = [
    "SELECT partner_id, count(*) FILTER (WHERE decision = 'approve') * 1.0 / count(*) AS approval_rate FROM decisions GROUP BY partner_id ORDER BY approval_rate DESC",
    "SELECT p.name, count(DISTINCT d.application_id) AS applications FROM decisions d JOIN partners p ON p.partner_id = d.partner_id GROUP BY p.name ORDER BY applications DESC",
    "SELECT date_trunc('week', received_at) AS week, count(*) AS applications FROM applications GROUP BY week ORDER BY week",
    "WITH w AS (SELECT date_trunc('week', received_at) AS week, count(*) AS n FROM applications GROUP BY 1) SELECT week, n, n * 1.0 / lag(n) OVER (ORDER BY week) - 1 AS wow_growth FROM w ORDER BY week",
    "SELECT purpose, avg(requested_amount) AS avg_amount FROM applications GROUP BY purpose ORDER BY avg_amount DESC",
    "SELECT code, count(*) AS n FROM decisions CROSS JOIN unnest(reason_codes) AS t(code) GROUP BY code ORDER BY n DESC",
    "SELECT le.name AS lender, count(*) AS loans, sum(l.principal) AS disbursed FROM loans l JOIN lenders le ON le.lender_id = l.lender_id GROUP BY le.name",
    "SELECT p.channel_type, avg(CASE WHEN d.decision = 'approve' THEN 1.0 ELSE 0 END) AS approval_rate FROM decisions d JOIN partners p USING (partner_id) GROUP BY p.channel_type",
    "SELECT d.partner_id, d.lender_id, count(*) AS n FROM decisions d GROUP BY ALL ORDER BY n DESC LIMIT 25",
    "SELECT employment_type, count(*) AS n, avg(monthly_income) AS income FROM applications GROUP BY employment_type",
    "SELECT strftime(received_at, '%H') AS hour, count(*) AS n FROM applications GROUP BY hour ORDER BY hour",
    "SELECT dayname(received_at) AS weekday, count(*) AS n FROM applications GROUP BY weekday",
    "SELECT a.partner_id, count(l.loan_id) * 1.0 / count(DISTINCT a.application_id) AS conversion FROM applications a LEFT JOIN decisions d ON d.application_id = a.application_id LEFT JOIN loans l ON l.decision_id = d.decision_id GROUP BY a.partner_id",
    "SELECT status, count(*) AS n FROM loans GROUP BY status",
    "SELECT avg(offered_apr) AS apr, avg(offered_amount) AS amount FROM decisions WHERE decision = 'approve'",
    "SELECT round(avg(latency_ms), 1) AS avg_latency_ms FROM decisions",
    "SELECT partner_id, count(*) AS n FROM applications WHERE received_at >= DATE '2024-01-01' GROUP BY 1 ORDER BY 2 DESC",
    "SELECT lender_id, sum(CASE WHEN defaulted_on IS NOT NULL THEN 1 ELSE 0 END) * 1.0 / count(*) AS default_rate FROM loans GROUP BY lender_id",
    "SELECT * FROM partners",
    "SELECT name, lender_type FROM lenders ORDER BY name",
    "SELECT quality_tier, count(*) AS partners FROM partners GROUP BY quality_tier",
    "SELECT d.decision, count(*) AS n FROM decisions d WHERE d.fallback_used GROUP BY d.decision",
    "SELECT requested_tenure_months, count(*) AS n FROM applications GROUP BY 1 ORDER BY 1",
    "SELECT floor(requested_amount / 100000) * 100000 AS bucket, count(*) AS n FROM applications GROUP BY bucket ORDER BY bucket",
    "SELECT partner_id, rank() OVER (ORDER BY count(*) DESC) AS rnk, count(*) AS n FROM applications GROUP BY partner_id",
    "SELECT application_id, decided_at FROM decisions QUALIFY row_number() OVER (PARTITION BY application_id ORDER BY decided_at) = 1 LIMIT 100",
    "SELECT count(*) AS n FROM (SELECT application_id FROM decisions GROUP BY application_id HAVING bool_or(decision = 'approve')) approved",
    "SELECT lender_id, array_agg(DISTINCT partner_id) AS partners FROM partner_lenders GROUP BY lender_id",
    "SELECT decision, avg(offered_tenure_months) AS tenure, avg(emi) AS emi FROM decisions GROUP BY decision",
    "SELECT policy_version, count(*) AS n FROM decisions GROUP BY policy_version",
]

PARTNERSHIPS = [
    "SELECT partner_id, sum(approvals) * 1.0 / sum(decisions) AS approval_rate FROM partner_lender_daily GROUP BY partner_id ORDER BY approval_rate DESC",
    "SELECT decision_date, sum(applications) AS applications FROM partner_lender_daily GROUP BY decision_date ORDER BY decision_date",
    "SELECT p.name, sum(pld.disbursed_amount) AS disbursed FROM partner_lender_daily pld JOIN partners p ON p.partner_id = pld.partner_id GROUP BY p.name ORDER BY disbursed DESC",
    "SELECT l.name AS lender, sum(pld.loans_disbursed) AS loans FROM partner_lender_daily pld JOIN lenders l ON l.lender_id = pld.lender_id GROUP BY l.name",
    "SELECT date_trunc('week', decision_date) AS week, partner_id, sum(declines) * 1.0 / sum(decisions) AS decline_rate FROM partner_lender_daily GROUP BY ALL ORDER BY week",
    "WITH w AS (SELECT date_trunc('week', decision_date) AS week, sum(approvals) AS approvals FROM partner_lender_daily GROUP BY 1) SELECT week, approvals, approvals - lag(approvals) OVER (ORDER BY week) AS wow FROM w ORDER BY week",
    "SELECT lender_id, avg(avg_latency_ms) AS latency FROM partner_lender_daily GROUP BY lender_id",
    "SELECT partner_id, lender_id, sum(fallbacks) AS fallbacks FROM partner_lender_daily GROUP BY ALL HAVING sum(fallbacks) > 0",
    "SELECT metric_date, metric, value FROM drift_metrics WHERE partner_id = 'P01' ORDER BY metric_date",
    "SELECT severity, metric, count(*) AS n FROM alerts GROUP BY ALL ORDER BY n DESC",
    "SELECT lender_id, model_version, deployed_at FROM model_deployments WHERE role = 'champion'",
    "SELECT p.channel_type, sum(pld.approved_amount) AS approved FROM partner_lender_daily pld JOIN partners p USING (partner_id) GROUP BY p.channel_type",
    "SELECT pl.partner_id, count(*) AS lenders FROM partner_lenders pl GROUP BY pl.partner_id",
    "SELECT partner_id, avg(avg_score) AS avg_pd FROM partner_lender_daily GROUP BY partner_id",
    "SELECT * FROM partner_lender_daily WHERE decision_date >= DATE '2024-01-01' ORDER BY decision_date, partner_id, lender_id LIMIT 500",
    "SELECT strftime(decision_date, '%Y-%m') AS month, sum(decisions) AS decisions FROM partner_lender_daily GROUP BY month ORDER BY month",
    "SELECT a.status, count(*) AS n FROM alerts a WHERE a.partner_id IS NOT NULL GROUP BY a.status",
    "SELECT partner_id, sum(refers) AS refers FROM partner_lender_daily GROUP BY partner_id ORDER BY refers DESC LIMIT 5",
    "SELECT lender_id, gate_result, count(*) AS n FROM model_deployments GROUP BY ALL",
    "SELECT d.metric_date, d.value, d.baseline_value FROM drift_metrics d WHERE d.metric = 'approval_rate' AND d.lender_id = 'L01'",
]

_METRICS = {
    "decisions": "count(*)",
    "approval_rate": "avg(CASE WHEN decision = 'approve' THEN 1.0 ELSE 0.0 END)",
    "avg_pd": "avg(score)",
    "p95_latency": "quantile_cont(latency_ms, 0.95)",
    "approved_amount": "sum(offered_amount) FILTER (WHERE decision = 'approve')",
}
_DIMENSIONS = ["partner_id", "lender_id", "decision", "feature_source"]
_PERIODS = ["day", "week", "month"]


def _grid(team: str) -> list[tuple[str, str]]:
    out = []
    for metric, expr in _METRICS.items():
        for dim in _DIMENSIONS:
            out.append((team, f"SELECT {dim}, {expr} AS {metric} FROM decisions GROUP BY {dim} ORDER BY {metric} DESC"))
        for period in _PERIODS:
            out.append(
                (team, f"SELECT date_trunc('{period}', decided_at) AS {period}, {expr} AS {metric} "
                       f"FROM decisions GROUP BY 1 ORDER BY 1")
            )
    return out


def _pld_grid() -> list[tuple[str, str]]:
    out = []
    for measure in ("decisions", "approvals", "declines", "refers", "loans_disbursed", "disbursed_amount"):
        for dim in ("partner_id", "lender_id"):
            out.append(("partnerships", f"SELECT {dim}, sum({measure}) AS {measure} FROM partner_lender_daily "
                                        f"GROUP BY {dim} ORDER BY {measure} DESC"))
    return out


LEGIT: list[tuple[str, str]] = (
    [("risk", q) for q in RISK]
    + [("growth", q) for q in GROWTH]
    + [("partnerships", q) for q in PARTNERSHIPS]
    + _grid("risk")
    + _grid("growth")
    + _pld_grid()
)
