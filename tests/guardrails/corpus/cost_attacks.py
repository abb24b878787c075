"""Expensive queries that pass every structural rule (each join carries a condition linking it to the other side)
and must be refused by the EXPLAIN cost check: joins on non-key columns of big tables, non-equality joins, and the
same products hidden in CTEs, derived tables, UNIONs and behind a key join to a small table.

Cases are (team, sql). They are refused on the full world with the teams' real limits (benchmarks/bench_guardrails.py)
and on the small test world with a limit scaled to its size (tests/guardrails/test_guardrail_cost_bound.py).
"""

from __future__ import annotations

COST_ATTACKS: list[tuple[str, str]] = [
    ("growth", "SELECT count(*) AS n FROM decisions a JOIN decisions b ON a.partner_id = b.partner_id"),
    ("growth", "SELECT count(*) AS n FROM applications a JOIN decisions d ON d.partner_id = a.partner_id"),
    ("growth", "SELECT count(*) AS n FROM loans l JOIN decisions d ON d.lender_id = l.lender_id"),
    ("growth", "SELECT count(*) AS n FROM applications a JOIN applications b ON a.purpose = b.purpose"),
    ("growth", "SELECT count(*) AS n FROM decisions a JOIN decisions b ON a.decided_at < b.decided_at"),
    ("growth", "SELECT count(*) AS n FROM decisions a, decisions b WHERE a.lender_id = b.lender_id"),
    ("growth", "WITH x AS (SELECT partner_id FROM decisions) SELECT count(*) AS n FROM x a JOIN x b "
               "ON a.partner_id = b.partner_id"),
    ("growth", "SELECT count(*) AS n FROM (SELECT partner_id FROM decisions) a "
               "JOIN (SELECT partner_id FROM applications) b ON a.partner_id = b.partner_id"),
    # a key join to a small table first does not make the following non-key join cheap
    ("growth", "SELECT count(*) AS n FROM decisions d JOIN partners p ON p.partner_id = d.partner_id "
               "JOIN applications a ON a.partner_id = p.partner_id"),
    # a key on one column of a composite group is not a key of the group
    ("growth", "SELECT count(*) AS n FROM decisions d JOIN (SELECT partner_id, application_id FROM applications "
               "GROUP BY partner_id, application_id) g ON g.partner_id = d.partner_id"),
    ("growth", "SELECT count(*) AS n FROM decisions a JOIN decisions b ON a.partner_id = b.partner_id "
               "UNION ALL SELECT count(*) AS n FROM decisions"),
    ("growth", "SELECT a.partner_id, count(*) AS n FROM decisions a LEFT JOIN decisions b "
               "ON b.lender_id = a.lender_id AND b.decision = a.decision GROUP BY a.partner_id"),
    ("risk", "SELECT count(*) AS n FROM bureau_reports b JOIN applicants p ON p.state = p.state "
             "AND b.applicant_id <> p.applicant_id"),
    ("risk", "SELECT count(*) AS n FROM repayments r JOIN repayments s ON r.instalment_no = s.instalment_no"),
    ("risk", "SELECT count(*) AS n FROM applicants a JOIN applicants b ON a.city = b.city"),
    # joins linked by no equality are filtered cross products (the planner can guess them far too low)
    ("risk", "SELECT count(*) AS n FROM decisions d JOIN bureau_reports b ON b.applicant_id <> d.application_id"),
    ("growth", "SELECT count(*) AS n FROM loans l JOIN applications a ON a.received_at > l.disbursed_on"),
    ("growth", "SELECT count(*) AS n FROM decisions d JOIN loans l ON l.principal > d.offered_amount"),
]
