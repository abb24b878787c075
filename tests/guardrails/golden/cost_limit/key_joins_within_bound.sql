-- team: growth
-- cost_limit: 10x
-- DuckDB plans this at far more rows than the limit (an internal join of the split COUNT(DISTINCT) aggregate);
-- joins on whole keys cannot multiply rows, so the provable bound is applications + decisions + loans.
SELECT a.partner_id, count(l.loan_id) * 1.0 / count(DISTINCT a.application_id) AS conversion
FROM applications a
LEFT JOIN decisions d ON d.application_id = a.application_id
LEFT JOIN loans l ON l.decision_id = d.decision_id
GROUP BY a.partner_id
