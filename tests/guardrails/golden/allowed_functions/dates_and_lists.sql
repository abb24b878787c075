-- team: growth
SELECT date_trunc('week', decided_at) AS week, count(*) FILTER (WHERE list_contains(reason_codes, 'R01')) AS r01 FROM decisions GROUP BY 1
