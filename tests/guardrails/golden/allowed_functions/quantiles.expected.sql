SELECT decisions.lender_id AS lender_id, QUANTILE_CONT(decisions.score, 0.9) AS p90 FROM decisions AS decisions GROUP BY decisions.lender_id LIMIT 10000
