-- team: risk
SELECT lender_id, quantile_cont(score, 0.9) AS p90 FROM decisions GROUP BY 1
